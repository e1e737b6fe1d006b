//! The server's data, in memory and compact: every record is kept as its
//! compact JSON text (a few hundred bytes each), keyed for ordered,
//! resumable listing. The checks here are the same for the seed and the
//! web APIs, so a seed can only hold what the APIs would accept.

use std::collections::BTreeMap;
use std::ops::Bound::{self, Included, Unbounded};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Client fields the server sets itself: never part of the stored metadata.
const CREDENTIAL_FIELDS: [&str; 8] = [
    "client_id",
    "client_secret",
    "client_id_issued_at",
    "client_secret_expires_at",
    "registration_access_token",
    "registration_client_uri",
    "preferred_client_id",
    "preferred_client_secret",
];

/// Metadata members that must be arrays of strings when present.
const STRING_ARRAYS: [&str; 7] = [
    "redirect_uris",
    "grant_types",
    "response_types",
    "contacts",
    "post_logout_redirect_uris",
    "default_acr_values",
    "request_uris",
];

/// Metadata members that must be strings when present.
const STRINGS: [&str; 11] = [
    "client_name",
    "scope",
    "token_endpoint_auth_method",
    "application_type",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "sector_identifier_uri",
    "subject_type",
];

const AUTH_METHODS: [&str; 7] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];

/// A registered client.
pub struct Client {
    pub secret: Option<Box<str>>,
    pub issued_at: u64,
    pub registration_token: Box<str>,
    /// Compact JSON object: the metadata, without the credential fields.
    pub metadata: Box<str>,
}

/// Subject, then client ID: the authorisation store's key.
pub type AuthzKey = (Box<str>, Box<str>);

/// Which authorisations a listing or a revocation takes.
#[derive(Clone, Debug)]
pub enum AuthzFilter {
    All,
    Subject(String),
    Client(String),
}

impl AuthzFilter {
    /// Where a scan in key order starts.
    pub fn first(&self) -> Bound<AuthzKey> {
        match self {
            AuthzFilter::Subject(sub) => Included((sub.as_str().into(), "".into())),
            AuthzFilter::All | AuthzFilter::Client(_) => Unbounded,
        }
    }

    /// Whether the scan takes `key`; `None` once it is past every key it
    /// could take (a subject's keys are contiguous).
    pub fn takes(&self, key: &AuthzKey) -> Option<bool> {
        match self {
            AuthzFilter::All => Some(true),
            AuthzFilter::Subject(sub) => (*key.0 == **sub).then_some(true),
            AuthzFilter::Client(cid) => Some(*key.1 == **cid),
        }
    }
}

#[derive(Default)]
pub struct Store {
    pub clients: BTreeMap<Box<str>, Client>,
    pub authorizations: BTreeMap<AuthzKey, Box<str>>,
    /// SID → the session object's compact JSON.
    pub sessions: BTreeMap<Box<str>, Box<str>>,
}

/// A refusal worded as RFC 7591 words client metadata errors.
#[derive(Debug, PartialEq, Eq)]
pub struct MetadataError {
    pub error: &'static str,
    pub description: String,
}

impl MetadataError {
    fn metadata(description: impl Into<String>) -> MetadataError {
        MetadataError {
            error: "invalid_client_metadata",
            description: description.into(),
        }
    }

    fn redirect(description: impl Into<String>) -> MetadataError {
        MetadataError {
            error: "invalid_redirect_uri",
            description: description.into(),
        }
    }
}

/// Checks client metadata and returns it without the credential fields,
/// with the defaults RFC 7591 names filled in (`grant_types`
/// `["authorization_code"]`, `response_types` `["code"]`,
/// `token_endpoint_auth_method` `client_secret_basic`).
pub fn client_metadata(body: &Map<String, Value>) -> Result<Map<String, Value>, MetadataError> {
    let mut metadata = body.clone();
    for field in CREDENTIAL_FIELDS {
        metadata.remove(field);
    }
    for field in STRING_ARRAYS {
        if let Some(value) = metadata.get(field) {
            let ok = value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string));
            if !ok {
                return Err(MetadataError::metadata(format!(
                    "{field} must be an array of strings"
                )));
            }
        }
    }
    for field in STRINGS {
        if metadata.get(field).is_some_and(|v| !v.is_string()) {
            return Err(MetadataError::metadata(format!("{field} must be a string")));
        }
    }
    metadata
        .entry("grant_types")
        .or_insert_with(|| Value::from(vec!["authorization_code"]));
    metadata
        .entry("response_types")
        .or_insert_with(|| Value::from(vec!["code"]));
    let method = metadata
        .entry("token_endpoint_auth_method")
        .or_insert_with(|| Value::from("client_secret_basic"))
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !AUTH_METHODS.contains(&method.as_str()) {
        return Err(MetadataError::metadata(format!(
            "unsupported token_endpoint_auth_method {method:?}"
        )));
    }
    let strings = |field: &str| -> Vec<String> {
        metadata
            .get(field)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let redirect_uris = strings("redirect_uris");
    for uri in &redirect_uris {
        let absolute = uri
            .split_once("://")
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty());
        if !absolute || uri.contains('#') {
            return Err(MetadataError::redirect(format!(
                "redirect_uris must be absolute URIs without a fragment (got {uri:?})"
            )));
        }
    }
    let grants = strings("grant_types");
    let redirecting = grants
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit");
    if redirecting && redirect_uris.is_empty() {
        return Err(MetadataError::redirect(
            "the authorization_code and implicit grants need redirect_uris",
        ));
    }
    Ok(metadata)
}

/// Whether a client with this auth method has a secret.
pub fn needs_secret(metadata: &Map<String, Value>) -> bool {
    matches!(
        metadata
            .get("token_endpoint_auth_method")
            .and_then(Value::as_str),
        Some("client_secret_basic" | "client_secret_post" | "client_secret_jwt")
    )
}

/// A client ID usable in a URL path segment: 1 to 255 printable ASCII
/// characters, no `/`, `?`, `#`, `%` or space.
pub fn is_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'))
}

/// Checks an authorisation object: `sub` and `cid` non-empty strings,
/// `scp` (if present) an array of strings, `iat` (if present) an integer.
/// Returns its key.
pub fn authorization_key(object: &Map<String, Value>) -> Result<AuthzKey, String> {
    let text = |field: &str| match object.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        Some(_) => Err(format!("{field} must be a non-empty string")),
        None => Err(format!("{field} is required")),
    };
    let sub = text("sub")?;
    let cid = text("cid")?;
    if let Some(scope) = object.get("scp") {
        if !scope
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string))
        {
            return Err("scp must be an array of strings".to_owned());
        }
    }
    if object.get("iat").is_some_and(|v| !v.is_u64()) {
        return Err("iat must be a non-negative integer (seconds)".to_owned());
    }
    Ok((sub.into(), cid.into()))
}

/// Checks a session object: `sub` a non-empty string; the time and
/// lifetime members integers; `amr` an array of strings; `claims` an object.
pub fn check_session(object: &Map<String, Value>) -> Result<(), String> {
    match object.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(_) => return Err("sub must be a non-empty string".to_owned()),
        None => return Err("sub is required".to_owned()),
    }
    for field in ["auth_time", "creation_time"] {
        if object.get(field).is_some_and(|v| !v.is_u64()) {
            return Err(format!("{field} must be a non-negative integer (seconds)"));
        }
    }
    for field in ["max_life", "auth_life", "max_idle"] {
        if object.get(field).is_some_and(|v| !v.is_i64()) {
            return Err(format!(
                "{field} must be an integer (minutes; negative: no limit)"
            ));
        }
    }
    if let Some(amr) = object.get("amr") {
        if !amr
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string))
        {
            return Err("amr must be an array of strings".to_owned());
        }
    }
    if object.get("claims").is_some_and(|v| !v.is_object()) {
        return Err("claims must be an object".to_owned());
    }
    if object.get("acr").is_some_and(|v| !v.is_string()) {
        return Err("acr must be a string".to_owned());
    }
    Ok(())
}

/// A session's subject, read from its stored JSON.
pub fn session_subject(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Subject {
        sub: String,
    }
    serde_json::from_str::<Subject>(json).ok().map(|s| s.sub)
}

impl Store {
    /// Appends a client's full registration (as the API shows it) to `out`.
    pub fn write_client(out: &mut Vec<u8>, id: &str, client: &Client, issuer: &str) {
        let mut head = Map::new();
        head.insert("client_id".to_owned(), Value::from(id));
        if let Some(secret) = &client.secret {
            head.insert("client_secret".to_owned(), Value::from(&**secret));
            head.insert("client_secret_expires_at".to_owned(), Value::from(0));
        }
        head.insert(
            "client_id_issued_at".to_owned(),
            Value::from(client.issued_at),
        );
        head.insert(
            "registration_access_token".to_owned(),
            Value::from(&*client.registration_token),
        );
        head.insert(
            "registration_client_uri".to_owned(),
            Value::from(format!("{issuer}/clients/{id}")),
        );
        let head = Value::Object(head).to_string();
        out.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
        let rest = &client.metadata[1..];
        if rest != "}" {
            out.push(b',');
        }
        out.extend_from_slice(rest.as_bytes());
    }

    /// A client's full registration as a JSON value.
    pub fn client_json(id: &str, client: &Client, issuer: &str) -> Value {
        let mut out = Vec::new();
        Store::write_client(&mut out, id, client, issuer);
        serde_json::from_slice(&out).expect("written as JSON")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn metadata_gets_defaults_and_loses_credentials() {
        let metadata = client_metadata(&object(json!({
            "client_id": "x", "client_secret": "s", "preferred_client_id": "p",
            "registration_client_uri": "u", "redirect_uris": ["https://a.example/cb"],
            "client_name": "A"
        })))
        .expect("valid");
        assert_eq!(
            Value::Object(metadata),
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "A",
                   "grant_types": ["authorization_code"], "response_types": ["code"],
                   "token_endpoint_auth_method": "client_secret_basic"})
        );
    }

    #[test]
    fn metadata_errors_name_the_field() {
        for (body, error, words) in [
            (
                json!({"grant_types": "x"}),
                "invalid_client_metadata",
                "grant_types",
            ),
            (
                json!({"client_name": 3, "redirect_uris": ["https://a/b"]}),
                "invalid_client_metadata",
                "client_name",
            ),
            (json!({}), "invalid_redirect_uri", "need redirect_uris"),
            (
                json!({"redirect_uris": ["/relative"]}),
                "invalid_redirect_uri",
                "absolute",
            ),
            (
                json!({"redirect_uris": ["https://a/b#f"]}),
                "invalid_redirect_uri",
                "fragment",
            ),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "magic"}),
                "invalid_client_metadata",
                "magic",
            ),
        ] {
            let refused = client_metadata(&object(body.clone())).expect_err("refused");
            assert_eq!(refused.error, error, "{body}");
            assert!(
                refused.description.contains(words),
                "{body}: {}",
                refused.description
            );
        }
        let m2m = client_metadata(&object(json!({"grant_types": ["client_credentials"]})))
            .expect("no redirect needed");
        assert!(needs_secret(&m2m));
        let public = client_metadata(&object(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
        ))
        .expect("valid");
        assert!(!needs_secret(&public));
    }

    #[test]
    fn clients_are_written_with_their_credentials_first() {
        let client = Client {
            secret: Some("s3cret".into()),
            issued_at: 7,
            registration_token: "rat".into(),
            metadata: r#"{"client_name":"A"}"#.into(),
        };
        assert_eq!(
            Store::client_json("c1", &client, "http://h/c2id"),
            json!({"client_id": "c1", "client_secret": "s3cret", "client_secret_expires_at": 0,
                   "client_id_issued_at": 7, "registration_access_token": "rat",
                   "registration_client_uri": "http://h/c2id/clients/c1", "client_name": "A"})
        );
        let bare = Client {
            secret: None,
            issued_at: 1,
            registration_token: "r".into(),
            metadata: "{}".into(),
        };
        let shown = Store::client_json("c2", &bare, "http://h");
        assert!(shown.get("client_secret").is_none());
        assert_eq!(shown["client_id"], "c2");
    }

    #[test]
    fn authorizations_and_sessions_are_checked() {
        assert_eq!(
            authorization_key(&object(
                json!({"sub": "alice", "cid": "c1", "scp": ["openid"]})
            )),
            Ok(("alice".into(), "c1".into()))
        );
        for (body, words) in [
            (json!({"cid": "c"}), "sub is required"),
            (json!({"sub": "", "cid": "c"}), "sub must be"),
            (json!({"sub": "a", "cid": "c", "scp": "openid"}), "scp"),
            (json!({"sub": "a", "cid": "c", "iat": -1}), "iat"),
        ] {
            assert!(
                authorization_key(&object(body.clone()))
                    .unwrap_err()
                    .contains(words),
                "{body}"
            );
        }
        assert!(
            check_session(&object(json!({"sub": "a", "max_idle": -1, "amr": ["pwd"]}))).is_ok()
        );
        for (body, words) in [
            (json!({}), "sub is required"),
            (json!({"sub": "a", "auth_time": "now"}), "auth_time"),
            (json!({"sub": "a", "max_life": 1.5}), "max_life"),
            (json!({"sub": "a", "claims": []}), "claims"),
        ] {
            assert!(
                check_session(&object(body.clone()))
                    .unwrap_err()
                    .contains(words),
                "{body}"
            );
        }
        assert_eq!(
            session_subject(r#"{"x":1,"sub":"bob"}"#).as_deref(),
            Some("bob")
        );
        assert!(is_client_id("client-1.a_b:c"));
        assert!(!is_client_id("a/b") && !is_client_id("") && !is_client_id("a b"));
    }
}
