#!/usr/bin/env bash
# Builds the WASM that the generated scripts embed:
#   crates/wasm → cargo (wasm-release) → wasm-bindgen (no-modules) → wasm-opt -Oz,
#   glue → terser
# Output: target/wasm-dist/{trickle_wasm_bg.wasm,trickle_wasm.js}, which the
# CLI embeds at compile time. Expects scripts/setup.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${TRICKLE_TOOLS:-$HOME/.cache/trickle/tools}"
out=target/wasm-dist
bindgen=target/wasm-bindgen
mkdir -p "$out" "$bindgen"

cargo build --quiet -p trickle-wasm --target wasm32-unknown-unknown --profile wasm-release
"$tools/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir "$bindgen" \
  target/wasm32-unknown-unknown/wasm-release/trickle_wasm.wasm
# Explicit features: exactly what rustc emits for wasm32 today. --all-features
# would let wasm-opt use types that Node 18/20 refuse to compile.
node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$bindgen/trickle_wasm_bg.wasm" -o "$out/trickle_wasm_bg.wasm.tmp"
mv "$out/trickle_wasm_bg.wasm.tmp" "$out/trickle_wasm_bg.wasm"
# The glue ships inside every script: minify it (its top-level name,
# wasm_bindgen, is kept; terser does not mangle top-level names by default).
node_modules/.bin/terser "$bindgen/trickle_wasm.js" --compress passes=2 --mangle \
  --ecma 2020 --comments false -o "$out/trickle_wasm.js"
echo "wasm: $(wc -c < "$out/trickle_wasm_bg.wasm") bytes, glue: $(wc -c < "$out/trickle_wasm.js") bytes" >&2
