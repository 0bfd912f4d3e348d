"""Host scoping: a service's routes apply to requests whose :authority it lists (exact
host:port, then the host without its port, then `*.suffix`), then the top-level routes, then
the service's default, then the global default."""

import pytest

from routegen_support.waiting import wait_for

CONFIG = {
    "default": "[DEFAULT]",
    "services": [
        {
            "hosts": ["books"],
            "routes": [{"name": "books:get", "method": "GET", "path": "/books/{id}"}],
            "default": "books:other",
        },
        {
            "hosts": ["api:8080"],
            "routes": [{"name": "api8080:v1", "path_prefix": "/v1/"}],
        },
        {
            "hosts": ["shop.example.com"],
            "routes": [{"name": "shop:cart", "path": "/cart"}],
            "default": "shop:other",
        },
        {
            "hosts": ["*.example.com"],
            "routes": [{"name": "example:item", "path": "/items/{id}"}],
            "default": "example:other",
        },
    ],
    "routes": [
        {"name": "global:health", "path": "/health"},
        {"name": "global:book", "path": "/books/{id}"},
        {"name": "global:v1", "path_prefix": "/v1/"},
    ],
}

CASES = [
    # (authority, method, path, expected)
    ("books", "GET", "/books/1", "books:get"),
    ("books:8080", "GET", "/books/1", "books:get"),         # no exact host:port entry: port dropped
    ("BOOKS:80", "GET", "/books/1", "books:get"),           # authority is lower-cased
    ("books", "POST", "/books/1", "global:book"),           # service route misses: top-level routes
    ("books", "GET", "/health", "global:health"),
    ("books", "GET", "/nothing", "books:other"),            # then the service's default
    ("api:8080", "GET", "/v1/users", "api8080:v1"),          # host:port entry
    ("api:9090", "GET", "/v1/users", "global:v1"),           # other port: not the service
    ("api", "GET", "/v1/users", "global:v1"),
    ("api", "GET", "/nothing", "[DEFAULT]"),
    ("api:8080", "GET", "/nothing", "[DEFAULT]"),            # service without default: global one
    ("shop.example.com", "GET", "/cart", "shop:cart"),      # exact host beats the wildcard
    ("shop.example.com", "GET", "/items/3", "shop:other"),  # ... and the wildcard is not tried
    ("www.example.com", "GET", "/items/3", "example:item"),
    ("www.example.com:443", "GET", "/items/3", "example:item"),
    ("a.b.example.com", "GET", "/items/3", "example:item"),
    ("www.example.com", "GET", "/cart", "example:other"),
    ("www.example.com", "GET", "/health", "global:health"),
    ("example.com", "GET", "/items/3", "[DEFAULT]"),        # *.example.com needs a label
    ("notexample.com", "GET", "/items/3", "[DEFAULT]"),
    ("other", "GET", "/books/1", "global:book"),
    ("other", "GET", "/cart", "[DEFAULT]"),
    ("127.0.0.1:1234", "GET", "/health", "global:health"),
]


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy(CONFIG)


@pytest.mark.parametrize("authority,method,path,expected", CASES, ids=[f"{c[0]} {c[1]} {c[2]}" for c in CASES])
def test_host_scoping(envoy, authority, method, path, expected):
    resp = envoy.request(method, path, authority=authority)
    assert resp.status == 200
    assert resp.log["authority"] == authority
    assert resp.fs() == expected
    assert resp.cel() == expected


def test_config_summary(envoy):
    assert any("native: 7 routes, 4 services" in line for line in envoy.log_lines("configuration loaded"))


def test_metrics_carry_the_service(start_envoy):
    """With services, each series has `service` (the matched service's first host, else
    `unknown`): a top-level route used by two services counts apart for each."""
    envoy = start_envoy({**CONFIG, "metrics": {"enabled": True, "status_label": "none"}})
    for authority, path in [("books", "/health"), ("shop.example.com", "/health"), ("shop.example.com", "/health"),
                            ("nobody", "/health")]:
        assert envoy.request("GET", path, authority=authority).status == 200

    def counted():  # each worker flushes its counts every second
        stats = envoy.stats("routegen_requests_total")
        counts = {name.split("routegen_requests_total", 1)[1]: value for name, value in stats.items()}
        return counts if sum(counts.values()) >= 4 else None
    counts = wait_for(counted, timeout=10, what="the 4 requests flushed")
    assert counts == {
        ";service=books;route=global:health;classification=success": 1,
        ";service=shop.example.com;route=global:health;classification=success": 2,
        ";service=unknown;route=global:health;classification=success": 1,
    }, counts
