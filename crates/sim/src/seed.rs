//! The seed file: the old tenant's connections, clients and users, as JSON.
//! Parsing is strict (unknown keys are refused, so a typo is not silently
//! ignored) and every problem is reported with where it is. Reading is
//! bounded: at most [`MAX_SEED_BYTES`], and anything that does not start as
//! a JSON object is refused on its first byte.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::{ClientAuthError, PrimaryIdentity, SeedClient};
use crate::text::is_email;

/// The database connection a seed gets when it names none.
pub const DEFAULT_CONNECTION: &str = "Username-Password-Authentication";
/// Auth0's bcrypt cost for database users.
pub const DEFAULT_BCRYPT_COST: u32 = 10;
/// The bcrypt costs a seed may ask for. Each step doubles the time a hash
/// takes: 14 is about a second a password, 31 would be days.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;
/// The largest seed file read (a million users fit well within it).
pub const MAX_SEED_BYTES: u64 = 256 * 1024 * 1024;
/// Failed logins in a row for one user before Auth0 answers `too_many_attempts`.
pub const DEFAULT_BRUTE_FORCE_THRESHOLD: u32 = 10;

/// A whole seed file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Free text for people reading the file (ignored).
    #[serde(default, rename = "$comment")]
    pub comment: Option<Value>,
    /// bcrypt cost used to hash the seeded passwords ([`BCRYPT_COSTS`]).
    #[serde(default = "default_bcrypt_cost")]
    pub bcrypt_cost: u32,
    /// Failed logins in a row per user before `429 too_many_attempts`; 0 turns the protection off.
    #[serde(default = "default_brute_force_threshold")]
    pub brute_force_threshold: u32,
    /// The database connections; omitted means one, `Username-Password-Authentication`.
    #[serde(default)]
    pub connections: Option<Vec<SeedConnection>>,
    /// Applications (clients) allowed to call the token endpoint.
    #[serde(default)]
    pub clients: Vec<SeedClient>,
    /// The users, with their passwords in plain text (hashed at load).
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Custom APIs and the clients granted tokens for them (see `apis`).
    #[serde(default)]
    pub apis: Vec<crate::api_grants::SeedApi>,
    /// How `/oauth/token` refuses a client that fails to authenticate
    /// (unknown, wrong secret, or a body it could not read): `invalid_client`
    /// (the default) or `access_denied`.
    #[serde(default)]
    pub client_auth_error: ClientAuthError,
}

/// A database connection.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedConnection {
    pub name: String,
    /// `con_…`; defaults to one derived from the name (stable across runs).
    #[serde(default)]
    pub id: Option<String>,
    /// `auth0` (a database connection, the default) or another strategy.
    #[serde(default)]
    pub strategy: Option<String>,
    /// The connection's `options` as `GET /api/v2/connections` shows them
    /// (e.g. `import_mode`, `enabledDatabaseCustomization`, `customScripts`
    /// holding the script texts); `trickle sim --deploy DIR` fills them from
    /// a deploy folder.
    #[serde(default)]
    pub options: Map<String, Value>,
}

/// A user of a database connection.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    /// The raw id (may contain `|`); the user's `user_id` is `auth0|<id>`.
    /// Defaults to a stable id derived from the connection and email.
    #[serde(default)]
    pub id: Option<String>,
    /// The connection's name; may be omitted when the seed has only one.
    #[serde(default)]
    pub connection: Option<String>,
    /// Stored lower-cased, as Auth0 does.
    pub email: String,
    /// Plain text; hashed with bcrypt at load and never kept. No password: the user cannot log in.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub app_metadata: Map<String, Value>,
    #[serde(default)]
    pub user_metadata: Map<String, Value>,
    #[serde(default)]
    pub blocked: bool,
    /// An MFA factor is enrolled: a right password answers `mfa_required`.
    #[serde(default)]
    pub mfa: bool,
    /// Linked under another provider's identity: the root `user_id` is that
    /// identity's, and the database id is no user of its own.
    #[serde(default)]
    pub primary_identity: Option<PrimaryIdentity>,
}

fn default_bcrypt_cost() -> u32 {
    DEFAULT_BCRYPT_COST
}

fn default_brute_force_threshold() -> u32 {
    DEFAULT_BRUTE_FORCE_THRESHOLD
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Not JSON, or not the seed's shape (path, line and column given).
    #[error("the seed is not valid: {0}")]
    Syntax(String),
    /// Well-formed, but inconsistent: every problem found, one per line.
    #[error("the seed is not valid:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
    /// JSON (or not), but not an object: the seed's top level is `{…}`.
    #[error(
        "the seed is not valid: it must be a JSON object ({{\"users\": [...], ...}}), not {0}"
    )]
    NotAnObject(String),
    /// Over [`MAX_SEED_BYTES`].
    #[error("the seed is larger than {} MiB, the most a seed may be", MAX_SEED_BYTES / (1024 * 1024))]
    TooLarge,
    /// The file could not be read.
    #[error("cannot read the seed: {0}")]
    Read(io::Error),
}

impl fmt::Debug for Seed {
    // Hand-written so that no password can end up in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("brute_force_threshold", &self.brute_force_threshold)
            .field(
                "connections",
                &self
                    .connection_list()
                    .iter()
                    .map(|c| c.0.clone())
                    .collect::<Vec<_>>(),
            )
            .field("clients", &self.clients.len())
            .field("users", &self.users.len())
            .finish()
    }
}

/// What a text is, from its start (blanks and BOM passed over), when it is
/// not a JSON object (`None` when it may be one: it starts with `{`).
fn not_an_object(start: &[u8]) -> Option<String> {
    let kind = match start.first()? {
        b'{' => return None,
        b'[' => "an array".to_owned(),
        b'"' => "a string".to_owned(),
        b'-' | b'0'..=b'9' => "a number".to_owned(),
        _ if start.starts_with(b"true") || start.starts_with(b"false") => "a boolean".to_owned(),
        _ if start.starts_with(b"null") => "null".to_owned(),
        _ => {
            let head: String = String::from_utf8_lossy(&start[..start.len().min(16)])
                .chars()
                .take_while(|c| !c.is_control())
                .collect();
            if head.is_empty() {
                format!(
                    "text that is not JSON (it starts with the byte 0x{:02x})",
                    start[0]
                )
            } else {
                format!("text that is not JSON (it starts with `{head}`)")
            }
        }
    };
    Some(kind)
}

/// `text` without a UTF-8 byte order mark and leading blanks.
fn json_start(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(text)
        .trim_ascii_start()
}

impl Seed {
    /// Reads a seed (at most [`MAX_SEED_BYTES`]; a stream that does not
    /// start as an object is refused at its first byte, so `/dev/zero`
    /// fails at once), then parses and validates it.
    pub fn from_reader(reader: impl Read) -> Result<Seed, SeedError> {
        let text = read_bounded(reader, MAX_SEED_BYTES)?;
        let text = String::from_utf8(text)
            .map_err(|error| SeedError::Syntax(format!("not UTF-8 text ({error})")))?;
        Seed::from_json(&text)
    }

    /// Parses and validates a seed file's text.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        if let Some(kind) = not_an_object(json_start(text.as_bytes())) {
            return Err(SeedError::NotAnObject(kind));
        }
        // serde_json refuses a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let seed: Seed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if path.is_empty() || path == "." {
                SeedError::Syntax(inner.to_string())
            } else {
                SeedError::Syntax(format!("{path}: {inner}"))
            }
        })?;
        seed.validate()?;
        Ok(seed)
    }

    /// The connections as (name, id), defaults applied.
    pub fn connection_list(&self) -> Vec<(String, String)> {
        match &self.connections {
            None => vec![(
                DEFAULT_CONNECTION.to_owned(),
                connection_id_for(DEFAULT_CONNECTION),
            )],
            Some(list) => list
                .iter()
                .map(|c| {
                    let id = c.id.clone().unwrap_or_else(|| connection_id_for(&c.name));
                    (c.name.clone(), id)
                })
                .collect(),
        }
    }

    /// Checks everything the types cannot: references, uniqueness, ranges
    /// (every problem of every check, in the table's order).
    pub fn validate(&self) -> Result<(), SeedError> {
        let connections = self.connection_list();
        let mut problems = Vec::new();
        for check in SEED_CHECKS {
            check(self, &connections, &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SeedError::Invalid(problems))
        }
    }
}

/// One check of a seed, given its connections as (name, id): the problems
/// it finds, one line each.
type SeedCheck = fn(&Seed, &[(String, String)], &mut Vec<String>);

/// The seed's checks, in the order their problems are reported.
const SEED_CHECKS: &[SeedCheck] = &[
    check_bcrypt_cost,
    check_connections,
    check_clients,
    check_users,
    check_apis,
];

fn check_bcrypt_cost(seed: &Seed, _: &[(String, String)], problems: &mut Vec<String>) {
    if !BCRYPT_COSTS.contains(&seed.bcrypt_cost) {
        problems.push(format!(
            "bcrypt_cost must be between {} and {} (got {}): Auth0 uses {DEFAULT_BCRYPT_COST}, \
             4 keeps rehearsals fast, and each step doubles the time of every hash",
            BCRYPT_COSTS.start(),
            BCRYPT_COSTS.end(),
            seed.bcrypt_cost
        ));
    }
}

/// Names and ids given and unique.
fn check_connections(_: &Seed, connections: &[(String, String)], problems: &mut Vec<String>) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (index, (name, id)) in connections.iter().enumerate() {
        if name.trim().is_empty() {
            problems.push(format!("connections[{index}]: name must not be empty"));
        }
        if let Some(first) = names.insert(name, index) {
            problems.push(format!(
                "connections[{index}]: duplicate connection name {name:?} (also connections[{first}])"
            ));
        }
        if id.trim().is_empty() {
            problems.push(format!(
                "connections[{index}] ({name}): id must not be empty"
            ));
        } else if let Some(first) = ids.insert(id, index) {
            problems.push(format!(
                "connections[{index}] ({name}): duplicate connection id {id:?} (also connections[{first}])"
            ));
        }
    }
}

/// Ids unique, secrets given, connections known.
fn check_clients(seed: &Seed, connections: &[(String, String)], problems: &mut Vec<String>) {
    let mut client_ids: HashMap<&str, usize> = HashMap::new();
    for (index, client) in seed.clients.iter().enumerate() {
        if client.client_id.trim().is_empty() {
            problems.push(format!("clients[{index}]: client_id must not be empty"));
        } else if let Some(first) = client_ids.insert(&client.client_id, index) {
            problems.push(format!(
                "clients[{index}]: duplicate client_id {:?} (also clients[{first}])",
                client.client_id
            ));
        }
        if client.client_secret.is_empty() {
            problems.push(format!(
                "clients[{index}] ({}): client_secret must not be empty",
                client.client_id
            ));
        }
        for name in client.connections.iter().flatten() {
            if !connections.iter().any(|(known, _)| known == name) {
                problems.push(format!(
                    "clients[{index}] ({}): unknown connection {name:?} in connections",
                    client.client_id
                ));
            }
        }
    }
}

fn check_apis(seed: &Seed, _: &[(String, String)], problems: &mut Vec<String>) {
    problems.extend(crate::api_grants::problems(&seed.apis, &seed.clients));
}

/// Every user: an email address, a known connection, and ids, emails,
/// usernames and primary identities no other user has.
fn check_users(seed: &Seed, connections: &[(String, String)], problems: &mut Vec<String>) {
    let mut taken = TakenByUsers::default();
    for (index, user) in seed.users.iter().enumerate() {
        let who = if user.email.is_empty() {
            format!("users[{index}]")
        } else {
            format!("users[{index}] ({})", user.email)
        };
        if !is_email(&user.email) {
            problems.push(format!(
                "{who}: email {:?} is not an email address",
                user.email
            ));
        }
        let Some(connection) = user_connection(user, connections, &who, problems) else {
            continue;
        };
        taken.check(index, user, &connection, &who, problems);
        if user.password.as_deref() == Some("") {
            problems.push(format!("{who}: password must not be empty when given"));
        }
        if let Some(primary) = &user.primary_identity {
            check_primary(primary, &who, index, &mut taken.primaries, problems);
        }
    }
}

/// The user's connection: the one named (a problem if the seed lacks it),
/// or the seed's only one; `None` (a problem) when it must be named.
fn user_connection(
    user: &SeedUser,
    connections: &[(String, String)],
    who: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match (&user.connection, connections.len()) {
        (Some(name), _) => {
            if !connections.iter().any(|(known, _)| known == name) {
                let known: Vec<String> =
                    connections.iter().map(|(n, _)| format!("{n:?}")).collect();
                problems.push(format!(
                    "{who}: unknown connection {name:?} (the seed has: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            }
            Some(name.clone())
        }
        (None, 1) => Some(connections[0].0.clone()),
        (None, _) => {
            problems.push(format!(
                "{who}: connection is required when the seed does not have exactly one connection"
            ));
            None
        }
    }
}

/// What the users seen so far hold, by the index of the first holder.
#[derive(Default)]
struct TakenByUsers {
    ids: HashMap<String, usize>,
    /// (connection, lower-cased email).
    emails: HashMap<(String, String), usize>,
    /// (connection, lower-cased username).
    usernames: HashMap<(String, String), usize>,
    primaries: HashMap<String, usize>,
}

impl TakenByUsers {
    /// The user's id, email and username: given, and not an earlier user's.
    fn check(
        &mut self,
        index: usize,
        user: &SeedUser,
        connection: &str,
        who: &str,
        problems: &mut Vec<String>,
    ) {
        let raw_id = user.raw_id(connection);
        if raw_id.is_empty() {
            problems.push(format!("{who}: id must not be empty"));
        } else if let Some(first) = self.ids.insert(raw_id.clone(), index) {
            problems.push(format!(
                "{who}: duplicate id {raw_id:?} (also users[{first}]); user_id auth0|<id> must be unique"
            ));
        }
        let email_key = (connection.to_owned(), user.email.to_lowercase());
        if let Some(first) = self.emails.insert(email_key, index) {
            problems.push(format!(
                "{who}: duplicate email in connection {connection:?} (also users[{first}]; emails are compared lower-cased)"
            ));
        }
        if let Some(username) = &user.username {
            if username.trim().is_empty() {
                problems.push(format!("{who}: username must not be empty when given"));
            } else if let Some(first) = self
                .usernames
                .insert((connection.to_owned(), username.to_lowercase()), index)
            {
                problems.push(format!(
                    "{who}: duplicate username {username:?} in connection {connection:?} (also users[{first}])"
                ));
            }
        }
    }
}

/// A linked user's primary identity: both parts given, not a database
/// identity, and no other user's.
fn check_primary(
    primary: &PrimaryIdentity,
    who: &str,
    index: usize,
    primaries: &mut HashMap<String, usize>,
    problems: &mut Vec<String>,
) {
    if primary.provider.trim().is_empty() || primary.user_id.trim().is_empty() {
        problems.push(format!(
            "{who}: primary_identity needs a provider and a user_id"
        ));
    } else if primary.provider == "auth0" {
        problems.push(format!(
            "{who}: primary_identity is another provider's identity (e.g. google-oauth2), not auth0"
        ));
    } else if let Some(first) = primaries.insert(primary.root_user_id(), index) {
        problems.push(format!(
            "{who}: duplicate primary_identity {:?} (also users[{first}])",
            primary.root_user_id()
        ));
    }
}

/// Reads all of `reader`, refusing more than `limit` bytes, and refusing at
/// once a text whose first byte says it is not a JSON object.
fn read_bounded(mut reader: impl Read, limit: u64) -> Result<Vec<u8>, SeedError> {
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut checked = false;
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(text),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(SeedError::Read(error)),
        };
        if text.len() as u64 + n as u64 > limit {
            return Err(SeedError::TooLarge);
        }
        text.extend_from_slice(&chunk[..n]);
        if !checked {
            // A partial byte order mark waits for the next read.
            let start = json_start(&text);
            if !start.is_empty() && !b"\xef\xbb\xbf".starts_with(start) {
                if let Some(kind) = not_an_object(start) {
                    return Err(SeedError::NotAnObject(kind));
                }
                checked = true;
            }
        }
    }
}

impl SeedUser {
    /// The raw id: the given one, or one derived from connection and email.
    pub fn raw_id(&self, connection: &str) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => derived_id(connection, &self.email.to_lowercase()),
        }
    }
}

/// `con_` and 16 letters and digits derived from the name, as Auth0's
/// connection ids look (`^con_[A-Za-z0-9]{16}$`), stable across runs.
pub fn connection_id_for(name: &str) -> String {
    format!("con_{}", alphanumeric(&Sha256::digest(name.as_bytes()), 16))
}

/// 24 hex digits (the shape of Auth0's generated database ids), stable.
fn derived_id(connection: &str, email: &str) -> String {
    let digest = Sha256::digest(format!("{connection}\n{email}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn alphanumeric(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    bytes
        .iter()
        .take(len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> String {
        match Seed::from_json(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn minimal_seed_gets_the_default_connection() {
        let seed = Seed::from_json(r#"{"users":[{"email":"a@example.com","password":"p"}]}"#)
            .expect("valid");
        assert_eq!(seed.bcrypt_cost, 10);
        assert_eq!(seed.brute_force_threshold, 10);
        let connections = seed.connection_list();
        assert_eq!(connections[0].0, DEFAULT_CONNECTION);
        assert!(connections[0].1.starts_with("con_"));
        assert_eq!(connections[0].1.len(), 20);
        assert_eq!(connections[0].1, connection_id_for(DEFAULT_CONNECTION));
        assert_eq!(seed.users[0].raw_id(DEFAULT_CONNECTION).len(), 24);
    }

    #[test]
    fn names_the_problems() {
        let message = invalid(
            r#"{"bcrypt_cost": 2,
                "connections":[{"name":"A"},{"name":"B"}],
                "clients":[{"client_id":"c","client_secret":""}],
                "users":[
                  {"id":"1","connection":"A","email":"Jane@Example.com","password":"p"},
                  {"id":"2","connection":"A","email":"jane@example.com","password":"p"},
                  {"id":"1","connection":"B","email":"x@example.com"},
                  {"id":"3","connection":"C","email":"y@example.com"},
                  {"id":"4","email":"z@example.com"},
                  {"id":"5","connection":"A","email":"not-an-email"}
                ]}"#,
        );
        for expected in [
            "bcrypt_cost must be between 4 and 14 (got 2)",
            "clients[0] (c): client_secret must not be empty",
            "users[1] (jane@example.com): duplicate email in connection \"A\" (also users[0]",
            "users[2] (x@example.com): duplicate id \"1\" (also users[0])",
            "users[3] (y@example.com): unknown connection \"C\" (the seed has: \"A\", \"B\")",
            "users[4] (z@example.com): connection is required",
            "users[5] (not-an-email): email \"not-an-email\" is not an email address",
        ] {
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }
    }

    #[test]
    fn typos_are_refused_with_their_path() {
        let message = invalid(r#"{"users":[{"email":"a@example.com","pasword":"p"}]}"#);
        assert!(message.contains("users[0]"), "{message}");
        assert!(message.contains("pasword"), "{message}");
        let message = invalid(r#"{"users":[{"email":"a@example.com","blocked":"yes"}]}"#);
        assert!(message.contains("users[0].blocked"), "{message}");
        assert!(invalid("not json").contains("the seed is not valid"));
    }

    #[test]
    fn only_an_object_is_a_seed() {
        for (text, kind) in [
            ("[]", "an array"),
            (" 1", "a number"),
            ("\"x\"", "a string"),
            ("null", "null"),
            ("\u{0}", "0x00"),
        ] {
            let message = invalid(text);
            assert!(
                message.contains("must be a JSON object") && message.contains(kind),
                "{text}: {message}"
            );
        }
        let seed = Seed::from_json("\u{feff} {\"users\": []}").expect("a BOM is passed over");
        assert!(seed.users.is_empty());
    }

    #[test]
    fn bcrypt_costs_are_capped_where_hashing_stays_reasonable() {
        let cost = |n: u32| Seed::from_json(&format!("{{\"bcrypt_cost\": {n}}}"));
        assert!(cost(4).is_ok() && cost(14).is_ok());
        let message = cost(15).unwrap_err().to_string();
        assert!(message.contains("between 4 and 14 (got 15)"), "{message}");
        assert!(cost(31).is_err() && cost(3).is_err());
    }

    #[test]
    fn reading_is_bounded_and_stops_at_a_first_byte_that_is_no_object() {
        // Endless noise: refused at once, not read to the limit.
        let error = read_bounded(io::repeat(0), MAX_SEED_BYTES).unwrap_err();
        assert!(matches!(error, SeedError::NotAnObject(_)), "{error}");
        let error = read_bounded(io::repeat(b'[').take(10), 1 << 20).unwrap_err();
        assert!(error.to_string().contains("an array"), "{error}");
        // An object that never ends: read up to the limit, then refused.
        let endless = io::Cursor::new(b"{".to_vec()).chain(io::repeat(b' '));
        let error = read_bounded(endless, 1 << 20).unwrap_err();
        assert!(matches!(error, SeedError::TooLarge), "{error}");
        assert!(error.to_string().contains("256 MiB"), "{error}");
        // A BOM split across reads is still a BOM.
        let split =
            io::Cursor::new(b"\xef".to_vec()).chain(io::Cursor::new(b"\xbb\xbf{}".to_vec()));
        assert_eq!(read_bounded(split, 1 << 20).unwrap(), b"\xef\xbb\xbf{}");
        let seed = Seed::from_reader(io::Cursor::new(br#"{"users": []}"#)).unwrap();
        assert!(seed.users.is_empty());
    }

    #[test]
    fn debug_never_shows_passwords() {
        let seed = Seed::from_json(r#"{"users":[{"email":"a@example.com","password":"hunter2"}]}"#)
            .expect("valid");
        assert!(!format!("{seed:?}").contains("hunter2"));
    }
}
