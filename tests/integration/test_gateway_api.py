"""`routegen import gateway-api` in a real Envoy: the imported configuration must name each request
after the rule Gateway API's precedence picks (apis/v1 httproute_types.go), across rules and
routes, hostnames and listeners. The expectations are written from the spec, case by case.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from routegen_support.fixtures import resolve
from routegen_support.paths import ROOT

# The Gateway and routes: tests/cli/fixtures/gateway-api-gateway.yaml and gateway-api-routes.yaml
# (the README's examples use them too). In short: one route with rules that differ only in
# precedence (exact, prefixes, method, headers, query, a regex) on books.example.com; a
# wildcard route on *.example.com; a route without hostnames on the listener without one; ties
# broken by creation time and by namespace/name; a route the listener does not allow; a route
# with a hostname outside its listener's; a GRPCRoute; a route attached to a Service (mesh).
FIXTURES = ROOT / "tests/cli/fixtures"

# (host, method, path, headers, expected name)
GATEWAY_CASES = [
    ("books.example.com", "GET", "/books/new", {}, "shop.books.1"),
    ("books.example.com", "GET", "/books/new/", {}, "shop.books.0"),  # Exact keeps its trailing slash
    ("books.example.com", "GET", "/books", {}, "shop.books.0"),
    ("books.example.com", "GET", "/books/7", {}, "shop.books.0"),
    ("books.example.com", "POST", "/books/7", {}, "shop.books.2"),  # method beats headers
    ("books.example.com", "POST", "/books/7", {"X-Version": "2"}, "shop.books.2"),
    ("books.example.com", "GET", "/books/7", {"X-Version": "2"}, "shop.books.3"),
    ("books.example.com", "GET", "/books/7?v=2", {"X-Version": "2"}, "shop.books.3"),  # headers beat query
    ("books.example.com", "GET", "/books/7?v=2", {}, "shop.books.4"),
    ("books.example.com", "GET", "/books/7?v=3", {}, "shop.books.0"),
    ("books.example.com", "GET", "/books/covers/9", {}, "covers"),  # longest prefix
    ("books.example.com", "GET", "/books/covers", {}, "covers"),  # a prefix's trailing slash is ignored
    ("books.example.com", "GET", "/booksellers", {}, "wild-root"),  # prefixes match whole segments
    ("books.example.com", "GET", "/isbn/9780306406157", {}, "isbn"),
    ("books.example.com", "GET", "/status", {}, "wild-status"),  # exact hostname, then wildcard, then none
    ("books.example.com:80", "GET", "/books/7", {}, "shop.books.0"),  # the port is ignored
    ("shelf.example.com", "GET", "/status", {}, "wild-status"),
    ("shelf.example.com", "GET", "/books/7", {}, "wild-root"),
    ("a.b.example.com", "GET", "/x", {}, "wild-root"),
    ("other.test", "GET", "/status/ok", {}, "status"),
    ("other.test", "GET", "/books/7", {}, "[DEFAULT]"),
    ("tie.example.com", "GET", "/tie", {}, "tie-old"),  # the older route
    ("alpha.example.com", "GET", "/a", {}, "a-route"),  # then shop/a-route before shop/b-route
    ("db.internal.test", "GET", "/", {}, "[DEFAULT]"),  # not allowed on that listener
    ("api.internal.test", "GET", "/x", {}, "insider"),
    ("api.elsewhere.test", "GET", "/x", {}, "[DEFAULT]"),
    ("grpc.example.com", "POST", "/helloworld.Greeter/SayHello", {}, "say-hello"),
    ("grpc.example.com", "POST", "/helloworld.Greeter/Other", {}, "greeter-any"),
    ("grpc.example.com", "GET", "/helloworld.Greeter/SayHello", {}, "wild-root"),
]

MESH_CASES = [
    ("reviews.shop.svc.cluster.local:9080", "GET", "/reviews/top", {}, "shop.reviews.1"),
    ("reviews:9080", "GET", "/reviews/7", {}, "shop.reviews.0"),
    ("reviews.shop:9080", "POST", "/reviews/top", {}, "shop.reviews.1"),
    ("reviews.shop:9080", "POST", "/reviews/7", {}, "[DEFAULT]"),
    ("reviews.shop:9081", "GET", "/reviews/7", {}, "[DEFAULT]"),  # another port of the Service
    ("books.example.com", "GET", "/books/7", {}, "[DEFAULT]"),  # Gateway routes are not in the mesh config
]


@pytest.fixture(scope="module")
def imported():
    cli = resolve("ROUTEGEN_CLI", ROOT / "target/debug/routegen", "integration")
    work = FIXTURES

    def run(*args):
        out = subprocess.run([cli, "import", "gateway-api", *args, "--default", "[DEFAULT]"], cwd=work,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout), out.stderr

    return run


def check(envoy, cases):
    responses = envoy.requests([(method, path, headers, host) for host, method, path, headers, _ in cases])
    wrong = [(host, method, path, headers, want, r.attr()) for (host, method, path, headers, want), r in zip(cases, responses)
             if r.attr() != want]
    assert not wrong, "host, method, path, headers, the spec's rule, routegen's name:\n" + "\n".join(map(repr, wrong))


def test_gateway_routes_follow_the_spec_precedence(imported, start_envoy):
    config, stderr = imported("gateway-api-gateway.yaml", "gateway-api-routes.yaml", "--gateway", "infra/web")
    assert "api.elsewhere.test" not in json.dumps(config)
    check(start_envoy(config), GATEWAY_CASES)


def test_mesh_routes_are_scoped_to_their_service(imported, start_envoy):
    config, stderr = imported("gateway-api-routes.yaml")
    assert "routes left out, attached to no Service" in stderr
    check(start_envoy(config), MESH_CASES)


def test_method_path_names(imported, start_envoy):
    config, _ = imported("gateway-api-routes.yaml", "--name", "method-path")
    names = [r["name"] if isinstance(r, dict) else r for s in config["services"] for r in s["routes"]]
    assert "GET /reviews/**" in names and "shop.reviews.1" in names, names
