"""The routegen test Envoy, for the pytest suites.

One `Envoy` is one process: a listener on 127.0.0.1 whose HTTP connection manager runs the
wasm filter (V8) and then the router, with direct-response routes so no upstream is needed,
an admin endpoint, and a JSON access log. Every request sent through `Envoy.request` carries a
unique `x-test-id` header that the access log records, so a test reads back exactly the log
line of its own request (the filter state the module wrote, as `%FILTER_STATE(...:PLAIN)%` and
as the `%CEL(filter_state['wasm.<name>'])%` expression Istio's Telemetry tagOverrides use).

`hcm=` adds HttpConnectionManager options (codec_type, normalize_path, ...) and `log_fields=`
access-log fields; `LdsEnvoy` serves the same listener through LDS, swappable at run time.
Requests go over raw sockets so paths and header values can be any bytes.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .envoy import (WASM_FAILURE_STATS, EnvoyError, EnvoyProcess, address, bootstrap, direct_route,
                    http_listener, virtual_host, wasm_filter)
from .http import encode, http_exchange
from .ports import HOST

# Status codes the `/status/<code>` direct-response routes can return.
STATUS_CODES = (200, 201, 401, 403, 404, 418, 429, 500, 503)

DEFAULT_AUTHORITY = "test.local"

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

# The reliability suite's stricter set: plus the words V8 and the SDK use for a trap.
TRAP_MARKERS = VM_FAILURE_MARKERS + ("wasm trap", "panicked at", "RuntimeError: unreachable")


def access_log_fields(attributes: Sequence[str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    fields = {
        "tid": "%REQ(X-TEST-ID)%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(:PATH)%",
        "authority": "%REQ(:AUTHORITY)%",
        "code": "%RESPONSE_CODE%",
        "flags": "%RESPONSE_FLAGS%",
        **(extra or {}),
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
    hcm: Mapping[str, object] | None = None,
    log_fields: Mapping[str, str] | None = None,
    routes: Sequence[dict] | None = None,
    envoy_log_format: bool = False,
) -> dict:
    """The Envoy bootstrap (v3 API, accepted by Envoy 1.36 and 1.40). `routes` replaces the
    virtual host's routes (default: `/status/<code>` direct responses, then 200 for the rest).
    `envoy_log_format`: the access log in Envoy's default text format instead of JSON (for
    tests of log readers; `log_entry` then cannot read it)."""
    if routes is None:
        routes = [direct_route(f"/status/{code}", code, f"status {code}") for code in STATUS_CODES] + [direct_route()]
    access_logger = {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": str(access_log),
            "log_format": {"json_format": access_log_fields(attributes, log_fields)},
        },
    }
    if envoy_log_format:
        del access_logger["typed_config"]["log_format"]
    listener = http_listener(
        listener_port,
        http_filters=[wasm_filter(wasm, plugin_config, root_id="", failure_policy=failure_policy)],
        virtual_hosts=[virtual_host(routes)],
        route_config_name="local",
        max_request_headers_kb=max_request_headers_kb,
        access_log=[access_logger],
        **(hcm or {}),
    )
    return bootstrap(admin_port, [listener])


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


class Envoy(EnvoyProcess):
    """routegen in one Envoy process. Use `start()` / `stop()` (or the context manager)."""

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
        hcm: Mapping[str, object] | None = None,
        log_fields: Mapping[str, str] | None = None,
        routes: Sequence[dict] | None = None,
        envoy_log_format: bool = False,
        **process_options,
    ):
        super().__init__(envoy_bin, workdir, ready_timeout=ready_timeout, **process_options)
        self.wasm = wasm
        self.plugin_config = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
        self.attributes = list(attributes)
        self.failure_policy = failure_policy
        self.max_request_headers_kb = max_request_headers_kb
        self.hcm = dict(hcm or {})
        self.log_fields = dict(log_fields or {})
        self.routes = list(routes) if routes is not None else None
        self.envoy_log_format = envoy_log_format
        self.access_log = self.workdir / "access.log"
        self._log_cache: dict[str, dict] = {}
        self._log_offset = 0
        self._log_partial = b""

    def render_config(self, plugin_config: str, failure_policy: str | None) -> dict:
        return render_config(
            plugin_config=plugin_config,
            wasm=self.wasm,
            listener_port=self.port,
            admin_port=self.admin_port,
            access_log=self.access_log,
            attributes=self.attributes,
            max_request_headers_kb=self.max_request_headers_kb,
            failure_policy=failure_policy,
            hcm=self.hcm,
            log_fields=self.log_fields,
            routes=self.routes,
            envoy_log_format=self.envoy_log_format,
        )

    def render(self) -> dict:
        return self.render_config(self.plugin_config, self.failure_policy)

    def prepare(self) -> None:
        if self.access_log.exists():
            self.access_log.unlink()
        self._log_cache.clear()
        self._log_offset = 0
        self._log_partial = b""

    def vm_failures(self, markers: Sequence[str] = VM_FAILURE_MARKERS) -> list[str]:
        return [line for line in self.log_text().splitlines() if any(m in line for m in markers)]

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
        lines = [encode(method) + b" " + encode(path) + b" HTTP/1.1"]
        if authority is not None:
            lines.append(b"Host: " + encode(authority))
        for name, value in items:
            lines.append(encode(name) + b": " + encode(value))
        lines.append(b"x-test-id: " + tid.encode())
        if body:
            lines.append(b"Content-Length: " + str(len(body)).encode())
        lines.append(b"Connection: close")
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
        status, _, reply = http_exchange(self.port, raw, head_only=encode(method) == b"HEAD")
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

    def requests(self, items: Iterable[tuple], log_timeout: float = 10.0) -> list[Response]:
        """Sends (method, path) or (method, path, headers, authority) requests one after another,
        then waits for all their log lines at once: a flush interval per batch, not per request."""
        sent = []
        for item in items:
            method, path, headers, authority = (tuple(item) + (None, DEFAULT_AUTHORITY))[:4]
            status, reply, tid = self.raw_request(method, path, headers, authority=authority)
            sent.append(Response(status=status, body=reply, tid=tid, default_attribute=self.attributes[0]))
        deadline = time.monotonic() + log_timeout
        for resp in sent:
            resp.log = self.log_entry(resp.tid, timeout=max(0.0, deadline - time.monotonic()))
        return sent

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

    def wait_log_lines(self, count: int, timeout: float = 20.0) -> list[str]:
        """The access log's lines once it has at least `count` (any format)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.access_log.read_text(errors="replace").splitlines() if self.access_log.exists() else []
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(lines)} access-log lines after {timeout}s, expected {count}")
            time.sleep(0.05)

    def all_log_entries(self) -> list[dict]:
        self._read_access_log()
        return list(self._log_cache.values())


def assert_vm_healthy(envoy: Envoy) -> None:
    """The VM never trapped: no marker (TRAP_MARKERS) in Envoy's log, the FAIL_RELOAD counters
    (which a trap increments) at 0, and the process alive."""
    assert envoy.running, "Envoy exited:\n" + envoy.log_tail()
    failures = envoy.vm_failures(TRAP_MARKERS)
    assert not failures, "wasm VM failure in Envoy's log:\n" + "\n".join(failures[:20])
    stats = envoy.stats()
    for name in WASM_FAILURE_STATS:
        assert stats.get(name, 0) == 0, f"{name} = {stats[name]}: the wasm VM failed"


class LdsEnvoy(Envoy):
    """Envoy whose listener (with the wasm filter and its plugin configuration) comes from a
    file through LDS (`dynamic_resources.lds_config.path_config_source`). `write_lds()` rewrites
    that file by atomic rename, which is how Envoy's file-based xDS notices a change.

    `policy` is the Wasm PluginConfig's failure handling, verbatim YAML: e.g.
    `fail_open: true` or `failure_policy: FAIL_CLOSED`."""

    def __init__(self, *args, policy: str | None = None, drain_time_s: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_args += ["--drain-time-s", str(drain_time_s), "--drain-strategy", "immediate"]
        self.policy = policy
        self.drain_time_s = drain_time_s
        self.lds_path = self.workdir / "lds.yaml"
        self.swaps = 0

    def listener(self, plugin_config: str) -> dict:
        (listener,) = self.render_config(plugin_config, None)["static_resources"]["listeners"]
        if self.policy:
            import yaml  # PyYAML, from tests/requirements.txt

            hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
            (wasm,) = [f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.wasm"]
            wasm["typed_config"]["config"].update(yaml.safe_load(self.policy))
        return {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", **listener}

    def write_lds(self, plugin_config: str | Mapping) -> None:
        text = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
        tmp = self.lds_path.with_name(f"lds.{self.swaps}.tmp")
        tmp.write_text(json.dumps({"resources": [self.listener(text)]}, indent=1))
        os.replace(tmp, self.lds_path)
        self.swaps += 1

    def render(self) -> dict:
        self.write_lds(self.plugin_config)
        return {
            "node": {"id": "routegen-reliability", "cluster": "test"},
            "admin": {"address": address(self.admin_port)},
            "dynamic_resources": {"lds_config": {"resource_api_version": "V3",
                                                 "path_config_source": {"path": str(self.lds_path)}}},
        }

    def wait_ready(self) -> None:
        super().wait_ready()
        # LIVE comes before the listener is warmed: wait until the port answers.
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise EnvoyError(f"listener never opened:\n{self.log_tail()}")
