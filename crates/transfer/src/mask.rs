//! Masking a secret in text that came back from a server (an error's
//! description, a `Location`, a body quoted in a message). A server that
//! echoes a secret rarely echoes it verbatim: it may be URL-encoded (a form
//! body, a query), JSON-escaped (a JSON body quoting it), or base64 (a Basic
//! authorisation header, a token that embeds it). Each of those forms is
//! masked too, wherever it appears.

use base64::alphabet::{STANDARD, URL_SAFE};
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a masked secret becomes.
pub const MASK: &str = "***";

/// Derived forms shorter than this are not masked: they would match
/// ordinary text (the secret itself is always masked).
const SHORTEST_FORM: usize = 4;

/// What `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// What RFC 3986 leaves alone (and `application/x-www-form-urlencoded`,
/// with `+` for a space).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Every form of one secret worth masking, longest first.
#[derive(Clone, Default)]
pub struct SecretForms {
    forms: Vec<String>,
}

impl SecretForms {
    pub fn new(secret: &str) -> SecretForms {
        if secret.is_empty() {
            return SecretForms::default();
        }
        let mut forms: Vec<String> = url_encoded(secret)
            .into_iter()
            .chain(json_escaped(secret))
            .chain(base64_cores(secret.as_bytes()))
            .filter(|form| form.len() >= SHORTEST_FORM)
            .collect();
        forms.push(secret.to_owned());
        // Longest first, so a longer form is masked whole before a
        // shorter one inside it.
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        SecretForms { forms }
    }

    /// `text` with every form of the secret replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.to_owned();
        for form in &self.forms {
            if masked.contains(form.as_str()) {
                masked = masked.replace(form.as_str(), MASK);
            }
        }
        masked
    }
}

/// `text` with every form of `secret` masked.
pub fn mask_secret(text: &str, secret: &str) -> String {
    SecretForms::new(secret).mask(text)
}

/// Percent-encoded as a URL component, as a form value (`+` for a space),
/// and with every non-alphanumeric byte encoded; hex digits in either case.
fn url_encoded(secret: &str) -> Vec<String> {
    let component = utf8_percent_encode(secret, URI_COMPONENT).to_string();
    let strict = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let form = utf8_percent_encode(secret, UNRESERVED)
        .to_string()
        .replace("%20", "+");
    [component, strict, form]
        .into_iter()
        .flat_map(|upper| {
            let lower = lower_hex_escapes(&upper);
            [upper, lower]
        })
        .collect()
}

/// `%2F` → `%2f`.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        out.push_str(&escape.to_ascii_lowercase());
        rest = &rest[at + escape.len()..];
    }
    out.push_str(rest);
    out
}

/// Inside a JSON string: as serde_json writes it, with `/` escaped or not,
/// and non-ASCII characters as they are or as `\uXXXX` (either case).
fn json_escaped(secret: &str) -> Vec<String> {
    let plain = serde_json::to_string(secret).expect("a string serializes");
    let plain = plain[1..plain.len() - 1].to_owned();
    let slashed = plain.replace('/', "\\/");
    [plain, slashed]
        .into_iter()
        .flat_map(|escaped| {
            let ascii = ascii_escaped(&escaped);
            let upper = upper_unicode_escapes(&ascii);
            [escaped, ascii, upper]
        })
        .collect()
}

/// Every non-ASCII character as `\uXXXX` (UTF-16 units, lower-case hex).
fn ascii_escaped(text: &str) -> String {
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    ascii
}

/// `\u00e9` → `\u00E9`.
fn upper_unicode_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let end = (at + 6).min(rest.len());
        out.push_str("\\u");
        out.push_str(&rest[at + 2..end].to_ascii_uppercase());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The part of the secret's base64 that is the same wherever the secret
/// sits in a longer encoded text: for each of the three alignments (and
/// both alphabets), the characters made of the secret's bytes only.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    let config = GeneralPurposeConfig::new().with_encode_padding(false);
    let engines = [
        GeneralPurpose::new(&STANDARD, config),
        GeneralPurpose::new(&URL_SAFE, config),
    ];
    let mut cores = Vec::new();
    for engine in &engines {
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(secret);
            let encoded = engine.encode(&shifted);
            // Characters that carry bits of the filler bytes before…
            let skip = [0, 2, 3][offset];
            // …or of whatever follows the secret.
            let cut = usize::from(shifted.len() % 3 != 0);
            if encoded.len() > skip + cut {
                cores.push(encoded[skip..encoded.len() - cut].to_owned());
            }
        }
    }
    cores
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};

    use super::*;

    const SECRET: &str = "s3cr/et+key é&\"x";

    #[test]
    fn the_secret_as_sent_is_masked() {
        assert_eq!(
            mask_secret("got s3cr/et+key é&\"x back", SECRET),
            "got *** back"
        );
        assert_eq!(mask_secret("nothing here", SECRET), "nothing here");
        assert_eq!(mask_secret("anything", ""), "anything");
    }

    #[test]
    fn url_encoded_echoes_are_masked() {
        for encoded in [
            "s3cr%2Fet%2Bkey%20%C3%A9%26%22x",
            "s3cr%2fet%2bkey%20%c3%a9%26%22x",
            "s3cr%2Fet%2Bkey+%C3%A9%26%22x",
        ] {
            let masked = mask_secret(&format!("client_secret={encoded}&a=b"), SECRET);
            assert_eq!(masked, "client_secret=***&a=b", "{encoded}");
        }
    }

    #[test]
    fn json_escaped_echoes_are_masked() {
        for escaped in [
            r#"s3cr/et+key é&\"x"#,
            r#"s3cr\/et+key é&\"x"#,
            r#"s3cr/et+key \u00e9&\"x"#,
            r#"s3cr/et+key \u00E9&\"x"#,
        ] {
            let body = format!(r#"{{"error":"bad","client_secret":"{escaped}"}}"#);
            let masked = mask_secret(&body, SECRET);
            assert_eq!(
                masked, r#"{"error":"bad","client_secret":"***"}"#,
                "{escaped}"
            );
        }
    }

    #[test]
    fn base64_echoes_are_masked_at_any_alignment() {
        for prefix in ["", "c", "cl", "client-id:"] {
            let whole = format!("{prefix}{SECRET}");
            for encoded in [B64.encode(&whole), URL_SAFE_NO_PAD.encode(&whole)] {
                let masked = mask_secret(&format!("Basic {encoded}"), SECRET);
                assert!(masked.contains(MASK), "{prefix}: {masked}");
                // What is left cannot give the secret back.
                let left = masked.replace(MASK, "");
                assert!(left.len() < "Basic ".len() + prefix.len() + 8, "{masked}");
            }
        }
    }

    #[test]
    fn short_derived_forms_do_not_eat_ordinary_text() {
        // A two-byte secret's base64 cores are one or two characters long.
        assert_eq!(mask_secret("a plain message", "ab"), "a plain message");
        assert_eq!(mask_secret("xx ab yy", "ab"), "xx *** yy");
    }
}
