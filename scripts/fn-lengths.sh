#!/usr/bin/env bash
# Prints the longest non-test functions of the workspace, two sizes each:
#   raw     lines from the `fn` line to its closing brace (what a reader scrolls)
#   clippy  clippy's too_many_lines count (lines with code: no blanks, no comments)
# Clippy finds every function (lib and bin targets only, so no #[cfg(test)]
# code); awk measures the raw span from the source.
# Usage: scripts/fn-lengths.sh [--over N] [--top N]
#   --over N  only functions of more than N lines, raw or clippy (default 0)
#   --top N   at most N rows (default 40; 0 for all)
# The gate (scripts/test.sh) is clippy's count against clippy.toml's threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

over=0 top=40
while [ $# -gt 0 ]; do
  case "$1" in
    --over) over=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fn-lengths.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

work=target/fn-lengths
mkdir -p "$work"
# Threshold 0: clippy reports every function with its count.
printf 'too-many-lines-threshold = 0\n' > "$work/clippy.toml"
CLIPPY_CONF_DIR="$PWD/$work" cargo clippy --quiet --workspace --lib --bins --message-format=json \
  -- -A clippy::all -W clippy::too_many_lines > "$work/clippy.json"
jq -r 'select(.reason == "compiler-message" and .message.code.code == "clippy::too_many_lines")
  | .message as $m | $m.spans[] | select(.is_primary)
  | [.file_name, .line_start, ($m.message | capture("\\((?<n>[0-9]+)/").n)] | @tsv' \
  "$work/clippy.json" | sort -u > "$work/functions.tsv"

# raw_lengths FILE LINE...: for each start line, the function's name and raw
# length, found by counting braces outside strings, chars and comments.
raw_lengths() {
  local file=$1; shift
  awk -v starts="$*" '
    BEGIN { n = split(starts, s, " "); for (i = 1; i <= n; i++) want[s[i]] = 1 }
    { line[NR] = $0 }
    END { for (l in want) measure(l + 0) }
    function measure(l,    depth, opened, in_str, raw_end, r, t, i, c, nx, name) {
      name = line[l]; sub(/.*fn[ \t]+/, "", name); sub(/[^A-Za-z0-9_].*/, "", name)
      depth = 0; opened = 0; in_str = 0; raw_end = ""
      for (r = l; r <= NR; r++) {
        t = line[r]
        for (i = 1; i <= length(t); i++) {
          c = substr(t, i, 1); nx = substr(t, i + 1, 1)
          if (raw_end != "") {                      # inside r"..." / r#"..."#
            if (substr(t, i, length(raw_end)) == raw_end) { i += length(raw_end) - 1; raw_end = "" }
          } else if (in_str) {                      # inside "..."
            if (c == "\\") i++; else if (c == "\"") in_str = 0
          } else if (c == "/" && nx == "/") {
            break
          } else if (c == "\"") {
            in_str = 1
          } else if (c == "r" && (nx == "#" || nx == "\"") && substr(t, i - 1, 1) !~ /[A-Za-z0-9_]/) {
            match(substr(t, i + 1), /^#*"/)
            if (RSTART) { raw_end = "\"" substr(t, i + 1, RLENGTH - 1); i += RLENGTH }
          } else if (c == "'\''") {                 # a char literal, or a lifetime
            if (nx == "\\") { match(substr(t, i + 2), /'\''/); if (RSTART) i += RSTART + 1 }
            else if (substr(t, i + 2, 1) == "'\''") i += 2
          } else if (c == "{") { depth++; opened = 1 }
          else if (c == "}") { depth--; if (opened && depth == 0) { print l "\t" name "\t" r - l + 1; return } }
        }
      }
    }' "$file"
}

cut -f1 "$work/functions.tsv" | sort -u | while read -r file; do
  starts=$(awk -F'\t' -v f="$file" '$1 == f { print $2 }' "$work/functions.tsv" | tr '\n' ' ')
  raw_lengths "$file" $starts | sed "s|^|$file\t|"
done | sort -t$'\t' -k1,1 -k2,2n > "$work/raw.tsv"

# file line clippy + file line name raw -> raw clippy file:line name
join -t$'\t' <(awk -F'\t' '{ print $1 ":" $2 "\t" $3 }' "$work/functions.tsv" | sort) \
  <(awk -F'\t' '{ print $1 ":" $2 "\t" $3 "\t" $4 }' "$work/raw.tsv" | sort) \
  | awk -F'\t' -v over="$over" '$4 > over || $2 > over { printf "%5d %6d  %s  %s\n", $4, $2, $1, $3 }' \
  | sort -k1,1nr -k2,2nr \
  | { printf '%5s %6s  %s\n' raw clippy 'file:line  function'; if [ "$top" -gt 0 ]; then head -n "$top"; else cat; fi; }
