// Runs the core benchmark compiled to wasm32-wasip1 in Node's V8 (the wasm engine Envoy uses),
// so `decide` is timed as the filter runs it. Used by `make bench-wasm`.
//   node tools/bench/wasm_core.mjs <attribution.wasm> <github-api.json>   (BENCH_* from the environment)
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import path from "node:path";

const [wasmPath, apiPath] = process.argv.slice(2);
const dir = path.dirname(path.resolve(apiPath));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_")));
env.BENCH_GITHUB_API = "/data/" + path.basename(apiPath);
const wasi = new WASI({ version: "preview1", args: ["attribution"], env, preopens: { "/data": dir } });
const module = await WebAssembly.compile(await readFile(wasmPath));
// The library's proxy-wasm shell is linked in too; its host imports are never called here.
const imports = wasi.getImportObject();
for (const { module: name, name: field, kind } of WebAssembly.Module.imports(module)) {
  if (kind !== "function" || imports[name]?.[field]) continue;
  imports[name] ??= {};
  imports[name][field] = () => { throw new Error(`host call ${name}.${field} in a benchmark`); };
}
const instance = await WebAssembly.instantiate(module, imports);
// proxy-wasm's main! also exports _initialize, which WASI.start refuses next to _start.
wasi.start({ exports: { memory: instance.exports.memory, _start: instance.exports._start } });
