//! Unicode lower-casing, exactly as this toolchain's `str::to_lowercase`
//! does it (final sigma included), from compact tables that `build.rs`
//! derives from std itself. One lower-casing for every path: the scripts
//! (through the WASM, whatever Node's own ICU says) and bulk (natively) give
//! the same email for the same input.

use alloc::string::String;

include!(concat!(env!("OUT_DIR"), "/lowercase_tables.rs"));

const CAPITAL_SIGMA: char = '\u{3A3}';
const DOTTED_CAPITAL_I: char = '\u{130}';

/// `text` lower-cased.
pub fn to_lowercase(text: &str) -> String {
    let mut lowered = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        match c {
            _ if c.is_ascii() => lowered.push(c.to_ascii_lowercase()),
            CAPITAL_SIGMA => lowered.push(sigma(text, at)),
            DOTTED_CAPITAL_I => lowered.push_str("i\u{307}"),
            _ => lowered.push(lower_char(c)),
        }
    }
    lowered
}

fn lower_char(c: char) -> char {
    let code = c as u32;
    let index = LOWER_RUNS.partition_point(|run| (run >> 26) as u32 <= code);
    let Some(&run) = index.checked_sub(1).and_then(|i| LOWER_RUNS.get(i)) else {
        return c;
    };
    let start = (run >> 26) as u32;
    let len = ((run >> 19) & 0x7F) as u32;
    let stride = ((run >> 18) & 1) as u32 + 1;
    let offset = (run & 0x3FFFF) as i64 - (1 << 17);
    let step = code - start;
    if !step.is_multiple_of(stride) || step / stride >= len {
        return c;
    }
    // The tables only hold mappings std made, so the result is a char.
    char::from_u32((i64::from(code) + offset) as u32).unwrap_or(c)
}

/// Whether `code` is in a set encoded as varint (gap, length) pairs.
fn in_set(set: &[u8], code: u32) -> bool {
    let mut bytes = set.iter();
    let mut next = || {
        let mut value = 0u32;
        let mut shift = 0;
        for &byte in bytes.by_ref() {
            value |= u32::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
        }
        None
    };
    let mut end = 0u32;
    while let (Some(gap), Some(len)) = (next(), next()) {
        let start = end + gap;
        end = start + len;
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

    #[test]
    fn sigma_in_every_context_lowers_as_std_does() {
        for c in all_chars() {
            for text in [
                format!("A\u{3A3}{c}"),
                format!("A\u{3A3}{c}B"),
                format!("{c}\u{3A3}"),
                format!("A{c}\u{3A3}"),
                format!("{c}\u{3A3}B"),
            ] {
                assert_eq!(to_lowercase(&text), text.to_lowercase(), "{text:?}");
            }
        }
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
