//! Derives compact lower-casing tables from this toolchain's own
//! `str::to_lowercase`, so the core lower-cases exactly as Rust does (in
//! bulk, natively) while the WASM carries ~2 KB of tables instead of the
//! ~22 KB that linking std's case tables costs.
//!
//! Output (`$OUT_DIR/lowercase_tables.rs`):
//! - `LOWER_RUNS`: every one-char mapping, as runs of code points with the
//!   same offset, sorted, each three varints: the gap since the previous
//!   run's end, (length - 1) * 2 + stride - 1, and the offset zigzag-encoded.
//!   Gaps rather than starts, in bytes rather than words: the least the
//!   scripts' brotli can squeeze (measured: 468 bytes compressed, against
//!   708 for fixed 64-bit words).
//! - `CASE_IGNORABLE`, `CASED`: the two sets the final-sigma rule reads, as
//!   varint pairs (gap since the previous range's end, length). `CASED` only
//!   holds chars that are not case-ignorable: the rule never asks about the
//!   others.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const SIGMA: char = '\u{3A3}';
const DOTTED_CAPITAL_I: char = '\u{130}';

fn all_chars() -> impl Iterator<Item = char> {
    (0u32..=0x10FFFF).filter_map(char::from_u32)
}

fn lower(text: &str) -> String {
    text.to_lowercase()
}

/// Runs of `(start, len, stride, offset)` over `(char, offset)` pairs.
fn runs(mappings: &[(u32, i64)]) -> Vec<(u32, u32, u32, i64)> {
    let mut runs: Vec<(u32, u32, u32, i64)> = Vec::new();
    for &(code, offset) in mappings {
        if let Some(last) = runs.last_mut() {
            let (start, len, stride, run_offset) = *last;
            if run_offset == offset {
                if len == 1 && (code - start == 1 || code - start == 2) {
                    *last = (start, 2, code - start, offset);
                    continue;
                }
                if len >= 2 && code == start + len * stride {
                    last.1 += 1;
                    continue;
                }
            }
        }
        runs.push((code, 1, 1, offset));
    }
    runs
}

/// The runs as `LOWER_RUNS` bytes.
fn encode_runs(runs: &[(u32, u32, u32, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous_end = 0u32;
    for &(start, len, stride, offset) in runs {
        assert!(stride == 1 || stride == 2);
        let zigzag = if offset < 0 {
            -offset * 2 - 1
        } else {
            offset * 2
        };
        varint(&mut out, start - previous_end);
        varint(&mut out, (len - 1) * 2 + stride - 1);
        varint(
            &mut out,
            u32::try_from(zigzag).expect("an offset within the code space"),
        );
        previous_end = start + (len - 1) * stride + 1;
    }
    out
}

/// Ranges `[start, end]` of consecutive members.
fn ranges(members: &[u32]) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for &code in members {
        match ranges.last_mut() {
            Some(last) if last.1 + 1 == code => last.1 = code,
            _ => ranges.push((code, code)),
        }
    }
    ranges
}

fn varint(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn encode_ranges(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous_end = 0u32;
    for &(start, end) in ranges {
        varint(&mut out, start - previous_end);
        varint(&mut out, end - start);
        previous_end = end;
    }
    out
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");

    let mut mappings = Vec::new();
    for c in all_chars() {
        let lowered: Vec<char> = c.to_lowercase().collect();
        match lowered.as_slice() {
            [single] if *single != c => mappings.push((c as u32, *single as i64 - c as i64)),
            [_] => {}
            _ => assert_eq!(
                c, DOTTED_CAPITAL_I,
                "a new multi-char lower-casing ({c:?}): teach crates/core/src/lowercase.rs"
            ),
        }
    }
    let runs = runs(&mappings);

    // Which chars the final-sigma rule skips (Case_Ignorable) and which end
    // the skip as cased, read off std's behaviour around a capital sigma:
    // "AΣc" lowers Σ to σ iff c is cased and not ignorable; "AΣcB" to σ iff
    // c is ignorable (skipped, then B is cased) or cased.
    let mut ignorable = Vec::new();
    let mut cased = Vec::new();
    for c in all_chars() {
        let at_end = lower(&format!("A{SIGMA}{c}"));
        let before_cased = lower(&format!("A{SIGMA}{c}B"));
        let medial_at_end = at_end.starts_with("a\u{3C3}");
        let medial_before_cased = before_cased.starts_with("a\u{3C3}");
        if medial_at_end {
            cased.push(c as u32);
        } else if medial_before_cased {
            ignorable.push(c as u32);
        }
    }

    let mut code = String::new();
    writeln!(code, "const LOWER_RUN_COUNT: usize = {};", runs.len()).unwrap();
    for (name, bytes) in [
        ("LOWER_RUNS", encode_runs(&runs)),
        ("CASE_IGNORABLE", encode_ranges(&ranges(&ignorable))),
        ("CASED", encode_ranges(&ranges(&cased))),
    ] {
        writeln!(
            code,
            "pub(crate) static {name}: [u8; {}] = {bytes:?};",
            bytes.len()
        )
        .unwrap();
    }
    let out =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lowercase_tables.rs");
    fs::write(out, code).expect("write the lower-casing tables");
}
