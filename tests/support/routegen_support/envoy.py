"""A real Envoy: bootstrap building blocks (dicts, written as JSON, which Envoy reads as YAML),
its version, its admin /stats, and `EnvoyProcess`: one Envoy process that starts, waits for
admin /ready LIVE, retries on a port race, and stops (also at interpreter exit, and by the
kernel if its parent dies)."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import weakref
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .http import http_get
from .ports import HOST, free_ports
from .process import die_with_parent, pinned, stop_process

HCM = "envoy.filters.network.http_connection_manager"
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}

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


class EnvoyError(RuntimeError):
    pass


# ---- bootstrap building blocks -------------------------------------------------------------------


def address(port: int, host: str = HOST) -> dict:
    return {"socket_address": {"address": host, "port_value": port}}


def direct_response(status: int = 200, body: str = "ok") -> dict:
    return {"status": status, "body": {"inline_string": body}}


def direct_route(prefix: str = "/", status: int = 200, body: str = "ok") -> dict:
    return {"match": {"prefix": prefix}, "direct_response": direct_response(status, body)}


def cluster_route(cluster: str, prefix: str = "/") -> dict:
    return {"match": {"prefix": prefix}, "route": {"cluster": cluster}}


def virtual_host(routes: Sequence[dict], name: str = "all", domains: Sequence[str] = ("*",), **extra) -> dict:
    return {"name": name, "domains": list(domains), "routes": list(routes), **extra}


def wasm_filter(wasm: str, configuration: str | Mapping, *, name: str = "routegen", vm_id: str | None = None,
                root_id: str | None = None, failure_policy: str | None = None, **plugin_extra) -> dict:
    """The envoy.filters.http.wasm filter (V8) running `wasm` with `configuration` (a string, or
    a mapping sent as JSON). The path is made absolute: Envoy runs in its own work directory."""
    vm_config = {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": os.path.abspath(wasm)}}}
    if vm_id is not None:
        vm_config = {"vm_id": vm_id, **vm_config}
    config: dict = {"name": name}
    if root_id is not None:
        config["root_id"] = root_id
    if failure_policy:
        config["failure_policy"] = failure_policy
    config.update(plugin_extra)
    config["vm_config"] = vm_config
    config["configuration"] = {
        "@type": "type.googleapis.com/google.protobuf.StringValue",
        "value": configuration if isinstance(configuration, str) else json.dumps(configuration),
    }
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", "config": config},
    }


def http_listener(port: int, *, http_filters: Sequence[dict] = (), virtual_hosts: Sequence[dict],
                  name: str = "main", route_config_name: str | None = None, router: bool = True,
                  stat_prefix: str = "ingress", **hcm_options) -> dict:
    """A listener on HOST:port whose HTTP connection manager runs `http_filters` (then the
    router, unless router=False) over `virtual_hosts`; `hcm_options` go into the HCM config."""
    route_config: dict = {"virtual_hosts": list(virtual_hosts)}
    if route_config_name:
        route_config = {"name": route_config_name, **route_config}
    hcm = {"@type": HCM_TYPE, "stat_prefix": stat_prefix, **hcm_options, "route_config": route_config,
           "http_filters": list(http_filters) + ([ROUTER] if router else [])}
    return {"name": name, "address": address(port), "filter_chains": [{"filters": [{"name": HCM, "typed_config": hcm}]}]}


def static_cluster(name: str, port: int, host: str = HOST, **extra) -> dict:
    return {
        "name": name, "type": "STATIC", "connect_timeout": "1s", **extra,
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address(port, host)}}]}]},
    }


def bootstrap(admin_port: int, listeners: Iterable[dict] = (), clusters: Iterable[dict] = (), **extra) -> dict:
    """A v3 bootstrap (accepted by Envoy 1.36 and 1.40): admin on HOST:admin_port, static
    listeners and clusters, and any other top-level field (stats_config, node, ...)."""
    static: dict = {"listeners": list(listeners)}
    clusters = list(clusters)
    if clusters:
        static["clusters"] = clusters
    return {"admin": {"address": address(admin_port)}, **extra, "static_resources": static}


# ---- facts about Envoy ------------------------------------------------------------------------


def version(envoy_bin: str) -> str:
    """"1.40.0" (from `envoy --version`), or "?"."""
    out = subprocess.run([str(envoy_bin), "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"/(\d+\.\d+\.\d+)/", out)
    return m.group(1) if m else "?"


def version_tuple(envoy_bin: str) -> tuple[int, int, int]:
    text = version(envoy_bin)
    assert text != "?", f"cannot read the Envoy version of {envoy_bin}"
    return tuple(int(x) for x in text.split("."))


def parse_stats(text: str) -> dict[str, int]:
    """Admin /stats text → {name: value} for the integer stats (counters and gauges)."""
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and value.strip().lstrip("-").isdigit():
            out[name.strip()] = int(value)
    return out


def resolve_binary(envoy_bin: str) -> str:
    """An absolute path (Envoy runs in its work directory) for a path or a name on PATH."""
    envoy_bin = str(envoy_bin)
    return str(Path(envoy_bin).resolve()) if os.sep in envoy_bin else (shutil.which(envoy_bin) or envoy_bin)


# ---- the process ------------------------------------------------------------------------------

_instance_counter = itertools.count(1)

# Every Envoy this process started and has not stopped yet: stopped at interpreter exit too.
_live: "weakref.WeakSet[EnvoyProcess]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for envoy in list(_live):
        envoy.stop()


class EnvoyProcess:
    """One Envoy, one worker, on loopback. The bootstrap comes from `render()`: by default
    `bootstrap(self)` (a callable given to the constructor), called once the ports `self.port`
    (for the listener) and `self.admin_port` are chosen; a dict is written as JSON, a string as
    is. Files go in `workdir`: `<name>.yaml`, Envoy's log `<name>.log`, its stdout/stderr in
    `stderr.log` (`<name>.stderr.log` for other names)."""

    def __init__(
        self,
        envoy_bin: str,
        workdir: Path | str,
        bootstrap: Callable[["EnvoyProcess"], dict | str] | None = None,
        *,
        name: str = "envoy",
        log_level: str = "info",
        ready_timeout: float = 20.0,
        extra_args: Sequence[str] = (),
        file_flush_ms: int | None = 50,
        cpu: int | None = None,
        new_session: bool = False,
        concurrency: int = 1,
    ):
        self.envoy_bin = resolve_binary(envoy_bin)
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._bootstrap = bootstrap
        self.name = name
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.extra_args = list(extra_args)
        self.file_flush_ms = file_flush_ms
        self.cpu = cpu
        self.new_session = new_session
        self.concurrency = concurrency
        self.config_path = self.workdir / f"{name}.yaml"
        self.envoy_log = self.workdir / f"{name}.log"
        self.stderr_path = self.workdir / ("stderr.log" if name == "envoy" else f"{name}.stderr.log")
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.admin_port = 0
        self.base_id = 0
        self._stderr = None

    # ---- hooks for subclasses ------------------------------------------------------------------

    def render(self) -> dict | str:
        if self._bootstrap is None:
            raise NotImplementedError("pass bootstrap= or override render()")
        return self._bootstrap(self)

    def prepare(self) -> None:
        """Before each spawn, once the ports are chosen."""

    # ---- lifecycle -------------------------------------------------------------------------

    def spawn(self) -> "EnvoyProcess":
        """Chooses the ports, writes the bootstrap and starts Envoy (without waiting)."""
        self.port, self.admin_port = free_ports(2)
        self.base_id = (os.getpid() % 20000) * 100 + next(_instance_counter) % 100
        if self.envoy_log.exists():
            self.envoy_log.unlink()
        self.prepare()
        config = self.render()
        self.config_path.write_text(config if isinstance(config, str) else json.dumps(config, indent=1))
        cmd = [
            self.envoy_bin,
            "-c", str(self.config_path),
            "--base-id", str(self.base_id),
            "--disable-hot-restart",
            "--concurrency", str(self.concurrency),
            "--log-level", self.log_level,
            "--log-path", str(self.envoy_log),
        ]
        if self.file_flush_ms is not None:
            cmd += ["--file-flush-interval-msec", str(self.file_flush_ms)]
        cmd += self.extra_args
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            pinned(self.cpu, cmd), stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
            cwd=self.workdir, preexec_fn=die_with_parent, start_new_session=self.new_session,
        )
        _live.add(self)
        return self

    def start(self, attempts: int = 3) -> "EnvoyProcess":
        """Starts Envoy and waits until admin /ready says LIVE. Retries on a port race (a free
        port can be taken between probing it and Envoy binding it)."""
        for attempt in range(attempts):
            self.spawn()
            try:
                self.wait_ready()
                return self
            except EnvoyError:
                log = self.log_text()
                self.stop()
                if "ddress already in use" in log and attempt < attempts - 1:
                    continue
                raise
        raise AssertionError("unreachable")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EnvoyError(
                    f"Envoy exited with {self.proc.returncode} before becoming ready:\n{self.log_tail()}"
                )
            try:
                status, body = self.admin("/ready", timeout=2)
                if status == 200 and b"LIVE" in body:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise EnvoyError(f"Envoy not LIVE after {self.ready_timeout}s:\n{self.log_tail()}")

    def run_to_exit(self, timeout: float = 20.0) -> int:
        """For configurations that must be refused: starts Envoy and waits for it to exit.
        Returns the exit code; raises if Envoy is still running at timeout."""
        self.spawn()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EnvoyError(f"Envoy still running after {timeout}s:\n{self.log_tail()}")
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        _live.discard(self)
        proc, self.proc = self.proc, None
        stop_process(proc, timeout)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "EnvoyProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    # ---- admin ----------------------------------------------------------------------------------

    def admin(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET `path` on the admin endpoint: (status, body)."""
        return http_get(self.admin_port, path, timeout=timeout)

    def stats(self, filter: str | None = None) -> dict[str, int]:
        """Admin /stats (optionally `?filter=<regex>`) as {name: value}, integer stats only."""
        path = "/stats" + (f"?filter={urllib.parse.quote(filter)}" if filter else "")
        status, body = self.admin(path)
        assert status == 200, f"admin {path} returned {status}"
        return parse_stats(body.decode(errors="replace"))

    # ---- Envoy's own log ---------------------------------------------------------------------

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.envoy_log, self.stderr_path) if p.exists())

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_lines(self, pattern: str) -> list[str]:
        return [line for line in self.log_text().splitlines() if pattern in line]
