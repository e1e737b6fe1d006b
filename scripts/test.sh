#!/usr/bin/env bash
# Every test: sets up (first time only), builds the WASM core, then runs the
# Rust tests and lints, and the Node tests that run the generated scripts
# the way Auth0 does.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

scripts/setup.sh
step "Build the WASM core"
scripts/build-wasm.sh
step "Rust: format, lints, tests"
cargo fmt --all --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo test --quiet --workspace
cargo build --quiet -p trickle-cli
# The same Node tests on every runtime Auth0 offers (18, 22) and the
# machine's own: a feature a runtime lacks fails here.
for node in $(scripts/node-runtimes.sh); do
  step "Node $("$node" --version): generated scripts end to end"
  TRICKLE_BIN="$PWD/target/debug/trickle" "$node" --test tests/*.test.js tests/sdk/*.test.js examples/*.test.js
done
# The README's marked blocks: the runnable ones in one shell in a scratch
# folder against the emulators (trickle and trickle-try on PATH, nothing
# else), the others checked (bash -n, JSON, config, same as their file).
step "README: every marked block"
node scripts/readme-blocks.js --trickle "$PWD/target/debug/trickle"
# The layouts through the real deploy-cli, once: it needs Node >= 20.19 (not
# 18) and each deploy takes seconds, so on the pinned Node 22 only.
node22="$(scripts/node-runtimes.sh --path "$(scripts/node-runtimes.sh --versions | tr ' ' '\n' | grep '^22\.')")"
step "Node $("$node22" --version): the deploy layouts through deploy-cli"
TRICKLE_BIN="$PWD/target/debug/trickle" "$node22" --test tests/deploy/*.test.js
