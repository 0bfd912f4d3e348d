"""routegen's native format in a real Envoy: every kind of route, first-match order,
normalisation, the default name, and a configuration without a default."""

import time

import pytest

NATIVE = {
    "default": "[DEFAULT]",
    "routes": [
        "GET /books/new",
        "GET /books/{id}",
        "POST /books",
        "GET|HEAD /files/{name}.json",
        {"name": "star", "path": "/a/*/c"},
        {"name": "rest", "method": ["GET", "HEAD"], "path": "/static/**"},
        {"name": "rest-var", "path": "/assets/{rest=**}"},
        {"name": "prefix", "path_prefix": "/api/v1/"},
        {"name": "exact", "path_exact": "/healthz"},
        {"name": "regex", "path_regex": "/orders/[0-9]+"},
        {"name": "hdr-map", "path": "/hdr", "headers": {"X-Api": "2"}},
        {"name": "hdr-prefix-present", "path": "/hdr", "headers": [
            {"name": "x-api", "prefix": "3"}, {"name": "x-beta", "present": True}]},
        {"name": "hdr-regex", "path": "/hdr", "headers": [{"name": "x-api", "regex": "v[0-9]+"}]},
        {"name": "hdr-absent", "path": "/hdr", "headers": [{"name": "x-api", "absent": True}]},
        {"name": "put-or-patch", "method": ["PUT", "PATCH"], "path": "/items/{id}"},
        "DELETE /items/{id}",
        "/admin",
    ],
}


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy(NATIVE)


@pytest.fixture(scope="module")
def envoy_no_default(start_envoy):
    return start_envoy({"routes": ["GET /books/{id}"]})


CASES = [
    # (method, path, headers, expected name)
    ("GET", "/books/42", {}, "GET /books/{id}"),
    ("GET", "/books/new", {}, "GET /books/new"),          # listed before the template: wins
    ("POST", "/books", {}, "POST /books"),
    ("POST", "/books/42", {}, "[DEFAULT]"),               # method not allowed by any route
    ("GET", "/books", {}, "[DEFAULT]"),                   # {id} needs a segment
    ("GET", "/books/42/pages", {}, "[DEFAULT]"),          # {id} is one segment only
    ("GET", "/files/report.json", {}, "GET|HEAD /files/{name}.json"),
    ("HEAD", "/files/report.json", {}, "GET|HEAD /files/{name}.json"),
    ("GET", "/files/report.xml", {}, "[DEFAULT]"),
    ("GET", "/files/.json", {}, "[DEFAULT]"),             # the variable must not be empty
    ("GET", "/a/b/c", {}, "star"),
    ("DELETE", "/a/anything/c", {}, "star"),
    ("GET", "/a/b/x/c", {}, "[DEFAULT]"),                 # * is exactly one segment
    ("GET", "/static/css/site/main.css", {}, "rest"),
    ("HEAD", "/static/x", {}, "rest"),
    ("POST", "/static/x", {}, "[DEFAULT]"),
    ("GET", "/assets/img/logo.png", {}, "rest-var"),
    ("GET", "/api/v1/users/7", {}, "prefix"),
    ("GET", "/api/v2/users/7", {}, "[DEFAULT]"),
    ("GET", "/healthz", {}, "exact"),
    ("GET", "/healthz/deep", {}, "[DEFAULT]"),
    ("GET", "/orders/123", {}, "regex"),
    ("GET", "/orders/123x", {}, "[DEFAULT]"),             # path_regex matches the whole path
    ("GET", "/x/orders/123", {}, "[DEFAULT]"),
    ("GET", "/hdr", {"x-api": "2"}, "hdr-map"),
    ("GET", "/hdr", {"X-API": "2"}, "hdr-map"),           # header names are case-insensitive
    ("GET", "/hdr", {"x-api": "3.1", "x-beta": "1"}, "hdr-prefix-present"),
    ("GET", "/hdr", {"x-api": "3.1"}, "[DEFAULT]"),       # x-beta missing; regex does not match
    ("GET", "/hdr", {"x-api": "v12"}, "hdr-regex"),
    ("GET", "/hdr", {"x-api": "v12x"}, "[DEFAULT]"),      # header regex is anchored
    ("GET", "/hdr", {}, "hdr-absent"),
    ("PUT", "/items/9", {}, "put-or-patch"),
    ("PATCH", "/items/9", {}, "put-or-patch"),
    ("DELETE", "/items/9", {}, "DELETE /items/{id}"),
    ("GET", "/items/9", {}, "[DEFAULT]"),
    ("GET", "/admin", {}, "/admin"),
    ("OPTIONS", "/admin", {}, "/admin"),                  # shorthand without method: any
    ("GET", "/nothing/here", {}, "[DEFAULT]"),
    ("GET", "/", {}, "[DEFAULT]"),
]


@pytest.mark.parametrize("method,path,headers,expected", CASES, ids=[f"{c[0]} {c[1]} {c[2]}" for c in CASES])
def test_route_kinds(envoy, method, path, headers, expected):
    resp = envoy.request(method, path, headers)
    assert resp.status == 200, resp
    assert resp.log["path"] == path
    assert resp.fs() == expected
    assert resp.cel() == expected


@pytest.mark.parametrize(
    "values,expected",
    [
        (["2"], "hdr-map"),
        (["2", "2"], "[DEFAULT]"),        # seen as '2,2', as Envoy's route matcher and CEL see it
        (["3.1", "x"], "[DEFAULT]"),      # '3.1,x': prefix '3' holds but x-beta is missing
        (["v1", "v2"], "[DEFAULT]"),      # 'v1,v2' is not v[0-9]+
    ],
)
def test_repeated_header(envoy, values, expected):
    resp = envoy.request("GET", "/hdr", [("x-api", v) for v in values])
    assert resp.attr() == expected


def test_repeated_header_prefix(envoy):
    resp = envoy.request("GET", "/hdr", [("x-api", "3"), ("x-api", "4"), ("x-beta", "")])
    assert resp.attr() == "hdr-prefix-present"


NORMALISATION = [
    ("/books/42?x=1&y=/admin", "GET /books/{id}"),        # the query is ignored
    ("/books/new?page=2", "GET /books/new"),
    ("/books?id=42", "[DEFAULT]"),
    ("//books//42/", "GET /books/{id}"),                   # merged slashes, trailing slash
    ("/books/42/", "GET /books/{id}"),
    ("/books/%34%32", "GET /books/{id}"),                  # %34%32 = "42", unreserved: decoded
    ("/books/%6Eew", "GET /books/new"),                    # %6E = "n": decodes to /books/new
    ("/books/%2e%2e/admin", "/admin"),                     # encoded dot segments are removed
    ("/books/../admin", "/admin"),
    ("/books/./42", "GET /books/{id}"),
    ("/api/v1/../v1/x", "prefix"),
    ("/BOOKS/42", "[DEFAULT]"),                            # case-sensitive by default
    ("/books/a%2Fb", "GET /books/{id}"),                   # %2F stays encoded: one segment
]


@pytest.mark.parametrize("path,expected", NORMALISATION, ids=[c[0] for c in NORMALISATION])
def test_normalisation(envoy, path, expected):
    resp = envoy.request("GET", path)
    assert resp.status == 200
    assert resp.log["path"] == path, "Envoy itself must not rewrite the path here"
    assert resp.attr() == expected


def test_without_default_the_attribute_is_unset(envoy_no_default):
    matched = envoy_no_default.request("GET", "/books/7")
    assert matched.attr() == "GET /books/{id}"
    missed = envoy_no_default.request("GET", "/elsewhere")
    assert missed.status == 200
    # Envoy prints an unset filter state as JSON null, for FILTER_STATE and CEL alike.
    assert missed.log["fs:istio_operationId"] is None
    assert missed.log["cel:istio_operationId"] is None
    wrong_method = envoy_no_default.request("DELETE", "/books/7")
    assert wrong_method.fs() is None and wrong_method.cel() is None


def test_config_loaded_message(envoy):
    lines = envoy.log_lines("routegen: configuration loaded")
    assert lines, envoy.log_tail()
    assert "native: 17 routes, 0 services" in lines[0]


OPTIONS = {
    "debug": True,
    "default": "[DEFAULT]",
    "normalize": {
        "decode_unreserved": False,
        "merge_slashes": False,
        "remove_dot_segments": True,
        "ignore_trailing_slash": False,
        "case_insensitive": True,
    },
    "routes": ["GET /books/new", "GET /Books/{id}", {"name": "exact", "path_exact": "/HealthZ"}],
}


@pytest.fixture(scope="module")
def envoy_options(start_envoy):
    return start_envoy(OPTIONS)


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/BOOKS/42", "GET /Books/{id}"),          # case-insensitive: literals and paths lowered
        ("/books/NEW", "GET /books/new"),
        ("/healthz", "exact"),
        ("//books/42", "[DEFAULT]"),               # merge_slashes off
        ("/books/42/", "[DEFAULT]"),               # ignore_trailing_slash off
        ("/books/%6Eew", "GET /Books/{id}"),       # decode_unreserved off: not /books/new
        ("/books/x/../new", "GET /books/new"),     # remove_dot_segments still on
    ],
)
def test_normalisation_options(envoy_options, path, expected):
    resp = envoy_options.request("GET", path)
    assert resp.attr() == expected


def test_debug_logs_each_decision(envoy_options):
    envoy_options.request("GET", "/BOOKS/7?debug=1", authority="Debug.Host")
    line = "routegen: GET /BOOKS/7?debug=1 (authority Debug.Host) -> GET /Books/{id}"
    deadline = time.monotonic() + 5
    while not envoy_options.log_lines(line) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert envoy_options.log_lines(line), envoy_options.log_tail()
    envoy_options.request("POST", "/nowhere", body=b"x")
    deadline = time.monotonic() + 5
    while not envoy_options.log_lines("routegen: POST /nowhere") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("-> [DEFAULT]" in l for l in envoy_options.log_lines("routegen: POST /nowhere"))


def test_no_debug_lines_without_debug(envoy):
    envoy.request("GET", "/books/1")
    assert not envoy.log_lines("routegen: GET /books/1 (authority")
