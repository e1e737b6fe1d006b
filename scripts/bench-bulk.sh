#!/usr/bin/env bash
# Benchmark of `trickle bulk plan` (reported, not asserted; not part of the
# test suite; takes a few minutes and ~3 GB of disk under target/).
#
#   scripts/bench-bulk.sh [USERS]        # USERS defaults to 1000000
#
# 1. Builds `trickle` and the deterministic export generator
#    (crates/bulk/examples/gen-export.rs) in release mode.
# 2. Generates a USERS-user export and a USERS/10-user one (NDJSON as a
#    users-exports job writes it, uncompressed, ~790 bytes a user; 1% marked
#    as migrated, 0.5% repeated emails, 0.1% broken lines), once: they are
#    kept under target/bench-bulk/ and reused.
# 3. In one run, each pinned to one core (taskset) and timed by
#    /usr/bin/time, with the input in the page cache:
#      - trickle bulk plan (release) on the big export,
#      - the same transform as a jq pipeline (scripts/bench/bulk-plan.jq, with awk
#        for the repeated emails; it does less: NDJSON out, no 500 KB files,
#        no report),
#      - the same plan as a straightforward Node script (scripts/bench/bulk-plan.js:
#        same records, same file framing; no report, not atomic),
#      - trickle bulk plan on the small export, to compare peak memory.
# 4. Prints a Markdown table (MB/s and users/s of input per wall-clock
#    second, CPU seconds, peak RSS) with the ratios trickle/jq and
#    trickle/node, and writes it to target/bench-bulk/bench-bulk.md and
#    target/bench-bulk/bench-bulk.json.
#
# Targets (reported, not asserted): >= 100 MB/s on one core, >= 5x jq, peak
# RSS independent of the input size (apart from 8 bytes per distinct email).
# Installs jq and GNU time with apt-get when they are missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS="${1:-1000000}"
SMALL=$((USERS / 10))
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$TARGET/bench-bulk"
mkdir -p "$WORK"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_apt() {
  local missing=()
  command -v jq >/dev/null || missing+=(jq)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      echo "bench-bulk: please install ${missing[*]} (apt-get install -y ${missing[*]})" >&2
      exit 1
    fi
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update >/dev/null
      apt-get install -y "${missing[@]}" >/dev/null
    }
  fi
  command -v node >/dev/null || { echo "bench-bulk: node is required (scripts/setup.sh)" >&2; exit 1; }
}
need_apt

# The CLI embeds the WASM core; build it first on a fresh clone.
if [ -z "${TRICKLE_WASM_DIR:-}" ] && [ ! -f "$TARGET/wasm-dist/trickle_wasm_bg.wasm" ]; then
  step "Building the WASM core (needed by the trickle binary)"
  scripts/build-wasm.sh
fi

step "Building trickle and the export generator (release)"
cargo build --quiet --release -p trickle-cli
cargo build --quiet --release -p trickle-bulk --example gen-export
TRICKLE="$TARGET/release/trickle"
GEN="$TARGET/release/examples/gen-export"

generate() {
  local users="$1" file="$WORK/export-$1.json"
  if [ ! -s "$file" ]; then
    step "Generating a $users-user export"
    "$GEN" --users "$users" > "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}
BIG="$(generate "$USERS")"
SMALL_FILE="$(generate "$SMALL")"

CONFIG="$WORK/bench.toml"
cat > "$CONFIG" <<'TOML'
[connection]
name = "new-tenant-import"
[source]
realm = "Username-Password-Authentication"
[profile]
app_metadata_key = "app_metadata"
TOML

PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

# run NAME INPUT COMMAND...: times COMMAND; appends "NAME wall user sys maxrss_kb input_bytes" to $RESULTS.
RESULTS="$WORK/results.txt"
: > "$RESULTS"
run() {
  local name="$1" input="$2"
  shift 2
  cat "$input" > /dev/null # into the page cache
  step "Running $name"
  /usr/bin/time -o "$WORK/time.txt" -f "%e %U %S %M" "${PIN[@]}" "$@"
  echo "$name $(cat "$WORK/time.txt") $(stat -c %s "$input")" >> "$RESULTS"
}

rm -rf "$WORK/plan-trickle" "$WORK/plan-node" "$WORK/plan-small" "$WORK/jq.ndjson"
run trickle "$BIG" "$TRICKLE" bulk plan --config "$CONFIG" --input "$BIG" --out "$WORK/plan-trickle" 2> "$WORK/trickle.log"
run jq "$BIG" sh -c "jq -rnR --arg realm Username-Password-Authentication -f scripts/bench/bulk-plan.jq '$BIG' | awk -F '\t' '!seen[\$1]++ { print \$2 }' > '$WORK/jq.ndjson'"
run node "$BIG" node scripts/bench/bulk-plan.js "$BIG" "$WORK/plan-node"
run trickle-small "$SMALL_FILE" "$TRICKLE" bulk plan --config "$CONFIG" --input "$SMALL_FILE" --out "$WORK/plan-small" 2> "$WORK/trickle-small.log"

RECORDS_BIG=$(wc -l < "$BIG")
RECORDS_SMALL=$(wc -l < "$SMALL_FILE")
WRITTEN_TRICKLE=$(sed -n 's/^  "users_written": \([0-9]*\),$/\1/p' "$WORK/plan-trickle/report.json")
WRITTEN_JQ=$(wc -l < "$WORK/jq.ndjson")
WRITTEN_NODE=$(cat "$WORK"/plan-node/users-*.json | grep -c '^{' || true)
rm -rf "$WORK/plan-trickle" "$WORK/plan-node" "$WORK/plan-small" "$WORK/jq.ndjson"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
export RESULTS RECORDS_BIG RECORDS_SMALL WRITTEN_TRICKLE WRITTEN_JQ WRITTEN_NODE CPU_MODEL USERS SMALL WORK
node - <<'JS'
const fs = require("node:fs");
const env = process.env;
const rows = {};
for (const line of fs.readFileSync(env.RESULTS, "utf8").trim().split("\n")) {
  const [name, wall, user, sys, rssKb, bytes] = line.split(" ");
  const records = Number(name === "trickle-small" ? env.RECORDS_SMALL : env.RECORDS_BIG);
  rows[name] = {
    wall_s: Number(wall),
    cpu_s: Number(user) + Number(sys),
    peak_rss_mb: Number(rssKb) / 1024,
    input_mb: Number(bytes) / 1e6,
    records,
    mb_per_s: Number(bytes) / 1e6 / Number(wall),
    users_per_s: records / Number(wall),
  };
}
const ratio = (a, b) => rows[a].mb_per_s / rows[b].mb_per_s;
const result = {
  machine: { cpu: env.CPU_MODEL, cores_used: 1 },
  users: Number(env.USERS),
  runs: rows,
  users_written: { trickle: Number(env.WRITTEN_TRICKLE), jq: Number(env.WRITTEN_JQ), node: Number(env.WRITTEN_NODE) },
  ratios: {
    trickle_over_jq: ratio("trickle", "jq"),
    trickle_over_node: ratio("trickle", "node"),
    rss_big_over_small: rows.trickle.peak_rss_mb / rows["trickle-small"].peak_rss_mb,
  },
  targets: { mb_per_s: 100, over_jq: 5 },
};
const f1 = (n) => n.toFixed(1);
const f0 = (n) => Math.round(n).toLocaleString("en-US");
const label = {
  trickle: `trickle bulk plan, ${f0(rows.trickle.records)} records`,
  jq: "jq \\| awk pipeline (same transform)",
  node: "Node script (same plan)",
  "trickle-small": `trickle bulk plan, ${f0(rows["trickle-small"].records)} records`,
};
let md = `# trickle bulk plan benchmark\n\nOne core (taskset), input in the page cache. CPU: ${env.CPU_MODEL}.\n\n`;
md += "| run | input MB | wall s | CPU s | MB/s | users/s | peak RSS MB |\n|---|---:|---:|---:|---:|---:|---:|\n";
for (const name of ["trickle", "jq", "node", "trickle-small"]) {
  const r = rows[name];
  md += `| ${label[name]} | ${f1(r.input_mb)} | ${r.wall_s.toFixed(2)} | ${r.cpu_s.toFixed(2)} | ${f1(r.mb_per_s)} | ${f0(r.users_per_s)} | ${f1(r.peak_rss_mb)} |\n`;
}
md += `\n- trickle / jq: **${f1(result.ratios.trickle_over_jq)}x** (target >= 5x)`;
md += `\n- trickle / node: **${f1(result.ratios.trickle_over_node)}x**`;
md += `\n- trickle: **${f1(rows.trickle.mb_per_s)} MB/s** (target >= 100 MB/s)`;
md += `\n- peak RSS, ${f0(rows["trickle-small"].records)} vs ${f0(rows.trickle.records)} records: ${f1(rows["trickle-small"].peak_rss_mb)} MB vs ${f1(rows.trickle.peak_rss_mb)} MB (the only growth is the 8-byte-per-email duplicate set)`;
md += `\n- users written: trickle ${f0(result.users_written.trickle)}, jq ${f0(result.users_written.jq)}, node ${f0(result.users_written.node)} (jq lower-cases ASCII only, so it misses a few case-variant duplicates)\n`;
fs.writeFileSync(`${env.WORK}/bench-bulk.md`, md);
fs.writeFileSync(`${env.WORK}/bench-bulk.json`, JSON.stringify(result, null, 2) + "\n");
process.stdout.write(md);
JS
echo >&2
echo "bench-bulk: wrote $WORK/bench-bulk.md and $WORK/bench-bulk.json" >&2
