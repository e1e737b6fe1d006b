#!/usr/bin/env bash
# Builds the WASM bundles the generated scripts embed, one per source and
# script role, each with only the exports its scripts call (crates/wasm's
# features):
#   crates/wasm → cargo (wasm-release) → wasm-bindgen (no-modules) → wasm-opt -Oz
#     → scripts/trim-bundle.js (short import names, the glue's unused loader
#       dropped, terser)
# into target/wasm-dist/bundles/<bundle>/{trickle_wasm_bg.wasm,trickle_wasm.js},
# and every export into target/wasm-dist/ (what the Node tests call directly),
# then:
#   --update (the default)  copies the bundles into crates/cli/wasm/, what the
#                           CLI embeds (committed, so `cargo install` needs no
#                           wasm32 target, wasm-bindgen or Node): commit it;
#   --check                 fails if crates/cli/wasm/ differs from the build
#                           (scripts/test.sh), saying how to fix it.
# The build is deterministic: the same sources, Cargo.lock, rustc
# (rust-toolchain.toml), wasm-bindgen (Cargo.toml's `=` pin) and wasm-opt and
# terser (package-lock.json) give the same bytes on any machine.
# Expects scripts/setup.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,19s/^# \{0,1\}//p' "$0"; }
case "${1:---update}" in
  --update) mode=update ;;
  --check) mode=check ;;
  -h | --help) usage; exit 0 ;;
  *) echo "build-wasm: unknown argument $1 (--update or --check)" >&2; exit 2 ;;
esac

# Each bundle and its features. The generator picks a script's bundle by
# these names (trickle_generator::BundleRole); the templates call nothing else.
bundles=(
  "auth0 password-grant,users,marker" # the Auth0 source's login and get_user
  "auth0-action users,marker"         # the post-login Action
  "api api"                           # the API source's login and get_user
)

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

# build NAME DEST [CARGO FEATURE ARGS…]: one module and its glue into DEST.
build() {
  local name=$1 dest=$2
  shift 2
  mkdir -p "$bindgen/$name" "$dest"
  cargo build --quiet -p trickle-wasm --target wasm32-unknown-unknown --profile wasm-release "$@"
  "$tools/bin/wasm-bindgen" --target no-modules --no-typescript --out-dir "$bindgen/$name" \
    "$target/wasm32-unknown-unknown/wasm-release/trickle_wasm.wasm"
  # Explicit features: exactly what rustc emits for wasm32 today. --all-features
  # would let wasm-opt use types that Node 18/20 refuse to compile.
  node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$bindgen/$name/trickle_wasm_bg.wasm" -o "$bindgen/$name/optimised.wasm"
  node scripts/trim-bundle.js "$bindgen/$name/optimised.wasm" "$bindgen/$name/trickle_wasm.js" \
    "$dest/trickle_wasm_bg.wasm" "$dest/trickle_wasm.js"
  echo "wasm $name: $(wc -c < "$dest/trickle_wasm_bg.wasm") bytes, glue: $(wc -c < "$dest/trickle_wasm.js") bytes" >&2
}

build all "$out"
rm -rf "$out/bundles"
names=()
for entry in "${bundles[@]}"; do
  read -r name features <<< "$entry"
  names+=("$name")
  build "$name" "$out/bundles/$name" --no-default-features --features "$features"
done

sha() { sha256sum "$1" | cut -c1-12; }
# What differs: a bundle's file, or a folder in crates/cli/wasm/ no bundle has.
stale=()
for name in "${names[@]}"; do
  for file in "${files[@]}"; do
    cmp -s "$out/bundles/$name/$file" "$committed/$name/$file" || stale+=("$name/$file")
  done
done
extra=()
for path in "$committed"/*; do
  entry=$(basename "$path")
  [ "$entry" = README.md ] && continue
  [[ " ${names[*]} " == *" $entry "* ]] || extra+=("$entry")
done

if [ ${#stale[@]} -eq 0 ] && [ ${#extra[@]} -eq 0 ]; then
  echo "build-wasm: $committed/ matches the build" >&2
elif [ "$mode" = check ]; then
  for file in "${stale[@]}"; do
    echo "build-wasm: $committed/$file (sha256 $( [ -f "$committed/$file" ] && sha "$committed/$file" || echo "missing"))" \
      "differs from the build (sha256 $(sha "$out/bundles/$file"))" >&2
  done
  for entry in "${extra[@]}"; do
    echo "build-wasm: $committed/$entry is no bundle of this build" >&2
  done
  echo "build-wasm: run scripts/build-wasm.sh --update and commit $committed/" >&2
  exit 1
else
  for file in "${stale[@]}"; do
    mkdir -p "$(dirname "$committed/$file")"
    cp "$out/bundles/$file" "$committed/$file.tmp"
    mv "$committed/$file.tmp" "$committed/$file"
    echo "build-wasm: updated $committed/$file (sha256 $(sha "$committed/$file")): commit it" >&2
  done
  for entry in "${extra[@]}"; do
    rm -rf "${committed:?}/$entry"
    echo "build-wasm: removed $committed/$entry (no bundle of this build): commit it" >&2
  done
fi
