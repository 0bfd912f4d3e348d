"""HTTP/1.1 clients: raw bytes over a socket (any path or header value, even non-ASCII, which
http.client refuses), and plain GETs for admin endpoints and APIs."""

from __future__ import annotations

import http.client
import re
import socket
import time
import urllib.request

from .ports import HOST


def encode(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def http_exchange(port: int, raw: bytes, timeout: float = 10.0, head_only: bool = False,
                  host: str = HOST) -> tuple[int, bytes, bytes]:
    """Sends one raw HTTP/1.1 request and reads one reply (by Content-Length, else to close:
    Envoy delays its own close by a second, so waiting for it would slow every request).
    Returns (status, head, body); status 0 if the connection closed without a status line.
    `head_only`: the reply to a HEAD request has no body whatever Content-Length says."""
    with socket.create_connection((host, port), timeout=timeout) as s:
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


def http_get(port: int, path: str, timeout: float = 5.0, host: str = HOST) -> tuple[int, bytes]:
    """GET `path` on host:port (e.g. an Envoy admin endpoint): (status, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def fetch(url: str, timeout: float = 5.0) -> bytes:
    """The body of a GET (urllib: an HTTP error status raises)."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.read()


def keepalive_requests(port: int, items, connections: int = 4, host: str = HOST, authority: str = "api.test",
                       timeout: float = 10.0) -> list[int]:
    """Sends (method, path) requests over `connections` keep-alive connections in parallel (a
    fast load of ordinary requests; `http_exchange` is for odd bytes). Statuses in input order."""
    import concurrent.futures

    items = list(items)
    statuses = [0] * len(items)

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            for i in range(offset, len(items), connections):
                method, path = items[i][:2]
                for attempt in range(2):
                    try:
                        conn.request(method, path, headers={"Host": authority})
                        resp = conn.getresponse()
                        resp.read()
                        statuses[i] = resp.status
                        break
                    except (http.client.HTTPException, OSError):
                        # The server closed an idle connection: one reconnect, then give up.
                        conn.close()
                        conn = http.client.HTTPConnection(host, port, timeout=timeout)
                        if attempt:
                            raise
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(worker, k) for k in range(connections)]:
            future.result()
    return statuses
