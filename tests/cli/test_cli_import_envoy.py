"""`routegen import envoy` against Envoy itself: 1,000 named GitHub REST API routes (uri_template
and `:method`) as an Envoy route table, imported, and both run in one Envoy: every request of a
sampled workload must get the filter's name equal to Envoy's own `%ROUTE_NAME%`."""

from __future__ import annotations

import json
import random
import re

from routegen_support.envoy import direct_response
from routegen_support.harness import Envoy

METHODS = ["get", "put", "post", "delete", "patch"]
VALUES = ["octocat", "hello-world", "1347", "main", "v1.0.0", "docs"]


def github_routes(api_path, count):
    doc = json.loads(api_path.read_text())
    ops = [(m.upper(), t) for t, item in doc["paths"].items() for m in item if m in METHODS]
    # The templates Envoy's uri_template accepts as written: plain literal segments, variables
    # of 1 to 16 characters.
    ops = [(m, t) for m, t in ops if re.fullmatch(r"(/([A-Za-z0-9_-]+|\{[a-z_]{1,16}\}))+", t)]
    step = max(1, len(ops) // count)
    return ops[::step][:count]


def envoy_table(ops):
    routes = []
    for i, (method, template) in enumerate(ops):
        routes.append({
            "name": f"{method} {template}" if i % 7 else "",  # some unnamed: <virtual host>/<index>
            "match": {
                "path_match_policy": {
                    "name": "envoy.path.match.uri_template",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
                                     "path_template": template},
                },
                "headers": [{"name": ":method", "string_match": {"exact": method}}],
            },
            # The body says which route answered: Envoy logs an unnamed route's name as "-".
            "direct_response": direct_response(200, f"route {i}"),
        })
    routes.append({"name": "rest", "match": {"prefix": "/zz"}, "direct_response": direct_response(200, f"route {len(routes)}")})
    routes.append({"match": {"prefix": "/nothing"}, "direct_response": direct_response(404, f"route {len(routes)}")})
    return routes


def test_imported_names_equal_envoys_route_names(run, tmp_path, envoy_bin, wasm_path, github_api):
    ops = github_routes(github_api, 1000)
    assert len(ops) >= 900, len(ops)
    routes = envoy_table(ops)
    table = tmp_path / "route-config.json"
    table.write_text(json.dumps({"name": "github", "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]}))
    out = run("import", "envoy", table)
    assert out.returncode == 0, out.stderr
    assert f"imported {len(routes)} routes of 1 virtual hosts" in out.stderr
    config = json.loads(out.stdout)

    rng = random.Random(7)
    requests = []
    for _ in range(400):
        method, template = rng.choice(ops)
        path = re.sub(r"\{[a-z_]+\}", lambda _: rng.choice(VALUES), template)
        if rng.random() < 0.1:
            method = rng.choice(["GET", "POST"])  # often another route's method, or none
        if rng.random() < 0.1:
            path += rng.choice(["/extra", "?page=2"])
        requests.append((method, path))
    requests += [("GET", "/zz/top"), ("GET", "/nothing/here"), ("PURGE", ops[0][1])]

    with Envoy(envoy_bin, str(wasm_path), tmp_path / "envoy", config, routes=routes,
               log_fields={"route": "%ROUTE_NAME%"}, ready_timeout=60) as envoy:
        responses = envoy.requests(requests, log_timeout=30)
    def expected(r):
        if r.log["route"] not in (None, "-"):
            return r.log["route"]
        answered = re.fullmatch(rb"route (\d+)", r.body)
        return f"all/{answered.group(1).decode()}" if answered else r.log["route"]  # unnamed, or no route

    wrong = [(m, p, r.log["route"], r.body[:20], r.attr()) for (m, p), r in zip(requests, responses) if expected(r) != r.attr()]
    assert not wrong, f"{len(wrong)} of {len(requests)} differ (method, path, Envoy, routegen):\n" + "\n".join(map(repr, wrong[:20]))
    named = sum(r.log["route"] not in (None, "-") for r in responses)
    unnamed = sum((expected(r) or "").startswith("all/") for r in responses)
    unrouted = sum(not r.body.startswith(b"route ") for r in responses)
    assert named > 300 and unnamed > 20 and unrouted > 0, (named, unnamed, unrouted)
