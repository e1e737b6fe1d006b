use std::fmt;

/// A client secret: shown as `***` by `Debug` and `Display`, so it cannot
/// end up in a report or a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret masked (for messages that
    /// quote an answer, in case a server ever echoes it): as sent, and
    /// URL-encoded, JSON-escaped or in base64 (`trickle_transfer::mask`).
    pub fn redact(&self, text: &str) -> String {
        trickle_transfer::mask_secret(text, &self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shown() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "*** Secret(***)");
        assert_eq!(secret.redact("got hunter2 back"), "got *** back");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn echoes_in_other_forms_are_masked_too() {
        let secret = Secret::new("hunter/2+\"é");
        for echo in [
            "client_secret=hunter%2F2%2B%22%C3%A9",
            "client_secret=hunter%2f2%2b%22%c3%a9",
            r#"{"client_secret":"hunter\/2+\"\u00e9"}"#,
            r#"{"client_secret":"hunter/2+\"é"}"#,
            "Basic aHVudGVyLzIrIsOp",
            "Basic YzpodW50ZXIvMisiw6k=",
        ] {
            let shown = secret.redact(echo);
            assert!(shown.contains("***"), "{echo} → {shown}");
            for piece in ["hunter", "aHVudGVy", "W50ZXIvMisiw6"] {
                assert!(!shown.contains(piece), "{echo} → {shown}");
            }
        }
    }
}
