//! Whether the old tenant knows the source realm, asked as the login script
//! asks: a password-realm grant for an address nobody can have, with a
//! random password. `invalid_grant` (a wrong password) means the realm was
//! accepted; an `invalid_request` naming the realm or the connection means
//! it was refused. Preflight and status both ask it this way.

use serde::Serialize;
use serde_json::json;
use trickle_core::{classify_token_answer, TokenBody, TokenOutcome};

use crate::tenant::{Answer, Tenant};

const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

pub(crate) fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("hex digit"))
        .collect()
}

/// An address nobody can have: `.invalid` is reserved (RFC 6761).
pub(crate) fn impossible_email() -> String {
    format!("trickle-preflight-{}@example.invalid", random_hex(16))
}

/// The login script's call, for `email` (nobody) with a random password.
pub(crate) async fn probe(tenant: &Tenant, realm: &str, email: &str) -> Answer {
    tenant
        .token_request(json!({
            "grant_type": PASSWORD_REALM,
            "realm": realm,
            "username": email,
            "password": random_hex(32),
            "scope": "openid",
        }))
        .await
}

/// Why the answer refuses the realm, when it does: Auth0 says
/// `invalid_request` and names the realm or the connection; its wording
/// tells "not enabled for this client" from "no such connection", when it
/// says.
pub(crate) fn refusal_cause(code: &str, description: &str, realm: &str) -> Option<String> {
    let lower = description.to_lowercase();
    let names_realm = ["realm", "connection"].iter().any(|w| lower.contains(w));
    if code != "invalid_request" || !names_realm {
        return None;
    }
    Some(
        if lower.contains("not enabled") || lower.contains("disabled") {
            format!("{realm} exists but is not enabled for this client")
        } else if ["unknown", "not found", "does not exist"]
            .iter()
            .any(|w| lower.contains(w))
        {
            format!("the old tenant has no connection named {realm}")
        } else {
            format!("{realm} is unknown, or not enabled for this client (Auth0's answer does not say which)")
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RealmOutcome {
    /// A wrong password for nobody: the realm exists and the client may use it.
    Accepted,
    /// Unknown, or not enabled for the client.
    Refused,
    /// The answer says nothing about the realm (no Password grant, an outage).
    Unchecked,
}

/// What the old tenant said of the realm.
#[derive(Debug, Clone, Serialize)]
pub struct RealmCheck {
    pub outcome: RealmOutcome,
    pub detail: String,
}

/// Asks, and reads the answer as the scripts read it.
pub(crate) async fn check(tenant: &Tenant, realm: &str) -> RealmCheck {
    let answer = probe(tenant, realm, &impossible_email()).await;
    let body: Option<TokenBody> = serde_json::from_str(&answer.body).ok();
    let outcome = classify_token_answer(
        answer.status,
        body.as_ref(),
        answer.header("x-ratelimit-reset"),
    );
    let (code, description) = answer.error();
    let redact = |text: &str| tenant.credentials.secret.redact(text);
    if outcome == TokenOutcome::WrongCredentials {
        return RealmCheck {
            outcome: RealmOutcome::Accepted,
            detail: format!("the old tenant accepts {realm}"),
        };
    }
    match refusal_cause(&code, &description, realm) {
        Some(cause) => RealmCheck {
            outcome: RealmOutcome::Refused,
            detail: redact(&format!("{cause}; Auth0 said {code}: {description}")),
        },
        None => RealmCheck {
            outcome: RealmOutcome::Unchecked,
            detail: redact(&format!(
                "not checked: a password-realm grant answered HTTP {} {code} (run trickle preflight)",
                answer.status
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_by_auth0s_words() {
        let cause = |description| refusal_cause("invalid_request", description, "R");
        assert_eq!(
            cause("Unknown realm: R").as_deref(),
            Some("the old tenant has no connection named R")
        );
        assert!(cause("the connection is not enabled")
            .unwrap()
            .contains("not enabled"));
        assert!(cause("bad realm").unwrap().contains("does not say which"));
        assert_eq!(cause("missing username"), None);
        assert_eq!(refusal_cause("invalid_grant", "realm", "R"), None);
    }

    #[test]
    fn the_probe_address_is_reserved_and_random() {
        let a = impossible_email();
        assert!(a.ends_with("@example.invalid"));
        assert_ne!(a, impossible_email());
    }
}
