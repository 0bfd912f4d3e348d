"""routegen's own CEL subset against Envoy's CEL, in the same Envoy, on the same requests.

Each condition C becomes two attributes: `own<i>` with C itself (routegen's evaluator) and
`env<i>` with `(C) ? true : false`, which routegen does not parse and therefore hands to
Envoy's CEL through expr_create / expr_evaluate. Both have matches `T` (condition) then `F`
(catch-all), so the logged value tells true (`T`), false (`F`) and evaluation error (unset)
apart. A drop-in replacement for attributegen must agree with Envoy's CEL on all three."""

import pytest

CONDITIONS = [
    "request.url_path == '/books'",
    "request.path == '/books?x=1'",
    "request.url_path.startsWith('/api')",
    "request.url_path.endsWith('.json')",
    "request.url_path.contains('//')",
    "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')",
    "request.url_path.matches('[0-9]{3}')",
    "request.method in ['GET', 'HEAD']",
    "!(request.method == 'POST')",
    "request.method != 'GET'",
    "request.headers['x-a'] == 'a'",
    "request.headers['x-a'] != 'a'",
    "request.headers['x-a'].startsWith('a') || request.method == 'POST'",
    "request.method == 'POST' || request.headers['x-a'] == 'a'",
    "request.headers['x-a'] == 'a' && request.method == 'DELETE'",
    "request.method == 'DELETE' && request.headers['x-a'] == 'a'",
    "request.headers['X-A'] == 'a'",
    "request.headers['x-a'].size() == 0",
    "request.headers['x-a'].contains('b')",
    "request.headers['x-a'] == 'a,b'",
    "response.code >= 400 && response.code < 500",
    "response.code in [200, 404]",
    "response.code == 503 || response.code == 418",
    "request.host == 'books'",
    "request.host.startsWith('books')",
    "request.url_path.size() > 10",
    "size(request.url_path) > 10",
    "request.query == 'x=1'",
    "request.scheme == 'http'",
    "request.protocol == 'HTTP/1.1'",
    "request.useragent == 'ua/1'",
    "request.referer == 'http://r/'",
    "request.id.size() > 0",
    "request.url_path > '/m'",
    "response.headers['content-type'] == 'text/plain'",
    "request.method == 'GET' && response.code == 200 && !request.url_path.startsWith('/status')",
    "request.url_path.matches('^/books$') || request.url_path.matches('^/api/')",
]

# The same comparison at request headers (ON_REQUEST), where no response exists yet.
ON_REQUEST = [
    "response.code == 200",
    "response.headers['content-type'] == 'text/plain'",
    "request.url_path == '/books' && request.method == 'GET'",
    "request.headers['x-a'] == 'a'",
    "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')",
]
PHASES = ["AFTER_RESPONSE"] * len(CONDITIONS) + ["ON_REQUEST"] * len(ON_REQUEST)
CONDITIONS = CONDITIONS + ON_REQUEST

ATTRIBUTES = []
for i, (condition, phase) in enumerate(zip(CONDITIONS, PHASES)):
    ATTRIBUTES.append({"output_attribute": f"own{i}", "phase": phase, "match": [
        {"value": "T", "condition": condition}, {"value": "F"}]})
    ATTRIBUTES.append({"output_attribute": f"env{i}", "phase": phase, "match": [
        {"value": "T", "condition": f"({condition}) ? true : false"}, {"value": "F"}]})
NAMES = [a["output_attribute"] for a in ATTRIBUTES]

REQUESTS = [
    # (method, path, headers, authority)
    ("GET", "/books", {}, None),
    ("GET", "/books?x=1", {}, None),
    ("POST", "/books", {"x-a": "a"}, None),
    ("DELETE", "/books", {"x-a": "a"}, None),
    ("DELETE", "/books", {}, None),
    ("GET", "/api/v1/item.json", {"x-a": "ab"}, None),
    ("GET", "//double//slash", {}, None),
    ("GET", "/shelves/a1/books/b2", {"user-agent": "ua/1", "referer": "http://r/"}, None),
    ("HEAD", "/n/123/x", {"x-a": "a"}, "books"),
    ("GET", "/status/404", {}, "books:8080"),
    ("GET", "/status/418", {"x-a": "zz"}, None),
    ("GET", "/status/503", {}, None),
    ("POST", "/status/201", {}, None),
    ("GET", "/BOOKS", {"X-A": "a"}, None),
    ("GET", "/a", {}, None),
    ("GET", "/zzz?", {}, None),
    ("GET", "/books", {"x-a": ""}, None),                      # present but empty
    ("GET", "/books#frag", {}, None),          # Envoy answers 400 itself; the filter still runs
    ("GET", "/books?x=1#frag", {}, None),
    ("GET", "/books%3Fx", {}, None),
]


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy({"attributes": ATTRIBUTES}, attributes=NAMES)


def test_routing_of_conditions(envoy):
    """The `own` side really is routegen's evaluator and the `env` side really is Envoy's."""
    host = "\n".join(envoy.log_lines("evaluated by Envoy's CEL"))
    for i in range(len(CONDITIONS)):
        own_index, env_index = 2 * i, 2 * i + 1
        assert f"attributes[{env_index}].match[0].condition: evaluated by Envoy's CEL" in host
        assert f"attributes[{own_index}].match[0]" not in host, (
            f"condition {CONDITIONS[i]!r} is outside routegen's subset (not a differential check)")


def compare(resp):
    mismatches = []
    show = {None: "error", "T": "true", "F": "false"}
    for i, condition in enumerate(CONDITIONS):
        own, env = resp.attr(f"own{i}"), resp.attr(f"env{i}")
        if own != env:
            mismatches.append(f"  {condition!r} ({PHASES[i]}): routegen {show.get(own, own)}, Envoy CEL {show.get(env, env)}")
    return mismatches


@pytest.mark.parametrize("method,path,headers,authority", REQUESTS,
                         ids=[f"{r[0]} {r[1]} {r[2]} {r[3]}" for r in REQUESTS])
def test_same_result_as_envoy_cel(envoy, method, path, headers, authority):
    resp = envoy.request(method, path, headers, authority=authority or "test.local",
                         body=b"x" if method == "POST" else b"")
    assert resp.status in (200, 201, 400, 404, 418, 503)
    mismatches = compare(resp)
    assert not mismatches, f"{method} {path} {headers}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("values", [["a", "b"], ["b", "a"], ["a", "a"]])
def test_repeated_header_seen_as_envoy_sees_it(envoy, values):
    """Envoy's CEL reads a header sent several times as the values joined by ',' ('a,b');
    attributegen conditions therefore see 'a,b', not just the first value."""
    resp = envoy.request("GET", "/books", [("x-a", v) for v in values])
    assert resp.status == 200
    joined = ",".join(values)
    idx = CONDITIONS.index("request.headers['x-a'] == 'a,b'")
    assert resp.attr(f"env{idx}") == ("T" if joined == "a,b" else "F")   # what Envoy's CEL sees
    mismatches = compare(resp)
    assert not mismatches, f"x-a sent as {values}:\n" + "\n".join(mismatches)
