"""`check` and `explain` on auto names: settings validated with field paths, every segment's
rule shown, and history replayed the way one Envoy process would have seen it."""

from __future__ import annotations

import json


def write(tmp_path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_check_validates_auto_with_field_paths(run, tmp_path):
    cases = {
        '{"auto": {"fanout": 1}}': "auto.fanout: expected an integer from 3 to 1000",
        '{"auto": {"max_names": "many"}}': "auto.max_names: expected an integer from 1 to 100000",
        '{"auto": {"max_nmaes": 5}}': "auto.max_nmaes: unknown field",
        '{"auto": []}': "auto: expected an object ({} for the defaults)",
    }
    for document, message in cases.items():
        result = run("check", write(tmp_path, "a.json", document))
        assert result.returncode == 1, document
        assert message in result.stdout + result.stderr, (document, result.stdout, result.stderr)
    result = run("check", write(tmp_path, "ok.json", {"auto": {"max_names": 50}}))
    assert result.returncode == 0, result.stderr
    assert "auto names on (max_names 50, fanout 20, max_depth 8)" in result.stdout
    result = run("check", write(tmp_path, "d.json", {"auto": {}, "default": "[D]"}), "-o", "json")
    report = json.loads(result.stdout)
    assert report["auto"]["max_names"] == 500
    assert [w["kind"] for w in report["warnings"]] == ["auto-default"]


def test_explain_shows_each_segment_and_its_rule(run, tmp_path):
    config = write(tmp_path, "a.json", {"auto": {}, "routes": ["GET /books/{id}"]})
    result = run("explain", config, "GET", "/api/v2/orders/8812/items/550e8400-e29b-41d4-a716-446655440000?x=1")
    assert result.returncode == 0, result.stderr
    assert "auto name 'GET /api/v2/orders/{id}/items/{uuid}'" in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if "→" in line}
    assert "digits only" in lines["8812"] and "a version" in lines["v2"] and "UUID" in lines[
        "550e8400-e29b-41d4-a716-446655440000"]
    # A configured route still wins, and explain says so.
    result = run("explain", config, "GET", "/books/7")
    assert "route 'GET /books/{id}'" in result.stdout and "auto name" not in result.stdout


def test_explain_replays_history_for_fan_out(run, tmp_path):
    config = write(tmp_path, "a.json", {"auto": {}})
    history = write(tmp_path, "h.txt", "# earlier traffic\n" + "".join(f"GET /users/u{c}x/repos\n" for c in "abc"))
    fresh = json.loads(run("explain", config, "GET", "/users/dee/repos", "-o", "json").stdout)
    # A fresh process has seen neither the user nor `repos` recur: both are one-off words.
    assert fresh["auto"]["name"] == "GET /users/{param}/{param}"
    assert fresh["auto"]["history"] is None
    replayed = json.loads(run("explain", config, "GET", "/users/dee/repos", "--history", history, "-o", "json").stdout)
    assert replayed["auto"]["history"] == 3
    assert replayed["auto"]["name"] == "GET /users/{param}/repos"
    assert "fanned out" in replayed["auto"]["segments"][1]["why"]
    bad = run("explain", config, "GET", "/x", "--history", write(tmp_path, "b.txt", "nonsense\n"))
    assert bad.returncode == 2 and "expected 'METHOD /path'" in bad.stderr
