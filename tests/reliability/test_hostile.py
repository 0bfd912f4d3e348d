"""Hostile traffic through a real Envoy running routegen (issue 7, part 3).

For every request: a response arrives, or Envoy itself refuses the request (HTTP/1 400 from its
codec, or an HTTP/2 connection closed / stream reset for a protocol error) before any filter
runs; the wasm VM never traps (log markers, FAIL_RELOAD counters); and only configured names or
the default ever appear as `wasm.istio_operationId` in the access log.

Three Envoys per Envoy version: native format with Envoy's own path normalisation off
(`normalize_path: false, merge_slashes: false`, Envoy's default) and on (what Istio sets), and
attributegen's format. All accept HTTP/1.1 and h2c with prior knowledge (`codec_type: AUTO`).
"""

from __future__ import annotations

import pytest

from routegen_support.h2 import h2_request
from routegen_support.harness import Envoy, assert_vm_healthy

NATIVE = {
    "default": "[DEFAULT]",
    "routes": [
        "GET /books/{id}",
        "GET /books",
        "/admin",
        {"name": "static", "path": "/static/**"},
        {"name": "regex", "path_regex": "/re/[a-z]+"},
        {"name": "v2", "path": "/hdr", "headers": {"x-api-version": "2"}},
        {"name": "v-re", "path": "/hdr", "headers": [{"name": "x-api-version", "regex": "[0-9]+"}]},
        {"name": "options", "method": "OPTIONS", "path_prefix": "/"},
    ],
    "services": [{"hosts": ["books", "books:8080"], "routes": ["GET /svc/{id}"], "default": "books-default"}],
}
NATIVE_NAMES = {r if isinstance(r, str) else r["name"] for r in NATIVE["routes"]} | {"GET /svc/{id}", "books-default", "[DEFAULT]"}

ATTRIBUTEGEN = {"attributes": [
    {"output_attribute": "istio_operationId", "phase": "ON_REQUEST", "match": [
        {"value": "GetBook", "condition": "request.url_path.matches('^/books/[^/]+$') && request.method == 'GET'"},
        {"value": "Admin", "condition": "request.url_path == '/admin'"},
        {"value": "V2", "condition": "request.url_path == '/hdr' && request.headers['x-api-version'] == '2'"},
        {"value": "VPrefix", "condition": "request.url_path == '/hdr' && request.headers['x-api-version'].startsWith('v')"},
        {"value": "Other", "condition": ""},
    ]},
    {"output_attribute": "istio_responseClass", "match": [
        {"value": "2xx", "condition": "response.code >= 200 && response.code <= 299"},
        {"value": "4xx", "condition": "response.code >= 400 && response.code <= 499"},
        {"value": "ua", "condition": "request.useragent.contains('evil')"},
    ]},
]}
AG_NAMES = {"istio_operationId": {"GetBook", "Admin", "V2", "VPrefix", "Other"}, "istio_responseClass": {"2xx", "4xx", "ua"}}

LOG_FIELDS = {"details": "%RESPONSE_CODE_DETAILS%", "proto": "%PROTOCOL%"}
H2 = {"codec_type": "AUTO", "http2_protocol_options": {"allow_connect": True}}
KB64 = 64 * 1024


def _start(envoy_bin, wasm_path, tmp_path_factory, config, *, normalize: bool, attributes=("istio_operationId",)):
    hcm = dict(H2, normalize_path=normalize, merge_slashes=normalize)
    envoy = Envoy(
        envoy_bin, wasm_path, tmp_path_factory.mktemp("hostile"), config, attributes=attributes,
        failure_policy="FAIL_RELOAD", max_request_headers_kb=128, hcm=hcm, log_fields=LOG_FIELDS,
    )
    return envoy.start()


@pytest.fixture(scope="module")
def raw(envoy_bin, wasm_path, tmp_path_factory):
    envoy = _start(envoy_bin, wasm_path, tmp_path_factory, NATIVE, normalize=False)
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def normalized(envoy_bin, wasm_path, tmp_path_factory):
    envoy = _start(envoy_bin, wasm_path, tmp_path_factory, NATIVE, normalize=True)
    yield envoy
    envoy.stop()


@pytest.fixture(scope="module")
def attributegen(envoy_bin, wasm_path, tmp_path_factory):
    envoy = _start(envoy_bin, wasm_path, tmp_path_factory, ATTRIBUTEGEN, normalize=False,
                   attributes=("istio_operationId", "istio_responseClass"))
    yield envoy
    envoy.stop()


def _refused_by_envoy(entry: dict) -> bool:
    """Envoy answered before the filter chain ran (its codec or path normalisation refused)."""
    details = entry.get("details") or ""
    return details.startswith(("codec_error", "http1.", "http2.", "path_normalization_failed", "absolute_path_rejected")) or entry.get("code") in ("0", 0)


def tid_logged(envoy, tid: str, timeout: float = 1.0) -> bool:
    """Whether Envoy wrote an access-log line carrying this request's x-test-id (a request its
    codec refused has no headers, hence no test id)."""
    try:
        envoy.log_entry(tid, timeout=timeout)
        return True
    except AssertionError:
        return False


def _check_log(envoy, names_by_attribute: dict[str, set[str]], *, always_set: bool) -> int:
    """Every access-log line: only configured names (or the default); unset only where Envoy
    refused the request itself (or, for attributegen, where nothing matched)."""
    entries = envoy.all_log_entries()
    assert entries, "no access-log line at all"
    for entry in entries:
        for attribute, names in names_by_attribute.items():
            fs, cel = entry.get(f"fs:{attribute}"), entry.get(f"cel:{attribute}")
            assert fs == cel, f"FILTER_STATE and CEL disagree: {entry}"
            if fs is None or fs == "-":
                if always_set and attribute == "istio_operationId":
                    assert _refused_by_envoy(entry), f"attribute unset for a request the filter saw: {entry}"
                continue
            assert fs in names, f"{attribute}={fs!r} is not a configured name: {entry}"
    return len(entries)


@pytest.fixture(scope="module", autouse=True)
def _postconditions(raw, normalized, attributegen):
    """After the module: VM healthy and the access-log invariant, on every Envoy it started."""
    yield
    for envoy, names in ((raw, {"istio_operationId": NATIVE_NAMES}), (normalized, {"istio_operationId": NATIVE_NAMES}),
                         (attributegen, AG_NAMES)):
        assert_vm_healthy(envoy)
        _check_log(envoy, names, always_set=envoy is not attributegen)


# ---- HTTP/1.1 over raw sockets -------------------------------------------------------------

# (method, target, headers, expected name; None: Envoy answers itself (400, or 404 for `*`)
#  before any filter runs; "ANY": either that or a configured name)
HTTP1_CASES = [
    ("GET", "/books/1", {}, "GET /books/{id}"),
    ("GET", "/books/%2e%2e/admin", {}, "/admin"),
    ("GET", "/books/.%2E/admin", {}, "/admin"),
    ("GET", "/books/1/../../admin", {}, "/admin"),
    ("GET", "/books/..%2fadmin", {}, "GET /books/{id}"),       # %2F is not a separator: one segment
    ("GET", "//books//1", {}, "GET /books/{id}"),
    ("GET", "/books/./1", {}, "GET /books/{id}"),
    ("GET", "/./books/1/", {}, "GET /books/{id}"),
    ("GET", "/books/%31", {}, "GET /books/{id}"),
    ("GET", "/Books/1", {}, "[DEFAULT]"),
    ("GET", "/books/%%32e%%32e/admin", {}, "[DEFAULT]"),       # decoding is single-pass
    ("GET", "/../../../../etc/passwd", {}, "[DEFAULT]"),
    ("GET", "http://test.local/books/1", {}, "GET /books/{id}"),  # absolute-form
    ("GET", "http://books:8080/svc/7", {}, "GET /svc/{id}"),       # absolute-form sets :authority
    ("GET", "/books/1?x=/admin#", {}, None),                       # '#' in a request target: 400
    ("GET", b"/books/a\x00b", {}, None),                            # NUL in the path: 400
    ("GET", b"/books/\xff\xfe", {}, "ANY"),                         # 400 or a name
    ("GET", b"/re/\xc3\xa9", {}, "ANY"),
    ("GET", "/hdr", {"x-api-version": b"2\xff"}, "[DEFAULT]"),
    ("GET", "/hdr", {"x-api-version": b"\xff\xfe"}, "[DEFAULT]"),
    ("GET", "/hdr", {"x-api-version": "2"}, "v2"),
    ("GET", "/hdr", {"x-api-version": "22"}, "v-re"),
    ("GET", "/hdr", {"x-api-version": b"2\x00"}, None),            # NUL in a header value: 400
    ("OPTIONS", "*", {}, None),                                      # 404 absolute_path_rejected
    ("CONNECT", "test.local:443", {}, "ANY"),
    ("GET", "/static/" + "a" * KB64, {}, "[DEFAULT]"),              # over max_path_bytes (8 KiB)
    ("GET", "/books/1", {"x-big": "v" * KB64}, "GET /books/{id}"),
    ("G\xc9T", "/books/1", {}, "ANY"),
    ("get", "/books/1", {}, None),                                  # HTTP/1 codec: 400
]


def _ids(cases):
    return [f"{i}-{str(c[0])[:8]}-{str(c[1])[:24]}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("method,target,headers,expected", HTTP1_CASES, ids=_ids(HTTP1_CASES))
@pytest.mark.parametrize("which", ["raw", "normalized"])
def test_http1(request, envoy_bin, which, method, target, headers, expected):
    envoy = request.getfixturevalue(which)
    authority = "test.local:443" if method == "CONNECT" else "test.local"
    status, _, tid = envoy.raw_request(method, target, headers, authority=authority)
    assert status != 0, "no response at all"
    if expected is None:
        assert status in (400, 404), f"Envoy should refuse this itself, got {status}"
        if tid_logged(envoy, tid):
            entry = envoy.log_entry(tid)
            assert _refused_by_envoy(entry) and entry["fs:istio_operationId"] is None, entry
        return
    if status == 400 and expected == "ANY":
        return  # Envoy's codec refused it: fine, as long as it answered
    entry = envoy.log_entry(tid)
    name = entry["fs:istio_operationId"]
    if expected == "ANY":
        assert name in NATIVE_NAMES, entry
    else:
        assert name == expected, entry
    # The VM is alive: the next ordinary request is still named.
    assert envoy.request("GET", "/books/42").attr() == "GET /books/{id}"


# Paths Envoy's own normalisation changes (normalize_path + merge_slashes) and routegen's name,
# which must be the same whether Envoy normalised first or not. The table is in SECURITY.md.
NORMALISATION = [
    # request target,              Envoy-normalised :path,     routegen's name
    ("/books/%2e%2e/admin",         "/admin",                   "/admin"),
    ("/books/.%2E/admin",           "/admin",                   "/admin"),
    ("//books//1",                  "/books/1",                 "GET /books/{id}"),
    ("/books/./1",                  "/books/1",                 "GET /books/{id}"),
    ("/books/1/../../admin",        "/admin",                   "/admin"),
    ("/books/%31",                  "/books/1",                 "GET /books/{id}"),
    ("/books/1/",                   "/books/1/",                "GET /books/{id}"),
    ("/books/..%2fadmin",           "/books/..%2fadmin",        "GET /books/{id}"),
    ("/a/%2F/admin",                "/a/%2F/admin",             "[DEFAULT]"),
    ("/Books/1",                    "/Books/1",                 "[DEFAULT]"),
    ("/books/%%32e%%32e/admin",     "/books/%252e%252e/admin",  "[DEFAULT]"),
    ("/books/1?q=/../admin",        "/books/1?q=/../admin",     "GET /books/{id}"),
]


@pytest.mark.parametrize("target,envoy_path,name", NORMALISATION, ids=[n[0] for n in NORMALISATION])
def test_normalisation_envoy_vs_routegen(raw, normalized, target, envoy_path, name):
    off = raw.request("GET", target)
    on = normalized.request("GET", target)
    assert off.status == on.status == 200
    assert off.log["path"] == target, "without normalize_path Envoy passes the path as sent"
    assert on.log["path"] == envoy_path, f"Envoy's normalize_path/merge_slashes gave {on.log['path']!r}"
    assert off.attr() == on.attr() == name, "routegen's name must not depend on Envoy's normalisation"


# ---- HTTP/2 (h2c prior knowledge) by hand -----------------------------------------------------

def _h(*extra, path=b"/books/1", method=b"GET", tid=None):
    headers = [(b":method", method), (b":scheme", b"http"), (b":authority", b"test.local")]
    if path is not None:
        headers.append((b":path", path))
    return headers + list(extra) + ([(b"x-test-id", tid.encode())] if tid else [])


# (case, headers, "response" | "refused" | "response-or-refused", expected name if answered)
H2_CASES = [
    ("normal", _h(), "response", "GET /books/{id}"),
    ("traversal", _h(path=b"/books/%2e%2e/admin"), "response", "/admin"),
    ("missing :path", _h(path=None), "refused", None),
    ("empty :path", _h(path=b""), "refused", None),
    ("OPTIONS *", _h(path=b"*", method=b"OPTIONS"), "response", None),   # 404 absolute_path_rejected
    ("CONNECT", [(b":method", b"CONNECT"), (b":authority", b"test.local:443")], "response", "[DEFAULT]"),
    ("no :method", [(b":scheme", b"http"), (b":path", b"/"), (b":authority", b"x")], "refused", None),
    ("uppercase name", _h((b"X-Upper", b"1")), "refused", None),
    ("pseudo after regular", _h((b"x-a", b"1"), (b":foo", b"1")), "refused", None),
    ("unknown pseudo", _h((b":foo", b"1")), "refused", None),
    ("duplicate :path", _h((b":path", b"/admin")), "refused", None),
    ("NUL in :path", _h(path=b"/books/a\x00b"), "refused", None),
    ("non-UTF-8 :path", _h(path=b"/books/\xff\xfe"), "response", "GET /books/{id}"),
    ("relative :path", _h(path=b"books/1"), "response-or-refused", "ANY"),
    ("absolute :path", _h(path=b"http://evil/admin"), "response-or-refused", "ANY"),
    ("non-UTF-8 header", _h((b"x-api-version", b"2\xff")), "response", "GET /books/{id}"),
    ("header condition", _h((b"x-api-version", b"2"), path=b"/hdr"), "response", "v2"),
    ("header non-UTF-8", _h((b"x-api-version", b"\xff"), path=b"/hdr"), "response", "[DEFAULT]"),
    ("64 KB :path", _h(path=b"/static/" + b"a" * KB64), "response-or-refused", "[DEFAULT]"),
    ("lower-case method", _h(method=b"get"), "response", "[DEFAULT]"),
]


@pytest.mark.parametrize("case,headers,outcome,expected", H2_CASES, ids=[c[0] for c in H2_CASES])
def test_http2(raw, case, headers, outcome, expected):
    import uuid
    tid = uuid.uuid4().hex
    result = h2_request(raw.port, headers + [(b"x-test-id", tid.encode())])
    if outcome == "refused":
        assert result.kind in ("closed", "reset", "goaway") or (result.kind == "response" and result.status == 400), result
    elif outcome == "response":
        assert result.kind == "response", result
    else:
        assert result.kind in ("response", "closed", "reset", "goaway"), result
    if result.kind == "response" and result.status != 400 and expected is not None:
        name = raw.log_entry(tid)["fs:istio_operationId"]
        assert name in NATIVE_NAMES if expected == "ANY" else name == expected
    assert raw.request("GET", "/books/42").attr() == "GET /books/{id}"


# ---- attributegen's format ---------------------------------------------------------------------

AG_CASES = [
    ("GET", "/books/1", {}, "GetBook"),
    ("GET", "/books/%2e%2e/admin", {}, "Other"),     # attributegen sees url_path as sent
    ("GET", "//admin", {}, "Other"),
    ("GET", b"/books/\xff", {}, "ANY"),
    ("GET", "/hdr", {"x-api-version": "2"}, "V2"),
    ("GET", "/hdr", {"x-api-version": b"v\xff\xfe"}, "VPrefix"),
    ("GET", "/hdr", {"x-api-version": b"\xff"}, "Other"),
    ("GET", "/hdr", {}, None),                        # header missing: evaluation error, unset
    ("GET", "/books/1", {"user-agent": b"evil\xff"}, "GetBook"),
    ("OPTIONS", "*", {}, None),
    ("CONNECT", "test.local:443", {}, "ANY"),
    ("GET", "http://test.local/admin", {}, "Admin"),
    ("GET", "/books/" + "a" * KB64, {}, "GetBook"),
]


@pytest.mark.parametrize("method,target,headers,expected", AG_CASES, ids=_ids(AG_CASES))
def test_attributegen(attributegen, method, target, headers, expected):
    authority = "test.local:443" if method == "CONNECT" else "test.local"
    status, _, tid = attributegen.raw_request(method, target, headers, authority=authority)
    assert status != 0
    if status == 400 and expected == "ANY":
        return
    entry = attributegen.log_entry(tid)
    name = entry["fs:istio_operationId"]
    if expected == "ANY":
        assert name in AG_NAMES["istio_operationId"] | {None}, entry
    elif expected is None:
        assert name in (None, "-"), entry
    else:
        assert name == expected, entry
    assert attributegen.request("GET", "/books/42").attr() == "GetBook"


def test_attributegen_http2(attributegen):
    for path, expected in ((b"/books/1", "GetBook"), (b"/books/\xff", "GetBook"), (b"*", None)):
        import uuid
        tid = uuid.uuid4().hex
        method = b"OPTIONS" if path == b"*" else b"GET"
        result = h2_request(attributegen.port, _h(path=path, method=method, tid=tid))
        assert result.kind == "response", result
        assert attributegen.log_entry(tid)["fs:istio_operationId"] == expected
    result = h2_request(attributegen.port, _h(path=None))
    assert result.kind in ("closed", "reset", "goaway"), result
