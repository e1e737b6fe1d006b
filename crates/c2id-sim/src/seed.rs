//! The seed: what a server holds at start-up (version, JWK set, web API
//! tokens, clients, authorisations, sessions), read as a stream: records go
//! straight into the store one at a time, so a seed of a million sessions
//! never exists as one JSON tree in memory.

use std::collections::btree_map::Entry;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::Value;
use trickle_emulator::unix_seconds;

use crate::keys::{is_sid_key, KeySet};
use crate::store::{
    authorization_key, check_session, client_metadata, is_client_id, needs_secret, Client, Store,
};
use crate::tokens::{random_token, ApiTokens};
use crate::version::Version;

/// At most this many problems are listed (then how many more there were).
const MAX_PROBLEMS: usize = 100;

/// Why a seed cannot be used. Messages name records by position and
/// identifier, never by a secret (no client secret, token or SID).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read the seed: {0}")]
    Io(#[from] io::Error),
    #[error("the seed is not usable JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the seed has {} problem(s):\n  {}", .0.len(), .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// A loaded, checked seed, ready to start a server with.
pub struct Seed {
    pub(crate) version: Version,
    pub(crate) context_path: String,
    pub(crate) keys: KeySet,
    pub(crate) tokens: ApiTokens,
    pub(crate) store: Store,
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("version", &self.version.as_str())
            .field("context_path", &self.context_path)
            .field("clients", &self.store.clients.len())
            .field("authorizations", &self.store.authorizations.len())
            .field("sessions", &self.store.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Seed {
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        let mut builder = Builder::new();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        (&mut deserializer).deserialize_map(SeedVisitor(&mut builder))?;
        deserializer.end()?;
        builder.finish()
    }

    /// Reads a seed from a stream, one record at a time.
    pub fn from_reader(reader: impl Read) -> Result<Seed, SeedError> {
        let mut builder = Builder::new();
        let mut deserializer = serde_json::Deserializer::from_reader(BufReader::new(reader));
        (&mut deserializer).deserialize_map(SeedVisitor(&mut builder))?;
        deserializer.end()?;
        builder.finish()
    }

    pub fn from_path(path: &Path) -> Result<Seed, SeedError> {
        Seed::from_reader(File::open(path)?)
    }

    pub fn version(&self) -> &str {
        self.version.as_str()
    }

    /// `""` or e.g. `"/c2id"`: the issuer's path.
    pub fn context_path(&self) -> &str {
        &self.context_path
    }

    /// How many clients, authorisations and sessions it holds.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.store.clients.len(),
            self.store.authorizations.len(),
            self.store.sessions.len(),
        )
    }
}

/// `""` or `/segment[/segment…]` of unreserved characters, not `/__sim`.
pub fn check_context_path(path: &str) -> Result<(), String> {
    let ok = path.is_empty()
        || (path.starts_with('/')
            && path[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            })
            && path != "/__sim"
            && !path.starts_with("/__sim/"));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "context_path must be empty or like \"/c2id\" (no trailing slash, not /__sim; got {path:?})"
        ))
    }
}

/// Collects the seed as it streams by, then checks what needs all of it.
pub(crate) struct Builder {
    version: Option<String>,
    context_path: Option<String>,
    jwks: Option<Value>,
    api_tokens: Option<Value>,
    store: Store,
    /// Sessions as given (a SID or a bare key), checked once the JWK set is known.
    pending_sessions: Vec<(Box<str>, Box<str>)>,
    problems: Vec<String>,
    more_problems: usize,
    rng: fastrand::Rng,
    now: u64,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            version: None,
            context_path: None,
            jwks: None,
            api_tokens: None,
            store: Store::default(),
            pending_sessions: Vec::new(),
            problems: Vec::new(),
            more_problems: 0,
            rng: fastrand::Rng::new(),
            now: unix_seconds(),
        }
    }

    pub(crate) fn set_header(
        &mut self,
        version: &str,
        context_path: &str,
        jwks: Value,
        tokens: Value,
    ) {
        self.version = Some(version.to_owned());
        self.context_path = Some(context_path.to_owned());
        self.jwks = Some(jwks);
        self.api_tokens = Some(tokens);
    }

    fn problem(&mut self, message: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(message);
        } else {
            self.more_problems += 1;
        }
    }

    pub(crate) fn add_client(&mut self, index: usize, value: Value) {
        if let Err(message) = self.try_add_client(value) {
            self.problem(format!("clients[{index}]: {message}"));
        }
    }

    fn try_add_client(&mut self, value: Value) -> Result<(), String> {
        let Value::Object(object) = value else {
            return Err("must be an object".to_owned());
        };
        let id = match object.get("client_id") {
            Some(Value::String(id)) if is_client_id(id) => id.clone(),
            Some(Value::String(_)) => {
                return Err(
                    "client_id must be 1 to 255 printable characters without / ? # % or spaces"
                        .to_owned(),
                )
            }
            _ => return Err("client_id is required (a string)".to_owned()),
        };
        let described = |message: &str| format!("({id}) {message}");
        let secret = match object.get("client_secret") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str().into()),
            Some(_) => return Err(described("client_secret must be a non-empty string")),
        };
        let issued_at = match object.get("client_id_issued_at") {
            None => self.now,
            Some(value) => value.as_u64().ok_or_else(|| {
                described("client_id_issued_at must be a non-negative integer (seconds)")
            })?,
        };
        let registration_token = match object.get("registration_access_token") {
            None => random_token(&mut self.rng),
            Some(Value::String(s)) if !s.is_empty() => s.as_str().into(),
            Some(_) => {
                return Err(described(
                    "registration_access_token must be a non-empty string",
                ))
            }
        };
        let metadata = client_metadata(&object)
            .map_err(|e| described(&format!("{}: {}", e.error, e.description)))?;
        match (needs_secret(&metadata), &secret) {
            (true, None) => {
                return Err(described(
                    "client_secret is required for its token_endpoint_auth_method",
                ))
            }
            (false, Some(_)) => {
                return Err(described(
                    "has a client_secret, but its token_endpoint_auth_method uses none",
                ))
            }
            _ => {}
        }
        match self.store.clients.entry(id.as_str().into()) {
            Entry::Occupied(_) => Err(described("client_id is used twice")),
            Entry::Vacant(slot) => {
                slot.insert(Client {
                    secret,
                    issued_at,
                    registration_token,
                    metadata: Value::Object(metadata).to_string().into(),
                });
                Ok(())
            }
        }
    }

    pub(crate) fn add_authorization(&mut self, index: usize, value: Value) {
        let result = match &value {
            Value::Object(object) => authorization_key(object),
            _ => Err("must be an object".to_owned()),
        };
        match result {
            Err(message) => self.problem(format!("authorizations[{index}]: {message}")),
            Ok(key) => match self.store.authorizations.entry(key) {
                Entry::Occupied(slot) => {
                    let (sub, cid) = slot.key();
                    let message = format!(
                        "authorizations[{index}]: sub {sub:?} and cid {cid:?} are there twice"
                    );
                    self.problem(message);
                }
                Entry::Vacant(slot) => {
                    slot.insert(value.to_string().into());
                }
            },
        }
    }

    pub(crate) fn add_session(&mut self, index: usize, given: String, value: Value) {
        match &value {
            Value::Object(object) => match check_session(object) {
                Ok(()) => self
                    .pending_sessions
                    .push((given.into(), value.to_string().into())),
                Err(message) => self.problem(format!("sessions entry {index}: {message}")),
            },
            _ => self.problem(format!("sessions entry {index}: must be an object")),
        }
    }

    /// The checks that need the whole seed, then the seed or every problem.
    pub(crate) fn finish(mut self) -> Result<Seed, SeedError> {
        let version = self.take_version();
        let context_path = self.take_context_path();
        let keys = self.take_keys();
        let tokens = self.take_tokens();
        self.check_authorization_clients();
        if let Some(keys) = &keys {
            self.place_sessions(keys);
        }
        if self.more_problems > 0 {
            let more = self.more_problems;
            self.problems.push(format!("… and {more} more"));
        }
        match (version, keys) {
            (Some(version), Some(keys)) if self.problems.is_empty() => Ok(Seed {
                version,
                context_path,
                keys,
                tokens,
                store: self.store,
            }),
            _ => Err(SeedError::Invalid(self.problems)),
        }
    }

    fn take_version(&mut self) -> Option<Version> {
        match self.version.as_deref().map(Version::parse) {
            Some(Ok(version)) => Some(version),
            Some(Err(message)) => {
                self.problem(message);
                None
            }
            None => {
                self.problem("version is required, e.g. \"12.3\"".to_owned());
                None
            }
        }
    }

    fn take_context_path(&mut self) -> String {
        let context_path = self.context_path.take().unwrap_or_default();
        if let Err(message) = check_context_path(&context_path) {
            self.problem(message);
        }
        context_path
    }

    fn take_keys(&mut self) -> Option<KeySet> {
        match self.jwks.take().map(|jwks| KeySet::from_jwks(&jwks)) {
            Some(Ok(keys)) => Some(keys),
            Some(Err(problems)) => {
                problems.into_iter().for_each(|p| self.problem(p));
                None
            }
            None => {
                self.problem("jwks is required: the server's JWK set, {\"keys\": [...]}".into());
                None
            }
        }
    }

    fn take_tokens(&mut self) -> ApiTokens {
        match read_tokens(self.api_tokens.take()) {
            Ok(tokens) => tokens,
            Err(problems) => {
                problems.into_iter().for_each(|p| self.problem(p));
                ApiTokens::default()
            }
        }
    }

    /// Every authorisation's client must be in the seed (records may come
    /// in any order, so this waits for the end).
    fn check_authorization_clients(&mut self) {
        let unknown: Vec<String> = self
            .store
            .authorizations
            .keys()
            .filter(|(_, cid)| !self.store.clients.contains_key(cid))
            .map(|(sub, cid)| {
                format!("authorizations (sub {sub:?}, cid {cid:?}): cid is not a registered client")
            })
            .collect();
        unknown.into_iter().for_each(|p| self.problem(p));
    }

    /// Stores the sessions under the SIDs this JWK set gives them: a full
    /// SID must verify, a bare key gets its HMAC.
    fn place_sessions(&mut self, keys: &KeySet) {
        let pending = std::mem::take(&mut self.pending_sessions);
        for (index, (given, json)) in pending.into_iter().enumerate() {
            let sid = match session_id(keys, given) {
                Ok(sid) => sid,
                Err(why) => {
                    self.problem(format!("sessions entry {index}: {why}"));
                    continue;
                }
            };
            if self.store.sessions.insert(sid, json).is_some() {
                self.problem(format!(
                    "sessions entry {index}: the same SID is there twice"
                ));
            }
        }
    }
}

/// The SID a seed's session key (a full SID or a bare key) is stored under.
fn session_id(keys: &KeySet, given: Box<str>) -> Result<Box<str>, &'static str> {
    if given.contains('.') {
        if keys.verifies(&given) {
            Ok(given)
        } else {
            Err("its SID was not made with this JWK set \
                 (the HMAC after the dot does not match its key)")
        }
    } else if is_sid_key(&given) {
        Ok(keys.sid(&given).into())
    } else {
        Err("must be keyed by a SID or a session key \
             (1 to 256 base64url characters)")
    }
}

/// Tokens of at least 32 ASCII letters and digits, as the real server
/// requires; one API may have several (roll-over); an absent API is disabled.
pub(crate) fn read_tokens(value: Option<Value>) -> Result<ApiTokens, Vec<String>> {
    let mut problems = Vec::new();
    let mut tokens = ApiTokens::default();
    let Some(value) = value else {
        return Ok(tokens);
    };
    let Value::Object(map) = value else {
        return Err(vec![
            "api_tokens must be an object: {\"client_registration\", \"authz_store\", \"session_store\"}".to_owned(),
        ]);
    };
    for (name, value) in map {
        let slot = match name.as_str() {
            "client_registration" => &mut tokens.client_registration,
            "authz_store" => &mut tokens.authz_store,
            "session_store" => &mut tokens.session_store,
            _ => {
                problems.push(format!(
                    "api_tokens.{name}: unknown web API (client_registration, authz_store, session_store)"
                ));
                continue;
            }
        };
        let list = match value {
            Value::String(token) => vec![Value::String(token)],
            Value::Array(items) => items,
            _ => {
                problems.push(format!("api_tokens.{name}: a token or an array of tokens"));
                continue;
            }
        };
        for (i, token) in list.iter().enumerate() {
            match token.as_str() {
                Some(t) if t.len() >= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                    slot.add(t);
                }
                _ => problems.push(format!(
                    "api_tokens.{name} (token {i}): must be at least 32 letters and digits"
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(tokens)
    } else {
        Err(problems)
    }
}

struct SeedVisitor<'a>(&'a mut Builder);

impl<'de> Visitor<'de> for SeedVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a seed object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let builder = self.0;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "$comment" => {
                    map.next_value::<IgnoredAny>()?;
                }
                "version" => builder.version = Some(map.next_value()?),
                "context_path" => builder.context_path = Some(map.next_value()?),
                "jwks" => builder.jwks = Some(map.next_value()?),
                "api_tokens" => builder.api_tokens = Some(map.next_value()?),
                "clients" => map.next_value_seed(Records(builder, Kind::Clients))?,
                "authorizations" => map.next_value_seed(Records(builder, Kind::Authorizations))?,
                "sessions" => map.next_value_seed(Sessions(builder))?,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown seed key {other:?} (expected $comment, version, context_path, \
                         jwks, api_tokens, clients, authorizations, sessions)"
                    )))
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Clients,
    Authorizations,
}

/// An array of records, each handed to the builder as it is read.
struct Records<'a>(&'a mut Builder, Kind);

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            match self.1 {
                Kind::Clients => self.0.add_client(index, value),
                Kind::Authorizations => self.0.add_authorization(index, value),
            }
            index += 1;
        }
        Ok(())
    }
}

/// The sessions object (SID or key → session), entry by entry.
struct Sessions<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Sessions<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Sessions<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of sessions keyed by SID (or session key)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some((given, value)) = map.next_entry::<String, Value>()? {
            self.0.add_session(index, given, value);
            index += 1;
        }
        Ok(())
    }
}
