#!/usr/bin/env python3
"""Strict validation of Kubernetes manifests against the real CRD schemas, as an API server would.

    tools/validate_manifests.py [--schemas DIR] [--routegen BIN] PATH...

PATH: YAML files or directories (searched for *.yaml / *.yml). Each document is checked against
the `openAPIV3Schema` of the CRD version its apiVersion/kind names (served versions only), from the
CRD files in DIR (default: ../shared/schemas beside the repository, or $ROUTEGEN_SCHEMAS), with:

- unknown fields as errors, like `kubectl apply --validate=strict`: every object schema that lists
  `properties` and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields`
  gets `additionalProperties: false` (pluginConfig, which preserves unknown fields, stays open);
- `x-kubernetes-int-or-string`, `nullable`, `format: int32/int64`, list-type map/set uniqueness;
- the CRDs' CEL rules (`x-kubernetes-validations`) through Python translations of each rule text
  (a rule without one is reported, never skipped silently);
- metadata as ObjectMeta: name/namespace/labels/annotations syntax, no unknown fields.

Core kinds that have no CRD (Namespace) use a small built-in schema of ObjectMeta.
With --routegen, every WasmPlugin's spec.pluginConfig is also checked by `routegen check`.
Exit status 0 if everything is valid, 1 otherwise. Needs PyYAML and jsonschema.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMAS = Path(os.environ.get("ROUTEGEN_SCHEMAS", ROOT.parent / "shared" / "schemas"))

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A qualified name: optional DNS-subdomain prefix and '/', then a name of up to 63 characters.
QUALIFIED_NAME = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": DNS_LABEL},
        "labels": {
            "type": "object",
            "propertyNames": {"pattern": QUALIFIED_NAME, "maxLength": 316},
            "additionalProperties": {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE},
        },
        "annotations": {
            "type": "object",
            "propertyNames": {"pattern": QUALIFIED_NAME, "maxLength": 316},
            "additionalProperties": {"type": "string"},
        },
    },
    "additionalProperties": False,
}

# Kinds of the core API group used by the manifests: only what they may contain.
BUILTIN = {
    ("", "v1", "Namespace"): {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}},
            },
        },
    },
}
CLUSTER_SCOPED = {"Namespace"}


# ---- CEL rules ---------------------------------------------------------------------------------


def _is_url(text: str) -> bool:
    """CEL's isURL: an absolute URI, or an absolute path."""
    if text.startswith("/"):
        return True
    parsed = urlparse(text)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parsed.scheme or "")) and not any(c.isspace() for c in text)


def _url_rule(url: str) -> bool:
    ok = {"", "http", "https", "oci", "file"}
    if _is_url(url):
        return urlparse(url).scheme in ok
    return _is_url("http://" + url) and urlparse("http://" + url).scheme in ok


_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _go_duration(text: str) -> float | None:
    """CEL's duration(): Go syntax ("1h30m", "10s", "1.5ms") → seconds; None if malformed."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _count(spec: dict, *keys: str) -> int:
    return sum(1 for k in keys if k in spec)


def _listener_hostname_key(listener: dict):
    return listener.get("hostname") if "hostname" in listener else None


HOSTNAME_RE = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

# Rule text (whitespace-normalised) → Python predicate on `self`.
CEL_RULES = {
    # Istio (WasmPlugin, Telemetry)
    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1":
        lambda s: _count(s, "selector", "targetRef", "targetRefs") <= 1,
    'self.all(key, !key.contains("*"))': lambda s: all("*" not in k for k in s),
    "self.all(key, key.size() != 0)": lambda s: all(len(k) for k in s),
    '!self.contains("*")': lambda s: "*" not in s,
    "self.size() == 0": lambda s: len(s) == 0,
    'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])':
        _url_rule,
    '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)':
        lambda s: s.get("valueFrom", "") != "HOST" or "value" not in s,
    '((has(self.operation) ? self.operation : "") == "UPSERT") ? (self.value != "") : true':
        lambda s: s.get("operation", "") != "UPSERT" or s.get("value", "") != "",
    '((has(self.operation) ? self.operation : "") == "REMOVE") ? !has(self.value) : true':
        lambda s: s.get("operation", "") != "REMOVE" or "value" not in s,
    "duration(self) >= duration('1ms')": lambda s: (_go_duration(s) or 0) >= 0.001,
    # Gateway API (Gateway)
    "self.all(a1, a1.type == 'IPAddress' ? self.exists_one(a2, a2.type == a1.type && a2.value == a1.value) : true )":
        lambda s: all(a1.get("type") != "IPAddress" or sum(1 for a2 in s if a2.get("type") == a1.get("type") and a2.get("value") == a1.get("value")) == 1 for a1 in s),
    "self.all(a1, a1.type == 'Hostname' ? self.exists_one(a2, a2.type == a1.type && a2.value == a1.value) : true )":
        lambda s: all(a1.get("type") != "Hostname" or sum(1 for a2 in s if a2.get("type") == a1.get("type") and a2.get("value") == a1.get("value")) == 1 for a1 in s),
    'self.type == \'Hostname\' ? self.value.matches(r"""' + HOSTNAME_RE + '"""): true':
        lambda s: s.get("type") != "Hostname" or bool(re.search(HOSTNAME_RE, s.get("value", ""))),
    "self.all(l, l.protocol in ['HTTP', 'TCP', 'UDP'] ? !has(l.tls) : true)":
        lambda s: all(l.get("protocol") not in ("HTTP", "TCP", "UDP") or "tls" not in l for l in s),
    "self.all(l, (l.protocol == 'HTTPS' && has(l.tls)) ? (l.tls.mode == '' || l.tls.mode == 'Terminate') : true)":
        lambda s: all(not (l.get("protocol") == "HTTPS" and "tls" in l) or l["tls"].get("mode", "") in ("", "Terminate") for l in s),
    "self.all(l, l.protocol in ['TCP', 'UDP'] ? (!has(l.hostname) || l.hostname == '') : true)":
        lambda s: all(l.get("protocol") not in ("TCP", "UDP") or not l.get("hostname") for l in s),
    "self.all(l1, self.exists_one(l2, l1.name == l2.name))":
        lambda s: all(sum(1 for l2 in s if l2.get("name") == l1.get("name")) == 1 for l1 in s),
    "self.all(l1, self.exists_one(l2, l1.port == l2.port && l1.protocol == l2.protocol && (has(l1.hostname) && has(l2.hostname) ? l1.hostname == l2.hostname : !has(l1.hostname) && !has(l2.hostname))))":
        lambda s: all(
            sum(1 for l2 in s if l1.get("port") == l2.get("port") and l1.get("protocol") == l2.get("protocol")
                and (("hostname" in l1) == ("hostname" in l2)) and l1.get("hostname") == l2.get("hostname")) == 1
            for l1 in s),
    'self.all(key, key.matches(r"""' + QUALIFIED_NAME + '"""))': lambda s: all(re.search(QUALIFIED_NAME, k) for k in s),
    'self.all(key, key.split("/")[0].size() < 253)': lambda s: all(len(k.split("/")[0]) < 253 for k in s),
    "self.mode == 'Terminate' ? size(self.certificateRefs) > 0 || size(self.options) > 0 : true":
        lambda s: s.get("mode", "Terminate") != "Terminate" or bool(s.get("certificateRefs")) or bool(s.get("options")),
}


def _normalise_rule(rule: str) -> str:
    return re.sub(r"\s+", " ", rule.strip()).replace("  ", " ")


CEL_RULES = {_normalise_rule(k): v for k, v in CEL_RULES.items()}


# ---- schemas -------------------------------------------------------------------------------------


def tighten(node, structural: bool = True):
    """An OpenAPI v3 (Kubernetes structural) schema → a strict JSON Schema (draft 4)."""
    if isinstance(node, list):
        return [tighten(n, structural) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: tighten(v, True) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = tighten(value, True)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [tighten(v, False) for v in value]
        elif key == "not":
            out[key] = tighten(value, False)
        elif key in ("x-kubernetes-validations", "description", "default", "example"):
            continue  # CEL rules are checked by walk_rules; the rest is documentation
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    fmt = out.get("format")
    if fmt in ("int32", "int64") and out.get("type") in ("integer", ["integer", "null"]):
        bits = 31 if fmt == "int32" else 63
        out.setdefault("minimum", -(2**bits))
        out.setdefault("maximum", 2**bits - 1)
    if (
        structural
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@dataclass
class Kind:
    group: str
    version: str
    kind: str
    raw: dict  # the CRD's openAPIV3Schema (for CEL rules and list types)
    strict: dict  # the JSON Schema actually validated against
    namespaced: bool


class SchemaStore:
    def __init__(self, schema_dir: Path = DEFAULT_SCHEMAS):
        self.dir = Path(schema_dir)
        if not self.dir.is_dir():
            raise SystemExit(f"no CRD schema directory at {self.dir} (set ROUTEGEN_SCHEMAS or --schemas)")
        self.kinds: dict[tuple[str, str, str], Kind] = {}
        for path in sorted(self.dir.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if not version.get("served", False):
                        continue
                    raw = version["schema"]["openAPIV3Schema"]
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    self.kinds[key] = Kind(*key, raw, self._root(raw), spec.get("scope") == "Namespaced")
        for key, raw in BUILTIN.items():
            self.kinds[key] = Kind(*key, raw, self._root(raw), key[2] not in CLUSTER_SCOPED)

    @staticmethod
    def _root(raw: dict) -> dict:
        schema = tighten(copy.deepcopy(raw))
        props = schema.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = OBJECT_META
        schema["additionalProperties"] = False
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
        return schema

    def lookup(self, api_version: str, kind: str) -> Kind | None:
        group, _, version = api_version.rpartition("/")
        return self.kinds.get((group, version, kind))


# ---- validation ----------------------------------------------------------------------------------


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


def walk_rules(schema: dict, value, path: list, errors: list[str]) -> None:
    """The CEL rules and list-type constraints, along the structural schema."""
    if not isinstance(schema, dict) or value is None:
        return
    for rule in schema.get("x-kubernetes-validations", []):
        check = CEL_RULES.get(_normalise_rule(rule["rule"]))
        if check is None:
            errors.append(f"{_path(path)}: no Python translation of the CRD's CEL rule {rule['rule']!r}: cannot validate")
            continue
        try:
            ok = check(value)
        except (AttributeError, KeyError, TypeError):
            ok = False
        if not ok:
            errors.append(f"{_path(path)}: {rule.get('message') or 'failed rule ' + rule['rule']}")
    if isinstance(value, list):
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys", [])
            seen = set()
            for i, item in enumerate(value):
                key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys) if isinstance(item, dict) else None
                if key in seen:
                    errors.append(f"{_path(path + [i])}: duplicate entry for key {keys}")
                seen.add(key)
        elif list_type == "set":
            dumped = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(dumped)) != len(dumped):
                errors.append(f"{_path(path)}: duplicate entries in a set")
        for i, item in enumerate(value):
            walk_rules(schema.get("items", {}), item, path + [i], errors)
    elif isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                walk_rules(props[k], v, path + [k], errors)
            elif isinstance(extra, dict):
                walk_rules(extra, v, path + [k], errors)


def validate_document(store: SchemaStore, doc) -> list[str]:
    """Errors for one manifest document ([] if valid)."""
    if not isinstance(doc, dict):
        return [f"(document): expected a mapping, found {type(doc).__name__}"]
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["(document): apiVersion and kind are required"]
    entry = store.lookup(api_version, kind)
    if entry is None:
        served = sorted(f"{g + '/' if g else ''}{v}" for g, v, k in store.kinds if k == kind)
        hint = f" (served: {', '.join(served)})" if served else " (no schema for this kind)"
        return [f"apiVersion: {kind} {api_version} is not a served version{hint}"]
    validator = jsonschema.Draft4Validator(entry.strict)
    errors = [
        f"{_path(e.absolute_path)}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    walk_rules(entry.raw, doc, [], errors)
    meta = doc.get("metadata") or {}
    if entry.namespaced and isinstance(meta, dict) and "namespace" not in meta:
        errors.append("metadata.namespace: set it: these manifests name their namespace explicitly")
    if not entry.namespaced and isinstance(meta, dict) and "namespace" in meta:
        errors.append(f"metadata.namespace: {kind} is cluster-scoped")
    return errors


def load_documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifest_files(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml"))
        else:
            out.append(p)
    return out


def routegen_check(routegen: str, doc: dict) -> tuple[int, str]:
    """(exit status, output) of `routegen check` on one WasmPlugin document."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(doc, f)
        name = f.name
    try:
        proc = subprocess.run([routegen, "check", name], capture_output=True, text=True, timeout=60)
        return proc.returncode, (proc.stdout + proc.stderr).replace(name, "pluginConfig").strip()
    finally:
        os.unlink(name)


def describe(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    ns = f"{meta['namespace']}/" if isinstance(meta, dict) and meta.get("namespace") else ""
    return f"{doc.get('kind')} {ns}{meta.get('name') if isinstance(meta, dict) else '?'}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Validate manifests against the real CRD schemas, strictly.")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--schemas", default=str(DEFAULT_SCHEMAS))
    parser.add_argument("--routegen", help="also run `routegen check` on each WasmPlugin's pluginConfig")
    args = parser.parse_args(argv)
    store = SchemaStore(Path(args.schemas))
    failed = 0
    for path in manifest_files(args.paths):
        try:
            docs = load_documents(path)
        except yaml.YAMLError as e:
            print(f"error: {path}: invalid YAML: {e}")
            failed += 1
            continue
        for doc in docs:
            errors = validate_document(store, doc)
            if args.routegen and isinstance(doc, dict) and doc.get("kind") == "WasmPlugin":
                code, out = routegen_check(args.routegen, doc)
                if code != 0:
                    errors.append(f"spec.pluginConfig: routegen check: {out}")
            if errors:
                failed += 1
                for e in errors:
                    print(f"error: {path}: {describe(doc)}: {e}")
            else:
                print(f"ok: {path}: {describe(doc)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
