"""The shipped module exports exactly tools/module-exports.txt: the build's wasm-metadce step
removed the callbacks routegen never needs, and nothing it does need (every other test in this
suite runs the same module in a real Envoy)."""

from __future__ import annotations

from pathlib import Path

from routegen_support.paths import ROOT


def _leb128(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def exports(module: bytes) -> list[str]:
    """Export names, from the module's export section (id 7)."""
    assert module[:4] == b"\0asm", "not a wasm module"
    names, i = [], 8
    while i < len(module):
        section, i = module[i], i + 1
        size, i = _leb128(module, i)
        if section == 7:
            count, j = _leb128(module, i)
            for _ in range(count):
                length, j = _leb128(module, j)
                names.append(module[j:j + length].decode())
                j += length + 1  # the name, then its kind byte
                _, j = _leb128(module, j)  # and its index
        i += size
    return names


def test_exports_are_the_listed_ones(wasm_path):
    listed = [line.strip() for line in (ROOT / "tools/module-exports.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    found = exports(Path(wasm_path).read_bytes())
    assert sorted(found) == sorted(listed)
    assert "proxy_on_grpc_receive" not in found and "proxy_on_request_headers" in found
