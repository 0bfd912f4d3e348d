"""Continuous client load for reconfiguration tests: threads sending GETs without pause until
stopped, bounded in count and time, each request recorded with its send/finish time and its
`x-test-id` so a test can read its access-log line and know which configuration was in force."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Sequence

from .harness import DEFAULT_AUTHORITY, Envoy
from .ports import HOST


@dataclass
class Sent:
    start: float
    end: float
    tid: str
    status: int
    error: str = ""


class Load:
    """`fresh` threads opening a new connection per request and `keepalive` threads reusing one
    (reconnecting when Envoy closes it, as a draining listener does), cycling through `paths`.
    Each thread stops at `max_requests` or `max_seconds`, whichever comes first."""

    def __init__(self, envoy: Envoy, paths: Sequence[str], *, fresh: int = 1, keepalive: int = 1,
                 max_requests: int = 20000, max_seconds: float = 60.0):
        self.envoy = envoy
        self.paths = list(paths)
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._fresh, args=(i,), daemon=True) for i in range(fresh)]
        self.threads += [threading.Thread(target=self._keepalive, args=(i,), daemon=True) for i in range(keepalive)]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=15)

    def _record(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def _running(self, n: int, deadline: float) -> bool:
        return not self.stop_event.is_set() and n < self.max_requests and time.monotonic() < deadline

    def _path(self, n: int) -> str:
        return self.paths[n % len(self.paths)]

    def _fresh(self, offset: int) -> None:
        deadline, n = time.monotonic() + self.max_seconds, 0
        while self._running(n, deadline):
            tid = uuid.uuid4().hex
            start = time.monotonic()
            try:
                status, _, _ = self.envoy.raw_request("GET", self._path(n + offset), tid=tid)
                self._record(Sent(start, time.monotonic(), tid, status))
            except OSError as e:
                self._record(Sent(start, time.monotonic(), tid, 0, f"fresh: {e!r}"))
            n += 1

    def _keepalive(self, offset: int) -> None:
        deadline, n = time.monotonic() + self.max_seconds, 0
        conn = None
        while self._running(n, deadline):
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.envoy.port, timeout=10)
            tid = uuid.uuid4().hex
            start = time.monotonic()
            try:
                conn.request("GET", self._path(n + offset), headers={"Host": DEFAULT_AUTHORITY, "x-test-id": tid})
                resp = conn.getresponse()
                resp.read()
                self._record(Sent(start, time.monotonic(), tid, resp.status))
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()  # the old filter chain draining: reconnect, as any client does
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self._record(Sent(start, time.monotonic(), tid, 0, f"keep-alive: {e!r}"))
                conn.close()
                conn = None
            n += 1
        if conn is not None:
            conn.close()

    def count(self) -> int:
        with self.lock:
            return len(self.sent)

    def failed(self) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.status != 200 or s.error]


# The tables reconfiguration tests (LDS and ECDS) swap between: each name says which table
# gave it, so a test knows which configuration was in force for a request.
def native(tag: str) -> dict:
    return {"default": f"[DEFAULT {tag}]", "routes": [
        {"name": f"{tag} book", "method": "GET", "path": "/books/{id}"},
        {"name": f"{tag} author", "path_prefix": "/authors/"},
    ]}


V1, V2 = native("v1"), native("v2")
V3 = {"attributes": [{"output_attribute": "istio_operationId", "phase": "ON_REQUEST", "match": [
    {"value": "v3 book", "condition": "request.method == 'GET' && request.url_path.matches('^/books/[^/]+$')"},
    {"value": "v3 author", "condition": "request.url_path.startsWith('/authors/')"},
    {"value": "[DEFAULT v3]", "condition": ""},
]}]}
