"""The metric and label names a PromQL expression uses, and the ones a Prometheus text exposition
(Envoy's /stats/prometheus) offers. Enough PromQL for dashboards: selectors with matchers, range
and subquery brackets, functions, aggregations with by/without, binary operators and their
on/ignoring/group_left/group_right modifiers, offset, strings and numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from routegen_support import prom

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "atan2",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      | (?P<bracket>\[[^\]]*\])
      | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:ms|s|m|h|d|w|y)?|Inf|NaN)
      | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
      | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
    )""",
    re.VERBOSE,
)


@dataclass
class Usage:
    metrics: list = field(default_factory=list)  # [(metric, {label names matched})]
    grouping: set = field(default_factory=set)  # labels named by by/without/on/ignoring/group_*


def tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r} in {expr!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _label_list(toks, i) -> tuple[set, int]:
    """`( a, b )` starting at toks[i] == '(' → ({a, b}, index after ')')."""
    labels = set()
    assert toks[i] == ("op", "("), toks[i:]
    i += 1
    while toks[i] != ("op", ")"):
        if toks[i][0] == "ident":
            labels.add(toks[i][1])
        i += 1
    return labels, i + 1


def _matchers(toks, i) -> tuple[set, int]:
    """`{ l op "v", ... }` starting at toks[i] == '{' → ({l, ...}, index after '}')."""
    labels = set()
    i += 1
    while toks[i] != ("op", "}"):
        if toks[i][0] == "ident" and toks[i + 1][0] == "op" and toks[i + 1][1] in ("=", "!=", "=~", "!~"):
            labels.add(toks[i][1])
        i += 1
    return labels, i + 1


def usage(expr: str) -> Usage:
    toks = tokens(expr)
    out = Usage()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if kind == "ident" and text in LABEL_LIST_KEYWORDS and nxt == ("op", "("):
            labels, i = _label_list(toks, i + 1)
            out.grouping |= labels
            continue
        if kind == "ident" and text not in KEYWORDS | AGGREGATIONS and nxt != ("op", "("):
            labels = set()
            i += 1
            if i < len(toks) and toks[i] == ("op", "{"):
                labels, i = _matchers(toks, i)
            out.metrics.append((text, labels))
            continue
        i += 1
    return out


def label_values_query(query: str) -> tuple[str, set] | None:
    """Grafana's `label_values(metric{...}, label)` → (metric, {label, matched labels})."""
    m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", query)
    if not m:
        return None
    (metric, labels), = usage(m.group(1)).metrics
    return metric, labels | {m.group(2)}


def exposition(text: str) -> dict[str, set]:
    """Prometheus text format → {series name: {label names}} (histograms as _bucket/_sum/_count)."""
    out: dict[str, set] = {}
    for sample in prom.parse(text):
        out.setdefault(sample.name, set()).update(sample.labels)
    return out
