// Validates KEDA objects against the CRD schemas of @kubernetes-models/keda.
// usage: node keda_validate.mjs <node_modules dir> < objects.json (a JSON array)
// Prints one line per invalid object and exits 1 if any; exits 0 when all are valid.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const obj of objects) {
  const [group, version] = obj.apiVersion.split("/");
  const file = join(modules, "@kubernetes-models/keda", group, version, `${obj.kind}.js`);
  const model = await import(pathToFileURL(file).href);
  try {
    new model[obj.kind](obj).validate();
    console.log(`valid ${obj.kind} ${obj.metadata.name}`);
  } catch (err) {
    bad += 1;
    console.log(`invalid ${obj.kind} ${obj.metadata.name}: ${err.message}`);
  }
}
process.exit(bad ? 1 : 0);
