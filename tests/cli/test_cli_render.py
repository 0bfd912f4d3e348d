"""`routegen render`: Istio manifests valid against the real CRD schemas (unknown fields are
errors) and equal to what istio/ ships; the Envoy snippet accepted by a real `envoy --mode validate`.

The schemas are tools/validate_manifests.py's: `make schemas`'s validators generated from the CRDs
(npm) and, where ../shared/schemas (ROUTEGEN_SCHEMAS) holds them, the raw CRDs too; the session
says which it used, and the tests fail if there is none."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from conftest import FIXTURES, ROOT
from routegen_support.tools import schema_validators, validate_manifests as vm

IMAGE = "ghcr.io/your-org/routegen:0.1.0"
DIGEST = "ab" * 32



@pytest.fixture(scope="module")
def schemas(request):
    yield from schema_validators(request.config, "tests/cli")


def validate(schemas, doc):
    errors = vm.validate_document(schemas, doc)
    assert not errors, f"{doc['kind']} {doc['metadata'].get('name')}:\n  " + "\n  ".join(errors)
    assert set(doc["metadata"]) <= {"name", "namespace", "labels"}


def shipped_plugin(path):
    """A shipped WasmPlugin, without its `sha256: ""` placeholder (render omits an unknown digest)."""
    plugin = yaml.safe_load(path.read_text())
    if plugin["spec"].get("sha256") == "":
        del plugin["spec"]["sha256"]
    return plugin


def render(run, *args):
    proc = run("render", *args)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_waypoint_manifests_validate_and_match_istio_generic(run, schemas, tmp_path):
    shipped = ROOT / "istio/generic"
    if not (shipped / "20-wasmplugin.yaml").exists():
        pytest.skip("istio/generic not present yet")
    config = tmp_path / "routes.yaml"
    plugin = shipped_plugin(shipped / "20-wasmplugin.yaml")
    config.write_text(yaml.safe_dump(plugin["spec"]["pluginConfig"]))
    docs = render(run, "istio", config, "--namespace", "my-app", "--waypoint", "waypoint", "--gateway", "--image", IMAGE)
    assert [d["kind"] for d in docs] == ["Gateway", "WasmPlugin", "Telemetry"]
    for doc in docs:
        validate(schemas, doc)
    expected = {"Gateway": yaml.safe_load((shipped / "10-waypoint.yaml").read_text()), "WasmPlugin": plugin,
                "Telemetry": yaml.safe_load((shipped / "30-telemetry.yaml").read_text())}
    for doc in docs:
        assert doc == expected[doc["kind"]], doc["kind"]


def test_sidecar_manifests_validate_and_match_istio_sidecar(run, schemas, tmp_path):
    shipped = ROOT / "istio/sidecar"
    if not (shipped / "20-wasmplugin.yaml").exists():
        pytest.skip("istio/sidecar not present yet")
    plugin = shipped_plugin(shipped / "20-wasmplugin.yaml")
    docs = render(run, "istio", shipped / "20-wasmplugin.yaml", "--namespace", "podinfo",
                  "--sidecar", "app.kubernetes.io/name=podinfo", "--image", IMAGE)
    for doc in docs:
        validate(schemas, doc)
    assert docs[0] == plugin
    assert docs[1] == yaml.safe_load((shipped / "30-telemetry.yaml").read_text())


def test_digest_custom_attribute_and_json(run, schemas, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"output_attribute": "op", "routes": ["GET /a"]}))
    proc = run("render", "istio", config, "--name", "books-routes", "--namespace", "books", "--waypoint", "wp",
               "--image", "oci://r.example/x:1", "--sha256", f"sha256:{DIGEST}", "-o", "json")
    items = json.loads(proc.stdout)["items"]
    for doc in items:
        validate(schemas, doc)
    assert items[0]["spec"]["sha256"] == DIGEST and items[0]["spec"]["url"] == "oci://r.example/x:1"
    assert items[1]["metadata"]["name"] == "books-routes-route-name"
    assert {o["tagOverrides"]["route_name"]["value"] for o in items[1]["spec"]["metrics"][0]["overrides"]} == {"filter_state['wasm.op']"}
    assert {o["match"]["metric"] for o in items[1]["spec"]["metrics"][0]["overrides"]} == {"REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE"}
    bad = run("render", "istio", config, "--namespace", "b", "--waypoint", "w", "--image", "x", "--sha256", "123")
    assert bad.returncode == 2 and "64 hex digits" in bad.stderr
    usage = run("render", "istio", config, "--namespace", "b", "--image", "x")
    assert usage.returncode == 2
    invalid = run("render", "istio", FIXTURES / "native-invalid.json", "--namespace", "b", "--waypoint", "w", "--image", "x")
    assert invalid.returncode == 1 and "routes[1].path" in invalid.stderr


def test_a_broken_render_fails_the_validators(run, schemas, tmp_path):
    """The same validation refuses a wrong enum and an unknown field (so the tests above can fail)."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"routes": ["GET /a"]}))
    plugin, telemetry = render(run, "istio", config, "--namespace", "b", "--waypoint", "w", "--image", IMAGE)
    plugin["spec"]["phase"] = "AUTHENTICATION"
    assert any("spec.phase: 'AUTHENTICATION' is not one of" in e for e in vm.validate_document(schemas, plugin))
    telemetry["spec"]["metrics"][0]["overrides"][0]["tagOverrides"]["route_name"]["valeu"] = "x"
    assert any("'valeu' was unexpected" in e for e in vm.validate_document(schemas, telemetry))


def test_envoy_snippet_in_a_real_envoy_validate(run, envoy_bin, wasm_path, tmp_path):
    config = tmp_path / "routes.json"
    config.write_text(json.dumps({"default": "[DEFAULT]", "metrics": {"enabled": True}, "routes": ["GET /books/{id}", "POST /books"]}))
    proc = run("render", "envoy", config, "--wasm", wasm_path)
    assert proc.returncode == 0, proc.stderr
    snippet = yaml.safe_load(proc.stdout)
    assert set(snippet) == {"http_filters", "stats_config"}
    assert json.loads(snippet["http_filters"][0]["typed_config"]["config"]["configuration"]["value"]) == json.loads(config.read_text())
    assert json.loads(run("render", "envoy", config, "-o", "json").stdout)["stats_config"] == snippet["stats_config"]
    bootstrap = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "stats_config": snippet["stats_config"],
        "static_resources": {"listeners": [{
            "name": "main", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "ingress",
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                    {"match": {"prefix": "/"}, "direct_response": {"status": 200}}]}]},
                "http_filters": snippet["http_filters"] + [{"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            }}]}]}]},
    }
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(bootstrap))
    result = subprocess.run([str(envoy_bin), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "OK" in result.stdout + result.stderr, result.stdout + result.stderr
    # And a broken snippet is refused by the same check (the test can fail).
    snippet["http_filters"][0]["typed_config"]["config"]["vm_config"]["runtime"] = "envoy.wasm.runtime.nope"
    bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0] = snippet["http_filters"][0]
    path.write_text(yaml.safe_dump(bootstrap))
    result = subprocess.run([str(envoy_bin), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
