use serde::Serialize;

use crate::parse_ratelimit_reset;

/// What an answer of the old tenant's Management API (or of its
/// client-credentials grant) means for the script that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ManagementOutcome {
    Ok,
    /// 404: no such user.
    NotFound,
    /// 401: the token is no longer valid; fetch a new one once.
    Unauthorized,
    /// 403: the client lacks a scope (`read:users`, `update:users`).
    Forbidden,
    /// 429: try again once the limit resets (UNIX seconds), if known.
    RateLimited {
        reset_at: Option<u32>,
    },
    /// A 3xx: never followed (it would carry the token elsewhere); the
    /// configured domain is not the tenant's own.
    Redirected,
    /// No answer or 5xx.
    Transient,
    /// Anything else.
    Unexpected,
}

impl ManagementOutcome {
    /// The name the scripts switch on (the serde tag).
    pub const fn kind(self) -> &'static str {
        match self {
            ManagementOutcome::Ok => "ok",
            ManagementOutcome::NotFound => "not_found",
            ManagementOutcome::Unauthorized => "unauthorized",
            ManagementOutcome::Forbidden => "forbidden",
            ManagementOutcome::RateLimited { .. } => "rate_limited",
            ManagementOutcome::Redirected => "redirected",
            ManagementOutcome::Transient => "transient",
            ManagementOutcome::Unexpected => "unexpected",
        }
    }

    /// When a rate limit resets (UNIX seconds), if this is one and it is known.
    pub const fn reset_at(self) -> Option<u32> {
        match self {
            ManagementOutcome::RateLimited { reset_at } => reset_at,
            _ => None,
        }
    }
}

/// Classifies one Management API answer by its status (0: no answer).
pub fn classify_management_answer(status: u16, ratelimit_reset: Option<&str>) -> ManagementOutcome {
    match status {
        200..=299 => ManagementOutcome::Ok,
        404 => ManagementOutcome::NotFound,
        401 => ManagementOutcome::Unauthorized,
        403 => ManagementOutcome::Forbidden,
        429 => ManagementOutcome::RateLimited {
            reset_at: parse_ratelimit_reset(ratelimit_reset),
        },
        300..=399 => ManagementOutcome::Redirected,
        0 | 500..=599 => ManagementOutcome::Transient,
        _ => ManagementOutcome::Unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_script_must_do() {
        assert_eq!(classify_management_answer(200, None), ManagementOutcome::Ok);
        assert_eq!(classify_management_answer(204, None), ManagementOutcome::Ok);
        assert_eq!(
            classify_management_answer(404, None),
            ManagementOutcome::NotFound
        );
        assert_eq!(
            classify_management_answer(401, None),
            ManagementOutcome::Unauthorized
        );
        assert_eq!(
            classify_management_answer(403, None),
            ManagementOutcome::Forbidden
        );
        assert_eq!(
            classify_management_answer(429, Some("99")),
            ManagementOutcome::RateLimited { reset_at: Some(99) }
        );
        assert_eq!(
            classify_management_answer(0, None),
            ManagementOutcome::Transient
        );
        assert_eq!(
            classify_management_answer(503, None),
            ManagementOutcome::Transient
        );
        assert_eq!(
            classify_management_answer(400, None),
            ManagementOutcome::Unexpected
        );
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(
                classify_management_answer(status, None),
                ManagementOutcome::Redirected
            );
        }
    }

    #[test]
    fn kind_is_the_serde_tag() {
        for status in [200, 302, 404, 401, 403, 429, 0, 500, 400] {
            let outcome = classify_management_answer(status, Some("5"));
            let json = serde_json::to_value(outcome).unwrap();
            assert_eq!(json["kind"], outcome.kind());
            assert_eq!(
                json.get("reset_at").and_then(|v| v.as_u64()),
                outcome.reset_at().map(u64::from)
            );
        }
    }
}
