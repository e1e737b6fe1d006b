//! The three kinds of records and what the migration does to each: the
//! key that names it, the body posted to the target, the form in which a
//! source and a target record are compared, and what of it is secret.
//!
//! - A client registration is posted with `client_id` / `client_secret`
//!   renamed `preferred_client_id` / `preferred_client_secret`, without
//!   what the target makes anew (`client_id_issued_at`,
//!   `client_secret_expires_at`, `registration_access_token`,
//!   `registration_client_uri`), which comparisons also ignore.
//! - A long-lived authorisation (keyed by subject and client) is posted as
//!   exported, with `import=true`.
//! - A session is posted as exported, with `SID-Key` set to its SID up to
//!   the last `.` (the rest is the source's HMAC of that key, which a
//!   target holding the same keys computes again).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

/// A kind of record, in migration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Clients,
    Authorizations,
    Sessions,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Clients, Phase::Authorizations, Phase::Sessions];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Clients => "clients",
            Phase::Authorizations => "authorizations",
            Phase::Sessions => "sessions",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Phase {
    type Err = String;

    fn from_str(text: &str) -> Result<Phase, String> {
        match text.trim() {
            "clients" => Ok(Phase::Clients),
            "authorizations" | "authorisations" | "authz" => Ok(Phase::Authorizations),
            "sessions" => Ok(Phase::Sessions),
            other => Err(format!(
                "{other:?} is not a phase (clients, authorizations, sessions)"
            )),
        }
    }
}

/// What names a record: in the journal, in the target's API, on screen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Client(String),
    Authorization {
        sub: String,
        cid: String,
    },
    /// The SID up to its last `.` (never the whole SID: that is the
    /// session's cookie value).
    Session(String),
}

impl Key {
    pub fn phase(&self) -> Phase {
        match self {
            Key::Client(_) => Phase::Clients,
            Key::Authorization { .. } => Phase::Authorizations,
            Key::Session(_) => Phase::Sessions,
        }
    }

    /// 128 bits that stand for the key in memory (done sets, indexes).
    pub fn digest(&self) -> u128 {
        match self {
            Key::Client(id) => digest(&[b"c", id.as_bytes()]),
            Key::Authorization { sub, cid } => digest(&[b"a", sub.as_bytes(), cid.as_bytes()]),
            Key::Session(key) => digest(&[b"s", key.as_bytes()]),
        }
    }

    /// How a person is shown the record: a client id, `sub` / `cid`, or a
    /// session's subject and the first characters of its SID key, enough
    /// to find it in the journal and nothing a browser could present.
    pub fn describe(&self, subject: Option<&str>) -> String {
        match self {
            Key::Client(id) => format!("client {id}"),
            Key::Authorization { sub, cid } => format!("authorization of {sub} for {cid}"),
            Key::Session(key) => {
                let shown: String = key.chars().take(8).collect();
                let more = if key.chars().count() > 8 { "…" } else { "" };
                match subject {
                    Some(sub) => format!("session {shown}{more} of {sub}"),
                    None => format!("session {shown}{more}"),
                }
            }
        }
    }
}

/// The digest of a full SID, for looking a session up in a target's
/// listing (which is keyed by SID).
pub fn sid_digest(sid: &str) -> u128 {
    digest(&[b"sid", sid.as_bytes()])
}

fn digest(parts: &[&[u8]]) -> u128 {
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        bytes.extend_from_slice(part);
        bytes.push(0);
    }
    xxh3_128(&bytes)
}

/// Members of a client registration that the target makes anew on import.
pub const REGENERATED_CLIENT_MEMBERS: [&str; 4] = [
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
];

/// Token endpoint authentication methods that use the client secret.
const SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// A source record made ready for the target.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub key: Key,
    /// What is posted.
    pub body: Value,
    /// The record as compared with the target's copy.
    pub compare: Value,
    /// Sessions: the source's full SID, which the target must reproduce.
    pub sid: Option<String>,
    /// Clients: the secret sent as `preferred_client_secret`.
    pub secret: Option<String>,
    /// Clients: the export held a registration access token.
    pub had_registration_token: bool,
}

impl Prepared {
    /// Sessions: their subject, to name them.
    pub fn subject(&self) -> Option<&str> {
        match self.key {
            Key::Session(_) => self.body.get("sub").and_then(Value::as_str),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        self.key.describe(self.subject())
    }
}

/// Why a source record cannot be migrated as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmigratable {
    #[error("{0}")]
    Malformed(String),
    /// The export has no usable secret for a client that authenticates
    /// with one: the source's client secret codec does not export secrets.
    #[error(
        "its export holds no usable client_secret, though its token_endpoint_auth_method ({method}) \
         needs one: the source's client secret codec does not export secrets. Registering it without \
         would give it a new secret; export the secrets (a codec that can decode them) and run again"
    )]
    SecretHidden { method: String },
}

/// A client registration from `GET /clients`, made ready.
pub fn prepare_client(export: Value) -> Result<(String, Result<Prepared, Unmigratable>), String> {
    let Value::Object(mut members) = export else {
        return Err("a client registration that is not a JSON object".to_owned());
    };
    let Some(Value::String(client_id)) = members.get("client_id").cloned() else {
        return Err("a client registration without a client_id".to_owned());
    };
    let compare = normalise_client(Value::Object(members.clone()));
    let had_registration_token = members
        .get("registration_access_token")
        .and_then(Value::as_str)
        .is_some_and(|token| !token.is_empty());
    let method = members
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("client_secret_basic")
        .to_owned();
    let secret = match members.remove("client_secret") {
        Some(Value::String(secret)) if !looks_hidden(&secret) => Some(secret),
        _ => None,
    };
    if secret.is_none() && SECRET_METHODS.contains(&method.as_str()) {
        return Ok((client_id, Err(Unmigratable::SecretHidden { method })));
    }
    members.remove("client_id");
    for member in REGENERATED_CLIENT_MEMBERS {
        members.remove(member);
    }
    members.insert(
        "preferred_client_id".to_owned(),
        Value::String(client_id.clone()),
    );
    if let Some(secret) = &secret {
        members.insert(
            "preferred_client_secret".to_owned(),
            Value::String(secret.clone()),
        );
    }
    let prepared = Prepared {
        key: Key::Client(client_id.clone()),
        body: Value::Object(members),
        compare,
        sid: None,
        secret,
        had_registration_token,
    };
    Ok((client_id, Ok(prepared)))
}

/// A secret that an exporting codec left out or masked: empty, or only
/// mask characters.
fn looks_hidden(secret: &str) -> bool {
    secret.trim().is_empty()
        || secret
            .chars()
            .all(|c| matches!(c, '*' | '•' | '#' | 'x' | 'X'))
}

/// A client registration as compared: everything but what the target
/// makes anew.
pub fn normalise_client(registration: Value) -> Value {
    match registration {
        Value::Object(mut members) => {
            for member in REGENERATED_CLIENT_MEMBERS {
                members.remove(member);
            }
            Value::Object(members)
        }
        other => other,
    }
}

/// A long-lived authorisation from the store's listing, made ready.
pub fn prepare_authorization(export: Value) -> Result<Prepared, String> {
    let text = |name: &str| {
        export
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (Some(sub), Some(cid)) = (text("sub"), text("cid")) else {
        return Err("an authorisation without sub and cid".to_owned());
    };
    Ok(Prepared {
        key: Key::Authorization { sub, cid },
        compare: export.clone(),
        body: export,
        sid: None,
        secret: None,
        had_registration_token: false,
    })
}

/// A session from the store's listing (`sid` → session), made ready; its
/// `SID-Key` is the SID up to the last `.`.
pub fn prepare_session(sid: String, session: Value) -> Result<Prepared, String> {
    let Some((key, hmac)) = sid.rsplit_once('.') else {
        return Err("a session whose SID is not KEY.HMAC".to_owned());
    };
    if key.is_empty() || hmac.is_empty() {
        return Err("a session whose SID is not KEY.HMAC".to_owned());
    }
    if !session.is_object() {
        return Err("a session that is not a JSON object".to_owned());
    }
    Ok(Prepared {
        key: Key::Session(key.to_owned()),
        compare: session.clone(),
        body: session,
        sid: Some(sid),
        secret: None,
        had_registration_token: false,
    })
}

/// A record as compared, from the target's listing or API.
pub fn normalise(phase: Phase, record: Value) -> Value {
    match phase {
        Phase::Clients => normalise_client(record),
        Phase::Authorizations | Phase::Sessions => record,
    }
}

/// A digest of a JSON value that does not depend on member order.
pub fn content_digest(value: &Value) -> u64 {
    let mut hasher = Xxh3::new();
    feed(&mut hasher, value);
    hasher.digest()
}

fn feed(hasher: &mut Xxh3, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(b) => hasher.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            hasher.update(b"#");
            match n.as_f64() {
                // Integers and floats of equal value are one number.
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    hasher.update(&(f as i64).to_le_bytes())
                }
                _ => hasher.update(n.to_string().as_bytes()),
            }
        }
        Value::String(s) => {
            hasher.update(b"\"");
            hasher.update(&(s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(members) => {
            hasher.update(b"{");
            hasher.update(&(members.len() as u64).to_le_bytes());
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            for key in keys {
                hasher.update(&(key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                feed(hasher, &members[key]);
            }
        }
    }
}

/// The top-level members of `source` that `target` does not hold with the
/// same value (a target may hold more: defaults a newer server adds).
pub fn differing_members(source: &Value, target: &Value) -> Vec<String> {
    match (source, target) {
        (Value::Object(source), Value::Object(target)) => source
            .iter()
            .filter(|(name, value)| target.get(*name).is_none_or(|t| !same(value, t)))
            .map(|(name, _)| name.clone())
            .collect(),
        _ if same(source, target) => Vec::new(),
        _ => vec!["(the whole record)".to_owned()],
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(name, value)| y.get(name).is_some_and(|other| same(value, other)))
        }
        _ => a == b,
    }
}

const MASK: &str = "***";

/// `record` (a body about to be posted, or an export) with every secret
/// and every piece of session data replaced by `***`.
pub fn masked(phase: Phase, record: &Value) -> Value {
    let Value::Object(members) = record else {
        return Value::String(MASK.to_owned());
    };
    let mut out = Map::new();
    for (name, value) in members {
        let keep = match phase {
            Phase::Clients => !is_secret_name(name),
            Phase::Authorizations => {
                matches!(name.as_str(), "sub" | "cid" | "scp" | "clm" | "iss")
                    || value.is_number()
                    || value.is_boolean()
            }
            Phase::Sessions => matches!(
                name.as_str(),
                "sub"
                    | "auth_time"
                    | "creation_time"
                    | "max_life"
                    | "auth_life"
                    | "max_idle"
                    | "acr"
                    | "amr"
            ),
        };
        let shown = if keep {
            match (phase, value) {
                (Phase::Clients, Value::Object(_)) if name == "jwks" => mask_private_keys(value),
                _ => value.clone(),
            }
        } else {
            mask_leaves(value)
        };
        out.insert(name.clone(), shown);
    }
    Value::Object(out)
}

/// A member that holds a secret: `*secret*`, `*password*`, `*token`
/// (`registration_access_token`), not `token_endpoint_auth_method`.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("secret") || name.contains("password") || name.ends_with("token")
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
    const PRIVATE: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    match jwks {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, value)| {
                    let value = if PRIVATE.contains(&name.as_str()) {
                        Value::String(MASK.to_owned())
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

/// `message` with every one of `secrets` in it replaced by `***`, and cut
/// to a readable length.
pub fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_owned();
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    match out.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_client_is_posted_with_preferred_credentials_and_without_what_the_target_makes() {
        let export = json!({
            "client_id": "webapp", "client_secret": "s3cr3t-value-0123456789",
            "client_id_issued_at": 1690000000, "client_secret_expires_at": 0,
            "registration_access_token": "rat-0123456789",
            "registration_client_uri": "https://old/c2id/clients/webapp",
            "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
        });
        let (id, prepared) = prepare_client(export).unwrap();
        let prepared = prepared.unwrap();
        assert_eq!(id, "webapp");
        assert_eq!(
            prepared.body,
            json!({
                "preferred_client_id": "webapp", "preferred_client_secret": "s3cr3t-value-0123456789",
                "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
            })
        );
        assert!(prepared.had_registration_token);
        assert_eq!(
            prepared.compare,
            json!({
                "client_id": "webapp", "client_secret": "s3cr3t-value-0123456789",
                "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
            })
        );
        assert_eq!(prepared.key, Key::Client("webapp".into()));
    }

    #[test]
    fn a_client_without_its_secret_is_not_migrated_and_says_why() {
        for export in [
            json!({"client_id": "a", "redirect_uris": ["https://a/cb"]}),
            json!({"client_id": "a", "client_secret": "", "token_endpoint_auth_method": "client_secret_post"}),
            json!({"client_id": "a", "client_secret": "********", "token_endpoint_auth_method": "client_secret_jwt"}),
        ] {
            let (_, prepared) = prepare_client(export).unwrap();
            assert!(
                matches!(prepared, Err(Unmigratable::SecretHidden { .. })),
                "{prepared:?}"
            );
        }
        // A public client has no secret to lose.
        let (_, public) =
            prepare_client(json!({"client_id": "spa", "token_endpoint_auth_method": "none"}))
                .unwrap();
        let public = public.unwrap();
        assert!(public.body.get("preferred_client_secret").is_none());
        assert!(!public.had_registration_token);
        assert!(prepare_client(json!({"client_name": "x"})).is_err());
        assert!(prepare_client(json!([1])).is_err());
    }

    #[test]
    fn a_sessions_sid_key_is_the_sid_up_to_its_last_dot() {
        let p = prepare_session("abc.def.HMAC".into(), json!({"sub": "alice"})).unwrap();
        assert_eq!(p.key, Key::Session("abc.def".into()));
        assert_eq!(p.sid.as_deref(), Some("abc.def.HMAC"));
        assert_eq!(p.describe(), "session abc.def of alice");
        assert!(prepare_session("nodot".into(), json!({"sub": "a"})).is_err());
        assert!(prepare_session("key.".into(), json!({"sub": "a"})).is_err());
        let long = Key::Session("0123456789abcdef".into());
        assert_eq!(long.describe(Some("bob")), "session 01234567… of bob");
    }

    #[test]
    fn authorisations_are_keyed_by_subject_and_client() {
        let p = prepare_authorization(json!({"sub": "alice", "cid": "webapp", "scp": ["openid"]}))
            .unwrap();
        assert_eq!(
            p.key,
            Key::Authorization {
                sub: "alice".into(),
                cid: "webapp".into()
            }
        );
        assert!(prepare_authorization(json!({"sub": "alice"})).is_err());
        assert_ne!(
            Key::Authorization {
                sub: "a".into(),
                cid: "bc".into()
            }
            .digest(),
            Key::Authorization {
                sub: "ab".into(),
                cid: "c".into()
            }
            .digest()
        );
    }

    #[test]
    fn content_digests_ignore_member_order_and_number_spelling() {
        let a = json!({"a": 1, "b": [1, 2, {"x": true, "y": null}]});
        let b: Value =
            serde_json::from_str(r#"{"b": [1, 2.0, {"y": null, "x": true}], "a": 1}"#).unwrap();
        assert_eq!(content_digest(&a), content_digest(&b));
        assert_ne!(
            content_digest(&a),
            content_digest(&json!({"a": 1, "b": [2, 1]}))
        );
        assert_ne!(
            content_digest(&json!({"a": "1"})),
            content_digest(&json!({"a": 1}))
        );
        assert_ne!(
            content_digest(&json!({"ab": ""})),
            content_digest(&json!({"a": "b"}))
        );
    }

    #[test]
    fn a_target_may_hold_more_but_not_other_values() {
        let source = json!({"a": 1, "b": "x"});
        assert!(differing_members(&source, &json!({"a": 1.0, "b": "x", "extra": 2})).is_empty());
        assert_eq!(
            differing_members(&source, &json!({"a": 1, "b": "y"})),
            ["b"]
        );
        assert_eq!(differing_members(&source, &json!({"b": "x"})), ["a"]);
    }

    #[test]
    fn masking_hides_secrets_and_session_data() {
        let client = json!({"preferred_client_id": "w", "preferred_client_secret": "topsecret",
                            "client_name": "W", "jwks": {"keys": [{"kty": "oct", "k": "raw"}]}});
        let shown = masked(Phase::Clients, &client);
        assert_eq!(shown["preferred_client_secret"], "***");
        let named = masked(
            Phase::Clients,
            &json!({"token_endpoint_auth_method": "none", "registration_access_token": "rat"}),
        );
        assert_eq!(
            named,
            json!({"token_endpoint_auth_method": "none", "registration_access_token": "***"})
        );
        assert_eq!(shown["client_name"], "W");
        assert_eq!(shown["jwks"]["keys"][0]["k"], "***");
        assert_eq!(shown["jwks"]["keys"][0]["kty"], "oct");
        let secrets = secret_strings(Phase::Clients, &client);
        assert_eq!(secrets, ["topsecret"], "short strings are not scrubbed");

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
        assert_eq!(
            scrub(
                "bad value secret-data here",
                &secret_strings(Phase::Sessions, &session)
            ),
            "bad value *** here"
        );
    }
}
