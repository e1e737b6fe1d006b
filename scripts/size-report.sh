#!/usr/bin/env bash
# Prints what each size lever costs, measured side by side in one run:
# the WASM built with and without each compiler/optimiser lever, the ways of
# embedding it, the glue raw and minified, and the shipped scripts.
# Usage: scripts/size-report.sh   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${TRICKLE_TOOLS:-$HOME/.cache/trickle/tools}"
work=target/size-report
mkdir -p "$work"
features="--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue"

# build NAME OPT_LEVEL LTO WASM_OPT(yes/no): one variant of the WASM.
build() {
  local name=$1 opt=$2 lto=$3 wasm_opt=$4
  CARGO_TARGET_DIR="$work/target-$opt-$lto" \
  CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL="$opt" CARGO_PROFILE_WASM_RELEASE_LTO="$lto" \
    cargo build --quiet -p trickle-wasm --target wasm32-unknown-unknown --profile wasm-release
  "$tools/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir "$work/$name" \
    "$work/target-$opt-$lto/wasm32-unknown-unknown/wasm-release/trickle_wasm.wasm"
  if [ "$wasm_opt" = yes ]; then
    # shellcheck disable=SC2086
    node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers $features \
      "$work/$name/trickle_wasm_bg.wasm" -o "$work/$name/trickle_wasm_bg.wasm"
  fi
}

echo "building variants…" >&2
build shipped s fat yes
build opt-z z fat yes
build no-lto s false yes
build no-wasm-opt s fat no

cargo run --quiet --release -p trickle-cli -- generate --config examples/tenant-to-tenant.toml --out "$work/out" >/dev/null
# The same migration with the post-login Action marking users.
sed 's/^mark_migrated = true/mark_migrated = "action"/' examples/tenant-to-tenant.toml > "$work/action.toml"
cargo run --quiet --release -p trickle-cli -- generate --config "$work/action.toml" --out "$work/out-action" >/dev/null

node - "$work" <<'JS'
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
const work = process.argv[2];
const size = (name) => fs.statSync(path.join(work, name, 'trickle_wasm_bg.wasm')).size;
const shipped = size('shipped');
// What a variant costs the scripts: its brotli (q11) in base64.
const embedded = (name) => Buffer.from(zlib.brotliCompressSync(
  fs.readFileSync(path.join(work, name, 'trickle_wasm_bg.wasm')),
  { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } })).toString('base64').length;
const row = (label, bytes, note = '') =>
  console.log(`| ${label.padEnd(44)} | ${String(bytes).padStart(7)} | ${note.padEnd(22)} |`);
const delta = (bytes) => (bytes === shipped ? 'shipped' : `${bytes > shipped ? '+' : ''}${bytes - shipped} vs shipped`);

console.log('\nWASM module (bytes)');
console.log('| variant                                      |   bytes | cost                   |');
console.log('|----------------------------------------------|---------|------------------------|');
for (const [label, name] of [
  ['opt-level s, fat LTO, wasm-opt -Oz (shipped)', 'shipped'],
  ['opt-level z instead of s', 'opt-z'],
  ['without LTO', 'no-lto'],
  ['without wasm-opt', 'no-wasm-opt'],
]) {
  row(label, size(name), `${delta(size(name))}; embeds as ${embedded(name)}`);
}

const wasm = fs.readFileSync(path.join(work, 'shipped', 'trickle_wasm_bg.wasm'));
const b64 = (buf) => Buffer.from(buf).toString('base64').length;
const brotli = zlib.brotliCompressSync(wasm, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
console.log('\nEmbedding the shipped module (bytes of script text)');
console.log('| encoding                                     |   bytes | cost                   |');
console.log('|----------------------------------------------|---------|------------------------|');
const shippedEmbed = b64(brotli);
const embedRow = (label, bytes) => row(label, bytes, bytes === shippedEmbed ? 'shipped' : `+${bytes - shippedEmbed} vs shipped`);
embedRow('base64, uncompressed', b64(wasm));
embedRow('deflate (zlib -9) + base64', b64(zlib.deflateRawSync(wasm, { level: 9 })));
embedRow('brotli (q11) + base64 (shipped)', shippedEmbed);

const rawGlue = fs.statSync(path.join(work, 'shipped', 'trickle_wasm.js')).size;
const shippedGlue = fs.statSync('target/wasm-dist/trickle_wasm.js').size;
console.log('\nGlue (wasm-bindgen --target no-modules)');
console.log('| glue                                         |   bytes | cost                   |');
console.log('|----------------------------------------------|---------|------------------------|');
row('as wasm-bindgen writes it', rawGlue, `+${rawGlue - shippedGlue} vs shipped`);
row('minified by terser (shipped)', shippedGlue, 'shipped');

console.log('\nGenerated scripts (examples/tenant-to-tenant.toml; target 32768, Auth0 limit 100000)');
const dir = path.join(work, 'out', 'database-connections', 'old-tenant-import');
for (const file of ['login.js', 'get_user.js']) {
  const bytes = fs.statSync(path.join(dir, file)).size;
  console.log(`  ${file.padEnd(12)} ${bytes} bytes (${(bytes / 32768 * 100).toFixed(0)}% of the target)`);
}
console.log('\nThe post-login Action (mark_migrated = "action"; Auth0 limit 100000)');
const code = path.join(work, 'out-action', 'actions', 'old-tenant-import-migration', 'code.js');
const actionBytes = fs.statSync(code).size;
const actionLogin = fs.statSync(path.join(work, 'out-action', 'database-connections', 'old-tenant-import', 'login.js')).size;
console.log(`  ${'code.js'.padEnd(12)} ${actionBytes} bytes (${(actionBytes / 32768 * 100).toFixed(0)}% of the target; the same WASM and glue as the scripts)`);
console.log(`  ${'login.js'.padEnd(12)} ${actionLogin} bytes when the Action marks (the login's marker code left out)`);
JS
