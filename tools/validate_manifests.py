#!/usr/bin/env python3
"""Strict validation of Kubernetes manifests against the Istio and Gateway API CRDs, as an API server would.

    tools/validate_manifests.py [--schemas DIR] [--models DIR] [--routegen BIN] PATH...

PATH: YAML files or directories (searched for *.yaml / *.yml). Each document is checked by every
validator available (at least one must be, or the exit status is 2), and the run says which:

1. The raw CRD schemas (strictest): the `openAPIV3Schema` of the CRD version its apiVersion/kind
   names (served versions only), from the CRD files in DIR (--schemas, else $ROUTEGEN_SCHEMAS, else
   ../shared/schemas beside the repository; skipped, saying so, if that directory does not exist,
   unless --schemas names it), with:
   - unknown fields as errors, like `kubectl apply --validate=strict`: every object schema that lists
     `properties` and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields`
     gets `additionalProperties: false` (pluginConfig, which preserves unknown fields, stays open);
   - `x-kubernetes-int-or-string`, `nullable`, `format: int32/int64`, list-type map/set uniqueness;
   - the CRDs' CEL rules (`x-kubernetes-validations`) through Python translations of each rule text
     (a rule without one is reported, never skipped silently).
2. The validators that the npm packages @kubernetes-models/istio and @kubernetes-models/gateway-api
   generate from the same CRDs (types, enums, patterns, ranges, required fields; not the CEL rules
   nor list types), installed by `make schemas` into .cache/schemas (--models, else
   $ROUTEGEN_SCHEMA_MODELS), run by tools/schemas/validate.mjs, which also reports every field those
   schemas do not know (they would accept it).

Both check metadata as ObjectMeta (name/namespace/labels/annotations syntax, no unknown fields) and
the namespace against the kind's scope. Core kinds that have no CRD (Namespace) use a small
built-in schema of ObjectMeta. `--schemas none` / `--models none` leaves one out.
With --routegen, every WasmPlugin's spec.pluginConfig is also checked by `routegen check`.
Exit status 0 if everything is valid, 1 otherwise. Needs PyYAML and jsonschema (and node for 2).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMAS = Path(os.environ.get("ROUTEGEN_SCHEMAS") or ROOT.parent / "shared" / "schemas")
DEFAULT_MODELS = Path(os.environ.get("ROUTEGEN_SCHEMA_MODELS") or ROOT / ".cache" / "schemas")
NODE_RUNNER = ROOT / "tools" / "schemas" / "validate.mjs"

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


class Unavailable(Exception):
    """A validator that cannot run here (its schemas or node are missing): the reason."""


class SchemaStore:
    """The raw CRD schemas: unknown fields, types, CEL rules, list types."""

    name = "raw CRDs"

    def __init__(self, schema_dir: Path = DEFAULT_SCHEMAS):
        self.dir = Path(schema_dir)
        if not self.dir.is_dir():
            raise Unavailable(f"no CRD schema directory at {self.dir} (set ROUTEGEN_SCHEMAS or --schemas)")
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

    def describe(self) -> str:
        files = ", ".join(p.name for p in sorted(self.dir.glob("*.yaml")))
        return f"raw CRD schemas in {self.dir} ({files}): strict, with CEL rules and list types"

    def errors(self, doc) -> list[str]:
        return _raw_errors(self, doc)


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


def _document_key(doc) -> tuple[list[str], str | None, str | None]:
    if not isinstance(doc, dict):
        return [f"(document): expected a mapping, found {type(doc).__name__}"], None, None
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["(document): apiVersion and kind are required"], None, None
    return [], api_version, kind


def _not_served(kind: str, api_version: str, served) -> str:
    hint = f" (served: {', '.join(sorted(served))})" if served else " (no schema for this kind)"
    return f"apiVersion: {kind} {api_version} is not a served version{hint}"


def _scope_errors(doc: dict, namespaced: bool) -> list[str]:
    meta = doc.get("metadata") or {}
    if namespaced and isinstance(meta, dict) and "namespace" not in meta:
        return ["metadata.namespace: set it: these manifests name their namespace explicitly"]
    if not namespaced and isinstance(meta, dict) and "namespace" in meta:
        return [f"metadata.namespace: {doc['kind']} is cluster-scoped"]
    return []


def _schema_errors(schema: dict, doc) -> list[str]:
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{_path(e.absolute_path)}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    ]


def _raw_errors(store: SchemaStore, doc) -> list[str]:
    errors, api_version, kind = _document_key(doc)
    if errors:
        return errors
    entry = store.lookup(api_version, kind)
    if entry is None:
        return [_not_served(kind, api_version, {f"{g + '/' if g else ''}{v}" for g, v, k in store.kinds if k == kind})]
    errors = _schema_errors(entry.strict, doc)
    walk_rules(entry.raw, doc, [], errors)
    return errors + _scope_errors(doc, entry.namespaced)


# ---- the CRD-generated validators of @kubernetes-models (npm) -------------------------------------

# Kinds of the two packages that are cluster-scoped (every Istio kind is namespaced).
MODEL_CLUSTER_SCOPED = {("gateway.networking.k8s.io", "GatewayClass")}
MODEL_PACKAGES = ("istio", "gateway-api")
# What the documents may hold beside what the generated schemas check (they check spec and status,
# and metadata's types; unknown fields are found by tools/schemas/validate.mjs).
MODEL_ROOT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": OBJECT_META},
}


def _pointer(pointer: str) -> list:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]] if pointer else []


def _resolve(doc, tokens: list) -> tuple[list, object]:
    """The path (list indices as ints) and the value a JSON pointer's tokens name."""
    path, value = [], doc
    for t in tokens:
        if isinstance(value, list) and t.isdigit() and int(t) < len(value):
            path.append(int(t))
            value = value[int(t)]
        else:
            path.append(t)
            value = value.get(t) if isinstance(value, dict) else None
    return path, value


def _ajv_message(keyword: str, params: dict, value, message: str) -> str:
    """An ajv error in jsonschema's words, so both validators read alike."""
    if keyword == "enum":
        return f"{value!r} is not one of {params['allowedValues']!r}"
    if keyword == "type":
        return f"{value!r} is not of type {', '.join(repr(t) for t in str(params['type']).split(','))}"
    if keyword == "required":
        return f"{params['missingProperty']!r} is a required property"
    if keyword == "pattern":
        return f"{value!r} does not match {params['pattern']!r}"
    if keyword in ("maximum", "exclusiveMaximum"):
        return f"{value!r} is greater than the maximum of {params['limit']!r}"
    if keyword in ("minimum", "exclusiveMinimum"):
        return f"{value!r} is less than the minimum of {params['limit']!r}"
    if keyword == "format" and params.get("format") in ("int32", "int64") and isinstance(value, int):
        bits = 31 if params["format"] == "int32" else 63
        if value > 2**bits - 1:
            return f"{value!r} is greater than the maximum of {2**bits - 1} (format {params['format']})"
        return f"{value!r} is less than the minimum of {-(2**bits)} (format {params['format']})"
    if keyword in ("maxLength", "maxItems", "maxProperties"):
        return f"{value!r} is too long ({message})"
    if keyword in ("minLength", "minItems", "minProperties"):
        return f"{value!r} is too short ({message})"
    return message


class ModelValidator:
    """The validators that @kubernetes-models/istio and @kubernetes-models/gateway-api generate from
    the CRDs (`make schemas`), run by node, plus unknown fields, ObjectMeta and scope."""

    name = "npm models"

    def __init__(self, models_dir: Path = DEFAULT_MODELS):
        self.dir = Path(models_dir)
        self.versions = {}
        for package in MODEL_PACKAGES:
            manifest = self.dir / "node_modules" / "@kubernetes-models" / package / "package.json"
            if not manifest.is_file():
                raise Unavailable(f"no @kubernetes-models/{package} in {self.dir} (run `make schemas`)")
            self.versions[package] = json.loads(manifest.read_text())["version"]
        node = shutil.which("node")
        if node is None:
            raise Unavailable("node is not installed (`make schemas` installs it)")
        self._stderr = tempfile.TemporaryFile("w+")
        self._proc = subprocess.Popen([node, str(NODE_RUNNER), str(self.dir)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)

    def describe(self) -> str:
        packages = ", ".join(f"@kubernetes-models/{p}@{v}" for p, v in self.versions.items())
        return f"CRD-generated validators of {packages} in {self.dir}, plus unknown fields (no CEL rules, no list types)"

    def _run(self, doc: dict) -> dict:
        try:
            self._proc.stdin.write(json.dumps(doc) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(f"{NODE_RUNNER} failed: {self._stderr.read().strip()}")
        return json.loads(line)

    def errors(self, doc) -> list[str]:
        errors, api_version, kind = _document_key(doc)
        if errors:
            return errors
        group, _, version = api_version.rpartition("/")
        if (group, version, kind) in BUILTIN:  # core kinds: the same built-in schema as SchemaStore
            raw = BUILTIN[(group, version, kind)]
            return _schema_errors(SchemaStore._root(raw), doc) + _scope_errors(doc, kind not in CLUSTER_SCOPED)
        result = self._run(doc)
        if not result["served"]:
            return [_not_served(kind, api_version, {f"{group}/{v}" for v in result["versions"]})]
        errors = _schema_errors(MODEL_ROOT, doc)
        for e in result["errors"]:
            path, value = _resolve(doc, _pointer(e["instancePath"]))
            errors.append(f"{_path(path)}: {_ajv_message(e['keyword'], e['params'], value, e['message'])}")
        for u in result["unknown"]:
            errors.append(f"{_path(u['path'])}: Additional properties are not allowed ({u['key']!r} was unexpected)")
        return list(dict.fromkeys(errors)) + _scope_errors(doc, (group, kind) not in MODEL_CLUSTER_SCOPED)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        self._stderr.close()


class Validators:
    """Every validator available; a document is valid if each of them accepts it."""

    def __init__(self, schemas: Path | str | None = None, models: Path | str | None = None):
        """schemas/models: a directory, "none" to leave that validator out, None for the default
        ($ROUTEGEN_SCHEMAS / ../shared/schemas, $ROUTEGEN_SCHEMA_MODELS / .cache/schemas)."""
        self.validators: list = []
        self.unavailable: dict[str, str] = {}
        for cls, where, default in ((SchemaStore, schemas, DEFAULT_SCHEMAS), (ModelValidator, models, DEFAULT_MODELS)):
            if str(where) == "none":
                self.unavailable[cls.name] = "left out (none)"
                continue
            try:
                self.validators.append(cls(Path(where) if where is not None else default))
            except Unavailable as e:
                self.unavailable[cls.name] = str(e)

    def get(self, name: str):
        return next((v for v in self.validators if v.name == name), None)

    def describe(self) -> list[str]:
        unchecked = {SchemaStore.name: ": CEL rules and list types are not checked"}
        return [f"validator: {v.name}: {v.describe()}" for v in self.validators] + [
            f"not used: {name}: {why}{unchecked.get(name, '')}" for name, why in self.unavailable.items()]

    def errors(self, doc) -> list[str]:
        if not self.validators:
            raise Unavailable("no schema validator available: " + "; ".join(f"{n}: {w}" for n, w in self.unavailable.items()))
        return list(dict.fromkeys(e for v in self.validators for e in v.errors(doc)))

    def close(self) -> None:
        for v in self.validators:
            if isinstance(v, ModelValidator):
                v.close()


def announce(config, suite: str, store: Validators) -> None:
    """For a pytest session (config): print which validators `suite` used, in the closing summary
    (shown even with -q)."""

    class Summary:
        @staticmethod
        def pytest_terminal_summary(terminalreporter):
            for line in store.describe():
                terminalreporter.write_line(f"{suite} schemas: {line}")

    if not config.pluginmanager.has_plugin(f"routegen-schemas-{suite}"):
        config.pluginmanager.register(Summary(), f"routegen-schemas-{suite}")


def validate_document(store, doc) -> list[str]:
    """Errors for one manifest document ([] if valid): store is a SchemaStore, a ModelValidator or
    Validators (all of those available)."""
    return store.errors(doc)


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
    parser = argparse.ArgumentParser(description="Validate manifests against the Istio and Gateway API CRD schemas, strictly.")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--schemas", help=f"raw CRD files (default {DEFAULT_SCHEMAS}, skipped if absent; none: leave out)")
    parser.add_argument("--models", help=f"`make schemas`'s npm validators (default {DEFAULT_MODELS}; none: leave out)")
    parser.add_argument("--routegen", help="also run `routegen check` on each WasmPlugin's pluginConfig")
    args = parser.parse_args(argv)
    for option, where in (("--schemas", args.schemas), ("--models", args.models)):
        if where not in (None, "none") and not Path(where).is_dir():
            parser.error(f"{option} {where}: no such directory")
    store = Validators(args.schemas, args.models)
    print("\n".join(store.describe()))
    if not store.validators:
        print("error: no schema validator available: run `make schemas` (or set ROUTEGEN_SCHEMAS to the CRD files)")
        return 2
    failed = 0
    try:
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
    finally:
        store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
