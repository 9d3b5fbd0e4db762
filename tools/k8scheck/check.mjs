// Reads YAML documents on stdin and prints them as one JSON array on stdout.
//   node check.mjs validate   also validates every object against its Kubernetes (kubernetes-models) or KEDA
//                             (@kubernetes-models/keda) schema; unknown kinds and schema errors exit 1.
//   node check.mjs json       only converts (docker-compose config output, for example).
import { parseAllDocuments } from "yaml";

const mode = process.argv[2];
if (mode !== "validate" && mode !== "json") {
  console.error("usage: node check.mjs validate|json < file.yaml");
  process.exit(2);
}

let input = "";
for await (const chunk of process.stdin) input += chunk;

const docs = [];
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length) {
    console.error(`YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    process.exit(1);
  }
  const value = doc.toJS();
  if (value !== null && value !== undefined) docs.push(value);
}

// apiVersion -> module of the generated models (group/version as the packages lay them out).
function modulePath(apiVersion) {
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}`;
  return apiVersion.includes("/") ? `kubernetes-models/${apiVersion}` : `kubernetes-models/${apiVersion}`;
}

const errors = [];
if (mode === "validate") {
  for (const obj of docs) {
    const where = `${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
    if (!obj.apiVersion || !obj.kind) {
      errors.push(`${where}: no apiVersion/kind`);
      continue;
    }
    let models;
    try {
      models = await import(modulePath(obj.apiVersion));
    } catch {
      errors.push(`${where}: no schema for apiVersion ${obj.apiVersion}`);
      continue;
    }
    const Model = models[obj.kind];
    if (typeof Model !== "function") {
      errors.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      errors.push(`${where}: ${e.message}`);
    }
  }
}

if (errors.length) {
  console.error(errors.join("\n"));
  process.exit(1);
}
process.stdout.write(JSON.stringify(docs));
