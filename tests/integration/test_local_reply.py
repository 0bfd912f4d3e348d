"""The name is written at request headers, so a request answered locally by Envoy (a direct
response, here 404/503) still carries it; a custom output attribute lands under wasm.<name>."""

import pytest

CONFIG = {
    "output_attribute": "route_name",
    "default": "unmatched",
    "routes": [
        "GET /status/{code}",
        {"name": "create", "method": "POST", "path_prefix": "/status/"},
    ],
}


@pytest.fixture(scope="module")
def envoy(start_envoy):
    # Log istio_operationId too: with a custom output attribute it must stay unset.
    return start_envoy(CONFIG, attributes=("route_name", "istio_operationId"))


@pytest.mark.parametrize("code", [404, 503, 500, 200, 201])
def test_direct_reply_carries_the_name(envoy, code):
    resp = envoy.request("GET", f"/status/{code}")
    assert resp.status == code
    assert resp.log["code"] == code
    assert resp.fs("route_name") == "GET /status/{code}"
    assert resp.cel("route_name") == "GET /status/{code}"
    assert resp.fs("istio_operationId") is None
    assert resp.cel("istio_operationId") is None


def test_other_method_and_default(envoy):
    created = envoy.request("POST", "/status/201", body=b"{}")
    assert created.status == 201
    assert created.attr("route_name") == "create"
    missed = envoy.request("GET", "/elsewhere")
    assert missed.attr("route_name") == "unmatched"
    assert missed.attr("istio_operationId") is None
