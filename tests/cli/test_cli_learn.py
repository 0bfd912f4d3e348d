"""`routegen learn` and `routegen coverage` on a real Envoy's access log (Envoy's default text
format) of traffic from a synthetic API of 48 templates (routegen_support.synthetic_api):
user, org and repository names, slugs, numbers, UUIDs, SHAs and dates, with resource words
beside IDs and twelve sub-resources at one position.

The learned table is then loaded into a second Envoy and a fresh sample of the same API is sent
through it: the filter's own names (from the access log) are compared with each request's true
template."""

from __future__ import annotations

import collections
import gzip
import json

import pytest

from routegen_support import synthetic_api as api
from routegen_support.harness import Envoy, assert_vm_healthy
from routegen_support.http import keepalive_requests

TRAIN = 6000
FRESH = 2000


@pytest.fixture(scope="module")
def observed(tmp_path_factory, envoy_bin, wasm_path):
    """(access log in Envoy's default format, the requests sent) for TRAIN requests."""
    workdir = tmp_path_factory.mktemp("learn-envoy")
    sample = api.sample(seed=1, n=TRAIN)
    with Envoy(str(envoy_bin), str(wasm_path), workdir, {"default": "unknown", "routes": ["GET /healthz"]},
               envoy_log_format=True) as envoy:
        statuses = keepalive_requests(envoy.port, [(m, p) for m, p, _ in sample])
        assert set(statuses) == {200}
        lines = envoy.wait_log_lines(TRAIN)
        assert_vm_healthy(envoy)
    assert len(lines) == TRAIN and lines[0].startswith("[") and '" 200 ' in lines[0], lines[0]
    return envoy.access_log, sample


def name_of(route) -> str:
    return route if isinstance(route, str) else route["name"]


def learn(run, *args):
    result = run("learn", *map(str, args))
    assert result.returncode == 0, result.stderr
    return result


def test_learned_table_is_one_route_per_template_and_names_fresh_traffic(run, observed, tmp_path, envoy_bin, wasm_path):
    log, sample = observed
    result = learn(run, "-o", "json", log)
    assert f"{TRAIN} requests read (Envoy default)" in result.stderr
    assert "verified: " in result.stderr and "warning" not in result.stderr, result.stderr
    routes = [name_of(r) for r in json.loads(result.stdout)["routes"]]
    templates = {(m, api.shape(t)) for m, _, t in sample}
    assert len(routes) <= 1.1 * len(templates), routes
    for route in routes:
        method, template = route.split(" ", 1)
        assert (method, api.shape(template)) in templates, f"{route} is no template of the API"
    # `check` finds nothing that can never match.
    table = tmp_path / "learned.json"
    table.write_text(result.stdout)
    check = run("check", table)
    assert check.returncode == 0 and "never match" not in check.stdout + check.stderr, check.stdout + check.stderr

    # A fresh sample through an Envoy running the learned table: the filter's names.
    fresh = api.sample(seed=2, n=FRESH)
    truth = {(m, p): t for m, p, t in fresh}
    with Envoy(str(envoy_bin), str(wasm_path), tmp_path / "fresh", result.stdout) as envoy:
        assert set(keepalive_requests(envoy.port, [(m, p) for m, p, _ in fresh])) == {200}
        entries = [json.loads(line) for line in envoy.wait_log_lines(FRESH)]
        assert_vm_healthy(envoy)
    named = [(e["method"], e["path"], e["fs:istio_operationId"]) for e in entries]
    wrong = [(m, p, name) for m, p, name in named
             if not (name.startswith(m + " ") and api.same_template(name.split(" ", 1)[1], truth[(m, p)]))]
    assert len(named) == FRESH and len(wrong) <= 0.01 * FRESH, f"{len(wrong)} of {FRESH} misnamed, e.g. {wrong[:5]}"


def test_gzip_and_stdin_read_the_same(run, observed, tmp_path):
    log, _ = observed
    plain = learn(run, "-o", "json", log).stdout
    zipped = tmp_path / "access.log.gz"
    zipped.write_bytes(gzip.compress(log.read_bytes()))
    assert learn(run, "-o", "json", zipped).stdout == plain
    stdin = run("learn", "-o", "json", "-", input=log.read_text())
    assert stdin.returncode == 0 and stdin.stdout == plain


def test_bad_lines_are_counted_and_quoted(run, observed, tmp_path):
    log, _ = observed
    mixed = tmp_path / "mixed.log"
    mixed.write_text("not a log line\n" + log.read_text() + '{"method": "GET"}\n')
    result = learn(run, "-o", "json", mixed)
    assert f"{TRAIN} requests read (Envoy default); 2 bad lines skipped" in result.stderr
    assert "mixed.log:1: 'a' is not a request path: not a log line" in result.stderr
    assert f"mixed.log:{TRAIN + 2}: no method or path field" in result.stderr


def test_config_routes_stay_in_front_byte_for_byte(run, observed, tmp_path):
    log, sample = observed
    existing = {"default": "unknown", "routes": ["GET /users/{username}", "GET /orders/search",
                                                 {"name": "repo", "method": ["GET", "DELETE"], "path": "/repos/{owner}/{repo}"}]}
    config = tmp_path / "existing.json"
    config.write_text(json.dumps(existing, indent=2) + "\n")
    result = learn(run, "--config", config, "-o", "json", log)
    out = json.loads(result.stdout)
    assert out["default"] == "unknown"
    assert out["routes"][:3] == existing["routes"]
    # The text of the existing table is the start of the output's, line for line.
    head = config.read_text().splitlines()
    closing = head.index("  ]")
    assert result.stdout.splitlines()[:closing - 1] == head[:closing - 1]
    learned = [name_of(r) for r in out["routes"][3:]]
    covered = sum(1 for m, _, t in sample if (m, t) in {("GET", "/users/{user}"), ("GET", "/orders/search"),
                                                         ("GET", "/repos/{owner}/{repo}"), ("DELETE", "/repos/{owner}/{repo}")})
    assert f"{covered} requests already named by --config's routes" in result.stderr
    # Nothing is learned for what the existing routes name.
    shapes = {(r.split(" ", 1)[0], api.shape(r.split(" ", 1)[1])) for r in learned}
    for taken in [("GET", "/users/{}"), ("GET", "/orders/search"), ("GET", "/repos/{}/{}"), ("DELETE", "/repos/{}/{}")]:
        assert taken not in shapes
    assert ("PATCH", "/users/{}") in shapes
    # YAML output: the same routes, each learned one with its request count as a comment.
    yaml_out = learn(run, "--config", config, log).stdout
    counts = collections.Counter((m, api.shape(t)) for m, _, t in sample)
    for line in yaml_out.splitlines():
        if line.startswith("- PATCH /users/"):
            assert line.endswith(f"# {counts[('PATCH', '/users/{}')]} requests, e.g. " + line.split("e.g. ")[1])
            break
    else:
        raise AssertionError(yaml_out)


def test_by_host_min_requests_and_max_routes(run, tmp_path):
    log = tmp_path / "hosts.log"
    lines = [json.dumps({"method": "GET", "path": f"/a/{i}", "authority": "one.example:8080"}) for i in range(5)]
    lines += [json.dumps({"method": "GET", "path": "/b", "authority": "two.example"})] * 3
    lines += [json.dumps({"method": "POST", "path": "/c", "authority": "two.example"})]
    log.write_text("\n".join(lines) + "\n")
    out = json.loads(learn(run, "--by-host", "-o", "json", log).stdout)
    assert out["services"] == [{"hosts": ["one.example"], "routes": ["GET /a/{id}"]},
                               {"hosts": ["two.example"], "routes": ["GET /b", "POST /c"]}]
    out = json.loads(learn(run, "--by-host", "--min-requests", "2", "-o", "json", log).stdout)
    assert out["services"][1]["routes"] == ["GET /b"]
    out = json.loads(learn(run, "--max-routes", "1", "-o", "json", log).stdout)
    assert out["routes"] == ["GET /a/{id}"]


def matches(template: str, path: str) -> bool:
    """A template with `{name}` segments against a path, segment by segment."""
    want, have = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(have) and all(w == h or (w.startswith("{") and h) for w, h in zip(want, have))


def independent_coverage(sample, configured: set[tuple[str, str]]):
    """What the coverage command must say, counted here: a request is named by a route when
    any configured template matches it (`/orders/{id}` takes `/orders/search` too)."""
    named = [any(m == cm and matches(ct, p) for cm, ct in configured) for m, p, _ in sample]
    paths: dict[tuple[str, str], bool] = {}
    for (m, p, _), n in zip(sample, named):
        paths.setdefault((m, p), n)
    return sum(named), len(sample) - sum(named), sum(paths.values()), len(paths) - sum(paths.values())


def test_coverage_equals_an_independent_count(run, observed, tmp_path):
    log, sample = observed
    configured = [("GET", "/users/{user}"), ("PATCH", "/users/{user}"), ("GET", "/orders/{id}"),
                  ("POST", "/orders"), ("GET", "/repos/{owner}/{repo}/issues/{number}"), ("GET", "/healthz")]
    config = tmp_path / "partial.json"
    config.write_text(json.dumps({"default": "unknown", "routes": [f"{m} {t}" for m, t in configured]}))
    result = run("coverage", config, log, "-o", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    routed, defaulted, routed_paths, defaulted_paths = independent_coverage(sample, set(configured))
    assert report["requests"] == TRAIN
    assert report["named_by"]["route"]["requests"] == routed
    assert report["named_by"]["default"]["requests"] == defaulted
    assert (report["named_by"]["route"]["paths"], report["named_by"]["default"]["paths"]) == (routed_paths, defaulted_paths)
    assert report["named_by"]["auto"]["requests"] == report["named_by"]["overflow"]["requests"] == 0
    assert report["coverage"] == pytest.approx(100.0 * routed / TRAIN)
    # The busiest uncovered template, counted here too.
    uncovered = collections.Counter((m, api.shape(t)) for m, p, t in sample
                                    if not any(m == cm and matches(ct, p) for cm, ct in configured))
    (method, shape), count = uncovered.most_common(1)[0]
    top = report["uncovered"][0]
    assert (top["template"].split(" ")[0], api.shape(top["template"].split(" ", 1)[1]), top["requests"]) == (method, shape, count)
    # --min-coverage: exit 1 below it, 0 at or above.
    share = 100.0 * routed / TRAIN
    assert run("coverage", config, log, "--min-coverage", f"{share + 1:.1f}").returncode == 1
    assert run("coverage", config, log, "--min-coverage", f"{share - 1:.1f}").returncode == 0
    table = run("coverage", config, log).stdout
    assert f"configured routes name {share:.1f}% of the requests" in table


def test_coverage_with_auto_names(run, observed, tmp_path):
    log, sample = observed
    config = tmp_path / "auto.json"
    config.write_text(json.dumps({"routes": ["GET /healthz"], "auto": {"max_names": 20}}))
    report = json.loads(run("coverage", config, log, "-o", "json").stdout)
    named = report["named_by"]
    healthz = sum(1 for m, _, t in sample if (m, t) == ("GET", "/healthz"))
    assert named["route"]["requests"] == healthz
    # The cap: at most 20 auto names, the rest overflow.
    assert named["auto"]["requests"] > 0 and named["overflow"]["requests"] > 0
    assert named["auto"]["requests"] + named["overflow"]["requests"] + healthz == TRAIN
