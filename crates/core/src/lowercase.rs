//! Unicode lower-casing, exactly as this toolchain's `str::to_lowercase`
//! does it (final sigma included), from compact tables that `build.rs`
//! derives from std itself. One lower-casing for every path: the scripts
//! (through the WASM, whatever Node's own ICU says) and bulk (natively) give
//! the same email for the same input.

use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

include!(concat!(env!("OUT_DIR"), "/lowercase_tables.rs"));

const CAPITAL_SIGMA: char = '\u{3A3}';
const DOTTED_CAPITAL_I: char = '\u{130}';

/// `text` lower-cased.
pub fn to_lowercase(text: &str) -> String {
    let mut lowered = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        // One push for every char (fewer copies of the UTF-8 encoder).
        let c = match c {
            CAPITAL_SIGMA => sigma(text, at),
            DOTTED_CAPITAL_I => {
                lowered.push('i');
                '\u{307}'
            }
            _ => lower_char(c),
        };
        lowered.push(c);
    }
    lowered
}

/// The next LEB128 varint of `bytes` from `*at` on (the tables' encoding).
#[inline(never)]
fn varint(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    let mut shift = 0u32;
    while let Some(&byte) = bytes.get(*at) {
        *at += 1;
        value |= u32::from(byte & 0x7F).wrapping_shl(shift);
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    value
}

/// `LOWER_RUNS` decoded for a binary search, at the first char that needs
/// it: each run's start, its end (exclusive) and stride, its offset. Atomics
/// (plain loads and stores in the WASM) so the core stays safe Rust and
/// `Sync` without std: threads that decode at once write the same values.
static DECODED: [[AtomicU32; 3]; LOWER_RUN_COUNT] =
    [const { [const { AtomicU32::new(0) }; 3] }; LOWER_RUN_COUNT];
static DECODED_READY: AtomicBool = AtomicBool::new(false);

fn decoded_runs() -> &'static [[AtomicU32; 3]] {
    if !DECODED_READY.load(Ordering::Acquire) {
        let (mut at, mut end) = (0, 0u32);
        for run in &DECODED {
            let start = end + varint(&LOWER_RUNS, &mut at);
            let shape = varint(&LOWER_RUNS, &mut at);
            let offset = varint(&LOWER_RUNS, &mut at);
            // (len - 1) * stride past the start, then one more.
            end = start + (shape >> 1) * ((shape & 1) + 1) + 1;
            run[0].store(start, Ordering::Relaxed);
            run[1].store(end << 1 | (shape & 1), Ordering::Relaxed);
            run[2].store(offset, Ordering::Relaxed);
        }
        DECODED_READY.store(true, Ordering::Release);
    }
    &DECODED
}

/// `c`'s one-char lower case.
fn lower_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let code = c as u32;
    let runs = decoded_runs();
    let index = runs.partition_point(|run| run[0].load(Ordering::Relaxed) <= code);
    let Some(run) = index.checked_sub(1).and_then(|i| runs.get(i)) else {
        return c;
    };
    let start = run[0].load(Ordering::Relaxed);
    let end = run[1].load(Ordering::Relaxed);
    let stride = (end & 1) + 1;
    if code >= end >> 1 || !(code - start).is_multiple_of(stride) {
        return c;
    }
    let offset = run[2].load(Ordering::Relaxed);
    let offset = (offset >> 1) as i32 ^ -((offset & 1) as i32);
    // The tables only hold mappings std made, so the result is a char.
    char::from_u32(code.wrapping_add_signed(offset)).unwrap_or(c)
}

/// Whether `code` is in a set encoded as varint (gap, length) pairs.
fn in_set(set: &[u8], code: u32) -> bool {
    let (mut at, mut end) = (0, 0u32);
    while at < set.len() {
        let start = end + varint(set, &mut at);
        end = start + varint(set, &mut at);
        if code < start {
            return false;
        }
        if code <= end {
            return true;
        }
    }
    false
}

/// Skipping case-ignorable chars, is the first other one cased?
fn ignorable_then_cased(mut chars: impl Iterator<Item = char>) -> bool {
    match chars.find(|&c| !in_set(&CASE_IGNORABLE, c as u32)) {
        Some(c) => in_set(&CASED, c as u32),
        None => false,
    }
}

/// Σ at byte `at`: final ς at the end of a word, σ elsewhere (Unicode's
/// Final_Sigma, as std applies it).
fn sigma(text: &str, at: usize) -> char {
    let after = at + CAPITAL_SIGMA.len_utf8();
    // `get`, not indexing: both are char boundaries, and no panic path ships.
    let before = text.get(..at).unwrap_or_default();
    let rest = text.get(after..).unwrap_or_default();
    let word_final =
        ignorable_then_cased(before.chars().rev()) && !ignorable_then_cased(rest.chars());
    if word_final {
        '\u{3C2}'
    } else {
        '\u{3C3}'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_chars() -> impl Iterator<Item = char> {
        (0u32..=0x10FFFF).filter_map(char::from_u32)
    }

    #[test]
    fn every_char_lowers_as_std_does() {
        let mut text = String::new();
        for c in all_chars() {
            text.clear();
            text.push(c);
            assert_eq!(to_lowercase(&text), text.to_lowercase(), "{c:?}");
        }
    }

    /// Each char of the `quarter`th quarter of the code points just before
    /// and just after a Σ, with and without a cased letter beyond (one
    /// buffer; in quarters, so the test threads share the 5.5 million texts).
    fn sigma_in_every_context_lowers_as_std_does(quarter: u32) {
        let size = 0x11_0000 / 4;
        let chars = (quarter * size..(quarter + 1) * size).filter_map(char::from_u32);
        let mut text = String::new();
        for c in chars {
            for [prefix, middle, suffix] in [
                ["A\u{3A3}", "", ""],
                ["A\u{3A3}", "", "B"],
                ["", "\u{3A3}", ""],
                ["A", "\u{3A3}", ""],
                ["", "\u{3A3}", "B"],
            ] {
                text.clear();
                text.push_str(prefix);
                text.push(c);
                text.push_str(middle);
                text.push_str(suffix);
                assert_eq!(to_lowercase(&text), text.to_lowercase(), "{text:?}");
            }
        }
    }

    #[test]
    fn sigma_in_every_context_lowers_as_std_does_1() {
        sigma_in_every_context_lowers_as_std_does(0);
    }

    #[test]
    fn sigma_in_every_context_lowers_as_std_does_2() {
        sigma_in_every_context_lowers_as_std_does(1);
    }

    #[test]
    fn sigma_in_every_context_lowers_as_std_does_3() {
        sigma_in_every_context_lowers_as_std_does(2);
    }

    #[test]
    fn sigma_in_every_context_lowers_as_std_does_4() {
        sigma_in_every_context_lowers_as_std_does(3);
    }

    #[test]
    fn emails_lower_as_std_does() {
        for email in [
            "Jane.Doe@Example.COM",
            "\u{A7CB}@X.COM",
            "ΟΔΥΣΣΕΥΣ@ΕΛΛΑΣ.GR",
            "Σ@x.com",
            "İSTANBUL@x.com",
            "ÉMILE@example.com",
            "ǅungla@x.com",
            "a\u{FFFD}@x.com",
        ] {
            assert_eq!(to_lowercase(email), email.to_lowercase(), "{email}");
        }
    }
}
