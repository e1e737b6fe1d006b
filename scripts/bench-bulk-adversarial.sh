#!/usr/bin/env bash
# Peak memory and report size of `trickle bulk plan` on hostile exports
# (reported, not asserted; not part of the test suite; about a minute).
#
#   scripts/bench-bulk-adversarial.sh [ROWS]     # ROWS defaults to 1000000
#
# Inputs, generated once under target/bench-bulk-adversarial/:
#   - clean.csv.gz:      a header and ROWS good rows (the baseline);
#   - open-quote.csv.gz: the same, with a quote opened on line 2 that never
#                        closes (it used to swallow the whole file, in memory);
#   - empty.json.gz:     ROWS*10 lines of `{}` (every one left out: the report
#                        used to list them all).
# Each is planned by the release binary under /usr/bin/time; the table gives
# wall time, peak RSS, records, users planned and the size of report.json.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${1:-1000000}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$TARGET/bench-bulk-adversarial"
mkdir -p "$WORK"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

[ -x /usr/bin/time ] || { echo "bench-bulk-adversarial: needs GNU time (apt-get install -y time)" >&2; exit 1; }

if [ -z "${TRICKLE_WASM_DIR:-}" ] && [ ! -f "$TARGET/wasm-dist/trickle_wasm_bg.wasm" ]; then
  step "Building the WASM core (needed by the trickle binary)"
  scripts/build-wasm.sh
fi
step "Building trickle (release)"
cargo build --quiet --release -p trickle-cli
TRICKLE="$TARGET/release/trickle"

rows() {
  awk -v n="$ROWS" 'BEGIN { for (i = 1; i <= n; i++) printf "auth0|%d,user%d@example.com,Person number %d,true\n", i, i, i }'
}
if [ ! -s "$WORK/clean-$ROWS.csv.gz" ]; then
  step "Generating the inputs ($ROWS rows)"
  { echo "user_id,email,name,email_verified"; rows; } | gzip -c > "$WORK/clean-$ROWS.csv.gz"
  { echo "user_id,email,name,email_verified"; echo 'auth0|0,open@example.com,"never closed,true'; rows; } \
    | gzip -c > "$WORK/open-quote-$ROWS.csv.gz"
  awk -v n="$((ROWS * 10))" 'BEGIN { for (i = 0; i < n; i++) print "{}" }' | gzip -9 -c > "$WORK/empty-$ROWS.json.gz"
fi

CONFIG="$WORK/bench.toml"
printf '[connection]\nname = "new-tenant-import"\n[source]\nrealm = "Username-Password-Authentication"\n' > "$CONFIG"

field() { sed -n "s/^  \"$2\": \\([0-9]*\\),\$/\\1/p" "$1"; }

TABLE="$WORK/bench-bulk-adversarial.md"
{
  echo "| input | gzip bytes | wall s | peak RSS MB | lines | records | planned | skipped | report.json bytes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$TABLE"
for name in clean open-quote empty; do
  input="$(ls "$WORK/$name-$ROWS".*.gz)"
  out="$WORK/plan-$name"
  rm -rf "$out"
  step "Planning $(basename "$input")"
  /usr/bin/time -o "$WORK/time.txt" -f "%e %M" \
    "$TRICKLE" bulk plan --config "$CONFIG" --input "$input" --out "$out" 2> "$WORK/$name.log" || {
      cat "$WORK/$name.log" >&2
      exit 1
    }
  read -r wall rss_kb < "$WORK/time.txt"
  report="$out/report.json"
  printf '| %s | %s | %s | %.1f | %s | %s | %s | %s | %s |\n' \
    "$(basename "$input")" "$(stat -c %s "$input")" "$wall" "$(echo "$rss_kb / 1024" | bc -l)" \
    "$(field "$report" lines_read)" "$(field "$report" records_read)" \
    "$(field "$report" users_written)" "$(field "$report" skipped)" "$(stat -c %s "$report")" >> "$TABLE"
  rm -rf "$out"
done
cat "$TABLE"
echo "bench-bulk-adversarial: wrote $TABLE" >&2
