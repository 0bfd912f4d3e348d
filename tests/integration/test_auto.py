"""Auto names in a real Envoy: one name per template of a synthetic API, usernames collapsing,
a random flood held under `max_names`, configured routes winning, both workers agreeing, and
hostile paths getting bounded names. Names are read from the access log (filter state)."""

from __future__ import annotations

import random
import re
import string
import uuid

import pytest

from routegen_support.waiting import wait_for

# The synthetic API: 40 templates, 30-odd resource words at the root and under /api/vN/.
# Each part is a literal or a parameter kind; `expected` is the auto name routegen must give.
API = [
    ("GET", "health"), ("GET", "metrics"), ("POST", "auth/login"), ("POST", "auth/logout"),
    ("GET", "orders"), ("GET", "orders/{int}"), ("GET", "orders/{int}/items"),
    ("DELETE", "orders/{int}/items/{int}"), ("GET", "customers/{uuid4}"),
    ("GET", "customers/{uuid4}/addresses"), ("GET", "products/{oid}"), ("GET", "products/{oid}/reviews"),
    ("GET", "commits/{sha}"), ("GET", "builds/{int}/logs"), ("GET", "reports/{date}"),
    ("GET", "reports/{date}/summary"), ("GET", "invoices/{uuid7}"), ("GET", "invoices/{uuid7}/pdf"),
    ("GET", "shipments/{int}"), ("PUT", "carts/{uuid4}"), ("GET", "avatars/{int}.png"),
    ("GET", "api/v1/accounts/{int}"), ("GET", "api/v1/accounts/{int}/transactions"),
    ("POST", "api/v1/payments"), ("GET", "api/v1/payments/{uuid7}"), ("GET", "api/v1/refunds/{int}"),
    ("GET", "api/v1/transfers/{uuid4}"), ("GET", "api/v1/cards/{int}"), ("GET", "api/v1/balances"),
    ("GET", "api/v1/events/{oid}"), ("GET", "api/v1/users/{int}"), ("GET", "api/v2/accounts/{int}"),
    ("GET", "api/v2/disputes/{int}"), ("GET", "api/v2/payouts/{uuid7}"),
    ("GET", "api/v2/subscriptions/{oid}"), ("GET", "api/v2/plans/{int}"), ("GET", "api/v2/coupons/{int}"),
    ("GET", "api/v2/webhooks/{int}/deliveries"), ("GET", "api/v2/sessions/{email}"),
    ("GET", "api/v3/nodes/{ip}"),
]
PLACEHOLDER = {"int": "{id}", "uuid4": "{uuid}", "uuid7": "{uuid}", "oid": "{id}", "sha": "{id}",
               "date": "{date}", "email": "{email}", "ip": "{ip}"}
# Routes the config names itself: they must win over auto names.
CONFIGURED = ["GET /orders/{id}", {"name": "reviews", "path_prefix": "/products/"}]


def uuid7(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{h[16:20]}-{h[20:]}"


def concrete(kind: str, rng: random.Random) -> str:
    return {
        "int": lambda: str(rng.randrange(1, 10 ** rng.randrange(1, 9))),
        "uuid4": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "uuid7": lambda: uuid7(rng),
        "oid": lambda: f"{rng.getrandbits(96):024x}",
        "sha": lambda: f"{rng.getrandbits(160):040x}"[: rng.choice([7, 12, 40])],
        "date": lambda: f"20{rng.randrange(10, 30)}-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}",
        "email": lambda: f"{rng.choice(['ann', 'bo', 'cy'])}{rng.randrange(999)}@example.com",
        "ip": lambda: ".".join(str(rng.randrange(256)) for _ in range(4)),
    }[kind]()


def instantiate(template: str, rng: random.Random) -> str:
    return "/" + re.sub(r"\{(\w+)\}", lambda m: concrete(m.group(1), rng), template)


def expected_name(method: str, template: str) -> str:
    return f"{method} /" + re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDER[m.group(1)], template)


def name_of(envoy, method, path) -> str | None:
    return envoy.request(method, path).attr()


def names_of(envoy, items) -> list[str | None]:
    return [resp.attr() for resp in envoy.requests(items)]


def api_names(envoy, rng, per_template=8) -> dict[int, set[str]]:
    """Sends `per_template` concrete requests per template, shuffled; the names each got."""
    plan = [i for i in range(len(API)) for _ in range(per_template)]
    rng.shuffle(plan)
    got = names_of(envoy, [(API[i][0], instantiate(API[i][1], rng)) for i in plan])
    names: dict[int, set[str]] = {i: set() for i in range(len(API))}
    for i, name in zip(plan, got):
        names[i].add(name)
    return names


# Envoy's HTTP/1 codec refuses methods it does not know unless told otherwise (HTTP/2 passes them).
CUSTOM_METHODS = {"http_protocol_options": {"allow_custom_methods": True}}


@pytest.fixture(scope="module")
def envoy(start_envoy):
    return start_envoy({"auto": {}, "routes": CONFIGURED, "limits": {"max_path_bytes": 65536}}, hcm=CUSTOM_METHODS)


def test_every_template_gets_exactly_one_name_of_its_own(envoy):
    names = api_names(envoy, random.Random(16))
    for i, (method, template) in enumerate(API):
        got = names[i]
        assert len(got) == 1, f"{method} {template}: {got}"
        if template.startswith("orders/{int}") and template.count("/") == 1:
            assert got == {"GET /orders/{id}"}  # the configured route, by its own name
        elif template.startswith("products/"):
            assert got == {"reviews"}
        else:
            assert got == {expected_name(method, template)}, template
    owners: dict[str, int] = {}
    for i, got in names.items():
        (name,) = got
        if name == "reviews":
            continue  # the configured prefix route covers both product templates, by design
        assert owners.setdefault(name, i) == i, f"{API[i]} and {API[owners[name]]} share {name}"


def test_three_hundred_usernames_give_few_names(envoy):
    rng = random.Random(7)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    users = {"".join(rng.choice(syllables) for _ in range(rng.randrange(2, 5))) for _ in range(400)}
    users = sorted(users)[:300]
    names = set(names_of(envoy, [("GET", f"/users/{u}/repos") for u in users]))
    fanout = 20
    assert len(names) <= fanout + 1, names
    assert "GET /users/{param}/repos" in names


def test_hostile_paths_get_bounded_names(envoy):
    long_path = "/files/" + "a" * 60_000
    got = name_of(envoy, "GET", long_path)
    assert got == "GET /files/{token}"
    # Raw non-UTF-8 bytes Envoy refuses itself (400); encoded, they reach the filter.
    assert name_of(envoy, "GET", "/bin/%FF%FE/x") == "GET /bin/{token}/x"
    assert name_of(envoy, "GET", "/nul/%00/x") == "GET /nul/{token}/x"
    deep = name_of(envoy, "GET", "/s" * 10_000)
    assert deep.endswith("/{rest}") and len(deep) < 100, deep
    assert name_of(envoy, "BREW", "/health") == "_OTHER /health"


@pytest.fixture(scope="module")
def capped(start_envoy):
    return start_envoy({"auto": {"max_names": 80}, "metrics": {"enabled": True}}, hcm=CUSTOM_METHODS)


def random_path(rng: random.Random) -> str:
    def segment():
        kind = rng.randrange(4)
        if kind == 0:
            return str(rng.randrange(10 ** 6))
        if kind == 1:
            return "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randrange(3, 12)))
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(3, 10)))
    return "/" + "/".join(segment() for _ in range(rng.randrange(1, 7)))


def test_a_flood_stays_under_the_cap_and_known_names_survive(capped):
    rng = random.Random(99)
    before = api_names(capped, rng, per_template=3)
    flood = [(rng.choice(["GET", "POST", "".join(rng.choices(string.ascii_uppercase, k=5))]), random_path(rng))
             for _ in range(3000)]
    seen = set(names_of(capped, flood))
    assert len(seen - {"[OVERFLOW]"}) <= 80
    assert "[OVERFLOW]" in seen, "3,000 random paths should reach a cap of 80"
    after = api_names(capped, rng, per_template=2)
    for i in before:
        assert after[i] == before[i], f"{API[i]}: {before[i]} before the flood, {after[i]} after"

    def auto_stats():
        stats = capped.stats("routegen_auto")
        flushed = stats.get("wasmcustom.routegen_auto_overflow_total", 0) > 0  # counts flush every second
        return stats if stats.get("wasmcustom.routegen_auto_names") == 80 and flushed else None
    wait_for(auto_stats, timeout=10, what="routegen_auto_names at 80 and the overflow counted")
    # Per-route metrics carry auto names and the overflow, no more series than names.
    requests = capped.stats("routegen_requests_total")
    routes = {re.search(r"route=([^;]*)", k).group(1) for k in requests}
    assert "GET /api/v1/cards/{id}" in routes and "[OVERFLOW]" in routes
    assert len(routes) <= 81


@pytest.fixture(scope="module")
def two_workers(start_envoy):
    return start_envoy({"auto": {}, "debug": True}, concurrency=2)


def test_both_workers_give_the_same_names(two_workers):
    rng = random.Random(5)
    for _ in range(4):
        api_names(two_workers, rng, per_template=3)
    line = re.compile(r"\]\[(\d+)\]\[\w+\]\[wasm\].*routegen: (\S+) (\S+) \(authority [^)]*\) -> (.*?)(?: \(auto\))?$")
    by_path: dict[tuple[str, str], set[str]] = {}
    by_template: dict[str, set[str]] = {}
    threads = set()
    for text in two_workers.log_lines("routegen: "):
        m = line.search(text)
        if not m:
            continue
        thread, method, path, name = m.groups()
        threads.add(thread)
        by_path.setdefault((method, path), set()).add(name)
        by_template.setdefault(name, set()).add(thread)
    assert len(threads) == 2, f"requests reached {len(threads)} worker(s)"
    assert all(len(names) == 1 for names in by_path.values())
    shared = [name for name, workers in by_template.items() if len(workers) == 2]
    assert len(shared) >= 30, f"only {len(shared)} names were given by both workers"
    assert len(by_template) == len(API), sorted(by_template)
