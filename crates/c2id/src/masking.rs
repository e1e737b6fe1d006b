//! What of a record may be shown (dry-run samples) and, by difference,
//! what must be scrubbed from a server's echo of it. Every kind is shown
//! through an allowlist of members known to be public; anything else (a
//! secret, a token, custom data, a member the list does not know) keeps
//! its shape with every value replaced by `***`.

use serde_json::{Map, Value};

use crate::phase::Phase;
use crate::scrub::MASK;

/// Public client metadata (RFC 7591, RFC 7592, OpenID Connect Dynamic
/// Registration, Session and Front-/Back-Channel Logout, RFC 8705, JARM,
/// PAR, CIBA), plus the non-secret members the target makes.
const PUBLIC_CLIENT_MEMBERS: &[&str] = &[
    "client_id",
    "preferred_client_id",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_client_uri",
    "redirect_uris",
    "token_endpoint_auth_method",
    "token_endpoint_auth_signing_alg",
    "grant_types",
    "response_types",
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "scope",
    "contacts",
    "jwks_uri",
    "jwks",
    "software_id",
    "software_version",
    "application_type",
    "sector_identifier_uri",
    "subject_type",
    "id_token_signed_response_alg",
    "id_token_encrypted_response_alg",
    "id_token_encrypted_response_enc",
    "userinfo_signed_response_alg",
    "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc",
    "request_object_signing_alg",
    "request_object_encryption_alg",
    "request_object_encryption_enc",
    "default_max_age",
    "require_auth_time",
    "default_acr_values",
    "initiate_login_uri",
    "request_uris",
    "post_logout_redirect_uris",
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
    "tls_client_certificate_bound_access_tokens",
    "authorization_signed_response_alg",
    "authorization_encrypted_response_alg",
    "authorization_encrypted_response_enc",
    "require_pushed_authorization_requests",
    "backchannel_token_delivery_mode",
    "backchannel_client_notification_endpoint",
    "backchannel_authentication_request_signing_alg",
    "backchannel_user_code_parameter",
    "dpop_bound_access_tokens",
];

/// Members that may carry a language tag (`client_name#fr`).
const LOCALISED: &[&str] = &[
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
];

/// The members of an authorisation shown as they are (names, scopes,
/// consented claim names, the issuer); numbers and flags show too.
const PUBLIC_AUTHZ_MEMBERS: &[&str] = &["sub", "cid", "scp", "clm", "iss"];

/// The members of a session shown as they are.
const PUBLIC_SESSION_MEMBERS: &[&str] = &[
    "sub",
    "auth_time",
    "creation_time",
    "max_life",
    "auth_life",
    "max_idle",
    "acr",
    "amr",
];

/// Members of a JWK that hold private or secret key material.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn is_public_client_member(name: &str) -> bool {
    if PUBLIC_CLIENT_MEMBERS.contains(&name) {
        return true;
    }
    name.split_once('#')
        .is_some_and(|(base, _)| LOCALISED.contains(&base))
}

fn shown_as_is(phase: Phase, name: &str, value: &Value) -> bool {
    match phase {
        Phase::Clients => is_public_client_member(name),
        Phase::Authorizations => {
            PUBLIC_AUTHZ_MEMBERS.contains(&name) || value.is_number() || value.is_boolean()
        }
        Phase::Sessions => PUBLIC_SESSION_MEMBERS.contains(&name),
    }
}

/// `record` (a body about to be posted, or an export) with everything
/// but its public members' values replaced by `***`.
pub fn masked(phase: Phase, record: &Value) -> Value {
    let Value::Object(members) = record else {
        return Value::String(MASK.to_owned());
    };
    let mut out = Map::new();
    for (name, value) in members {
        let shown = if !shown_as_is(phase, name, value) {
            mask_leaves(value)
        } else if phase == Phase::Clients && name == "jwks" {
            mask_private_keys(value)
        } else {
            value.clone()
        };
        out.insert(name.clone(), shown);
    }
    Value::Object(out)
}

/// Keeps the shape, hides every value.
fn mask_leaves(value: &Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, value)| (name.clone(), mask_leaves(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_leaves).collect()),
        _ => Value::String(MASK.to_owned()),
    }
}

/// A client's inline JWK set with its private members hidden.
fn mask_private_keys(jwks: &Value) -> Value {
    match jwks {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, value)| {
                    let value = if PRIVATE_JWK_MEMBERS.contains(&name.as_str()) {
                        mask_leaves(value)
                    } else {
                        mask_private_keys(value)
                    };
                    (name.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_private_keys).collect()),
        other => other.clone(),
    }
}

/// Every string of `record` that [`masked`] would hide, for scrubbing
/// messages that might echo them.
pub fn secret_strings(phase: Phase, record: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_masked(record, &masked(phase, record), &mut found);
    found.retain(|s| s.len() >= 4);
    found
}

fn collect_masked(original: &Value, shown: &Value, found: &mut Vec<String>) {
    match (original, shown) {
        (Value::String(s), Value::String(m)) if m == MASK && s != MASK => found.push(s.clone()),
        (Value::Number(n), Value::String(m)) if m == MASK => found.push(n.to_string()),
        (Value::Object(o), Value::Object(m)) => {
            for (name, value) in o {
                if let Some(shown) = m.get(name) {
                    collect_masked(value, shown, found);
                }
            }
        }
        (Value::Array(o), Value::Array(m)) => {
            for (value, shown) in o.iter().zip(m) {
                collect_masked(value, shown, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scrub::scrub;

    #[test]
    fn clients_show_only_public_metadata() {
        let client = json!({"preferred_client_id": "w", "preferred_client_secret": "topsecret",
                            "client_name": "W", "client_name#fr": "Ouais",
                            "jwks": {"keys": [{"kty": "oct", "k": "raw"}]},
                            "data": {"note": "customDataNotReal"}, "private_key": "pk-value",
                            "api_key": ["ak-value"], "registration_access_token": "rat",
                            "token_endpoint_auth_method": "none"});
        let shown = masked(Phase::Clients, &client);
        assert_eq!(
            shown,
            json!({"preferred_client_id": "w", "preferred_client_secret": "***",
                   "client_name": "W", "client_name#fr": "Ouais",
                   "jwks": {"keys": [{"kty": "oct", "k": "***"}]},
                   "data": {"note": "***"}, "private_key": "***", "api_key": ["***"],
                   "registration_access_token": "***", "token_endpoint_auth_method": "none"})
        );
        let mut secrets = secret_strings(Phase::Clients, &client);
        secrets.sort();
        assert_eq!(
            secrets,
            ["ak-value", "customDataNotReal", "pk-value", "topsecret"],
            "short strings are not scrubbed"
        );
    }

    #[test]
    fn authorisations_and_sessions_show_names_and_times_only() {
        let authz = json!({"sub": "alice", "cid": "w", "scp": ["openid"], "iat": 1, "lng": true,
                           "rft": "refresh-token-value", "dat": {"x": "y"}});
        let shown = masked(Phase::Authorizations, &authz);
        assert_eq!(shown["rft"], "***");
        assert_eq!(shown["dat"]["x"], "***");
        assert_eq!(shown["scp"], json!(["openid"]));
        assert_eq!(shown["lng"], true);

        let session = json!({"sub": "alice", "auth_time": 5, "claims": {"email": "a@x", "n": 3},
                             "data": ["secret-data"]});
        let shown = masked(Phase::Sessions, &session);
        assert_eq!(shown["claims"], json!({"email": "***", "n": "***"}));
        assert_eq!(shown["data"], json!(["***"]));
        assert_eq!(shown["auth_time"], 5);
        let secrets = secret_strings(Phase::Sessions, &session);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_eq!(
            scrub("bad value secret-data here", &secrets),
            "bad value *** here"
        );
    }
}
