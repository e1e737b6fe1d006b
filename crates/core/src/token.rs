use alloc::string::String;

use serde::{Deserialize, Serialize};

/// The parts of an `/oauth/token` answer body the classification reads.
/// A body that is not JSON, or not shaped like this, is `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenBody {
    pub error: Option<String>,
    pub access_token: Option<String>,
    pub id_token: Option<String>,
}

/// What the old tenant's answer to a password-realm grant means for the
/// migration. Only `WrongCredentials` may be reported as a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenOutcome {
    /// The password is right; the body has the tokens.
    Authenticated,
    /// `invalid_grant`: wrong email or password (or no such user).
    WrongCredentials,
    /// `unauthorized`: the user is blocked in the old tenant.
    Blocked,
    /// `password_leaked`: the password was found in a breach.
    PasswordLeaked,
    /// `too_many_attempts`: brute-force protection blocked this user.
    TooManyAttempts,
    /// `mfa_required`: the password WAS right, a second factor is enrolled.
    MfaRequired,
    /// HTTP 429: try again once the limit resets (UNIX seconds), if known.
    RateLimited { reset_at: Option<u32> },
    /// The old tenant refuses our client: `unauthorized_client`,
    /// `invalid_client`, `access_denied`. A configuration problem.
    Misconfigured,
    /// A 3xx: never followed (it would carry the password and the client
    /// secret elsewhere); the configured domain is not the tenant's own.
    Redirected,
    /// No answer, 5xx, or a body that is not what a token endpoint sends:
    /// the old tenant could not answer, which says nothing of the password.
    Transient,
    /// Another 4xx: an error we do not know how to read.
    Unexpected,
}

impl TokenOutcome {
    /// The name the scripts switch on (the serde tag).
    pub const fn kind(self) -> &'static str {
        match self {
            TokenOutcome::Authenticated => "authenticated",
            TokenOutcome::WrongCredentials => "wrong_credentials",
            TokenOutcome::Blocked => "blocked",
            TokenOutcome::PasswordLeaked => "password_leaked",
            TokenOutcome::TooManyAttempts => "too_many_attempts",
            TokenOutcome::MfaRequired => "mfa_required",
            TokenOutcome::RateLimited { .. } => "rate_limited",
            TokenOutcome::Misconfigured => "misconfigured",
            TokenOutcome::Redirected => "redirected",
            TokenOutcome::Transient => "transient",
            TokenOutcome::Unexpected => "unexpected",
        }
    }

    /// When a rate limit resets (UNIX seconds), if this is one and it is known.
    pub const fn reset_at(self) -> Option<u32> {
        match self {
            TokenOutcome::RateLimited { reset_at } => reset_at,
            _ => None,
        }
    }
}

/// Reads an `x-ratelimit-reset` header (UNIX seconds).
pub fn parse_ratelimit_reset(header: Option<&str>) -> Option<u32> {
    header?.trim().parse().ok()
}

/// Classifies one answer of `POST /oauth/token` to a password-realm grant.
/// `status` is 0 when no HTTP answer came (network error, timeout).
pub fn classify_token_answer(
    status: u16,
    body: Option<&TokenBody>,
    ratelimit_reset: Option<&str>,
) -> TokenOutcome {
    let error = body.and_then(|body| body.error.as_deref());
    match (status, error) {
        (200..=299, _) => match body {
            Some(TokenBody {
                access_token: Some(_),
                id_token: Some(_),
                error: None,
            }) => TokenOutcome::Authenticated,
            _ => TokenOutcome::Transient,
        },
        (300..=399, _) => TokenOutcome::Redirected,
        (429, Some("too_many_attempts")) => TokenOutcome::TooManyAttempts,
        (429, _) => TokenOutcome::RateLimited {
            reset_at: parse_ratelimit_reset(ratelimit_reset),
        },
        (400..=499, Some(code)) => match code {
            "invalid_grant" | "invalid_user_password" => TokenOutcome::WrongCredentials,
            "unauthorized" => TokenOutcome::Blocked,
            "password_leaked" => TokenOutcome::PasswordLeaked,
            "too_many_attempts" => TokenOutcome::TooManyAttempts,
            "mfa_required" => TokenOutcome::MfaRequired,
            "unauthorized_client" | "invalid_client" | "access_denied" => {
                TokenOutcome::Misconfigured
            }
            _ => TokenOutcome::Unexpected,
        },
        (400..=499, None) => TokenOutcome::Unexpected,
        _ => TokenOutcome::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str) -> Option<TokenBody> {
        Some(TokenBody {
            error: Some(code.into()),
            ..TokenBody::default()
        })
    }

    fn classify(status: u16, body: Option<TokenBody>) -> TokenOutcome {
        classify_token_answer(status, body.as_ref(), None)
    }

    #[test]
    fn success_needs_both_tokens() {
        let tokens = TokenBody {
            access_token: Some("a".into()),
            id_token: Some("i".into()),
            error: None,
        };
        assert_eq!(
            classify(200, Some(tokens.clone())),
            TokenOutcome::Authenticated
        );
        let no_id_token = TokenBody {
            id_token: None,
            ..tokens
        };
        assert_eq!(classify(200, Some(no_id_token)), TokenOutcome::Transient);
        assert_eq!(classify(200, None), TokenOutcome::Transient);
    }

    #[test]
    fn only_invalid_grant_is_a_wrong_password() {
        assert_eq!(
            classify(403, error("invalid_grant")),
            TokenOutcome::WrongCredentials
        );
        for (status, code) in [
            (401, "unauthorized"),
            (401, "password_leaked"),
            (403, "mfa_required"),
            (429, "too_many_attempts"),
            (403, "unauthorized_client"),
            (401, "invalid_client"),
            (401, "access_denied"),
            (400, "invalid_request"),
        ] {
            assert_ne!(
                classify(status, error(code)),
                TokenOutcome::WrongCredentials,
                "{code}"
            );
        }
    }

    #[test]
    fn each_documented_error_has_its_meaning() {
        assert_eq!(classify(401, error("unauthorized")), TokenOutcome::Blocked);
        assert_eq!(
            classify(401, error("password_leaked")),
            TokenOutcome::PasswordLeaked
        );
        assert_eq!(
            classify(403, error("mfa_required")),
            TokenOutcome::MfaRequired
        );
        assert_eq!(
            classify(429, error("too_many_attempts")),
            TokenOutcome::TooManyAttempts
        );
        for code in ["unauthorized_client", "invalid_client", "access_denied"] {
            assert_eq!(
                classify(403, error(code)),
                TokenOutcome::Misconfigured,
                "{code}"
            );
        }
        assert_eq!(
            classify(400, error("invalid_request")),
            TokenOutcome::Unexpected
        );
        assert_eq!(classify(404, None), TokenOutcome::Unexpected);
    }

    #[test]
    fn outages_are_transient_never_a_wrong_password() {
        assert_eq!(classify(0, None), TokenOutcome::Transient);
        assert_eq!(
            classify(500, error("invalid_grant")),
            TokenOutcome::Transient
        );
        assert_eq!(classify(502, None), TokenOutcome::Transient);
        assert_eq!(
            classify(503, error("temporarily_unavailable")),
            TokenOutcome::Transient
        );
    }

    #[test]
    fn a_redirect_is_never_followed_nor_a_wrong_password() {
        for status in [300, 301, 302, 303, 307, 308] {
            assert_eq!(classify(status, None), TokenOutcome::Redirected);
            assert_eq!(
                classify(status, error("invalid_grant")),
                TokenOutcome::Redirected
            );
        }
    }

    #[test]
    fn rate_limits_carry_the_reset_time() {
        let outcome =
            classify_token_answer(429, error("too_many_requests").as_ref(), Some("1795000000"));
        assert_eq!(
            outcome,
            TokenOutcome::RateLimited {
                reset_at: Some(1_795_000_000)
            }
        );
        assert_eq!(
            classify_token_answer(429, None, Some("soon")),
            TokenOutcome::RateLimited { reset_at: None }
        );
        assert_eq!(
            classify_token_answer(429, None, None),
            TokenOutcome::RateLimited { reset_at: None }
        );
        assert_eq!(parse_ratelimit_reset(Some(" 12 ")), Some(12));
        assert_eq!(parse_ratelimit_reset(Some("-1")), None);
        assert_eq!(parse_ratelimit_reset(Some("1.5")), None);
    }

    #[test]
    fn outcomes_serialize_as_tagged_objects() {
        let json = serde_json::to_value(TokenOutcome::RateLimited { reset_at: Some(7) }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "rate_limited", "reset_at": 7})
        );
        let json = serde_json::to_value(TokenOutcome::WrongCredentials).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "wrong_credentials"}));
        for outcome in [
            TokenOutcome::Authenticated,
            TokenOutcome::WrongCredentials,
            TokenOutcome::Blocked,
            TokenOutcome::PasswordLeaked,
            TokenOutcome::TooManyAttempts,
            TokenOutcome::MfaRequired,
            TokenOutcome::RateLimited { reset_at: Some(1) },
            TokenOutcome::Misconfigured,
            TokenOutcome::Redirected,
            TokenOutcome::Transient,
            TokenOutcome::Unexpected,
        ] {
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json["kind"], outcome.kind());
            assert_eq!(
                json.get("reset_at").and_then(|v| v.as_u64()),
                outcome.reset_at().map(u64::from)
            );
        }
    }
}
