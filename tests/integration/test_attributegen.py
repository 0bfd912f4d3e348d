"""Istio attributegen configurations, unchanged, in a real Envoy (REFERENCE.md §1): first true
condition wins per attribute, empty condition = catch-all, attributes independent,
AFTER_RESPONSE evaluated at log time, an evaluation error abandons the attribute for that
request, and conditions outside routegen's CEL subset evaluated by Envoy's own CEL."""

import json

import pytest

OPERATION = {  # the attributegen README / Istio docs example
    "output_attribute": "istio_operationId",
    "match": [
        {"value": "ListBooks", "condition": "request.url_path == '/books' && request.method == 'GET'"},
        {"value": "GetBook",
         "condition": "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')"},
        {"value": "CreateBook", "condition": "request.url_path == '/books/' && request.method == 'POST'"},
    ],
}

RESPONSE_CODE = {  # attributegen's testdata/responseCode.json, under its own attribute name
    "outputAttribute": "istio_responseClass",  # protobuf JSON spelling
    "match": [
        {"value": "2xx", "condition": "response.code >= 200 && response.code <= 299"},
        {"value": "404", "condition": "response.code == 404"},
        {"value": "401", "condition": "response.code == 401"},
        {"value": "403", "condition": "response.code == 403"},
        {"value": "429", "condition": "response.code == 429"},
        {"value": "503", "condition": "response.code == 503"},
        {"value": "5xx", "condition": "response.code >= 500 && response.code <= 599"},
        {"value": "4xx", "condition": "response.code >= 400 && response.code <= 499"},
    ],
}

CATCH_ALL = {
    "output_attribute": "catch_all",
    "match": [
        {"value": "health", "condition": "request.url_path == '/health'"},
        {"value": "get", "condition": "request.method == 'GET' && request.url_path.startsWith('/get')"},
        {"value": "other", "condition": ""},
        {"value": "never", "condition": "true"},
    ],
}

EARLY = {
    "output_attribute": "early",
    "phase": "ON_REQUEST",
    "match": [{"value": "early-get", "condition": "request.method in ['GET', 'HEAD'] && request.url_path.startsWith('/early')"}],
}

# The same response condition at both phases: at request headers there is no response code yet,
# so the ON_REQUEST one fails to evaluate (attribute abandoned) and only the late one is set.
CODE_EARLY = {"output_attribute": "code_early", "phase": "ON_REQUEST",
              "match": [{"value": "ok", "condition": "response.code == 200"}, {"value": "fallthrough"}]}
CODE_LATE = {"output_attribute": "code_late", "phase": "AFTER_RESPONSE",
             "match": [{"value": "ok", "condition": "response.code == 200"}, {"value": "fallthrough"}]}

HEADER = {
    "output_attribute": "hdr",
    "match": [
        {"value": "A", "condition": "request.headers['x-a'] == 'a'"},
        {"value": "other", "condition": ""},
    ],
}

UNANCHORED = {
    "output_attribute": "unanchored",
    "match": [{"value": "versioned", "condition": "request.url_path.matches('/v[0-9]+/')"}],
}

# Outside routegen's own subset (request.time, timestamp(), the ternary operator): Envoy's CEL
# evaluates these through the expr_create / expr_evaluate foreign functions.
HOST_CEL = {
    "output_attribute": "hostcel",
    "match": [
        {"value": "before-2000", "condition": "request.time < timestamp('2000-01-01T00:00:00Z')"},
        {"value": "fallback",
         "condition": "request.time > timestamp('2000-01-01T00:00:00Z') && request.url_path == '/fallback'"},
        {"value": "ternary", "condition": "(request.url_path == '/ternary' ? 'yes' : 'no') == 'yes'"},
    ],
}

ATTRIBUTES = [OPERATION, RESPONSE_CODE, CATCH_ALL, EARLY, CODE_EARLY, CODE_LATE, HEADER, UNANCHORED, HOST_CEL]
NAMES = [a.get("output_attribute") or a.get("outputAttribute") for a in ATTRIBUTES]


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy({"attributes": ATTRIBUTES}, attributes=NAMES)


@pytest.mark.parametrize(
    "method,path,expected",
    [
        ("GET", "/books", "ListBooks"),
        ("GET", "/books?page=2", "ListBooks"),               # url_path drops the query
        ("POST", "/books", None),
        ("GET", "/books/", None),                              # no normalisation in attributegen mode
        ("GET", "//books", None),
        ("GET", "/shelves/s1/books/b2", "GetBook"),
        ("DELETE", "/shelves/s1/books/b2", "GetBook"),
        ("GET", "/shelves/s1/books/b-2", None),               # '-' is not [[:alnum:]]
        ("GET", "/shelves/s1/books/b2/x", None),              # anchored with $
        ("POST", "/books/", "CreateBook"),
        ("PUT", "/books/", None),
        ("GET", "/elsewhere", None),                            # no match: nothing is written
    ],
)
def test_operation_example(envoy, method, path, expected):
    resp = envoy.request(method, path, body=b"{}" if method in ("POST", "PUT") else b"")
    assert resp.status == 200
    assert resp.fs("istio_operationId") == expected
    assert resp.cel("istio_operationId") == expected


@pytest.mark.parametrize(
    "code,expected",
    [(200, "2xx"), (201, "2xx"), (404, "404"), (401, "401"), (403, "403"), (429, "429"),
     (503, "503"), (500, "5xx"), (418, "4xx")],
)
def test_response_code_example(envoy, code, expected):
    resp = envoy.request("GET", f"/status/{code}")
    assert resp.status == code
    assert resp.attr("istio_responseClass") == expected
    assert resp.attr("istio_operationId") is None   # independent attribute, no match here


def test_catch_all(envoy):
    assert envoy.request("GET", "/health").attr("catch_all") == "health"
    assert envoy.request("GET", "/get/x").attr("catch_all") == "get"
    assert envoy.request("POST", "/get/x", body=b"x").attr("catch_all") == "other"
    assert envoy.request("GET", "/anything").attr("catch_all") == "other"


def test_on_request_phase(envoy):
    early = envoy.request("GET", "/early/x")
    assert early.attr("early") == "early-get"
    assert envoy.request("HEAD", "/early/x").attr("early") == "early-get"
    assert envoy.request("POST", "/early/x", body=b"x").attr("early") is None
    assert envoy.request("GET", "/early").attr("early") == "early-get"


def test_response_code_only_after_response(envoy):
    ok = envoy.request("GET", "/status/200")
    assert ok.attr("code_late") == "ok"
    assert ok.attr("code_early") is None, "response.code cannot be known at request headers"
    not_found = envoy.request("GET", "/status/404")
    assert not_found.attr("code_late") == "fallthrough"
    assert not_found.attr("code_early") is None


def test_attributes_are_independent(envoy):
    resp = envoy.request("GET", "/books")
    assert resp.status == 200
    assert resp.attr("istio_operationId") == "ListBooks"
    assert resp.attr("istio_responseClass") == "2xx"
    assert resp.attr("catch_all") == "other"
    assert resp.attr("early") is None
    assert resp.attr("hdr") is None          # errored (no x-a): abandoned, others unaffected
    assert resp.attr("unanchored") is None


def test_header_condition_error_abandons_the_attribute(envoy):
    assert envoy.request("GET", "/h", {"x-a": "a"}).attr("hdr") == "A"
    assert envoy.request("GET", "/h", {"x-a": "b"}).attr("hdr") == "other"
    # Header absent: the condition fails to evaluate, so the catch-all is not reached either.
    absent = envoy.request("GET", "/h")
    assert absent.fs("hdr") is None and absent.cel("hdr") is None
    # The next request is unaffected.
    assert envoy.request("GET", "/h", {"x-a": "a"}).attr("hdr") == "A"


def test_matches_is_unanchored(envoy):
    assert envoy.request("GET", "/api/v2/users").attr("unanchored") == "versioned"
    assert envoy.request("GET", "/v10/").attr("unanchored") == "versioned"
    assert envoy.request("GET", "/api/v2").attr("unanchored") is None


def test_host_cel_fallback_is_used(envoy):
    notes = envoy.log_lines("routegen: attributes[8].match[")
    for j in range(3):
        assert any(f"attributes[8].match[{j}].condition: evaluated by Envoy's CEL" in line for line in notes), (
            f"match[{j}] should go through Envoy's CEL:\n" + "\n".join(notes)
        )
    # ...and only those: routegen's own subset handles every other condition.
    assert not [line for line in envoy.log_lines("evaluated by Envoy's CEL") if "attributes[8]" not in line]


def test_host_cel_fallback_evaluates(envoy):
    # match[0] is false for every request (request.time is now), match[1] true on /fallback only.
    assert envoy.request("GET", "/fallback").attr("hostcel") == "fallback"
    assert envoy.request("GET", "/fallback?x=1").attr("hostcel") == "fallback"
    assert envoy.request("GET", "/fallbackx").attr("hostcel") is None
    assert envoy.request("GET", "/ternary").attr("hostcel") == "ternary"
    assert envoy.request("GET", "/other").attr("hostcel") is None
    # Host-evaluated and own-subset attributes side by side on one request.
    both = envoy.request("GET", "/fallback", {"x-a": "a"})
    assert both.attr("hostcel") == "fallback" and both.attr("hdr") == "A"


def test_config_summary(envoy):
    lines = envoy.log_lines("routegen: configuration loaded")
    assert lines and "attributegen: 9 attributes" in lines[0], envoy.log_tail()


def test_invalid_cel_is_rejected(refused):
    config = {"attributes": [
        {"output_attribute": "ok", "match": [{"value": "fine", "condition": "request.method == 'GET'"}]},
        {"output_attribute": "bad", "match": [
            {"value": "a", "condition": "request.method == 'GET'"},
            {"value": "b", "condition": "request.method == "},
        ]},
    ]}
    code, log = refused(json.dumps(config))
    assert code != 0
    lines = [line for line in log.splitlines() if "routegen: configuration rejected:" in line]
    assert lines, log[-3000:]
    assert "attributes[1].match[1].condition: invalid CEL" in lines[0]
    assert "[error]" in lines[0]
    assert "Unable to create Wasm plugin routegen" in log


def test_protobuf_json_leniency(start_envoy):
    """attributegen's config is protobuf JSON: unknown fields are ignored, `outputAttribute`
    is the JSON name, an enum may be a number (1 = ON_REQUEST), a match without condition is
    a catch-all."""
    config = {
        "debug": False,
        "some_future_field": {"x": 1},
        "attributes": [
            {"outputAttribute": "lenient", "phase": 1, "comment": "ignored",
             "match": [{"value": "get", "condition": "request.method == 'GET'", "note": "ignored"},
                       {"value": "rest"}]},
        ],
    }
    envoy = start_envoy(config, attributes=["lenient"])
    assert envoy.request("GET", "/x").attr("lenient") == "get"
    assert envoy.request("DELETE", "/x").attr("lenient") == "rest"
