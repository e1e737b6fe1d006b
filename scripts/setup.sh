#!/usr/bin/env bash
# Installs what building and testing Trickle needs, idempotently:
#   - the Rust toolchain pinned in rust-toolchain.toml, with wasm32-unknown-unknown;
#   - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate
#     (Cargo.toml), into a cache outside the checkout (TRICKLE_TOOLS);
#   - the Node packages of package-lock.json (wasm-opt from binaryen, terser);
#   - Node 18 and 22 (Auth0's two runtimes) from npm, into .tools/ in the
#     checkout, for the runtime matrix (scripts/node-runtimes.sh lists them).
# A second run on the same machine takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="${TRICKLE_TOOLS:-$HOME/.cache/trickle/tools}"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

step "Rust toolchain and wasm32 target"
rustup toolchain install >/dev/null 2>&1 || rustup show active-toolchain >/dev/null
rustup target add wasm32-unknown-unknown >/dev/null

wanted=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
if [ -z "$wanted" ]; then
  echo "setup: cannot read the pinned wasm-bindgen version from Cargo.toml" >&2
  exit 1
fi
have=$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$wanted" ]; then
  step "wasm-bindgen-cli $wanted (one-time, about 5 minutes)"
  # --locked: the crate's own Cargo.lock (walrus, wasmparser), so every
  # machine's wasm-bindgen writes the same bytes as the committed bundle.
  cargo install --quiet --locked --root "$tools" wasm-bindgen-cli --version "$wanted" --force
fi

# The three npm installs side by side: each mostly waits on the registry.
step "Node packages, and Node 18 and 22 (Auth0's runtimes) for the runtime matrix"
installs=()
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.package-lock.json.trickle 2>/dev/null; then
  (npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.package-lock.json.trickle) &
  installs+=($!)
fi
for version in $(scripts/node-runtimes.sh --versions); do
  if [ ! -x "$(scripts/node-runtimes.sh --path "$version")" ]; then
    npm install --prefix ".tools/node-$version" --no-save --no-audit --no-fund --loglevel=error \
      "$(scripts/node-runtimes.sh --package)@$version" &
    installs+=($!)
  fi
done
failed=0
for pid in ${installs[@]+"${installs[@]}"}; do
  wait "$pid" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "setup: a Node install failed (its npm output is above); run scripts/setup.sh again" >&2
  exit 1
fi
