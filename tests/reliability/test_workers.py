"""Four workers agree (issue 14, part 3). Auto names keep what workers must agree on in
proxy-wasm shared data; with `--concurrency 4`:

- the same ID-shaped path gets the same auto name on every worker (each request's worker is
  read from routegen's debug log line, which carries Envoy's thread id);
- the cap is never exceeded process-wide while all four race to admit names: a random flood
  (routegen_support.attack) over 32 connections from the first second, `max_names` 100, and
  never more than 100 distinct names in the access log, which records every request.
"""

from __future__ import annotations

import random
import re
import threading
import uuid

from routegen_support import attack
from routegen_support.harness import Envoy, assert_vm_healthy

# (method, template, auto name): parameters are IDs, so the names need no shared history.
TEMPLATES = [
    ("GET", "/orders/{int}/items", "GET /orders/{id}/items"),
    ("GET", "/customers/{uuid}", "GET /customers/{uuid}"),
    ("DELETE", "/carts/{int}/lines/{int}", "DELETE /carts/{id}/lines/{id}"),
    ("GET", "/reports/{date}", "GET /reports/{date}"),
    ("GET", "/api/v1/accounts/{int}/transactions", "GET /api/v1/accounts/{id}/transactions"),
    ("PUT", "/builds/{int}/logs/{uuid}", "PUT /builds/{id}/logs/{uuid}"),
]
DEBUG_LINE = re.compile(r"\]\[(\d+)\]\[\w+\]\[wasm\].*routegen: (\S+) (\S+) \(authority [^)]*\) -> (.*?)(?: \(auto\))?$")
PER_THREAD = 120


def concrete(template: str, rng: random.Random) -> str:
    values = {"int": lambda: str(rng.randrange(1, 10 ** 7)), "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
              "date": lambda: f"20{rng.randrange(10, 30)}-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)](), template)


def test_four_workers_give_the_same_names(newest_envoy_bin, wasm_path, tmp_path):
    envoy = Envoy(newest_envoy_bin, wasm_path, tmp_path, {"auto": {}, "debug": True}, concurrency=4)
    envoy.start()
    try:
        # Each path is sent twice, by different client threads on new connections (which the
        # kernel spreads over the workers' sockets).
        rng = random.Random(4)
        plan = [(m, concrete(t, rng)) for _ in range(PER_THREAD // len(TEMPLATES)) for m, t, _ in TEMPLATES]
        errors: list[str] = []

        def client(order: int) -> None:
            for method, path in (plan if order % 2 else list(reversed(plan))):
                status, _, _ = envoy.raw_request(method, path)
                if status != 200:
                    errors.append(f"{method} {path}: {status}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors[:5]

        workers_of: dict[str, set[str]] = {}
        names_of: dict[tuple[str, str], set[str]] = {}
        for text in envoy.log_lines("routegen: "):
            m = DEBUG_LINE.search(text)
            if m:
                thread, method, path, name = m.groups()
                names_of.setdefault((method, path), set()).add(name)
                workers_of.setdefault(name, set()).add(thread)
        assert sum(1 for _ in names_of) == len(set(plan)), "a request is missing from the debug log"
        all_workers = set().union(*workers_of.values())
        assert len(all_workers) == 4, f"requests reached {len(all_workers)} worker(s)"
        for method, template, expected in TEMPLATES:
            got = {n for (m, p), names in names_of.items() for n in names
                   if m == method and re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), p)}
            assert got == {expected}, f"{method} {template}: {got}"
            assert workers_of[expected] == all_workers, f"{expected} given by {len(workers_of[expected])} workers only"
        assert all(len(names) == 1 for names in names_of.values())
        assert_vm_healthy(envoy)
    finally:
        envoy.stop()


def test_the_cap_holds_while_four_workers_race(newest_envoy_bin, wasm_path, tmp_path):
    cap = 100
    report = attack.run(newest_envoy_bin, wasm_path, tmp_path, requests=20_000, max_names=cap, workers=4,
                        connections=32, phase_seconds=3, max_seconds=60, sample_interval=1.0, seed=4)
    print("\nrace: " + report.summary())
    assert not report.failures(20_000), report.failures(20_000)
    admitted = set(report.names) - {attack.OVERFLOW, attack.DEFAULT}
    assert len(admitted) == cap, f"{len(admitted)} names admitted by 4 workers with a cap of {cap}"
    assert report.auto_names_gauge == cap
    assert len(report.route_labels - {attack.OVERFLOW, attack.DEFAULT}) == cap
