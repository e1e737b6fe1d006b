#!/usr/bin/env bash
# Builds the WASM that the generated scripts embed:
#   crates/wasm → cargo (wasm-release) → wasm-bindgen (no-modules) → wasm-opt -Oz,
#   glue → terser
# into target/wasm-dist/{trickle_wasm_bg.wasm,trickle_wasm.js}, then:
#   --update (the default)  copies them into crates/cli/wasm/, the bundle the
#                           CLI embeds (committed, so `cargo install` needs
#                           no wasm32 target, wasm-bindgen or Node): commit it;
#   --check                 fails if crates/cli/wasm/ differs from the build
#                           (scripts/test.sh), saying how to fix it.
# The build is deterministic: the same sources, Cargo.lock, rustc
# (rust-toolchain.toml), wasm-bindgen (Cargo.toml's `=` pin) and wasm-opt and
# terser (package-lock.json) give the same bytes on any machine.
# Expects scripts/setup.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
case "${1:---update}" in
  --update) mode=update ;;
  --check) mode=check ;;
  -h | --help) usage; exit 0 ;;
  *) echo "build-wasm: unknown argument $1 (--update or --check)" >&2; exit 2 ;;
esac

tools="${TRICKLE_TOOLS:-$HOME/.cache/trickle/tools}"
target="${CARGO_TARGET_DIR:-target}"
out="$target/wasm-dist"
bindgen="$target/wasm-bindgen"
committed=crates/cli/wasm
files=(trickle_wasm_bg.wasm trickle_wasm.js)

# Other tools give other bytes: say so before building, not as a mismatch after.
want_rustc=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
want_bindgen=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
have_rustc=$(rustc --version | awk '{print $2}')
have_bindgen=$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_rustc" != "$want_rustc" ] || [ "$have_bindgen" != "$want_bindgen" ]; then
  echo "build-wasm: need rustc $want_rustc and wasm-bindgen $want_bindgen, found rustc $have_rustc" \
    "and wasm-bindgen ${have_bindgen:-none}: run scripts/setup.sh (and unset RUSTUP_TOOLCHAIN)" >&2
  exit 1
fi
# The bundle must not depend on this machine's flags (RUSTFLAGS, ~/.cargo/config.toml).
export CARGO_ENCODED_RUSTFLAGS=

mkdir -p "$out" "$bindgen" "$committed"
cargo build --quiet -p trickle-wasm --target wasm32-unknown-unknown --profile wasm-release
"$tools/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir "$bindgen" \
  "$target/wasm32-unknown-unknown/wasm-release/trickle_wasm.wasm"
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

sha() { sha256sum "$1" | cut -c1-12; }
stale=()
for file in "${files[@]}"; do
  cmp -s "$out/$file" "$committed/$file" || stale+=("$file")
done
if [ ${#stale[@]} -eq 0 ]; then
  echo "build-wasm: $committed/ matches the build" >&2
elif [ "$mode" = check ]; then
  for file in "${stale[@]}"; do
    echo "build-wasm: $committed/$file (sha256 $( [ -f "$committed/$file" ] && sha "$committed/$file" || echo "missing"))" \
      "differs from the build (sha256 $(sha "$out/$file"))" >&2
  done
  echo "build-wasm: run scripts/build-wasm.sh --update and commit $committed/" >&2
  exit 1
else
  for file in "${stale[@]}"; do
    cp "$out/$file" "$committed/$file.tmp"
    mv "$committed/$file.tmp" "$committed/$file"
    echo "build-wasm: updated $committed/$file (sha256 $(sha "$committed/$file")): commit it" >&2
  done
fi
