"""The CLI says what the filter does: the findings of issue 15, one test each.

Each of these disagreed with the filter before the fix (the filter's side is proved against a
real Envoy in tests/differential). Here: what `check` and `explain` say, and their exit codes.
"""

from __future__ import annotations

import json


def write(tmp_path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def attributegen(condition: str, phase: str | None = None) -> dict:
    attribute = {"output_attribute": "istio_operationId", "match": [{"value": "v", "condition": condition}]}
    if phase:
        attribute["phase"] = phase
    return {"attributes": [attribute]}


def test_check_rejects_a_condition_no_cel_parses(run, tmp_path):
    # 1. Envoy's CEL rejects it too, so the filter refuses the plugin: check must not say ok.
    for condition in ['request.url_path == ', 'request.url_path == "/a', '(request.method == "GET"']:
        result = run("check", write(tmp_path, "c.json", attributegen(condition)))
        assert result.returncode == 1, (condition, result.stdout, result.stderr)
        assert "attributes[0].match[0].condition: invalid CEL" in result.stdout + result.stderr
    # Valid CEL outside the subset is still Envoy's to decide: a warning, not an error.
    result = run("check", write(tmp_path, "c.json", attributegen('request.url_path.startsWith("/a") ? true : false')))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "needs Envoy's CEL" in result.stdout + result.stderr


def test_explain_joins_repeated_headers_as_envoy_does(run, tmp_path):
    # 2. Envoy hands the filter `x-a: 1` and `x-a: 2` as "1,2".
    config = write(tmp_path, "h.json", {"routes": [{"name": "joined", "path": "/h", "headers": {"x-a": "1,2"}}]})
    result = run("explain", config, "GET", "/h", "-H", "x-a=1", "-H", "x-a=2")
    assert result.returncode == 0, result.stderr
    assert "route 'joined'" in result.stdout, result.stdout
    single = run("explain", config, "GET", "/h", "-H", "x-a=2")
    assert "header x-a must be '1,2', is '2'" in single.stdout, single.stdout


def test_explain_past_max_path_bytes_gives_the_default(run, tmp_path):
    # 3. The filter does not examine such a path; explain used to crash on the disagreement.
    config = write(tmp_path, "l.json", {"routes": ["GET /aaaaaaaa/{id}"], "default": "[DEFAULT]", "limits": {"max_path_bytes": 10}})
    result = run("explain", config, "GET", "/aaaaaaaa/1")
    assert result.returncode == 0, result.stderr
    assert "longer than limits.max_path_bytes (10)" in result.stdout
    assert "the default '[DEFAULT]'" in result.stdout
    short = run("explain", config, "GET", "/aaaaaaaa")
    assert short.returncode == 0 and "the default" in short.stdout


def test_a_document_mixing_both_formats_is_an_error(run, tmp_path):
    # 4. attributegen ignores unknown fields, so native `routes` were dropped without a word.
    result = run("check", write(tmp_path, "m.json", {"attributes": [], "routes": ["GET /a"]}))
    assert result.returncode == 1
    assert "routes: a native routegen field in an attributegen configuration" in result.stdout + result.stderr


def test_exit_codes_content_one_unreadable_two(run, tmp_path):
    # 5. Text that is not a configuration is invalid (1); a file that cannot be read is 2.
    assert run("check", write(tmp_path, "bad.json", '{"routes": [}')).returncode == 1
    assert run("check", write(tmp_path, "bad.yaml", "routes: [unclosed")).returncode == 1
    duplicate = run("check", write(tmp_path, "dup.json", '{"routes": ["GET /a"], "routes": ["GET /b"]}'))
    assert duplicate.returncode == 1 and "duplicate key 'routes'" in duplicate.stderr, duplicate.stderr
    assert run("check", str(tmp_path / "missing.json")).returncode == 2
    assert run("explain", write(tmp_path, "bad.json", '{"routes": [}'), "GET", "/").returncode == 1


def test_explain_status_on_a_request_attribute(run, tmp_path):
    # 7. With --status given, "pass --status" is wrong advice for an ON_REQUEST attribute.
    config = write(tmp_path, "s.json", attributegen("response.code == 503", phase="ON_REQUEST"))
    result = run("explain", config, "GET", "/x", "--status", "503")
    assert result.returncode == 0, result.stderr
    assert "pass --status" not in result.stdout
    assert "not available ON_REQUEST" in result.stdout, result.stdout
