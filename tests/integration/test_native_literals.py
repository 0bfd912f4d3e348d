"""Route literals under the default normalisation.

Requests are normalised before matching (`//` merged, unreserved %XX decoded, trailing slash
ignored). A route written with the same non-canonical spelling must still match the requests
it names: `"path": "/users/{id}/"` (common in OpenAPI specs of Django/Rails APIs) must match
`/users/7/` and `/users/7`, as `"/users/{id}"` does."""

import pytest

CONFIG = {
    "default": "[DEFAULT]",
    "routes": [
        {"name": "tmpl-trailing", "path": "/users/{id}/"},
        {"name": "exact-trailing", "path_exact": "/healthz/"},
        {"name": "shorthand-trailing", "path": "/orders/"},
        "GET /carts/{id}/items/",
        {"name": "exact-double-slash", "path_exact": "/a//b"},
        {"name": "exact-encoded-unreserved", "path_exact": "/%7Euser"},
        {"name": "prefix-trailing", "path_prefix": "/api/v1/"},
    ],
}


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy(CONFIG)


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/users/7/", "tmpl-trailing"),
        ("/users/7", "tmpl-trailing"),
        ("/healthz/", "exact-trailing"),
        ("/healthz", "exact-trailing"),
        ("/orders/", "shorthand-trailing"),
        ("/orders", "shorthand-trailing"),
        ("/carts/1/items/", "GET /carts/{id}/items/"),
        ("/a//b", "exact-double-slash"),
        ("/a/b", "exact-double-slash"),
        ("/%7Euser", "exact-encoded-unreserved"),
        ("/~user", "exact-encoded-unreserved"),
        ("/api/v1/", "prefix-trailing"),
    ],
)
def test_non_canonical_route_literals_still_match(envoy, path, expected):
    resp = envoy.request("GET", path)
    assert resp.status == 200
    assert resp.attr() == expected


def test_prefix_still_needs_its_prefix(envoy):
    assert envoy.request("GET", "/api/v1/users").attr() == "prefix-trailing"
    assert envoy.request("GET", "/api/v10").attr() == "[DEFAULT]"
    assert envoy.request("GET", "/api/v1x/y").attr() == "[DEFAULT]"
