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

use bytes::Bytes;
use serde_json::{Map, Value};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64, Xxh3};

use crate::digests::UNKNOWN;
use crate::listing::{Names, Shape, Text};
use crate::masking::secret_strings;
pub use crate::phase::Phase;

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
    let len = parts.iter().map(|p| p.len() + 1).sum();
    // Most keys are short: no allocation for them.
    let (mut short, mut long) = ([0u8; 256], Vec::new());
    let bytes = if len <= short.len() {
        &mut short[..len]
    } else {
        long.resize(len, 0);
        &mut long[..]
    };
    let mut at = 0;
    for part in parts {
        bytes[at..at + part.len()].copy_from_slice(part);
        at += part.len() + 1;
    }
    xxh3_128(bytes)
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

/// A source record made ready for the target. It keeps texts, not parsed
/// values: a record in flight costs its bytes, whatever its shape.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub key: Key,
    /// Sessions: the source's full SID, which the target must reproduce.
    pub sid: Option<String>,
    /// Clients: the secret sent as `preferred_client_secret`.
    pub secret: Option<String>,
    /// Clients: the export held a registration access token.
    pub had_registration_token: bool,
    /// Sessions: their subject, to name them.
    pub subject: Option<String>,
    /// The JSON posted.
    pub body: Bytes,
    /// The digest of the record as compared (see [`content_digest`]).
    pub content: u64,
    /// The record as listed.
    pub listed: Bytes,
}

impl Prepared {
    pub fn describe(&self) -> String {
        self.key.describe(self.subject.as_deref())
    }

    /// The record as compared with the target's copy.
    pub fn compare_form(&self) -> Value {
        let listed = serde_json::from_slice(&self.listed).unwrap_or(Value::Null);
        normalise(self.key.phase(), listed)
    }

    /// What a server might echo that must never be shown: the record's
    /// masked strings, its SID, its secret.
    pub fn secrets(&self) -> Vec<String> {
        let listed: Value = serde_json::from_slice(&self.listed).unwrap_or(Value::Null);
        let mut secrets = secret_strings(self.key.phase(), &listed);
        secrets.extend(self.sid.iter().cloned());
        secrets.extend(self.secret.iter().cloned());
        secrets
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

fn parse_object(listed: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(listed) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(_) => Err(format!("{what} that is not a JSON object")),
        Err(_) => Err(format!("{what} that is not valid JSON")),
    }
}

/// A client id the target can be asked to keep: not empty, no control
/// characters.
fn usable_client_id(id: &str) -> Result<(), Unmigratable> {
    if id.trim().is_empty() {
        return Err(Unmigratable::Malformed(
            "its client_id is empty: a target would make up another one".to_owned(),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(Unmigratable::Malformed(
            "its client_id holds control characters".to_owned(),
        ));
    }
    Ok(())
}

/// A client registration from `GET /clients`, made ready: its id, and
/// the record or why it cannot be migrated.
pub fn prepare_client(listed: Bytes) -> Result<(String, Result<Prepared, Unmigratable>), String> {
    let mut members = parse_object(&listed, "a client registration")?;
    let Some(Value::String(client_id)) = members.get("client_id").cloned() else {
        return Err("a client registration without a client_id".to_owned());
    };
    if let Err(why) = usable_client_id(&client_id) {
        return Ok((client_id, Err(why)));
    }
    let content = content_digest(&normalise_client(Value::Object(members.clone())));
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
        sid: None,
        secret,
        had_registration_token,
        subject: None,
        body: to_bytes(&Value::Object(members)),
        content,
        listed,
    };
    Ok((client_id, Ok(prepared)))
}

fn to_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("JSON values serialise"))
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

/// The metadata of a client registration as RFC 7592's update takes it:
/// `client_id` and `client_secret` (which must be the current ones), the
/// metadata, and nothing the server makes.
pub fn client_update_body(compare_form: &Value) -> Bytes {
    let mut body = normalise_client(compare_form.clone());
    if let Value::Object(members) = &mut body {
        members.remove("preferred_client_id");
        members.remove("preferred_client_secret");
    }
    to_bytes(&body)
}

/// A registration as it was (read from the target) posted again: its id
/// and secret as the preferred ones.
pub fn client_repost_body(registration: &Value) -> Bytes {
    let mut body = normalise_client(registration.clone());
    if let Value::Object(members) = &mut body {
        if let Some(id) = members.remove("client_id") {
            members.insert("preferred_client_id".to_owned(), id);
        }
        if let Some(secret) = members.remove("client_secret") {
            members.insert("preferred_client_secret".to_owned(), secret);
        }
    }
    to_bytes(&body)
}

/// A long-lived authorisation from the store's listing, made ready.
pub fn prepare_authorization(listed: Bytes) -> Result<Prepared, String> {
    let members = parse_object(&listed, "an authorisation")?;
    let text = |name: &str| {
        members
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (Some(sub), Some(cid)) = (text("sub"), text("cid")) else {
        return Err("an authorisation without sub and cid".to_owned());
    };
    let value = Value::Object(members);
    Ok(Prepared {
        key: Key::Authorization { sub, cid },
        sid: None,
        secret: None,
        had_registration_token: false,
        subject: None,
        body: listed.clone(),
        content: content_digest(&value),
        listed,
    })
}

/// Whether a SID can travel in an HTTP header (`SID`, `SID-Key`): visible
/// ASCII, no spaces, not absurdly long.
fn usable_in_header(text: &str) -> bool {
    !text.is_empty() && text.len() <= 4096 && text.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// A session from the store's listing (`sid` → session), made ready; its
/// `SID-Key` is the SID up to the last `.`.
pub fn prepare_session(sid: String, listed: Bytes) -> Result<Prepared, String> {
    let Some((key, hmac)) = sid.rsplit_once('.') else {
        return Err("a session whose SID is not KEY.HMAC".to_owned());
    };
    if key.is_empty() || hmac.is_empty() {
        return Err("a session whose SID is not KEY.HMAC".to_owned());
    }
    if !usable_in_header(&sid) {
        return Err(
            "a session whose SID holds characters an HTTP header cannot carry (spaces, control \
             or non-ASCII characters): it cannot be sent as SID-Key"
                .to_owned(),
        );
    }
    let members = parse_object(&listed, "a session")?;
    let subject = members
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let value = Value::Object(members);
    Ok(Prepared {
        key: Key::Session(key.to_owned()),
        sid: Some(sid),
        secret: None,
        had_registration_token: false,
        subject,
        body: listed.clone(),
        content: content_digest(&value),
        listed,
    })
}

/// The key digest [`prepare`] gives a listing's record (under which a
/// sync's one read of the source notes a record it decides later).
pub fn prepared_key_digest(phase: Phase, sid: Option<&str>, position: u64, text: &Text) -> u128 {
    match prepare(phase, sid.map(str::to_owned), position, text.clone()) {
        Read::Ready(prepared) => prepared.key.digest(),
        Read::Unusable { key_digest, .. } => key_digest,
    }
}

/// A listing record made ready, or why it cannot be.
#[derive(Debug)]
pub enum Read {
    Ready(Box<Prepared>),
    /// It cannot be migrated: listed as failed under this name.
    Unusable {
        key_digest: u128,
        record: String,
        message: String,
    },
}

/// A source listing's record (`sid` for sessions; `position` from 1),
/// made ready for the target.
pub fn prepare(phase: Phase, sid: Option<String>, position: u64, text: Text) -> Read {
    let unusable = |key: Option<Key>, message: String| {
        let (key_digest, record) = match key {
            Some(key) => (key.digest(), key.describe(None)),
            None => (
                digest(&[
                    b"unusable",
                    phase.name().as_bytes(),
                    &position.to_le_bytes(),
                ]),
                format!("{} record #{position} of the listing", phase.name()),
            ),
        };
        Read::Unusable {
            key_digest,
            record,
            message,
        }
    };
    let listed = match text {
        Text::Whole(listed) => listed,
        Text::TooBig { bytes, names } => {
            let message = format!(
                "it is {bytes} bytes long, over the limit (--max-record-bytes): skipped, not sent"
            );
            return unusable(key_of(phase, sid.as_deref(), &names), message);
        }
    };
    let prepared = match phase {
        Phase::Clients => match prepare_client(listed) {
            Ok((_, Ok(prepared))) => Ok(prepared),
            Ok((id, Err(why))) => return unusable(Some(Key::Client(id)), why.to_string()),
            Err(why) => Err(why),
        },
        Phase::Authorizations => prepare_authorization(listed),
        Phase::Sessions => prepare_session(sid.clone().unwrap_or_default(), listed),
    };
    match prepared {
        Ok(prepared) => Read::Ready(Box::new(prepared)),
        Err(why) => {
            let key = key_of(phase, sid.as_deref(), &Names::default());
            unusable(key, why)
        }
    }
}

/// A record's key from what names it, when that is enough.
fn key_of(phase: Phase, sid: Option<&str>, names: &Names) -> Option<Key> {
    match phase {
        Phase::Clients => names.client_id.clone().map(Key::Client),
        Phase::Authorizations => Some(Key::Authorization {
            sub: names.sub.clone()?,
            cid: names.cid.clone()?,
        }),
        Phase::Sessions => {
            let (key, _) = sid?.rsplit_once('.')?;
            let shown: String = key.chars().filter(|c| !c.is_control()).collect();
            (!shown.is_empty()).then_some(Key::Session(shown))
        }
    }
}

/// A record of a listing as an index holds it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: Key,
    /// Sessions: their subject, to name them.
    pub subject: Option<String>,
    /// Its key in an index: sessions by their full SID.
    pub index_key: u128,
    /// [`content_digest`] of its compared form ([`UNKNOWN`] when too big).
    pub content: u64,
}

/// A listing's record, as indexed (`None` for one without a usable key).
pub fn listed(phase: Phase, sid: Option<&str>, text: &Text) -> Option<Listed> {
    let (key, content, subject) = match text {
        Text::TooBig { names, .. } => (key_of(phase, sid, names)?, UNKNOWN, names.sub.clone()),
        Text::Whole(listed) => {
            let value: Value = serde_json::from_slice(listed).ok()?;
            let subject = value.get("sub").and_then(Value::as_str).map(str::to_owned);
            let key = match phase {
                Phase::Clients => Key::Client(value.get("client_id")?.as_str()?.to_owned()),
                Phase::Authorizations => Key::Authorization {
                    sub: value.get("sub")?.as_str()?.to_owned(),
                    cid: value.get("cid")?.as_str()?.to_owned(),
                },
                Phase::Sessions => Key::Session(sid?.rsplit_once('.')?.0.to_owned()),
            };
            (key, content_digest(&normalise(phase, value)), subject)
        }
    };
    let index_key = index_key(&key, sid);
    let subject = subject.filter(|_| phase == Phase::Sessions);
    Some(Listed {
        key,
        subject,
        index_key,
        content,
    })
}

/// Only a listing's record's key (what the source's index needs): its
/// key members read, the rest of the record skipped unbuilt.
pub fn listed_key(phase: Phase, sid: Option<&str>, text: &Text) -> Option<Key> {
    let listed = match text {
        Text::TooBig { names, .. } => return key_of(phase, sid, names),
        Text::Whole(_) if phase == Phase::Sessions => {
            return Some(Key::Session(sid?.rsplit_once('.')?.0.to_owned()))
        }
        Text::Whole(listed) => listed,
    };
    #[derive(serde::Deserialize)]
    struct KeyMembers {
        client_id: Option<Value>,
        sub: Option<Value>,
        cid: Option<Value>,
    }
    let members: KeyMembers = serde_json::from_slice(listed).ok()?;
    let text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    match phase {
        Phase::Clients => Some(Key::Client(text(members.client_id)?)),
        Phase::Authorizations => Some(Key::Authorization {
            sub: text(members.sub)?,
            cid: text(members.cid)?,
        }),
        Phase::Sessions => None,
    }
}

/// A listing's record as a sync indexes an authorisation or a session
/// first: its key digest, index key and the digest of its very bytes (the
/// same bytes are the same record, whatever the members; other bytes are
/// compared member by member). Only the key members are read, borrowed
/// where they can be: the one step every record of every pass takes.
pub fn listed_raw(phase: Phase, sid: Option<&str>, text: &Text) -> Option<(u128, u128, u64)> {
    let content = match text {
        Text::Whole(bytes) => xxh3_64(bytes).min(UNKNOWN - 1),
        Text::TooBig { .. } => UNKNOWN,
    };
    let bytes = match text {
        Text::Whole(bytes) if phase != Phase::Clients => bytes,
        _ => {
            let key = listed_key(phase, sid, text)?;
            return Some((key.digest(), index_key(&key, sid), content));
        }
    };
    let key_digest = match phase {
        Phase::Sessions => digest(&[b"s", sid?.rsplit_once('.')?.0.as_bytes()]),
        _ => {
            #[derive(serde::Deserialize)]
            struct KeyMembers<'a> {
                // Read as `listed_key` reads them (a member twice is no key).
                #[allow(dead_code)]
                client_id: Option<serde::de::IgnoredAny>,
                #[serde(borrow)]
                sub: Option<std::borrow::Cow<'a, str>>,
                #[serde(borrow)]
                cid: Option<std::borrow::Cow<'a, str>>,
            }
            let members: KeyMembers = serde_json::from_slice(bytes).ok()?;
            digest(&[b"a", members.sub?.as_bytes(), members.cid?.as_bytes()])
        }
    };
    let index_key = match phase {
        Phase::Sessions => sid_digest(sid?),
        _ => key_digest,
    };
    Some((key_digest, index_key, content))
}

/// How a phase's listing is laid out.
pub fn shape(phase: Phase) -> Shape {
    match phase {
        Phase::Sessions => Shape::ObjectBySid,
        Phase::Clients | Phase::Authorizations => Shape::Array,
    }
}

/// The key a record has in a listing's index: sessions by their full SID.
pub fn index_key(key: &Key, sid: Option<&str>) -> u128 {
    match (key, sid) {
        (Key::Session(_), Some(sid)) => sid_digest(sid),
        _ => key.digest(),
    }
}

/// A record as compared, from the target's listing or API.
pub fn normalise(phase: Phase, record: Value) -> Value {
    match phase {
        Phase::Clients => normalise_client(record),
        Phase::Authorizations | Phase::Sessions => record,
    }
}

/// A digest of a JSON value that does not depend on member order (never
/// one of the tables' markers, [`DUPLICATE`] and [`UNKNOWN`]).
pub fn content_digest(value: &Value) -> u64 {
    let mut hasher = Xxh3::new();
    feed(&mut hasher, value);
    hasher.digest().min(UNKNOWN - 1)
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

/// The top-level members that differ either way: a sync makes the
/// target's record the source's exactly, so a member the source no longer
/// has differs too.
pub fn differing_both_ways(source: &Value, target: &Value) -> Vec<String> {
    let mut differing = differing_members(source, target);
    if let (Value::Object(source), Value::Object(target)) = (source, target) {
        let extra = target.keys().filter(|name| !source.contains_key(*name));
        differing.extend(extra.cloned());
    }
    differing
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(value: Value) -> Bytes {
        Bytes::from(value.to_string())
    }

    fn body(prepared: &Prepared) -> Value {
        serde_json::from_slice(&prepared.body).unwrap()
    }

    #[test]
    fn a_raw_read_names_a_record_as_its_key_and_index_do() {
        let whole = |text: &'static str| Text::Whole(Bytes::from_static(text.as_bytes()));
        let text = r#"{"sub":"al\u0069ce","cid":"app","scope":["openid"],"client_id":7}"#;
        let (key, index, content) = listed_raw(Phase::Authorizations, None, &whole(text)).unwrap();
        let want = Key::Authorization {
            sub: "alice".into(),
            cid: "app".into(),
        };
        assert_eq!((key, index), (want.digest(), index_key(&want, None)));
        assert_eq!(content, xxh3_64(text.as_bytes()).min(UNKNOWN - 1));
        let (key, index, _) =
            listed_raw(Phase::Sessions, Some("k1.hmac"), &whole(r#"{"sub":"a"}"#)).unwrap();
        let want = Key::Session("k1".into());
        assert_eq!((key, index), (want.digest(), sid_digest("k1.hmac")));
        for text in [
            r#"{"sub":5,"cid":"app"}"#,
            r#"{"sub":"a"}"#,
            r#"{"sub":"a","cid":"b","client_id":1,"client_id":2}"#,
            "[1]",
        ] {
            let slow = listed_key(Phase::Authorizations, None, &whole(text));
            assert_eq!(slow, None, "{text}");
            assert_eq!(
                listed_raw(Phase::Authorizations, None, &whole(text)),
                None,
                "{text}"
            );
        }
        let big = Text::TooBig {
            bytes: 9,
            names: Names {
                sub: Some("a".into()),
                cid: Some("b".into()),
                ..Names::default()
            },
        };
        let want = Key::Authorization {
            sub: "a".into(),
            cid: "b".into(),
        };
        let raw = listed_raw(Phase::Authorizations, None, &big);
        assert_eq!(raw, Some((want.digest(), want.digest(), UNKNOWN)));
    }

    #[test]
    fn a_client_is_posted_with_preferred_credentials_and_without_what_the_target_makes() {
        let export = json!({
            "client_id": "webapp", "client_secret": "s3cr3t-value-0123456789",
            "client_id_issued_at": 1690000000, "client_secret_expires_at": 0,
            "registration_access_token": "rat-0123456789",
            "registration_client_uri": "https://old/c2id/clients/webapp",
            "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
        });
        let (id, prepared) = prepare_client(text(export)).unwrap();
        let prepared = prepared.unwrap();
        assert_eq!(id, "webapp");
        assert_eq!(
            body(&prepared),
            json!({
                "preferred_client_id": "webapp", "preferred_client_secret": "s3cr3t-value-0123456789",
                "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
            })
        );
        assert!(prepared.had_registration_token);
        let compared = json!({
            "client_id": "webapp", "client_secret": "s3cr3t-value-0123456789",
            "redirect_uris": ["https://app/cb"], "token_endpoint_auth_method": "client_secret_basic"
        });
        assert_eq!(prepared.compare_form(), compared);
        assert_eq!(prepared.content, content_digest(&compared));
        assert_eq!(prepared.key, Key::Client("webapp".into()));
        assert!(prepared
            .secrets()
            .contains(&"s3cr3t-value-0123456789".to_owned()));
        assert_eq!(
            serde_json::from_slice::<Value>(&client_update_body(&compared)).unwrap(),
            compared
        );
        let reposted: Value = serde_json::from_slice(&client_repost_body(&compared)).unwrap();
        assert_eq!(reposted, body(&prepared));
    }

    #[test]
    fn a_client_without_its_secret_or_a_usable_id_is_not_migrated_and_says_why() {
        for export in [
            json!({"client_id": "a", "redirect_uris": ["https://a/cb"]}),
            json!({"client_id": "a", "client_secret": "", "token_endpoint_auth_method": "client_secret_post"}),
            json!({"client_id": "a", "client_secret": "********", "token_endpoint_auth_method": "client_secret_jwt"}),
        ] {
            let (_, prepared) = prepare_client(text(export)).unwrap();
            assert!(
                matches!(prepared, Err(Unmigratable::SecretHidden { .. })),
                "{prepared:?}"
            );
        }
        for id in ["", "  ", "a\nb"] {
            let (_, prepared) = prepare_client(text(
                json!({"client_id": id, "token_endpoint_auth_method": "none"}),
            ))
            .unwrap();
            assert!(
                matches!(prepared, Err(Unmigratable::Malformed(_))),
                "{id:?}: {prepared:?}"
            );
        }
        // A public client has no secret to lose.
        let (_, public) = prepare_client(text(
            json!({"client_id": "spa", "token_endpoint_auth_method": "none"}),
        ))
        .unwrap();
        let public = public.unwrap();
        assert!(body(&public).get("preferred_client_secret").is_none());
        assert!(!public.had_registration_token);
        assert!(prepare_client(text(json!({"client_name": "x"}))).is_err());
        assert!(prepare_client(text(json!([1]))).is_err());
        assert!(prepare_client(Bytes::from_static(b"{nope")).is_err());
    }

    #[test]
    fn a_sessions_sid_key_is_the_sid_up_to_its_last_dot() {
        let p = prepare_session("abc.def.HMAC".into(), text(json!({"sub": "alice"}))).unwrap();
        assert_eq!(p.key, Key::Session("abc.def".into()));
        assert_eq!(p.sid.as_deref(), Some("abc.def.HMAC"));
        assert_eq!(p.describe(), "session abc.def of alice");
        let session = || text(json!({"sub": "a"}));
        for bad in [
            "nodot",
            "key.",
            ".hmac",
            "bad\nkey.hmac",
            "sp ace.hmac",
            "é.hmac",
        ] {
            assert!(prepare_session(bad.into(), session()).is_err(), "{bad:?}");
        }
        let long = Key::Session("0123456789abcdef".into());
        assert_eq!(long.describe(Some("bob")), "session 01234567… of bob");
    }

    #[test]
    fn authorisations_are_keyed_by_subject_and_client() {
        let p = prepare_authorization(text(
            json!({"sub": "alice", "cid": "webapp", "scp": ["openid"]}),
        ))
        .unwrap();
        assert_eq!(
            p.key,
            Key::Authorization {
                sub: "alice".into(),
                cid: "webapp".into()
            }
        );
        assert!(prepare_authorization(text(json!({"sub": "alice"}))).is_err());
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
    fn records_too_big_are_named_by_their_key_members_when_they_have_them() {
        let names = Names {
            client_id: Some("big".into()),
            ..Names::default()
        };
        let read = prepare(
            Phase::Clients,
            None,
            7,
            Text::TooBig {
                bytes: 5_000_000,
                names,
            },
        );
        match read {
            Read::Unusable {
                record,
                message,
                key_digest,
            } => {
                assert_eq!(record, "client big");
                assert_eq!(key_digest, Key::Client("big".into()).digest());
                assert!(message.contains("--max-record-bytes"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let read = prepare(
            Phase::Authorizations,
            None,
            7,
            Text::TooBig {
                bytes: 9,
                names: Names::default(),
            },
        );
        assert!(
            matches!(read, Read::Unusable { record, .. } if record == "authorizations record #7 of the listing")
        );
        let listed = listed(
            Phase::Sessions,
            Some("k.h"),
            &Text::TooBig {
                bytes: 9,
                names: Names::default(),
            },
        )
        .unwrap();
        assert_eq!(
            (listed.index_key, listed.content),
            (sid_digest("k.h"), UNKNOWN)
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
        let more = json!({"a": 1.0, "b": "x", "extra": 2});
        assert_eq!(differing_both_ways(&source, &more), ["extra"]);
        assert!(differing_both_ways(&source, &json!({"b": "x", "a": 1})).is_empty());
    }
}
