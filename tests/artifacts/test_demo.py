"""`make demo` (tools/demo.py): it runs, its table matches the traffic it sent, it fails on a
mismatch, and it leaves no process behind, even when interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from routegen_support import demo

ROW = re.compile(r"^(?P<route>\S.*?)\s{2,}(?P<requests>\d+)\s+(?P<success>[\d.]+%|-)\s+(?P<p50>\S+)\s+(?P<p99>\S+)\s+"
                 r"(?P<expected>\d+)\s+(?P<exp_success>[\d.]+%|-)\s+(?P<mark>ok|MISMATCH)$")


def run_demo(envoy_bin, wasm_path, *extra, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools/demo.py"), "--envoy", envoy_bin, "--wasm", wasm_path, *extra],
                          capture_output=True, text=True, timeout=timeout)


def envoy_pid(output: str) -> int:
    return int(re.search(r"\(pid (\d+)\)", output).group(1))


def assert_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # exited but not yet reaped (a zombie whose parent died) is gone too
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)
    pytest.fail(f"Envoy (pid {pid}) is still running after the demo ended")


def parse_table(output: str) -> dict[str, dict]:
    rows = {}
    for line in output.splitlines():
        m = ROW.match(line)
        if m and m["route"] not in ("ROUTE", "TOTAL"):
            rows[m["route"]] = m.groupdict()
    return rows


@pytest.fixture(scope="module")
def result(envoy_bin, wasm_path):
    started = time.monotonic()
    proc = run_demo(envoy_bin, wasm_path)
    return proc, time.monotonic() - started


def test_demo_succeeds_quickly(result):
    proc, seconds = result
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seconds < 30, f"the demo took {seconds:.1f}s"
    assert "OK: all" in proc.stdout


def test_table_matches_the_traffic_sent(result):
    proc, _ = result
    rows = parse_table(proc.stdout)
    expected = demo.expected_stats()
    assert list(rows) == list(expected), "one row per route, in the order sent, and no other"
    for route, stats in expected.items():
        row = rows[route]
        assert int(row["requests"]) == stats.requests == int(row["expected"]), route
        assert row["success"] == f"{stats.success_pct:.1f}%" == row["exp_success"], route
        assert row["mark"] == "ok"
    total = sum(k.count for k in demo.TRAFFIC)
    assert re.search(rf"^TOTAL\s+{total}\s+{total}\s+ok$", proc.stdout, re.M)
    assert f"sent {total} requests" in proc.stdout


def test_table_shows_failures_and_unmatched_requests(result):
    """Not only what the plan says: the traffic really has 5xx and unmatched requests."""
    rows = parse_table(result[0].stdout)
    assert rows["GET /status/{code}"]["success"] == "60.0%"  # 12 × 500 and 8 × 503 of 50
    assert int(rows["[DEFAULT]"]["requests"]) == 24
    assert int(rows["GET /healthz"]["requests"]) == 40  # 35 plain + 5 with a query string


def test_no_process_left(result):
    proc, _ = result
    assert_gone(envoy_pid(proc.stdout))


def test_compare_reports_a_mismatch():
    expected = demo.expected_stats()
    actual = demo.expected_stats()
    actual["GET /healthz"].add(200)
    actual.setdefault("(unset)", demo.RouteStats()).add(200)
    lines, ok = demo.compare(expected, actual)
    assert not ok
    text = "\n".join(lines)
    assert re.search(r"^GET /healthz\s+41 .* MISMATCH$", text, re.M)
    assert re.search(r"^\(unset\)\s+1 .* MISMATCH$", text, re.M)
    assert demo.compare(expected, demo.expected_stats())[1]


def test_interrupt_stops_everything(envoy_bin, wasm_path):
    """Ctrl-C (SIGINT) while it runs: exit 130, Envoy gone."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools/demo.py"), "--envoy", envoy_bin, "--wasm", wasm_path, "--linger", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output, deadline = "", time.monotonic() + 30
        while "still running" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        assert "still running" in output, output + proc.stderr.read()
        pid = envoy_pid(output)
        os.kill(pid, 0)  # Envoy is up while the demo lingers
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        assert "interrupted" in proc.stderr.read()
        assert_gone(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_killed_demo_takes_envoy_with_it(envoy_bin, wasm_path, tmp_path):
    """Even SIGKILL (no cleanup code runs): Envoy was started with a parent-death signal.
    (Its scratch directory stays behind, so it goes in pytest's tmp_path.)"""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools/demo.py"), "--envoy", envoy_bin, "--wasm", wasm_path, "--linger", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, TMPDIR=str(tmp_path)))
    try:
        output, deadline = "", time.monotonic() + 30
        while "still running" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        pid = envoy_pid(output)
        proc.kill()
        proc.wait(timeout=10)
        assert_gone(pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_missing_envoy_is_a_clear_error(wasm_path, tmp_path):
    proc = run_demo(str(tmp_path / "no-envoy"), wasm_path)
    assert proc.returncode == 2 and "not found" in proc.stderr
