"""`routegen top`: one snapshot (--once) from a real Envoy's access log and from its admin
endpoint, with per-route counts equal to the log's; and the live view in a real terminal
(tmux): it redraws as the log grows, and Ctrl-C leaves it with the terminal restored."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from routegen_support.harness import Envoy, assert_vm_healthy
from routegen_support.paths import ROOT
from routegen_support.tables import table_rows as rows
from routegen_support.http import keepalive_requests
from routegen_support.waiting import wait_for

CONFIG = {"default": "[DEFAULT]", "metrics": {"enabled": True},
          "routes": ["GET /books/{id}", "POST /books", "GET /status/{code}"]}
TRAFFIC = ([("GET", f"/books/{i}") for i in range(40)] + [("POST", "/books")] * 15
           + [("GET", "/status/503")] * 6 + [("GET", "/status/200")] * 9 + [("GET", "/elsewhere")] * 7)


class TaggedEnvoy(Envoy):
    """The test Envoy with examples/envoy/stats-config.yaml, so metrics carry route labels."""

    def render(self) -> dict:
        return {**super().render(), **yaml.safe_load((ROOT / "examples/envoy/stats-config.yaml").read_text())}


@pytest.fixture(scope="module")
def envoy(tmp_path_factory, envoy_bin, wasm_path):
    workdir = tmp_path_factory.mktemp("top-envoy")
    fields = {"route": "%FILTER_STATE(wasm.istio_operationId:PLAIN)%", "duration": "%DURATION%"}
    with TaggedEnvoy(str(envoy_bin), str(wasm_path), workdir, CONFIG, log_fields=fields) as envoy:
        assert len(keepalive_requests(envoy.port, TRAFFIC)) == len(TRAFFIC)
        envoy.wait_log_lines(len(TRAFFIC))
        yield envoy
        assert_vm_healthy(envoy)


def log_counts(envoy) -> collections.Counter:
    return collections.Counter(json.loads(line)["route"] for line in envoy.wait_log_lines(len(TRAFFIC)))


def test_once_on_a_log_counts_what_the_log_says(run, envoy, tmp_path):
    counts = log_counts(envoy)
    assert counts["GET /books/{id}"] == 40 and counts["[DEFAULT]"] == 7
    result = run("top", "--follow", envoy.access_log, "--once")
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert {route: int(cells[0]) for route, cells in table.items()} == dict(counts)
    assert table["GET /status/{code}"][2] == "60.00%", "6 of 15 were 503s"
    # Named by the CLI from the same configuration: the filter's names exactly.
    config = tmp_path / "routes.json"
    config.write_text(json.dumps(CONFIG))
    named = rows(run("top", "--follow", envoy.access_log, "--once", "--config", config).stdout)
    assert {route: int(cells[0]) for route, cells in named.items()} == dict(counts)
    # Sorted busiest first.
    assert list(table)[0] == "GET /books/{id}"


def test_once_from_envoy_admin_matches_the_log(run, envoy):
    counts = log_counts(envoy)
    url = f"http://127.0.0.1:{envoy.admin_port}"

    def snapshot():
        result = run("top", "--envoy-admin", url, "--once", "--interval", "0.2")
        assert result.returncode == 0, result.stderr
        return {route: int(cells[0]) for route, cells in rows(result.stdout).items()}

    # Metrics may reach the admin endpoint a moment after the log line: bounded wait.
    wait_for(lambda: snapshot() == dict(counts), timeout=15, state=lambda: f"{snapshot()} != {dict(counts)}")
    table = rows(run("top", "--envoy-admin", url, "--once", "--interval", "0.2").stdout)
    assert table["GET /status/{code}"][2] == "60.00%"

    # Envoy merges histograms at its stats flush (every 5 s): then the percentiles show.
    def p50():
        return rows(run("top", "--envoy-admin", url, "--once", "--interval", "0.2").stdout)["GET /books/{id}"][3]

    assert re.fullmatch(r"\d+(\.\d)?ms", wait_for(lambda: p50() != "-" and p50(), timeout=15, state=p50))


class Tmux:
    """A private tmux server (own socket) with one 120x40 pane."""

    def __init__(self, workdir):
        self.socket = f"routegen-test-{os.getpid()}"
        self.env = {**os.environ, "TERM": "xterm-256color"}
        self.env.pop("TMUX", None)
        self.tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "40", "-c", str(workdir), "bash --norc --noprofile")

    def tmux(self, *args) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "top", text, "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "top")

    def flag(self, name: str) -> str:
        return self.tmux("display-message", "-p", "-t", "top", f"#{{{name}}}").strip()

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=10)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make cli-test installs it)")
def test_live_view_refreshes_and_ctrl_c_restores_the_terminal(routegen, tmp_path):
    log = tmp_path / "live.log"
    log.write_text("")
    term = Tmux(tmp_path)
    try:
        term.type("echo BEFORE")
        wait_for(lambda: "BEFORE" in term.screen(), timeout=10)
        term.type(f"{routegen} top --follow {log} --interval 0.2; echo EXIT=$?")
        wait_for(lambda: "ROUTE" in term.screen(), timeout=10, state=lambda: term.screen())
        assert term.flag("alternate_on") == "1" and term.flag("cursor_flag") == "0"

        def reqs(route: str):
            table = rows(term.screen())
            return int(table[route][0]) if route in table else None

        with log.open("a") as f:
            f.write("GET /a 200 1\n" * 5)
        wait_for(lambda: reqs("GET /a") == 5, timeout=10, state=lambda: term.screen())
        with log.open("a") as f:
            f.write("GET /a 503 2\n" * 3 + "POST /b 201 4\n")
        wait_for(lambda: reqs("GET /a") == 8 and reqs("POST /b") == 1, timeout=10, state=lambda: term.screen())
        assert rows(term.screen())["GET /a"][2] == "62.50%"
        term.tmux("send-keys", "-t", "top", "C-c")
        wait_for(lambda: "EXIT=0" in term.screen(), timeout=10, state=lambda: term.screen())
        screen = term.screen()
        assert term.flag("alternate_on") == "0" and term.flag("cursor_flag") == "1"
        # The shell's screen is back as it was: the earlier output, no table left on it.
        assert "BEFORE" in screen and "ROUTE" not in screen
    finally:
        term.close()
