"""A bad native configuration: on_configure returns false and logs
`routegen: configuration rejected: <field path>: <reason>` at error level. Envoy (1.36 and 1.40,
the plugin failing closed by default) then refuses the whole bootstrap: it logs
"Unable to create Wasm plugin routegen" and exits with a non-zero code, never serving."""

import pytest

CASES = [
    ("unclosed-brace",
     '{"routes": ["GET /a", {"name": "x", "path": "/books/{id"}]}',
     "routes[1].path: unclosed '{' (at byte 7)"),
    ("unknown-route-field",
     '{"routes": [{"name": "x", "path_regx": "/a"}]}',
     "routes[0].path_regx: unknown field"),
    ("unknown-top-field",
     '{"rutes": ["GET /a"]}',
     "rutes: unknown field"),
    ("bad-path-regex",
     '{"routes": [{"name": "x", "path_regex": "/a/(["}]}',
     "routes[0].path_regex: invalid regex"),
    ("bad-header-regex-in-service",
     '{"services": [{"hosts": ["a"], "routes": [{"name": "x", "headers": [{"name": "x-v", "regex": "(("}]}]}]}',
     "services[0].routes[0].headers[0].regex: invalid regex"),
    ("shorthand-without-slash",
     '{"routes": ["GET books"]}',
     "routes[0]: 'GET books': expected"),
    ("lower-case-method",
     '{"routes": [{"name": "x", "method": "get", "path": "/a"}]}',
     "routes[0].method: 'get' is not a method"),
    ("invalid-json",
     '{"routes": [}',
     "invalid JSON at line 1"),
]


@pytest.mark.parametrize("config,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected(refused, config, message):
    code, log = refused(config)
    assert code != 0, "Envoy must not run with a rejected plugin configuration"
    rejected = [line for line in log.splitlines() if "routegen: configuration rejected:" in line]
    assert rejected, log[-3000:]
    assert message in rejected[0], rejected[0]
    assert "[error]" in rejected[0]
    assert "Unable to create Wasm plugin routegen" in log
    assert "routegen: configuration loaded" not in log
