'use strict';
// Loads the WASM core as the scripts embed it (the glue and module of
// target/wasm-dist, which `scripts/build-wasm.sh` builds with every export,
// through the same steps as each bundle the CLI embeds, whose exports are a
// subset), as a fresh instance, for tests that call its exports directly.
// TRICKLE_WASM_DIST points elsewhere (e.g. an older build, to show a test
// failing there).

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const { REPO_ROOT } = require('./generate');

const DIST = process.env.TRICKLE_WASM_DIST || path.join(REPO_ROOT, 'target', 'wasm-dist');

/** A new, initialised instance: `{ emailKey, decideUser, … }`. */
function loadWasmCore() {
  return loadWasmInstance().core;
}

/**
 * The same, with the instance's linear memory and its table of JavaScript
 * values (the glue keeps both to itself): `{ core, memory, values }`;
 * `memory.buffer.byteLength` and `values.length` are their sizes.
 */
function loadWasmInstance() {
  const glue = fs.readFileSync(path.join(DIST, 'trickle_wasm.js'), 'utf8');
  const bytes = fs.readFileSync(path.join(DIST, 'trickle_wasm_bg.wasm'));
  const context = vm.createContext({ WebAssembly, TextEncoder, TextDecoder, module: new WebAssembly.Module(bytes) });
  // The options object is made in the context: the glue checks its
  // prototype. initSync answers the instance's exports.
  vm.runInContext(glue + '\n;globalThis.exports = wasm_bindgen.initSync({ module });\nglobalThis.core = wasm_bindgen;', context);
  return { core: context.core, memory: context.exports.memory, values: context.exports.__wbindgen_externrefs };
}

module.exports = { loadWasmCore, loadWasmInstance, WASM_DIST: DIST };
