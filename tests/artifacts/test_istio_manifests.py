"""istio/: every manifest against the real CRD schemas (strictly), every pluginConfig through
routegen's own parser, and the wiring between them (the Telemetry reads what the WasmPlugin
writes, targetRefs point at the waypoint, ...). Broken copies must fail the same checks.

The schemas: `make schemas`'s validators generated from the CRDs (npm, always there under make)
and, where ../shared/schemas (ROUTEGEN_SCHEMAS) holds them, the raw CRDs with their CEL rules;
the session says which it used. A check that only the raw CRDs can make (a CEL rule) is skipped,
saying why, when they are absent; with no validator at all, the tests fail."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from routegen_support.tools import validate_manifests as vm
from conftest import ROOT

ISTIO = ROOT / "istio"
FILES = sorted(p for p in ISTIO.rglob("*") if p.suffix in (".yaml", ".yml"))
DOCS = [(path, i, doc) for path in FILES for i, doc in enumerate(vm.load_documents(path))]
FOUR_METRICS = {"REQUEST_COUNT", "REQUEST_DURATION", "REQUEST_SIZE", "RESPONSE_SIZE"}
GATEWAY_REF = {"kind": "Gateway", "group": "gateway.networking.k8s.io"}
RAW, NPM = "raw CRDs", "npm models"


def _id(item) -> str:
    path, i, doc = item
    return f"{path.relative_to(ISTIO)}#{i}:{doc.get('kind')}"


def docs_of(kind: str, directory: Path | None = None) -> list[dict]:
    return [d for p, _, d in DOCS if d.get("kind") == kind and (directory is None or p.parent == directory)]


def directories() -> list[Path]:
    return sorted({p.parent for p, _, _ in DOCS})


def output_attributes(plugin_config: dict) -> set[str]:
    """The attribute names a pluginConfig writes (native or attributegen format)."""
    if "attributes" in plugin_config:
        return {a.get("output_attribute") or a.get("outputAttribute") for a in plugin_config["attributes"]}
    return {plugin_config.get("output_attribute", "istio_operationId")}


def test_there_is_something_to_check():
    kinds = {d["kind"] for _, _, d in DOCS}
    assert {"Namespace", "Gateway", "WasmPlugin", "Telemetry"} <= kinds
    assert {p.name for p in directories()} >= {"podinfo", "generic", "sidecar", "attributegen-dropin"}


@pytest.mark.parametrize("item", DOCS, ids=_id)
def test_manifest_matches_its_crd_schema(item, schema_store):
    path, _, doc = item
    errors = vm.validate_document(schema_store, doc)
    assert not errors, f"{path}:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("item", [d for d in DOCS if d[2]["kind"] == "WasmPlugin"], ids=_id)
def test_plugin_config_accepted_by_routegen(item, routegen_cli):
    path, _, doc = item
    code, out = vm.routegen_check(routegen_cli, doc)
    assert code == 0, f"routegen check rejected {path}'s pluginConfig:\n{out}"
    assert out.startswith("ok:"), out


def validator(schema_store, name: str):
    """One validator of the session's: skipped, saying why, where it is not available."""
    found = schema_store.get(name)
    if found is None:
        pytest.skip(f"{name} not available: {schema_store.unavailable[name]}")
    return found


def test_every_cel_rule_of_the_kinds_used_has_a_translation(schema_store):
    """The validator never meets a CEL rule it cannot check (it would report it, not skip it)."""
    schema_store = validator(schema_store, RAW)
    used = {(d["apiVersion"], d["kind"]) for _, _, d in DOCS}
    missing = []

    def walk(node):
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations", []):
                if vm._normalise_rule(rule["rule"]) not in vm.CEL_RULES:
                    missing.append(rule["rule"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for api_version, kind in used:
        walk(schema_store.lookup(api_version, kind).raw.get("properties", {}).get("spec", {}))
    assert not missing, "CEL rules without a Python translation:\n" + "\n".join(missing)


# ---- the wiring -----------------------------------------------------------------------------------


@pytest.mark.parametrize("directory", [d for d in directories() if docs_of("Gateway", d)], ids=lambda d: d.name)
def test_waypoint_and_namespace_enrolment(directory):
    (gateway,) = docs_of("Gateway", directory)
    assert gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert gateway["spec"]["gatewayClassName"] == "istio-waypoint"
    assert {"name": "mesh", "port": 15008, "protocol": "HBONE"}.items() <= gateway["spec"]["listeners"][0].items()
    (namespace,) = docs_of("Namespace", directory)
    labels = namespace["metadata"]["labels"]
    assert labels["istio.io/dataplane-mode"] == "ambient"
    assert labels["istio.io/use-waypoint"] == gateway["metadata"]["name"]
    assert gateway["metadata"]["namespace"] == namespace["metadata"]["name"]


@pytest.mark.parametrize("item", [d for d in DOCS if d[2]["kind"] in ("WasmPlugin", "Telemetry")], ids=_id)
def test_policies_attach_to_this_directorys_waypoint_or_pods(item):
    path, _, doc = item
    spec = doc["spec"]
    gateways = [g for g in docs_of("Gateway", path.parent)]
    namespaces = {n["metadata"]["name"] for n in docs_of("Namespace", path.parent)}
    if path.parent.name == "attributegen-dropin":
        # Replaces the walkthrough's WasmPlugin, next to istio/podinfo's waypoint.
        gateways = docs_of("Gateway", ISTIO / "podinfo")
        namespaces = {"podinfo"}
    assert doc["metadata"]["namespace"] in namespaces
    if gateways:  # ambient: targetRefs to the waypoint, never a selector (ignored there)
        assert "selector" not in spec
        assert [{**GATEWAY_REF, "name": g["metadata"]["name"]} for g in gateways] == spec["targetRefs"]
    else:  # sidecar: a selector, and both policies select the same pods
        assert "targetRefs" not in spec and spec["selector"]["matchLabels"]
        selectors = {json.dumps(d["spec"]["selector"], sort_keys=True) for d in docs_of("WasmPlugin", path.parent) + docs_of("Telemetry", path.parent)}
        assert len(selectors) == 1


@pytest.mark.parametrize("item", [d for d in DOCS if d[2]["kind"] == "WasmPlugin"], ids=_id)
def test_wasmplugin_settings(item):
    _, _, doc = item
    spec = doc["spec"]
    assert spec["phase"] == "AUTHN", "routegen must run before Istio's stats filter"
    assert spec["url"].startswith("oci://") and re.fullmatch(r"oci://[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+:[\w][\w.-]{0,127}", spec["url"])
    assert re.fullmatch(r"|[a-f0-9]{64}", spec["sha256"]), "sha256: '' (placeholder) or a manifest digest"
    assert spec["failStrategy"] == "FAIL_OPEN"


@pytest.mark.parametrize("directory", [d for d in directories() if docs_of("Telemetry", d)], ids=lambda d: d.name)
def test_telemetry_reads_what_the_wasmplugin_writes(directory):
    (telemetry,) = docs_of("Telemetry", directory)
    (plugin,) = docs_of("WasmPlugin", directory)
    (attribute,) = output_attributes(plugin["spec"]["pluginConfig"])
    wanted = f"filter_state['wasm.{attribute}']"
    (metrics,) = telemetry["spec"]["metrics"]
    assert metrics["providers"] == [{"name": "prometheus"}]
    seen = set()
    for override in metrics["overrides"]:
        seen.add(override["match"]["metric"])
        value = override["tagOverrides"]["route_name"]["value"]
        assert value == wanted, f"route_name must be {wanted!r} (a bare {attribute!r} yields 'unknown' since Istio 1.24)"
    assert seen == FOUR_METRICS


def test_sidecar_variant_runs_on_inbound_traffic_only():
    (plugin,) = docs_of("WasmPlugin", ISTIO / "sidecar")
    (telemetry,) = docs_of("Telemetry", ISTIO / "sidecar")
    assert plugin["spec"]["match"] == [{"mode": "SERVER"}]
    assert {o["match"]["mode"] for o in telemetry["spec"]["metrics"][0]["overrides"]} == {"SERVER"}
    (namespace,) = docs_of("Namespace", ISTIO / "sidecar")
    assert namespace["metadata"]["labels"] == {"istio-injection": "enabled"}


def test_podinfo_route_table_is_the_one_the_demo_runs():
    """istio/podinfo and istio/sidecar name podinfo's routes exactly as examples/envoy (and so
    `make demo`) does."""
    local = json.loads((ROOT / "examples/envoy/routegen.json").read_text())
    (ambient,) = docs_of("WasmPlugin", ISTIO / "podinfo")
    (sidecar,) = docs_of("WasmPlugin", ISTIO / "sidecar")
    (service,) = ambient["spec"]["pluginConfig"]["services"]
    assert service["routes"] == local["routes"]
    assert "podinfo.podinfo.svc.cluster.local" in service["hosts"]
    assert sidecar["spec"]["pluginConfig"]["routes"] == local["routes"]
    for config in (ambient["spec"]["pluginConfig"], sidecar["spec"]["pluginConfig"]):
        assert config["default"] == local["default"]


def test_attributegen_dropin_keeps_the_walkthrough_config():
    (plugin,) = docs_of("WasmPlugin", ISTIO / "attributegen-dropin")
    assert plugin["metadata"] == {"name": "podinfo-wasmplugin", "namespace": "podinfo"}
    assert plugin["spec"]["pluginConfig"] == {
        "attributes": [{
            "output_attribute": "istio_operationId",
            "match": [
                {"value": "GET /healthz", "condition": "request.method == 'GET' && request.url_path == '/healthz'"},
                {"value": "POST /echo", "condition": "request.method == 'POST' && request.url_path == '/echo'"},
            ],
        }]
    }


# ---- broken manifests must fail -----------------------------------------------------------------


def _doc(directory: str, kind: str) -> dict:
    (doc,) = docs_of(kind, ISTIO / directory)
    return copy.deepcopy(doc)


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# case → (kind, breaker, error message, the validators that must catch it): the npm validators
# have no CEL rules nor list types; ObjectMeta and scope are checked the same way by both.
BOTH, CEL = (RAW, NPM), (RAW,)
BROKEN = {
    "misspelt spec field": ("WasmPlugin", lambda d: _rename(d["spec"], "phase", "phaze"), "'phaze' was unexpected", BOTH),
    "wrong phase enum": ("WasmPlugin", lambda d: d["spec"].update(phase="AUTHENTICATION"), "'AUTHENTICATION' is not one of", BOTH),
    "sha256 not hex": ("WasmPlugin", lambda d: d["spec"].update(sha256="REPLACE_ME"), "spec.sha256", BOTH),
    "url scheme": ("WasmPlugin", lambda d: d["spec"].update(url="ftp://example.com/routegen.wasm"), "url must have schema", CEL),
    "selector and targetRefs": ("WasmPlugin", lambda d: d["spec"].update(selector={"matchLabels": {"app": "podinfo"}}), "only one of targetRefs or selector", CEL),
    "cross-namespace targetRef": ("WasmPlugin", lambda d: d["spec"]["targetRefs"][0].update(namespace="istio-system"), "cross namespace", CEL),
    "priority out of int32": ("WasmPlugin", lambda d: d["spec"].update(priority=2**31), "greater than the maximum", BOTH),
    "unknown targetRef field": ("WasmPlugin", lambda d: d["spec"]["targetRefs"][0].update(sectionName="mesh"), "'sectionName' was unexpected", BOTH),
    "unserved apiVersion": ("WasmPlugin", lambda d: d.update(apiVersion="extensions.istio.io/v1"), "not a served version", BOTH),
    "misspelt metadata": ("WasmPlugin", lambda d: _rename(d["metadata"], "namespace", "namepsace"), "'namepsace' was unexpected", BOTH),
    "misspelt tagOverride field": ("Telemetry", lambda d: _rename(d["spec"]["metrics"][0]["overrides"][0]["tagOverrides"]["route_name"], "value", "valeu"), "'valeu' was unexpected", BOTH),
    "wrong metric enum": ("Telemetry", lambda d: d["spec"]["metrics"][0]["overrides"][0]["match"].update(metric="REQUEST_COUNTS"), "'REQUEST_COUNTS' is not one of", BOTH),
    "REMOVE with a value": ("Telemetry", lambda d: d["spec"]["metrics"][0]["overrides"][0]["tagOverrides"]["route_name"].update(operation="REMOVE"), "value must not be set when operation is REMOVE", CEL),
    "listener port as string": ("Gateway", lambda d: d["spec"]["listeners"][0].update(port="15008"), "'15008' is not of type 'integer'", BOTH),
    "listener port out of range": ("Gateway", lambda d: d["spec"]["listeners"][0].update(port=150080), "150080 is greater than the maximum of 65535", BOTH),
    "duplicate listener": ("Gateway", lambda d: d["spec"]["listeners"].append(copy.deepcopy(d["spec"]["listeners"][0])), "Listener name must be unique", CEL),
    "missing gatewayClassName": ("Gateway", lambda d: d["spec"].pop("gatewayClassName"), "'gatewayClassName' is a required property", BOTH),
    "bad label value": ("Namespace", lambda d: d["metadata"]["labels"].update({"istio.io/use-waypoint": "podinfo waypoint"}), "does not match", BOTH),
    "namespaced Namespace": ("Namespace", lambda d: d["metadata"].update(namespace="default"), "cluster-scoped", BOTH),
}


@pytest.mark.parametrize("name,case", [(v, c) for c in sorted(BROKEN) for v in BROKEN[c][3]], ids=lambda x: x.split()[0] if x in (RAW, NPM) else x)
def test_broken_manifest_fails_the_validator(name, case, schema_store):
    """Each validator alone rejects what it can check."""
    store = validator(schema_store, name)
    kind, breaker, message, _ = BROKEN[case]
    doc = _doc("podinfo", kind)
    assert vm.validate_document(store, doc) == []
    breaker(doc)
    errors = vm.validate_document(store, doc)
    assert any(message in e for e in errors), f"{case}: expected an error containing {message!r}, got {errors}"


def _objects(value, path=()):
    if isinstance(value, dict):
        yield path
        for k, v in value.items():
            yield from _objects(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _objects(v, path + (i,))


def test_npm_validator_finds_the_unknown_fields_the_raw_crds_do(schema_store):
    """tools/schemas/validate.mjs tells a field unknown from what the generated validator reads: an
    unknown field added at every object of every manifest is an error for both validators, or for
    neither (pluginConfig preserves unknown fields)."""
    raw, npm = validator(schema_store, RAW), validator(schema_store, NPM)
    checked = disagree = 0
    for path, _, doc in DOCS:
        for where in _objects(doc):
            broken = copy.deepcopy(doc)
            target = broken
            for p in where:
                target = target[p]
            target["zzUnknown"] = 1
            found = [any("'zzUnknown' was unexpected" in e for e in v.errors(broken)) for v in (raw, npm)]
            checked += 1
            if found[0] != found[1]:
                disagree += 1
                print(f"{path.relative_to(ISTIO)} {list(where)}: raw CRDs {found[0]}, npm {found[1]}")
    assert checked > 100 and disagree == 0


def test_broken_plugin_config_fails_routegen_check(routegen_cli):
    doc = _doc("podinfo", "WasmPlugin")
    doc["spec"]["pluginConfig"]["services"][0]["routes"][1] = "GET version"
    code, out = vm.routegen_check(routegen_cli, doc)
    assert code == 1 and "services[0].routes[1]" in out, out
    doc = _doc("podinfo", "WasmPlugin")
    _rename(doc["spec"]["pluginConfig"], "default", "defualt")
    code, out = vm.routegen_check(routegen_cli, doc)
    assert code == 1 and "defualt: unknown field" in out, out


def test_validator_command_line(tmp_path, routegen_cli):
    """`tools/validate_manifests.py` (what `make istio-check` runs): 0 on istio/, 1 with the
    error on a broken copy."""
    cmd = [sys.executable, str(ROOT / "tools/validate_manifests.py"), "--routegen", routegen_cli]
    ok = subprocess.run(cmd + [str(ISTIO)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("ok: ") == len(DOCS)
    broken = tmp_path / "20-wasmplugin.yaml"
    text = (ISTIO / "podinfo/20-wasmplugin.yaml").read_text()
    broken.write_text(text.replace("phase: AUTHN", "phase: AUTHENTICATION").replace("- GET /version", "- GET version"))
    bad = subprocess.run(cmd + [str(broken)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "spec.phase: 'AUTHENTICATION' is not one of" in bad.stdout, bad.stdout
    broken.write_text(text.replace("- GET /version", "- GET version"))
    bad = subprocess.run(cmd + [str(broken)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "routegen check: error: services[0].routes[1]" in bad.stdout, bad.stdout
