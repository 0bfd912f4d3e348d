"""`routegen render`: Istio manifests valid against the real CRD schemas (unknown fields are
errors) and equal to what istio/ ships; the Envoy snippet accepted by a real `envoy --mode validate`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import FIXTURES, ROOT

SCHEMAS = Path(os.environ.get("ROUTEGEN_SCHEMAS") or ROOT.parent / "shared" / "schemas")
IMAGE = "ghcr.io/your-org/routegen:0.1.0"
DIGEST = "ab" * 32


def strict(node, structural=True):
    """A Kubernetes structural schema → JSON Schema where unknown fields are errors."""
    if isinstance(node, list):
        return [strict(n, structural) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: strict(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = strict(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict(v, False) for v in value]
        elif key == "not":
            out[key] = strict(value, False)
        elif key.startswith("x-kubernetes-validations") or key in ("description", "default"):
            continue
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable"):
        out.pop("nullable")
        if "type" in out:
            out["type"] = [out["type"], "null"]
    if structural and "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def schemas():
    if not SCHEMAS.exists():
        pytest.skip(f"no CRD schemas at {SCHEMAS}")
    found = {}
    for name in ("istio-crds.yaml", "gateway-api-gateways.yaml"):
        for crd in yaml.safe_load_all((SCHEMAS / name).read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served") and "schema" in version:
                    found[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return found


def validate(schemas, doc):
    schema = schemas[(doc["apiVersion"], doc["kind"])]
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    jsonschema.validate(body, {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k not in ("apiVersion", "kind", "metadata")}})
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
