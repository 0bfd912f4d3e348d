"""Hostile or unusual input must never trap the VM: non-UTF-8 bytes, 60 KB paths and header
values, and a few hundred requests in a row. Both Envoys run the plugin with
`failure_policy: FAIL_RELOAD`, under which a VM trap shows in the `wasm.routegen.vm_reload*`
counters (verified by hand with a deliberately panicking module on 1.36 and 1.40); the default
policy would only turn every later request into a 503."""

import pytest

from routegen_support.envoy import WASM_FAILURE_STATS

NATIVE = {
    "default": "[DEFAULT]",
    # Examine paths of any size Envoy accepts here (the default cap is 8 KiB, tested below).
    "limits": {"max_path_bytes": 128 * 1024},
    "routes": [
        "GET /books/{id}",
        {"name": "rest", "path": "/static/**"},
        {"name": "regex", "path_regex": "/re/.*"},
        {"name": "hdr", "path": "/hdr", "headers": {"x-a": "v"}},
        {"name": "hdr-re", "path": "/hdr", "headers": [{"name": "x-a", "regex": "[a-z]+"}]},
    ],
    "services": [{"hosts": ["books"], "routes": ["GET /svc/{id}"]}],
}

ATTRIBUTEGEN = {"attributes": [
    {"output_attribute": "istio_operationId", "match": [
        {"value": "GetBook", "condition": "request.url_path.matches('^/books/[^/]+$') && request.method == 'GET'"},
        # Guarded: && absorbs the error of a missing header when the left side is false.
        {"value": "Header", "condition": "request.url_path == '/hdr' && request.headers['x-a'] == 'v'"},
        {"value": "Other", "condition": ""},
    ]},
]}

LONG = 60 * 1024


@pytest.fixture(scope="module")
def native(start_envoy):
    return start_envoy(NATIVE, failure_policy="FAIL_RELOAD", max_request_headers_kb=96)


@pytest.fixture(scope="module")
def attributegen(start_envoy):
    return start_envoy(ATTRIBUTEGEN, failure_policy="FAIL_RELOAD", max_request_headers_kb=96)


def assert_healthy(envoy):
    stats = envoy.stats()
    for name in WASM_FAILURE_STATS:
        assert name in stats, f"stat {name} missing (have: {sorted(k for k in stats if 'wasm' in k)})"
        assert stats[name] == 0, f"{name} = {stats[name]}: the wasm VM failed"
    assert stats["http.ingress.downstream_rq_5xx"] == 0
    assert not envoy.vm_failures()


@pytest.mark.parametrize("path", [b"/books/\xff\xfe", b"/books/caf\xc3\xa9", b"/re/\x80", b"/static/\xc3\x28"])
@pytest.mark.parametrize("which", ["native", "attributegen"])
def test_non_utf8_path(request, which, path):
    envoy = request.getfixturevalue(which)
    status, _, tid = envoy.raw_request("GET", path)
    if status == 400:
        pass  # Envoy's HTTP/1 codec refuses non-ASCII request targets itself (1.36 and 1.40 do)
    else:
        assert status == 200
        entry = envoy.log_entry(tid)
        assert entry["fs:istio_operationId"] is not None
    # The VM is alive and still right.
    after = envoy.request("GET", "/books/42")
    assert after.status == 200
    assert after.attr() == ("GET /books/{id}" if which == "native" else "GetBook")


@pytest.mark.parametrize(
    "path,expected",
    [("/books/%FF%FE", "GET /books/{id}"),      # not unreserved: stays encoded, one segment
     ("/re/%C3%28", "regex"),
     ("/static/%80/%ff", "rest")],
)
def test_percent_encoded_invalid_utf8(native, path, expected):
    resp = native.request("GET", path)
    assert resp.status == 200
    assert resp.attr() == expected


def test_percent_encoded_invalid_utf8_attributegen(attributegen):
    assert attributegen.request("GET", "/books/%FF%FE").attr() == "GetBook"
    assert attributegen.request("GET", "/books/%FF/x").attr() == "Other"


@pytest.mark.parametrize("value", [b"\xff\xfe", b"caf\xc3\xa9", b"\x80v"])
def test_non_utf8_header_values(native, attributegen, value):
    resp = native.request("GET", "/hdr", {"x-a": value})
    assert resp.status == 200
    assert resp.attr() == "[DEFAULT]"          # neither exact 'v' nor [a-z]+
    assert native.request("GET", "/hdr", {"x-a": "v"}).attr() == "hdr"
    assert native.request("GET", "/hdr", {"x-a": "abc"}).attr() == "hdr-re"
    ag = attributegen.request("GET", "/hdr", {"x-a": value})
    assert ag.status == 200
    assert ag.attr() == "Other"
    assert attributegen.request("GET", "/hdr", {"x-a": "v"}).attr() == "Header"


def test_non_utf8_authority(native):
    status, _, _ = native.raw_request("GET", "/svc/1", authority=b"b\xffoks")
    assert status in (200, 400)
    assert native.request("GET", "/svc/1", authority="books").attr() == "GET /svc/{id}"


def test_long_path_native(native):
    segment = "a" * LONG
    cases = [
        (f"/books/{segment}", "GET /books/{id}"),
        (f"/books/{segment}?q={'b' * 100}", "GET /books/{id}"),
        ("/static/" + "/".join(["x" * 50] * (LONG // 51)), "rest"),
        (f"/re/{segment}", "regex"),
        (f"/{'x/' * (LONG // 2)}", "[DEFAULT]"),
        ("/" + "%41" * (LONG // 3), "[DEFAULT]"),
        ("/books/" + "../" * (LONG // 3) + "books/1", "GET /books/{id}"),
    ]
    for path, expected in cases:
        resp = native.request("GET", path)
        assert resp.status == 200, (len(path), resp.status)
        assert resp.log["path"] == path
        assert resp.attr() == expected, f"{len(path)}-byte path {path[:20]}...{path[-20:]}"


@pytest.fixture(scope="module")
def capped(start_envoy):
    return start_envoy({"default": "[DEFAULT]", "limits": {"max_path_bytes": 64},
                        "routes": ["GET /books/{id}", {"name": "all", "path": "/**"}]})


def test_max_path_bytes(capped):
    """Paths longer than limits.max_path_bytes (query included) are not examined: default."""
    at_limit = "/books/" + "a" * (64 - 7)
    assert len(at_limit) == 64
    assert capped.request("GET", at_limit).attr() == "GET /books/{id}"
    assert capped.request("GET", at_limit + "b").attr() == "[DEFAULT]"
    assert capped.request("GET", "/books/1?" + "q" * 60).attr() == "[DEFAULT]"
    assert capped.request("GET", "/" + "x" * LONG).attr() == "[DEFAULT]"
    assert capped.request("GET", "/books/1").attr() == "GET /books/{id}"


def test_default_path_cap(start_envoy):
    """Without `limits`, a 60 KB path is over the default cap (8 KiB): it gets the default,
    while an 8 KB one is still matched."""
    envoy = start_envoy({"default": "[DEFAULT]", "routes": ["GET /books/{id}"]})
    assert envoy.request("GET", "/books/" + "a" * 8000).attr() == "GET /books/{id}"
    assert envoy.request("GET", "/books/" + "a" * LONG).attr() == "[DEFAULT]"


def test_long_path_attributegen(attributegen):
    assert attributegen.request("GET", "/books/" + "a" * LONG).attr() == "GetBook"
    assert attributegen.request("GET", "/books/" + "a/" * (LONG // 2)).attr() == "Other"


def test_long_header_value(native, attributegen):
    value = "v" * LONG
    assert native.request("GET", "/hdr", {"x-a": value}).attr() == "hdr-re"
    assert attributegen.request("GET", "/hdr", {"x-a": value}).attr() == "Other"


def test_many_requests(native, attributegen):
    created_before = native.stats()["wasm.envoy.wasm.runtime.v8.created"]
    sent = []
    plan = [
        ("GET", "/books/{i}", {}, "GET /books/{id}"),
        ("POST", "/books/{i}", {}, "[DEFAULT]"),
        ("GET", "/static/{i}/x", {}, "rest"),
        ("GET", "/hdr", {"x-a": "v"}, "hdr"),
        ("GET", "/nowhere/{i}", {}, "[DEFAULT]"),
    ]
    for i in range(200):
        method, path, headers, expected = plan[i % len(plan)]
        status, _, tid = native.raw_request(method, path.format(i=i), headers)
        assert status == 200, (i, method, path)
        sent.append((tid, expected))
    for tid, expected in sent:
        entry = native.log_entry(tid)
        assert entry["fs:istio_operationId"] == expected
        assert entry["cel:istio_operationId"] == expected
    ag_sent = []
    for i in range(100):
        path, expected = (f"/books/{i}", "GetBook") if i % 2 else (f"/x/{i}", "Other")
        status, _, tid = attributegen.raw_request("GET", path)
        assert status == 200
        ag_sent.append((tid, expected))
    for tid, expected in ag_sent:
        assert attributegen.log_entry(tid)["fs:istio_operationId"] == expected
    # Still correct afterwards, no VM was re-created, and no failure anywhere.
    assert native.request("GET", "/books/x").attr() == "GET /books/{id}"
    assert native.stats()["wasm.envoy.wasm.runtime.v8.created"] == created_before
    assert_healthy(native)
    assert_healthy(attributegen)


def test_zz_final_health(native, attributegen):
    """After everything above (named to run last in this module)."""
    assert_healthy(native)
    assert_healthy(attributegen)
    for envoy in (native, attributegen):
        log = envoy.log_text()
        assert "panicked" not in log
        assert "Function: proxy_on_request_headers failed" not in log
        assert "Function: proxy_on_log failed" not in log
