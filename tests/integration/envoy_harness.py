"""A real Envoy around the routegen module, for the integration suite.

One `Envoy` is one process: a listener on 127.0.0.1 whose HTTP connection manager runs the
wasm filter (V8) and then the router, with direct-response routes so no upstream is needed,
an admin endpoint, and a JSON access log. Every request sent through `Envoy.request` carries a
unique `x-test-id` header that the access log records, so a test reads back exactly the log
line of its own request (the filter state the module wrote, as `%FILTER_STATE(...:PLAIN)%` and
as the `%CEL(filter_state['wasm.<name>'])%` expression Istio's Telemetry tagOverrides use).

Only the standard library: requests go over raw sockets so paths and header values can be any
bytes (http.client refuses non-ASCII request lines).
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

# Status codes the `/status/<code>` direct-response routes can return.
STATUS_CODES = (200, 201, 401, 403, 404, 418, 429, 500, 503)

# Markers in Envoy's own log that mean the module trapped (a panic aborts the VM; Envoy then
# logs the failing callback). Their absence is part of every test's post-condition.
VM_FAILURE_MARKERS = (
    "panicked",
    "Function: proxy_on_request_headers failed",
    "Function: proxy_on_log failed",
    "Function: proxy_on_configure failed",
    "Function: proxy_on_context_create failed",
    "Uncaught RuntimeError",
)

# Counters of the wasm plugin config (named after the plugin, `routegen`) that exist on both
# Envoy 1.36 and 1.40. With `failure_policy: FAIL_RELOAD` a VM trap increments
# `vm_reload_backoff` or `vm_reload` (checked by hand against a deliberately panicking module);
# Envoy has no other VM-failure counter (the `wasm.envoy.wasm.runtime.v8.*` stats are only
# `created` and `active`).
WASM_FAILURE_STATS = (
    "wasm.routegen.vm_reload",
    "wasm.routegen.vm_reload_backoff",
    "wasm.routegen.vm_reload_failure",
    "wasm.routegen.vm_reload_success",
)

_instance_counter = itertools.count(1)

# Every Envoy this process started and has not stopped yet: stopped at interpreter exit too.
_live: "weakref.WeakSet[Envoy]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for envoy in list(_live):
        envoy.stop()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM Envoy if the test process dies (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass

HOST = "127.0.0.1"
DEFAULT_AUTHORITY = "test.local"


class EnvoyError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _q(text: str) -> str:
    """A YAML (JSON-compatible) double-quoted scalar."""
    return json.dumps(text)


def access_log_fields(attributes: Sequence[str]) -> dict[str, str]:
    fields = {
        "tid": "%REQ(X-TEST-ID)%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(:PATH)%",
        "authority": "%REQ(:AUTHORITY)%",
        "code": "%RESPONSE_CODE%",
        "flags": "%RESPONSE_FLAGS%",
    }
    for name in attributes:
        fields[f"fs:{name}"] = f"%FILTER_STATE(wasm.{name}:PLAIN)%"
        fields[f"cel:{name}"] = f"%CEL(filter_state['wasm.{name}'])%"
    return fields


def render_config(
    *,
    plugin_config: str,
    wasm: str,
    listener_port: int,
    admin_port: int,
    access_log: Path,
    attributes: Sequence[str],
    max_request_headers_kb: int = 96,
    failure_policy: str | None = None,
) -> str:
    """The Envoy bootstrap (v3 API, accepted by Envoy 1.36 and 1.40)."""
    fmt = "\n".join(
        f"                  {_q(k)}: {_q(v)}" for k, v in access_log_fields(attributes).items()
    )
    status_routes = "\n".join(
        f"              - match: {{prefix: {_q(f'/status/{code}')}}}\n"
        f"                direct_response: {{status: {code}, body: {{inline_string: {_q(f'status {code}')}}}}}"
        for code in STATUS_CODES
    )
    policy = f"\n                failure_policy: {failure_policy}" if failure_policy else ""
    return f"""\
admin:
  address: {{socket_address: {{address: {HOST}, port_value: {admin_port}}}}}
static_resources:
  listeners:
  - name: main
    address: {{socket_address: {{address: {HOST}, port_value: {listener_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          max_request_headers_kb: {max_request_headers_kb}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {_q(str(access_log))}
              log_format:
                json_format:
{fmt}
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
{status_routes}
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: routegen
                root_id: ""{policy}
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {_q(wasm)}}}}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {_q(plugin_config)}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


@dataclass
class Response:
    status: int
    body: bytes
    tid: str
    log: dict | None = None
    default_attribute: str = "istio_operationId"

    def fs(self, attribute: str | None = None):
        return self.log.get(f"fs:{attribute or self.default_attribute}") if self.log else None

    def cel(self, attribute: str | None = None):
        return self.log.get(f"cel:{attribute or self.default_attribute}") if self.log else None

    def attr(self, attribute: str | None = None):
        """The attribute as both access-log fields show it; they must agree."""
        fs, cel = self.fs(attribute), self.cel(attribute)
        assert fs == cel, (
            f"FILTER_STATE and CEL disagree for {attribute or self.default_attribute}: "
            f"fs={fs!r} cel={cel!r} (log {self.log})"
        )
        return fs


def _encode(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def http_exchange(port: int, raw: bytes, timeout: float = 10.0, head_only: bool = False) -> tuple[int, bytes, bytes]:
    """Sends one raw HTTP/1.1 request and reads one reply (by Content-Length, else to close:
    Envoy delays its own close by a second, so waiting for it would slow every request).
    Returns (status, head, body); status 0 if the connection closed without a status line.
    `head_only`: the reply to a HEAD request has no body whatever Content-Length says."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        deadline = time.monotonic() + timeout
        expected = None
        while time.monotonic() < deadline:
            if expected is None and b"\r\n\r\n" in data:
                head = data.split(b"\r\n\r\n", 1)[0]
                m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
                if head_only or (status and status.group(1) in (b"204", b"304")):
                    expected = len(head) + 4
                elif m:
                    expected = len(head) + 4 + int(m.group(1))
            if expected is not None and len(data) >= expected:
                break
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else 0), head, body


class Envoy:
    """One Envoy process. Use `start()` / `stop()` (or the context manager)."""

    def __init__(
        self,
        envoy_bin: str,
        wasm: str,
        workdir: Path,
        plugin_config: str | Mapping,
        *,
        attributes: Sequence[str] = ("istio_operationId",),
        failure_policy: str | None = None,
        max_request_headers_kb: int = 96,
        ready_timeout: float = 20.0,
    ):
        self.envoy_bin = envoy_bin
        self.wasm = wasm
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.plugin_config = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
        self.attributes = list(attributes)
        self.failure_policy = failure_policy
        self.max_request_headers_kb = max_request_headers_kb
        self.ready_timeout = ready_timeout
        self.access_log = self.workdir / "access.log"
        self.envoy_log = self.workdir / "envoy.log"
        self.stderr_path = self.workdir / "stderr.log"
        self.config_path = self.workdir / "envoy.yaml"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.admin_port = 0
        self.base_id = 0
        self._log_cache: dict[str, dict] = {}
        self._log_offset = 0
        self._log_partial = b""

    # ---- lifecycle -------------------------------------------------------------------------

    def _spawn(self) -> None:
        self.port, self.admin_port = free_port(), free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.base_id = (os.getpid() % 20000) * 100 + next(_instance_counter) % 100
        self.config_path.write_text(
            render_config(
                plugin_config=self.plugin_config,
                wasm=self.wasm,
                listener_port=self.port,
                admin_port=self.admin_port,
                access_log=self.access_log,
                attributes=self.attributes,
                max_request_headers_kb=self.max_request_headers_kb,
                failure_policy=self.failure_policy,
            )
        )
        for p in (self.access_log, self.envoy_log):
            if p.exists():
                p.unlink()
        self._log_cache.clear()
        self._log_offset = 0
        self._log_partial = b""
        cmd = [
            self.envoy_bin,
            "-c", str(self.config_path),
            "--base-id", str(self.base_id),
            "--disable-hot-restart",
            "--concurrency", "1",
            "--log-level", "info",
            "--log-path", str(self.envoy_log),
            "--file-flush-interval-msec", "50",
        ]
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr, cwd=self.workdir,
            preexec_fn=_die_with_parent,
        )
        _live.add(self)

    def start(self) -> "Envoy":
        """Starts Envoy and waits until admin /ready says LIVE. Retries on a port race."""
        for attempt in range(3):
            self._spawn()
            try:
                self._wait_ready()
                return self
            except EnvoyError:
                log = self.log_text()
                self.stop()
                if "ddress already in use" in log and attempt < 2:
                    continue
                raise
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EnvoyError(
                    f"Envoy exited with {self.proc.returncode} before becoming ready:\n{self.log_tail()}"
                )
            try:
                status, _, body = http_exchange(
                    self.admin_port,
                    f"GET /ready HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode(),
                    timeout=2,
                )
                if status == 200 and b"LIVE" in body:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise EnvoyError(f"Envoy not LIVE after {self.ready_timeout}s:\n{self.log_tail()}")

    def run_to_exit(self, timeout: float = 20.0) -> int:
        """For configurations that must be refused: starts Envoy and waits for it to exit.
        Returns the exit code; raises if Envoy becomes ready or is still running at timeout."""
        self._spawn()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EnvoyError(f"Envoy still running after {timeout}s:\n{self.log_tail()}")
        finally:
            self.stop()

    def stop(self) -> None:
        _live.discard(self)
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if getattr(self, "_stderr", None) is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "Envoy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- Envoy's own log ---------------------------------------------------------------------

    def log_text(self) -> str:
        parts = []
        for p in (self.envoy_log, self.stderr_path):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_lines(self, pattern: str) -> list[str]:
        return [line for line in self.log_text().splitlines() if pattern in line]

    def vm_failures(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if any(m in line for m in VM_FAILURE_MARKERS)]

    # ---- requests -----------------------------------------------------------------------------

    def raw_request(
        self,
        method: str | bytes,
        path: str | bytes,
        headers: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] | None = None,
        *,
        authority: str | bytes | None = DEFAULT_AUTHORITY,
        body: bytes = b"",
        tid: str | None = None,
    ) -> tuple[int, bytes, str]:
        tid = tid or uuid.uuid4().hex
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        lines = [_encode(method) + b" " + _encode(path) + b" HTTP/1.1"]
        if authority is not None:
            lines.append(b"Host: " + _encode(authority))
        for name, value in items:
            lines.append(_encode(name) + b": " + _encode(value))
        lines.append(b"x-test-id: " + tid.encode())
        if body:
            lines.append(b"Content-Length: " + str(len(body)).encode())
        lines.append(b"Connection: close")
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
        status, _, reply = http_exchange(self.port, raw, head_only=_encode(method) == b"HEAD")
        return status, reply, tid

    def request(
        self,
        method: str | bytes = "GET",
        path: str | bytes = "/",
        headers=None,
        *,
        authority: str | bytes | None = DEFAULT_AUTHORITY,
        body: bytes = b"",
        wait_log: bool = True,
        log_timeout: float = 5.0,
    ) -> Response:
        status, reply, tid = self.raw_request(method, path, headers, authority=authority, body=body)
        resp = Response(status=status, body=reply, tid=tid, default_attribute=self.attributes[0])
        if wait_log:
            resp.log = self.log_entry(tid, timeout=log_timeout)
        return resp

    # ---- access log ---------------------------------------------------------------------------

    def _read_access_log(self) -> None:
        if not self.access_log.exists():
            return
        with open(self.access_log, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        self._log_offset += len(data)
        data = self._log_partial + data
        *complete, self._log_partial = data.split(b"\n")
        for line in complete:
            if not line.strip():
                continue
            entry = json.loads(line.decode("utf-8", errors="replace"))
            self._log_cache[str(entry.get("tid"))] = entry

    def log_entry(self, tid: str, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            self._read_access_log()
            if tid in self._log_cache:
                return self._log_cache[tid]
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log line for request {tid} after {timeout}s")
            time.sleep(0.02)

    def all_log_entries(self) -> list[dict]:
        self._read_access_log()
        return list(self._log_cache.values())

    # ---- admin --------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        status, _, body = http_exchange(
            self.admin_port, f"GET /stats HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        )
        assert status == 200, f"admin /stats returned {status}"
        out = {}
        for line in body.decode(errors="replace").splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name.strip()] = int(value)
        return out
