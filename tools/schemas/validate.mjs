// Validates Kubernetes documents with the JSON Schema validators that @kubernetes-models/istio and
// @kubernetes-models/gateway-api generate from the Istio and Gateway API CRDs (installed by
// `make schemas` into .cache/schemas). Used by tools/validate_manifests.py:
//
//     node tools/schemas/validate.mjs MODELS_DIR  < one JSON document per line
//
// answers one JSON line per document: {"served": bool, "versions": [...], "errors": [ajv errors],
// "unknown": [{"path": [...], "key": k}]}. Those validators accept unknown fields, so each document
// is wrapped in Proxies that record which keys the validator reads: in an object whose schema has
// properties (the validator reads at least one key and never lists them), a key never read is a
// field the schema does not know. Objects whose keys are listed (maps) or never read (free-form,
// like pluginConfig) stay open, as in tools/validate_manifests.py's strict CRD schemas.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const models = join(process.argv[2], "node_modules", "@kubernetes-models");
const packageOf = (group) =>
  group.endsWith("istio.io") ? "istio" : group === "gateway.networking.k8s.io" ? "gateway-api" : null;

async function model(group, version, kind) {
  const file = join(models, packageOf(group) ?? "-", group, version, `${kind}.js`);
  return existsSync(file) ? (await import(pathToFileURL(file)))[kind] : null;
}

function versions(group, kind) {
  const dir = join(models, packageOf(group) ?? "-", group);
  return existsSync(dir) ? readdirSync(dir).filter((v) => existsSync(join(dir, v, `${kind}.js`))) : [];
}

function track(value, path, nodes) {
  if (value === null || typeof value !== "object") return value;
  const node = { path, value, read: new Set(), listed: false };
  if (!Array.isArray(value)) nodes.push(node);
  const children = new Map();
  const note = (key) => typeof key === "string" && node.read.add(key);
  return new Proxy(value, {
    get(target, key) {
      note(key);
      const v = target[key];
      if (typeof key !== "string" || !Object.hasOwn(target, key) || v === null || typeof v !== "object") return v;
      if (!children.has(key)) children.set(key, track(v, [...path, Array.isArray(target) ? Number(key) : key], nodes));
      return children.get(key);
    },
    has: (target, key) => (note(key), key in target),
    getOwnPropertyDescriptor: (target, key) => (note(key), Reflect.getOwnPropertyDescriptor(target, key)),
    ownKeys: (target) => ((node.listed = true), Reflect.ownKeys(target)),
  });
}

async function check(doc) {
  const [group, version] = String(doc.apiVersion).includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const Model = await model(group, version, doc.kind);
  if (!Model) return { served: false, versions: versions(group, doc.kind), errors: [], unknown: [] };
  const nodes = [];
  let errors = [];
  try {
    Model.prototype.validate.call(track(doc, [], nodes));
  } catch (err) {
    if (!Array.isArray(err.errors)) throw err;
    errors = err.errors.map(({ instancePath, keyword, params, message }) => ({ instancePath, keyword, params, message }));
  }
  const unknown = nodes
    .filter((n) => !n.listed && n.read.size > 0)
    .flatMap((n) => Object.keys(n.value).filter((k) => !n.read.has(k)).map((key) => ({ path: n.path, key })));
  return { served: true, versions: [version], errors, unknown };
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) process.stdout.write(JSON.stringify(await check(JSON.parse(line))) + "\n");
}
