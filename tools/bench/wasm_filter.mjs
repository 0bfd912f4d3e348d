// Runs a proxy-wasm filter module in Node's V8 (Envoy's wasm engine) behind a minimal host, and
// times whole requests as Envoy drives them: context create, request headers, response headers,
// log, done, delete. Host calls cost a JS function here, not Envoy's C++, so this prices the
// module's own work; the host calls it makes are counted and reported beside the time.
// Used by tools/bench/vm.py (`make bench-vm`):
//   node tools/bench/wasm_filter.mjs MODULE CONFIG_FILE SAMPLE_FILE [REQUESTS] [RUNS] [PER_TICK]
// SAMPLE_FILE: one `METHOD PATH` a line. PER_TICK: requests between two root-context ticks
// (default 10,000: one worker serving ~10k requests per second with a 1 s tick), so the
// filter's timer work (the metrics flush) is priced and counted per request too.
// Prints one JSON object.
import { readFileSync } from "node:fs";

const [modulePath, configPath, samplePath, requestsArg, runsArg, perTickArg] = process.argv.slice(2);
const requestsPerRun = Number(requestsArg ?? 100000);
const runs = Number(runsArg ?? 7);
const perTick = Number(perTickArg ?? 10000);
const config = readFileSync(configPath);
const sample = readFileSync(samplePath, "utf8").split("\n").filter(Boolean).map((line) => {
  const space = line.indexOf(" ");
  return { method: Buffer.from(line.slice(0, space)), path: Buffer.from(line.slice(space + 1)) };
});

const OK = 0, NOT_FOUND = 1, CAS_MISMATCH = 8;
const PLUGIN_CONFIGURATION = 7;
let memory, exports_;
const calls = {};
let counting = true;
const count = (name) => { if (counting) calls[name] = (calls[name] ?? 0) + 1; };
// Views over the module's memory, made again only when it grows: the host side must cost as
// little as it can, so the module's own work shows.
let buffer, u8, view;
function views() {
  if (buffer !== memory.buffer) {
    buffer = memory.buffer;
    u8 = new Uint8Array(buffer);
    view = new DataView(buffer);
  }
}
const bytes = (ptr, len) => { views(); return u8.subarray(ptr, ptr + len); };
const text = (ptr, len) => Buffer.from(bytes(ptr, len)).toString("latin1");
// Hands `data` to the module the proxy-wasm way: memory it allocates, pointer and size written back.
function give(data, ptrOut, sizeOut) {
  const ptr = data.length ? exports_.proxy_on_memory_allocate(data.length) : 0;
  views(); // the allocation may have grown the memory
  if (data.length) u8.set(data, ptr);
  view.setUint32(ptrOut, ptr, true);
  view.setUint32(sizeOut, data.length, true);
  return OK;
}

let request = sample[0];
const AUTHORITY = Buffer.from("api.example.com");
const STATUS = Buffer.from("200");
const RESPONSE_HEADERS = 2;
const shared = new Map(); // key -> {value, cas}
let nextCas = 1;
const metrics = [];

const env = {
  // Warnings and errors go to stderr (a refused configuration says why).
  proxy_log: (level, ptr, size) => { if (level >= 3) process.stderr.write(text(ptr, size) + "\n"); return OK; },
  proxy_get_buffer_bytes: (type, start, max, ptrOut, sizeOut) => {
    count("get_buffer_bytes");
    // Sizes arrive as signed i32: usize::MAX (read everything) is -1 until made unsigned.
    return type === PLUGIN_CONFIGURATION ? give(config.subarray(start >>> 0, (start >>> 0) + (max >>> 0)), ptrOut, sizeOut) : NOT_FOUND;
  },
  proxy_get_header_map_value: (map, keyPtr, keySize, ptrOut, sizeOut) => {
    count("get_header");
    // The pseudo-headers the filters read, told apart by map and length (no string decoding).
    if (map === RESPONSE_HEADERS) return keySize === 7 ? give(STATUS, ptrOut, sizeOut) : NOT_FOUND; // :status
    const value = keySize === 7 ? request.method : keySize === 5 ? request.path : keySize === 10 ? AUTHORITY : null;
    return value ? give(value, ptrOut, sizeOut) : NOT_FOUND;
  },
  proxy_get_property: () => { count("get_property"); return NOT_FOUND; },
  proxy_set_property: () => { count("set_property"); return OK; },
  proxy_get_shared_data: (keyPtr, keySize, ptrOut, sizeOut, casOut) => {
    count("get_shared_data");
    const entry = shared.get(text(keyPtr, keySize));
    if (!entry) return NOT_FOUND;
    give(entry.value, ptrOut, sizeOut);
    view.setUint32(casOut, entry.cas, true);
    return OK;
  },
  proxy_set_shared_data: (keyPtr, keySize, valuePtr, valueSize, cas) => {
    count("set_shared_data");
    const key = text(keyPtr, keySize);
    const entry = shared.get(key);
    if (entry && cas !== 0 && cas !== entry.cas) return CAS_MISMATCH;
    shared.set(key, { value: Buffer.from(bytes(valuePtr, valueSize)), cas: nextCas++ });
    return OK;
  },
  proxy_set_tick_period_milliseconds: () => OK,
  proxy_get_current_time_nanoseconds: (ptr) => {
    count("get_time");
    views();
    view.setBigUint64(ptr, process.hrtime.bigint(), true);
    return OK;
  },
  proxy_define_metric: (kind, namePtr, nameSize, idOut) => {
    count("define_metric");
    const name = text(namePtr, nameSize);
    let id = metrics.indexOf(name);
    if (id < 0) id = metrics.push(name) - 1;
    views();
    view.setUint32(idOut, id, true);
    return OK;
  },
  proxy_increment_metric: () => { count("increment_metric"); return OK; },
  proxy_record_metric: () => { count("record_metric"); return OK; },
};
const wasi = {
  random_get: (ptr, len) => { bytes(ptr, len).fill(7); return 0; },
  environ_sizes_get: (countOut, sizeOut) => {
    views();
    view.setUint32(countOut, 0, true);
    view.setUint32(sizeOut, 0, true);
    return 0;
  },
  environ_get: () => 0,
  fd_write: (fd, iovs, iovsLen, written) => {
    views();
    let total = 0;
    for (let i = 0; i < iovsLen; i++) total += view.getUint32(iovs + 8 * i + 4, true);
    view.setUint32(written, total, true);
    return 0;
  },
  proc_exit: (code) => { throw new Error(`proc_exit(${code})`); },
};

const module = new WebAssembly.Module(readFileSync(modulePath));
const imports = { env: {}, wasi_snapshot_preview1: {} };
for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
  if (kind !== "function") continue;
  const table = from === "env" ? env : wasi;
  imports[from][name] = table[name] ?? (() => { count(`unexpected ${name}`); return OK; });
}
const instance = new WebAssembly.Instance(module, imports);
exports_ = instance.exports;
memory = exports_.memory;
exports_._initialize?.();

const ROOT = 1;
exports_.proxy_on_context_create(ROOT, 0);
if (!exports_.proxy_on_vm_start(ROOT, 0)) throw new Error("vm start refused");
if (!exports_.proxy_on_configure(ROOT, config.length)) throw new Error("configuration refused");

let context = ROOT;
let served = 0;
function one(r) {
  request = r;
  context += 1;
  if (++served % perTick === 0) exports_.proxy_on_tick(ROOT);
  exports_.proxy_on_context_create(context, ROOT);
  exports_.proxy_on_request_headers(context, 3, 1);
  exports_.proxy_on_response_headers(context, 2, 1);
  exports_.proxy_on_log(context);
  exports_.proxy_on_done(context);
  exports_.proxy_on_delete(context);
}

// Warm-up: the sample several times over (V8 tiers up; auto names reach their steady state),
// then the host calls of one more pass (at least one tick period long, ending on a tick) are
// what a steady-state request makes.
for (let i = 0; i < 8 * sample.length; i++) one(sample[i % sample.length]);
while (served % perTick !== 0) one(sample[served % sample.length]);
for (const k of Object.keys(calls)) delete calls[k];
// Ten tick periods: the filter flushes latency histograms every fifth flush.
const counted = perTick * Math.max(10, Math.ceil(sample.length / perTick));
for (let i = 0; i < counted; i++) one(sample[i % sample.length]);
const perRequest = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / counted]));
counting = false;

const times = [];
for (let run = 0; run < runs; run++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < requestsPerRun; i++) one(sample[i % sample.length]);
  times.push(Number(process.hrtime.bigint() - start) / requestsPerRun);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  ns_per_request: times[Math.floor(times.length / 2)],
  best_ns_per_request: times[0],
  runs_ns: times,
  host_calls_per_request: perRequest,
  shared_keys: shared.size,
}));
