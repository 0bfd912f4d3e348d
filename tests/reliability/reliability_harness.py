"""Helpers for the reliability suite: Envoy variants of the integration harness (extra HTTP
connection manager options; listeners from a file, LDS), a minimal HTTP/2 prior-knowledge (h2c)
client over a raw socket, and the VM-health post-condition.

Only the standard library; only 127.0.0.1; every loop bounded in count and time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import envoy_harness
from envoy_harness import HOST, WASM_FAILURE_STATS, Envoy

# The integration harness's markers, plus the words V8 and the SDK use for a trap.
VM_FAILURE_MARKERS = tuple(envoy_harness.VM_FAILURE_MARKERS) + ("wasm trap", "panicked at", "RuntimeError: unreachable")


def vm_failures(envoy: Envoy) -> list[str]:
    return [line for line in envoy.log_text().splitlines() if any(m in line for m in VM_FAILURE_MARKERS)]


def assert_vm_healthy(envoy: Envoy) -> None:
    """The VM never trapped: no marker in Envoy's log, the FAIL_RELOAD counters (which a trap
    increments) at 0, and the process alive."""
    assert envoy.running, "Envoy exited:\n" + envoy.log_tail()
    failures = vm_failures(envoy)
    assert not failures, "wasm VM failure in Envoy's log:\n" + "\n".join(failures[:20])
    stats = envoy.stats()
    for name in WASM_FAILURE_STATS:
        assert stats.get(name, 0) == 0, f"{name} = {stats[name]}: the wasm VM failed"


def _yaml_lines(options: Mapping[str, object], indent: int) -> str:
    return "".join(f"{' ' * indent}{k}: {json.dumps(v)}\n" for k, v in options.items())


class PatchedEnvoy(Envoy):
    """The integration harness's Envoy with extra HttpConnectionManager options (codec_type,
    normalize_path, http2_protocol_options, ...) and extra access-log fields."""

    def __init__(self, *args, hcm: Mapping[str, object] | None = None, log_fields: Mapping[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.hcm = dict(hcm or {})
        self.log_fields = dict(log_fields or {})

    def patch(self, config: str) -> str:
        anchor = "          stat_prefix: ingress\n"
        assert anchor in config
        config = config.replace(anchor, anchor + _yaml_lines(self.hcm, 10), 1)
        flags = '                  "flags": "%RESPONSE_FLAGS%"\n'
        assert flags in config
        extra = "".join(f"                  {json.dumps(k)}: {json.dumps(v)}\n" for k, v in self.log_fields.items())
        return config.replace(flags, flags + extra, 1)

    def _spawn(self) -> None:
        original = envoy_harness.render_config
        envoy_harness.render_config = lambda **kw: self.patch(original(**kw))
        try:
            super()._spawn()
        finally:
            envoy_harness.render_config = original


class LdsEnvoy(Envoy):
    """Envoy whose listener (with the wasm filter and its plugin configuration) comes from a
    file through LDS (`dynamic_resources.lds_config.path_config_source`). `swap()` rewrites that
    file by atomic rename, which is how Envoy's file-based xDS notices a change.

    `policy` is the Wasm PluginConfig's failure handling, verbatim YAML: e.g.
    `fail_open: true` or `failure_policy: FAIL_CLOSED`."""

    def __init__(self, *args, policy: str | None = None, drain_time_s: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.drain_time_s = drain_time_s
        self.lds_path = self.workdir / "lds.yaml"
        self.swaps = 0

    def listener_yaml(self, plugin_config: str) -> str:
        bootstrap = envoy_harness.render_config(
            plugin_config=plugin_config,
            wasm=self.wasm,
            listener_port=self.port,
            admin_port=self.admin_port,
            access_log=self.access_log,
            attributes=self.attributes,
            max_request_headers_kb=self.max_request_headers_kb,
            failure_policy="__POLICY__" if self.policy else None,
        )
        if self.policy:
            bootstrap = bootstrap.replace("failure_policy: __POLICY__", self.policy)
        block = bootstrap.split("  listeners:\n", 1)[1]
        block = block.replace(
            "  - name: main\n", '  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n    name: main\n', 1
        )
        return "resources:\n" + block

    def write_lds(self, plugin_config: str | Mapping) -> None:
        text = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
        tmp = self.lds_path.with_name(f"lds.{self.swaps}.tmp")
        tmp.write_text(self.listener_yaml(text))
        os.replace(tmp, self.lds_path)
        self.swaps += 1

    def _spawn(self) -> None:
        self.port, self.admin_port = envoy_harness.free_port(), envoy_harness.free_port()
        while self.admin_port == self.port:
            self.admin_port = envoy_harness.free_port()
        self.base_id = (os.getpid() % 20000) * 100 + next(envoy_harness._instance_counter) % 100
        for p in (self.access_log, self.envoy_log):
            if p.exists():
                p.unlink()
        self._log_cache.clear()
        self._log_offset = 0
        self._log_partial = b""
        self.write_lds(self.plugin_config)
        self.config_path.write_text(
            f"""\
node: {{id: routegen-reliability, cluster: test}}
admin:
  address: {{socket_address: {{address: {HOST}, port_value: {self.admin_port}}}}}
dynamic_resources:
  lds_config:
    resource_api_version: V3
    path_config_source: {{path: {json.dumps(str(self.lds_path))}}}
"""
        )
        cmd = [
            self.envoy_bin, "-c", str(self.config_path), "--base-id", str(self.base_id),
            "--disable-hot-restart", "--concurrency", "1", "--log-level", "info",
            "--log-path", str(self.envoy_log), "--file-flush-interval-msec", "50",
            "--drain-time-s", str(self.drain_time_s), "--drain-strategy", "immediate",
        ]
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr, cwd=self.workdir,
            preexec_fn=envoy_harness._die_with_parent,
        )
        envoy_harness._live.add(self)

    def _wait_ready(self) -> None:
        super()._wait_ready()
        # LIVE comes before the listener is warmed: wait until the port answers.
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise envoy_harness.EnvoyError(f"listener never opened:\n{self.log_tail()}")


# ---------------------------------------------------------------------------------------------
# HTTP/2 prior knowledge, by hand: enough to send odd pseudo-headers Envoy's clients would refuse.

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
MAX_FRAME = 16384

_STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
_HUFFMAN_DIGITS = {"00000": "0", "00001": "1", "00010": "2", "011001": "3", "011010": "4",
                   "011011": "5", "011100": "6", "011101": "7", "011110": "8", "011111": "9"}


def _int(n: int, prefix_bits: int, first: int = 0) -> bytes:
    """HPACK integer (RFC 7541 §5.1) with `first` holding the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = [first | limit]
    n -= limit
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """Literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2)."""
    return b"\x00" + _int(len(name), 7) + name + _int(len(value), 7) + value


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _read_int(block: bytes, i: int, prefix_bits: int) -> tuple[int, int]:
    limit = (1 << prefix_bits) - 1
    n = block[i] & limit
    i += 1
    if n < limit:
        return n, i
    shift = 0
    while i < len(block):
        b = block[i]
        i += 1
        n += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return n, i


def _status(block: bytes) -> int | None:
    """`:status` from the start of a response header block (Envoy sends it first)."""
    i = 0
    while i < len(block):
        b = block[i]
        if b & 0x80:                      # indexed
            index, i = _read_int(block, i, 7)
            return _STATIC_STATUS.get(index)
        if b & 0xE0 == 0x20:              # dynamic table size update
            _, i = _read_int(block, i, 5)
            continue
        index, i = _read_int(block, i, 6 if b & 0x40 else 4)
        if index not in _STATIC_STATUS:
            return None
        huffman = bool(block[i] & 0x80)
        length, i = _read_int(block, i, 7)
        raw = block[i:i + length]
        if not huffman:
            return int(raw)
        bits = "".join(f"{x:08b}" for x in raw)
        text, code = "", ""
        for bit in bits:
            code += bit
            if code in _HUFFMAN_DIGITS:
                text += _HUFFMAN_DIGITS[code]
                code = ""
                if len(text) == 3:
                    return int(text)
        return None
    return None


@dataclass
class H2Result:
    kind: str                  # "response", "reset" (RST_STREAM), "goaway", "closed"
    status: int | None = None
    error_code: int | None = None


def h2_request(port: int, headers: Sequence[tuple[bytes | str, bytes | str]], timeout: float = 10.0) -> H2Result:
    """One request on stream 1 of a fresh h2c connection; headers in the given order, sent
    exactly (pseudo-headers included), split into HEADERS + CONTINUATION frames as needed."""
    enc = lambda v: v if isinstance(v, bytes) else v.encode()
    block = b"".join(hpack_literal(enc(k), enc(v)) for k, v in headers)
    chunks = [block[i:i + MAX_FRAME] for i in range(0, len(block), MAX_FRAME)] or [b""]
    out = PREFACE + frame(SETTINGS, 0, 0)
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        if n == 0:
            out += frame(HEADERS, END_STREAM | (END_HEADERS if last else 0), 1, chunk)
        else:
            out += frame(CONTINUATION, END_HEADERS if last else 0, 1, chunk)
    deadline = time.monotonic() + timeout
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(out)
        buf = b""
        header_block = None
        while time.monotonic() < deadline:
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                kind, flags = buf[3], buf[4]
                stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload = buf[9:9 + length]
                buf = buf[9 + length:]
                if kind == SETTINGS and not flags & ACK:
                    s.sendall(frame(SETTINGS, ACK, 0))
                elif kind == PING and not flags & ACK:
                    s.sendall(frame(PING, ACK, 0, payload))
                elif kind == HEADERS and stream == 1:
                    if flags & 0x8:  # PADDED
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:  # PRIORITY
                        payload = payload[5:]
                    header_block = payload
                    if flags & END_HEADERS:
                        return H2Result("response", _status(header_block))
                elif kind == CONTINUATION and stream == 1 and header_block is not None:
                    header_block += payload
                    if flags & END_HEADERS:
                        return H2Result("response", _status(header_block))
                elif kind == RST_STREAM and stream == 1:
                    return H2Result("reset", error_code=int.from_bytes(payload[:4], "big"))
                elif kind == GOAWAY:
                    return H2Result("goaway", error_code=int.from_bytes(payload[4:8], "big"))
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return H2Result("closed")
            if not chunk:
                return H2Result("closed")
            buf += chunk
    return H2Result("closed")


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
