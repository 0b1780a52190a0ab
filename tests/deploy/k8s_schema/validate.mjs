// Validates Kubernetes objects against the OpenAPI schemas of the `kubernetes-models` packages (Kubernetes
// core/apps/... and the Prometheus Operator CRDs), strictly: a field the schema does not define is an error too,
// as `kubectl apply --validate=strict` would report it (the schemas themselves allow unknown fields).
//
// Usage: node validate.mjs NODE_MODULES_DIR INPUT.json
//   INPUT.json: [{"id": "...", "object": {...}}, ...]
//   stdout: [{"id": "...", "ok": true|false, "error": "..."}, ...]; exit status 0 unless the run itself failed.
//
// Unknown fields are found by watching the schema validator work: each object is wrapped in a Proxy that records
// which keys the compiled validator reads. It reads every property its schema defines (to check presence and
// type) and enumerates the keys of map-like objects (labels, resources), so a key of an object that was never
// read, in an object whose other keys were, is a key the schema does not know. Objects the validator never looks
// into (free-form fields) are not judged.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modulesDir, inputPath] = process.argv.slice(2);
if (!modulesDir || !inputPath) {
  console.error("usage: node validate.mjs NODE_MODULES_DIR INPUT.json");
  process.exit(2);
}

// apiVersion -> package folder that holds its models.
const PACKAGES = [
  { match: (v) => v.endsWith("monitoring.coreos.com/v1"), dir: "@kubernetes-models/prometheus-operator" },
  { match: () => true, dir: "kubernetes-models" },
];

async function modelClass(apiVersion, kind) {
  const pkg = PACKAGES.find((p) => p.match(apiVersion));
  const file = join(modulesDir, pkg.dir, apiVersion, `${kind}.js`);
  if (!existsSync(file)) return null;
  const mod = await import(pathToFileURL(file).href);
  return mod[kind] ?? null;
}

function track(value, path, records) {
  if (value === null || typeof value !== "object") return value;
  const record = { path, read: new Set(), enumerated: false, isArray: Array.isArray(value), value };
  records.push(record);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === "string" && Object.prototype.hasOwnProperty.call(target, key)) {
        record.read.add(key);
        if (!children.has(key)) children.set(key, track(target[key], `${path}/${key}`, records));
        return children.get(key);
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

async function validate(object) {
  if (!object || typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    return "apiVersion and kind are required";
  }
  const Model = await modelClass(object.apiVersion, object.kind);
  if (!Model) return `no schema for ${object.apiVersion} ${object.kind}`;
  const records = [];
  try {
    Model.prototype.validate.call(track(object, "", records));
  } catch (e) {
    return `schema: ${e.message}`;
  }
  const unknown = [];
  for (const r of records) {
    if (r.isArray || r.enumerated || r.read.size === 0) continue;
    for (const key of Object.keys(r.value)) if (!r.read.has(key)) unknown.push(`${r.path}/${key}`);
  }
  return unknown.length ? `unknown field(s): ${unknown.join(", ")}` : null;
}

const input = JSON.parse(readFileSync(inputPath, "utf8"));
const results = [];
for (const { id, object } of input) {
  const error = await validate(object);
  results.push({ id, ok: error === null, error });
}
process.stdout.write(JSON.stringify(results, null, 1) + "\n");
