"""HTTP/2 prior knowledge (h2c), by hand: enough to send odd pseudo-headers Envoy's clients
would refuse, and to read the response status, a reset or a GOAWAY. Standard library only."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import Sequence

from .ports import HOST


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
