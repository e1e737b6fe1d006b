'use strict';
// Trims a WASM bundle after wasm-bindgen and wasm-opt, for scripts/build-wasm.sh:
//
//   node scripts/trim-bundle.js IN.wasm IN.js OUT.wasm OUT.js
//
// - The module's imports get one-letter names (wasm-bindgen's carry a
//   16-digit hash each, which neither brotli nor terser can shorten), in the
//   module and in the glue's import object alike; the glue's functions the
//   module no longer imports (wasm-opt removed their calls) go. Exports keep
//   their names (the glue and the tests call them).
// - The glue loses what a script never runs: the asynchronous loader
//   (`fetch`, `instantiateStreaming`, the script's own URL; scripts call
//   `initSync` only), the `encodeInto` fallback (every Node since 12 has
//   it), and initSync's warning about old-style arguments (a script passes
//   `{ module }`, and logs nothing).
// - terser then minifies the glue (its top-level name, wasm_bindgen, kept).
//
// Every edit names the exact text it expects, once: a wasm-bindgen whose
// glue differs (the version is pinned in Cargo.toml) fails the build here,
// saying which edit, never ships a half-trimmed bundle. Deterministic: the
// same input gives the same bytes.

const fs = require('node:fs');
const { minify } = require('terser');

const MODULE = './trickle_wasm_bg.js';
const SHORT_MODULE = 'w';
const IMPORT_SECTION = 2;

function fail(message) {
  console.error(`trim-bundle: ${message} (is wasm-bindgen the version Cargo.toml pins?)`);
  process.exit(1);
}

// --- the module: LEB128 and the import section -------------------------------

function readU32(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return { value, at };
  }
}

function writeU32(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

function readName(bytes, at) {
  const { value: length, at: start } = readU32(bytes, at);
  return { name: bytes.subarray(start, start + length).toString('utf8'), at: start + length };
}

function encodeName(name) {
  const bytes = Buffer.from(name, 'utf8');
  return Buffer.concat([writeU32(bytes.length), bytes]);
}

// The length of an import's description (func, table, memory or global).
function descriptionEnd(bytes, at) {
  const kind = bytes[at++];
  const limits = (from) => {
    const flags = bytes[from++];
    let next = readU32(bytes, from).at;
    if (flags & 1) next = readU32(bytes, next).at;
    return next;
  };
  switch (kind) {
    case 0: return readU32(bytes, at).at; // a function's type index
    case 1: return limits(at + 1); // a table: element type, limits
    case 2: return limits(at); // a memory: limits
    case 3: return at + 2; // a global: value type, mutability
    default: return fail(`an import of unknown kind ${kind}`);
  }
}

// 'a'…'z', 'A'…'Z', then two letters.
function shortName(index) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const first = letters[index % letters.length];
  return index < letters.length ? first : letters[Math.floor(index / letters.length) - 1] + first;
}

// The import section with short names, and each old name's new one.
function renameImports(section) {
  let { value: count, at } = readU32(section, 0);
  const parts = [writeU32(count)];
  const renamed = new Map();
  for (let index = 0; index < count; index++) {
    const module = readName(section, at);
    const field = readName(section, module.at);
    if (module.name !== MODULE) fail(`an import from ${JSON.stringify(module.name)}, not ${MODULE}`);
    const end = descriptionEnd(section, field.at);
    const short = shortName(index);
    renamed.set(field.name, short);
    parts.push(encodeName(SHORT_MODULE), encodeName(short), section.subarray(field.at, end));
    at = end;
  }
  if (at !== section.length) fail('the import section has bytes after its imports');
  return { section: Buffer.concat(parts), renamed };
}

function trimModule(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100) fail('not a WebAssembly module');
  const parts = [bytes.subarray(0, 8)];
  let renamed = null;
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const { value: size, at: start } = readU32(bytes, at + 1);
    const body = bytes.subarray(start, start + size);
    if (id === IMPORT_SECTION) {
      const trimmed = renameImports(body);
      renamed = trimmed.renamed;
      parts.push(Buffer.from([id]), writeU32(trimmed.section.length), trimmed.section);
    } else {
      parts.push(bytes.subarray(at, start + size));
    }
    at = start + size;
  }
  if (!renamed) fail('the module has no imports');
  return { module: Buffer.concat(parts), renamed };
}

// --- the glue ----------------------------------------------------------------

// `text` with `from` (which must occur exactly once) replaced by `to`.
function replaceOnce(text, from, to, what) {
  const first = text.indexOf(from);
  if (first < 0 || text.indexOf(from, first + 1) >= 0) {
    fail(`the glue does not hold exactly one ${what}: ${JSON.stringify(from.slice(0, 80))}`);
  }
  return text.slice(0, first) + to + text.slice(first + from.length);
}

// What a script never runs; each edit: [what, from, to].
const EDITS = [
  [
    'asynchronous loader (the module object returned)',
    'return Object.assign(__wbg_init, { initSync }, exports);',
    'return Object.assign({ initSync }, exports);',
  ],
  [
    "script's own URL (for the asynchronous loader)",
    `    let script_src;
    if (typeof document !== 'undefined' && document.currentScript !== null) {
        script_src = new URL(document.currentScript.src, location.href).toString();
    }
`,
    '',
  ],
  [
    'encodeInto fallback',
    `    if (!('encodeInto' in cachedTextEncoder)) {
        cachedTextEncoder.encodeInto = function (arg, view) {
            const buf = cachedTextEncoder.encode(arg);
            view.set(buf);
            return {
                read: arg.length,
                written: buf.length
            };
        };
    }
`,
    '',
  ],
  [
    "initSync's warning",
    `            } else {
                console.warn('using deprecated parameters for \`initSync()\`; pass a single object instead')
            }`,
    '            }',
  ],
];

// Names that must be gone once terser has dropped the unreachable code.
const GONE = ['__wbg_', 'instantiateStreaming', 'fetch(', 'console.', 'script_src', 'trickle_wasm_bg'];

// The glue's import object with the module's short names, and without the
// functions the module does not import (wasm-opt dropped their calls).
function renameGlueImports(glue, renamed) {
  const open = '        const import0 = {\n            __proto__: null,\n';
  const close = '\n        };\n        return {';
  const start = glue.indexOf(open) + open.length;
  const end = glue.indexOf(close, start);
  if (start < open.length || end < 0) fail('the glue has no import object where expected');
  // One entry per function, each starting `            NAME: function`.
  const entries = glue.slice(start, end).split(/\n(?= {12}[\w$]+: function)/);
  const kept = [];
  for (const entry of entries) {
    const name = /^ {12}([\w$]+): function/.exec(entry);
    if (!name) fail(`an import entry the glue does not shape as expected: ${JSON.stringify(entry.slice(0, 80))}`);
    const short = renamed.get(name[1]);
    if (short) kept.push(entry.replace(name[1], short));
  }
  if (kept.length !== renamed.size) fail('the module imports a function the glue does not provide');
  glue = glue.slice(0, start) + kept.join('\n') + glue.slice(end);
  return replaceOnce(glue, `"${MODULE}": import0`, `"${SHORT_MODULE}": import0`, 'import module');
}

async function trimGlue(glue, renamed) {
  for (const [what, from, to] of EDITS) glue = replaceOnce(glue, from, to, what);
  glue = renameGlueImports(glue, renamed);
  const { code } = await minify(glue, {
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false },
  });
  for (const name of GONE) {
    if (code.includes(name)) fail(`the minified glue still holds ${name}`);
  }
  if (!code.startsWith('let wasm_bindgen=')) fail('the minified glue no longer defines wasm_bindgen first');
  return code;
}

async function main() {
  const [inWasm, inGlue, outWasm, outGlue] = process.argv.slice(2);
  if (!outGlue) fail('usage: node scripts/trim-bundle.js IN.wasm IN.js OUT.wasm OUT.js');
  const { module, renamed } = trimModule(fs.readFileSync(inWasm));
  new WebAssembly.Module(module); // still a valid module
  const glue = await trimGlue(fs.readFileSync(inGlue, 'utf8'), renamed);
  fs.writeFileSync(outWasm, module);
  fs.writeFileSync(outGlue, glue);
}

main().catch((error) => fail(String(error && error.stack)));
