"""Differential test: what `routegen check` / `routegen explain` say against what the filter does
in a real Envoy, on generated configurations and requests (issue 15).

A seeded generator builds native configurations (templates, prefixes, exact paths, regexes,
methods, header conditions incl. ones on a repeated header, query conditions, services with hosts, default,
normalisation options, max_path_bytes), attributegen configurations (CEL in and outside the
subset) and invalid ones (malformed CEL, mixed formats, bad fields). Each valid one runs in an
Envoy; every request's name in Envoy's access log must equal `explain`'s. Each invalid one must
be refused by both. Where a condition outside routegen's CEL subset decides, `explain` says
"undetermined" (only Envoy's CEL can evaluate it): counted and printed, never a wrong name. Set DIFF_SEED / DIFF_CONFIGS / DIFF_REQUESTS to change the run; a
disagreement is printed as the minimal config + request to reproduce it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time

import pytest

from routegen_support.fixtures import resolve
from routegen_support.paths import ROOT

SEED = int(os.environ.get("DIFF_SEED", "20261201"))
CONFIGS = int(os.environ.get("DIFF_CONFIGS", "24"))
REQUESTS = int(os.environ.get("DIFF_REQUESTS", "90"))
ATTRIBUTE = "istio_operationId"

WORDS = ["books", "users", "api", "v1", "v2", "orders", "items", "reviews", "a", "b"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "PURGE"]
HOSTS = ["books", "books.default.svc.cluster.local", "users:8080", "shop.example.com", "other"]


@pytest.fixture(scope="module")
def routegen_cli() -> str:
    return resolve("ROUTEGEN_CLI", ROOT / "target/debug/routegen", "integration")


# ---- generation ---------------------------------------------------------------------------------


def segment(rng: random.Random) -> str:
    return rng.choice(WORDS + ["{id}", "{id}", "{name}"])


def template(rng: random.Random) -> str:
    parts = [segment(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.1:
        parts.append("**")
    return "/" + "/".join(dict.fromkeys(parts))  # a variable name may appear once only


def literal(rng: random.Random) -> str:
    return "/" + "/".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))


def route(rng: random.Random, n: int) -> object:
    kind = rng.choice(["shorthand", "path", "prefix", "exact", "regex", "headers", "query"])
    methods = rng.sample(METHODS[:7], rng.randint(1, 2))
    if kind == "shorthand":
        return f"{'|'.join(methods)} {template(rng)}"
    entry: dict = {"name": f"r{n}"}
    if rng.random() < 0.6:
        entry["method"] = methods if len(methods) > 1 else methods[0]
    if kind == "path":
        entry["path"] = template(rng)
    elif kind == "prefix":
        entry["path_prefix"] = literal(rng)
    elif kind == "exact":
        entry["path_exact"] = literal(rng)
    elif kind == "regex":
        entry["path_regex"] = rng.choice([r"/books/[0-9]+", r"/users/[a-z]+/orders", r"/api/v[12]/.*", r"/a(/b)?"])
    else:
        entry["path"] = template(rng)
        rule = rng.choice([{"x-a": "1,2"}, {"x-a": "2"}, [{"name": "x-b", "present": True}],
                           [{"name": "x-a", "prefix": "1"}], [{"name": "x-b", "absent": True}],
                           [{"name": "x-a", "regex": "[0-9],[0-9]"}]])
        entry["headers"] = rule
    if kind == "query":
        entry["path"] = template(rng)
        entry["query"] = rng.choice([{"v": "2"}, [{"name": "v", "regex": "[0-9]+"}], [{"name": "page", "present": True}],
                                     [{"name": "v", "prefix": "1"}], [{"name": "q", "absent": True}]])
    return entry


def native_config(rng: random.Random) -> dict:
    n = iter(range(1000))
    config: dict = {"routes": [route(rng, next(n)) for _ in range(rng.randint(1, 8))]}
    if rng.random() < 0.7:
        config["default"] = "[DEFAULT]"
    if rng.random() < 0.4:
        config["services"] = [
            {"hosts": rng.sample(HOSTS[:4], rng.randint(1, 2)), "routes": [route(rng, next(n)) for _ in range(rng.randint(1, 4))],
             **({"default": "svc-default"} if rng.random() < 0.5 else {})}
        ]
    if rng.random() < 0.3:
        config["normalize"] = {key: rng.random() < 0.5 for key in
                               ("decode_unreserved", "merge_slashes", "remove_dot_segments", "ignore_trailing_slash", "case_insensitive")}
    if rng.random() < 0.25:
        config["limits"] = {"max_path_bytes": rng.choice([8, 12, 20])}
    return config


CEL_SUBSET = [
    'request.url_path == "/books"',
    'request.url_path.startsWith("/books")',
    'request.url_path.matches("^/users/[a-z]+/orders$")',
    'request.method == "POST"',
    'request.method in ["GET", "HEAD"] && request.url_path.startsWith("/api")',
    "request.headers['x-a'] == '1,2'",
    "'x-b' in request.headers",
    'request.url_path.endsWith("/reviews") || request.method == "DELETE"',
    '',
]
CEL_OUTSIDE = [
    'request.url_path.startsWith("/a") ? true : false',
    'size(request.url_path) > 6',
]


def attributegen_config(rng: random.Random) -> dict:
    conditions = rng.sample(CEL_SUBSET, rng.randint(1, 4)) + (rng.sample(CEL_OUTSIDE, 1) if rng.random() < 0.15 else [])
    rng.shuffle(conditions)
    return {"attributes": [{"output_attribute": ATTRIBUTE, "phase": "ON_REQUEST",
                            "match": [{"value": f"m{i}", "condition": c} for i, c in enumerate(conditions)]}]}


INVALID = [
    {"attributes": [{"output_attribute": ATTRIBUTE, "match": [{"value": "v", "condition": "request.url_path == "}]}]},
    {"attributes": [{"output_attribute": ATTRIBUTE, "match": [{"value": "v", "condition": 'request.url_path == "/a'}]}]},
    {"attributes": [{"output_attribute": ATTRIBUTE, "match": [{"value": "v", "condition": '(request.method == "GET"'}]}]},
    {"attributes": [], "routes": ["GET /a"]},
    {"routes": ["GET /a/{id"]},
    {"routes": [{"name": "x", "path_regx": "/a"}]},
    {"routes": ["GET /a"], "limits": {"max_path_bytes": 0}},
    {"routes": [{"name": "x", "path": "/a", "headers": [{"name": "x-a", "regex": "(("}]}]},
]


def request(rng: random.Random) -> dict:
    parts = [rng.choice(WORDS + ["42", "007", "x1", "%41", "%2e", "..", ".", ""]) for _ in range(rng.randint(0, 4))]
    path = "/" + "/".join(parts)
    if rng.random() < 0.15:
        path = path.replace("/", "//", 1)
    if rng.random() < 0.15:
        path += "/"
    if rng.random() < 0.3:
        path += rng.choice(["?q=1&x=/books", "?v=2", "?v=2&v=3", "?v=3&v=2", "?v=12", "?page", "?v=%32&page=1"])
    if rng.random() < 0.1:
        path = path.upper()
    headers = []
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        headers.append((rng.choice(["x-a", "x-a", "x-b"]), rng.choice(["1", "2", "1,2", "12"])))
    return {"method": rng.choice(METHODS), "path": path, "host": rng.choice(HOSTS), "headers": headers}


# ---- the two sides ------------------------------------------------------------------------------


def cli_check(cli: str, path) -> int:
    return subprocess.run([cli, "check", str(path)], capture_output=True, text=True, timeout=60).returncode


# explain's answer when a condition outside the subset decides: only Envoy's CEL can tell.
UNDETERMINED = object()


def cli_name(cli: str, path, req: dict):
    args = [cli, "explain", str(path), req["method"], req["path"], "--host", req["host"], "-o", "json"]
    for name, value in req["headers"]:
        args += ["-H", f"{name}={value}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"explain failed: {done.stderr}\n{args}"
    report = json.loads(done.stdout)
    if report["format"] == "native":
        return report["result"]["route"]
    result = report["attributes"][0]["result"]
    if isinstance(result, str) and result.startswith("undetermined"):
        return UNDETERMINED
    return result[1:-1] if isinstance(result, str) and result.startswith("'") else None


def envoy_names(envoy, requests: list[dict]) -> list[str | None]:
    tids = []
    for req in requests:
        _, _, tid = envoy.raw_request(req["method"], req["path"], req["headers"], authority=req["host"])
        tids.append(tid)
    names = []
    for tid in tids:
        entry = envoy.log_entry(tid, timeout=10)
        fs = entry.get(f"fs:{ATTRIBUTE}")
        names.append(None if fs in (None, "-", "") else fs)
    return names


def reproduce(config: dict, req: dict | None = None) -> str:
    text = f"config: {json.dumps(config)}"
    if req:
        text += f"\nrequest: {req['method']} {req['path']} host={req['host']} headers={req['headers']}"
    return text


# ---- the test -----------------------------------------------------------------------------------


def test_cli_and_filter_agree(start_envoy, refused, routegen_cli, tmp_path, envoy_version, capsys):
    rng = random.Random(SEED)
    cases = agreed = undetermined = 0
    disagreements: list[str] = []
    started = time.monotonic()
    for i in range(CONFIGS):
        config = attributegen_config(rng) if i % 4 == 3 else native_config(rng)
        path = tmp_path / f"config-{i}.json"
        path.write_text(json.dumps(config))
        assert cli_check(routegen_cli, path) == 0, "generated config must be valid:\n" + reproduce(config)
        envoy = start_envoy(config)
        try:
            requests = [request(rng) for _ in range(REQUESTS)]
            filter_names = envoy_names(envoy, requests)
        finally:
            envoy.stop()
        for req, filter_name in zip(requests, filter_names):
            cases += 1
            cli = cli_name(routegen_cli, path, req)
            if cli is UNDETERMINED:
                undetermined += 1  # explain said so instead of naming: honest, not a disagreement
            elif cli == filter_name:
                agreed += 1
            elif len(disagreements) < 10:
                disagreements.append(f"filter {filter_name!r} vs CLI {cli!r}\n" + reproduce(config, req))
    rejected = 0
    for config in INVALID:
        path = tmp_path / "invalid.json"
        path.write_text(json.dumps(config))
        code, log = refused(config)
        filter_rejects = code != 0 and "routegen: configuration rejected:" in log
        cli_rejects = cli_check(routegen_cli, path) == 1
        cases += 1
        if filter_rejects and cli_rejects:
            rejected += 1
            agreed += 1
        else:
            disagreements.append(f"filter rejects: {filter_rejects}, check rejects: {cli_rejects}\n" + reproduce(config))
    summary = (f"\ndifferential (Envoy {'.'.join(map(str, envoy_version))}, seed {SEED}): {cases} cases "
          f"({CONFIGS} configs x {REQUESTS} requests + {len(INVALID)} invalid configs), {agreed} agree, "
          f"{rejected} rejected by both, {undetermined} left undetermined by explain (a condition only Envoy's CEL "
          f"evaluates decided), {time.monotonic() - started:.0f} s")
    with capsys.disabled():
        print(summary)
    wrong = cases - agreed - undetermined
    assert not disagreements, f"{wrong} disagreement(s):\n\n" + "\n\n".join(disagreements)
    assert undetermined < cases / 5, "too few decidable cases: the generator drifted"
