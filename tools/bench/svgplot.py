"""A minimal log-log line chart as SVG (the bench venv has no plotting library): panels side by
side, one line with markers per series, a shared legend below."""

import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f", "#17becf"]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 460, 320, 62, 16, 34, 44


def _decades(low, high):
    return [10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def _panel(x0, title, series, labels):
    """(svg elements) for one panel at horizontal offset x0; values <= 0 are left out (log axes)."""
    points = [(x, y) for pts in series.values() for x, y in pts if x > 0 and y > 0]
    if not points:
        return []
    xs, ys = _decades(min(p[0] for p in points), max(p[0] for p in points)), \
        _decades(min(p[1] for p in points), max(p[1] for p in points))
    lx, hx, ly, hy = math.log10(xs[0]), math.log10(xs[-1]), math.log10(ys[0]), math.log10(ys[-1])
    hx, hy = max(hx, lx + 1), max(hy, ly + 1)

    def px(x):
        return x0 + PAD_L + (math.log10(x) - lx) / (hx - lx) * (W - PAD_L - PAD_R)

    def py(y):
        return PAD_T + (hy - math.log10(y)) / (hy - ly) * (H - PAD_T - PAD_B)

    out = ['<text x="%.0f" y="20" font-size="13" text-anchor="middle">%s</text>' % (x0 + W / 2, escape(title))]
    for x in xs:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (px(x), PAD_T, px(x), H - PAD_B))
        out.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>' % (px(x), H - PAD_B + 16, "{:,}".format(int(x))))
    for y in ys:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (x0 + PAD_L, py(y), x0 + W - PAD_R, py(y)))
        text = "{:,}".format(int(y)) if y >= 1 else "%g" % y
        out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>' % (x0 + PAD_L - 4, py(y) + 4, text))
    out.append('<text x="%.0f" y="%d" font-size="11" text-anchor="middle">routes in the table (log)</text>' % (x0 + W / 2, H - 8))
    for label, pts in series.items():
        colour = COLOURS[labels.index(label) % len(COLOURS)]
        pts = sorted((x, y) for x, y in pts if x > 0 and y > 0)
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                colour, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
        out += ['<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), colour) for x, y in pts]
    return out


def write(path, title, panels):
    """panels: [(title, {series label: [(routes, value)]}, log)] — every axis is logarithmic."""
    labels = []
    for _, series, _ in panels:
        labels += [label for label in series if label not in labels]
    legend_rows = math.ceil(len(labels) / 2)
    height = H + 30 + 18 * legend_rows
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (W * len(panels), height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="%d" font-size="12" text-anchor="middle" fill="#444">%s</text>' % (W * len(panels) / 2, height - 6, escape(title))]
    for i, (panel_title, series, _) in enumerate(panels):
        out += _panel(i * W, panel_title, series, labels)
    for i, label in enumerate(labels):
        x, y = 20 + (i % 2) * W, H + 12 + 18 * (i // 2)
        out.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>' % (x, y - 4, COLOURS[i % len(COLOURS)]))
        out.append('<text x="%d" y="%d" font-size="12">%s</text>' % (x + 20, y + 1, escape(label)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
