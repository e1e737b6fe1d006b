//! The one scrubber of every text a server wrote that reaches a message,
//! the report or the screen (error bodies, descriptions): it may echo a
//! token, a secret, a SID or a record's members back at us.
//!
//! Each known secret (the side's API tokens, the record's masked strings,
//! its SID) becomes `***`; so does any long run of token characters with
//! letters and digits (an unknown token, a SID, a JWT), since an error
//! description never needs one; control characters become spaces (a text
//! stays one line) and the result is cut to a readable length.

/// Shown instead of a secret.
pub const MASK: &str = "***";
/// Characters kept at most.
const MAX_CHARS: usize = 300;
/// A run of token characters this long, with letters and digits, is
/// taken for a secret.
const TOKEN_RUN: usize = 32;

/// `text` with every one of `secrets` (and whatever looks like a token)
/// masked, on one line, cut to a readable length.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    // The longest first: a secret that holds another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        // A server may echo it URL-encoded, JSON-escaped or in base64.
        out = trickle_transfer::mask_secret(&out, secret);
    }
    let out = mask_token_runs(&out);
    let out: String = out
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match out.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '=')
}

/// Runs of [`TOKEN_RUN`] or more token characters holding both letters and
/// digits, masked.
fn mask_token_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    let flush = |out: &mut String, run: &str| {
        let letters = run.chars().any(|c| c.is_ascii_alphabetic());
        let digits = run.chars().any(|c| c.is_ascii_digit());
        if run.len() >= TOKEN_RUN && letters && digits {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
    };
    for (at, c) in text.char_indices() {
        match (is_token_char(c), run_start) {
            (true, None) => run_start = Some(at),
            (true, Some(_)) => {}
            (false, Some(start)) => {
                flush(&mut out, &text[start..at]);
                run_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_echoed_url_encoded_is_masked() {
        let out = scrub("bad client_secret=s%2Fe+cr%3Dt here", &["s/e cr=t"]);
        assert!(!out.contains("s%2Fe"), "{out}");
    }

    #[test]
    fn known_secrets_and_token_like_runs_are_masked() {
        assert_eq!(
            scrub("bad value secret-data here", &["secret-data"]),
            "bad value *** here"
        );
        assert_eq!(
            scrub(
                "no session abcDEF0123456789abcdef0123456789.xyz for Bearer s3cr3t",
                &["s3cr3t"]
            ),
            "no session *** for Bearer ***"
        );
        // Long words without digits, and URLs, stay readable.
        let text = "backchannel_logout_session_required is not allowed at /c2id/session-store/rest/v2/sessions";
        assert_eq!(scrub(text, &[]), text);
        // A secret inside a longer one does not leave the rest showing.
        assert_eq!(scrub("xx abcdefgh yy", &["abcd", "abcdefgh"]), "xx *** yy");
    }

    #[test]
    fn texts_stay_on_one_line_and_readable_in_length() {
        assert_eq!(scrub("a\nb\r\tc", &[]), "a b  c");
        let long = "word ".repeat(200);
        assert_eq!(scrub(&long, &[]).chars().count(), MAX_CHARS + 1);
    }
}
