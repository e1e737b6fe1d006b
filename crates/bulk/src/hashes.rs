//! Legacy password hashes, joined to users by raw user id or email.
//!
//! # The hashes file
//!
//! JSON lines (optionally gzipped), one user per line, keyed by `user_id`
//! (with or without `auth0|`) and/or `email` (any case). Then either
//!
//! - `"hash": "<text>"`, with an optional `"algorithm"`. Without one, the
//!   algorithm is read from the hash's own prefix: `$2a$`/`$2b$`/`$2y$`
//!   bcrypt, `$argon2…$` argon2, `$pbkdf2-…$` pbkdf2 (PHC strings), `{SSHA}`
//!   and the other `{…}` forms ldap. For the raw digests (`md4`, `md5`,
//!   `sha1`, `sha256`, `sha512`, `hmac`, `scrypt`) name the algorithm and
//!   add what applies of `"encoding"` (`hex` by default, or `base64`),
//!   `"salt"`, `"salt_encoding"` (`utf8` by default), `"salt_position"`
//!   (`prefix` by default), `"digest"` and `"key"` (hmac); or
//! - `"custom_password_hash": {…}`: Auth0's object as its import schema
//!   defines it, checked and passed through.
//!
//! bcrypt with cost 10 becomes `password_hash` (what Auth0 documents for
//! that field: `$2a$`/`$2b$`, 10 rounds; `$2y$` is the same algorithm and
//! is written as `$2b$`); bcrypt with another cost becomes a
//! `custom_password_hash` of algorithm `bcrypt`; everything else a
//! `custom_password_hash`.
//!
//! The file is indexed once (8 bytes of key hash and 8 of offset per
//! entry); an entry is read again from disk when its user is written.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};

use trickle_core::AUTH0_PREFIX;

use crate::keys::{email_identity, KeyMap, EMAIL_SEED, ID_SEED};

/// What goes into an import record for a user's password.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordField {
    /// `password_hash`: bcrypt `$2a$`/`$2b$`, cost 10.
    Bcrypt(String),
    /// `custom_password_hash`, as Auth0's schema defines it.
    Custom(Value),
}

/// One line of the hashes file as written.
#[derive(Debug, Deserialize)]
struct HashLine {
    user_id: Option<String>,
    email: Option<String>,
    hash: Option<String>,
    algorithm: Option<String>,
    encoding: Option<String>,
    salt: Option<String>,
    salt_encoding: Option<String>,
    salt_position: Option<String>,
    digest: Option<String>,
    key: Option<String>,
    custom_password_hash: Option<Value>,
}

/// A problem with one line of the hashes file (reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HashFileProblem {
    pub line: u64,
    pub problem: String,
}

/// A hashes line longer than this is reported, never read whole.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// How many problems are listed by line in the report (all are counted).
const PROBLEMS_LISTED: usize = 1000;

/// The indexed hashes file.
pub struct HashIndex {
    file: File,
    offsets: Vec<u64>,
    by_id: KeyMap,
    by_email: KeyMap,
    used: Vec<bool>,
    scratch: Vec<u8>,
    /// Entries indexed.
    pub entries: u64,
    /// Lines that could not be used, counted.
    pub problem_count: u64,
    /// The first problems, with their lines.
    pub problems: Vec<HashFileProblem>,
}

impl HashIndex {
    /// Indexes `path`. A gzipped file is first unpacked into `scratch`
    /// (a folder that is removed with the staging folder). When `stop`
    /// becomes true it gives up early (with an `Interrupted` error).
    pub fn open(path: &Path, scratch: &Path, stop: &AtomicBool) -> io::Result<HashIndex> {
        let stopped = || {
            stop.load(Ordering::Relaxed)
                .then(|| io::Error::new(io::ErrorKind::Interrupted, "stopped"))
        };
        let mut file = File::open(path)?;
        let mut magic = [0u8; 2];
        let gzipped = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
        file.seek(SeekFrom::Start(0))?;
        let file = if gzipped {
            let mut unpacked = tempfile::tempfile_in(scratch)?;
            let mut gz = flate2::read::MultiGzDecoder::new(file);
            let mut chunk = vec![0u8; 256 * 1024];
            loop {
                if let Some(error) = stopped() {
                    return Err(error);
                }
                let n = match gz.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                };
                io::Write::write_all(&mut unpacked, &chunk[..n])?;
            }
            unpacked.seek(SeekFrom::Start(0))?;
            unpacked
        } else {
            file
        };
        let mut index = HashIndex {
            file,
            offsets: Vec::new(),
            by_id: KeyMap::new(ID_SEED),
            by_email: KeyMap::new(EMAIL_SEED),
            used: Vec::new(),
            scratch: Vec::new(),
            entries: 0,
            problem_count: 0,
            problems: Vec::new(),
        };
        let mut reader = BufReader::with_capacity(256 * 1024, index.file.try_clone()?);
        let mut buffer = Vec::new();
        let mut offset = 0u64;
        let mut line = 0u64;
        loop {
            buffer.clear();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let read = (&mut reader).take(limit).read_until(b'\n', &mut buffer)?;
            if read == 0 {
                break;
            }
            line += 1;
            if let Some(error) = stopped() {
                return Err(error);
            }
            let mut start = offset;
            offset += read as u64;
            // A UTF-8 byte order mark before the first line is not part of it.
            if line == 1 && buffer.starts_with(b"\xef\xbb\xbf") {
                buffer.drain(..3);
                start += 3;
            }
            if read > MAX_LINE_BYTES && buffer.last() != Some(&b'\n') {
                offset += reader.skip_until(b'\n')? as u64;
                index.problem(line, format!("longer than {MAX_LINE_BYTES} bytes"));
                continue;
            }
            let text = buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<HashLine>(text) {
                Ok(entry) => index.add(entry, start, line),
                Err(error) => index.problem(line, format!("not a hashes line: {error}")),
            }
        }
        Ok(index)
    }

    fn add(&mut self, entry: HashLine, offset: u64, line: u64) {
        let id = entry.user_id.as_deref().map(strip_prefix);
        let email = entry.email.as_deref().map(email_identity);
        let id = id.filter(|id| !id.is_empty());
        let email = email.filter(|email| !email.is_empty());
        if id.is_none() && email.is_none() {
            return self.problem(line, "neither user_id nor email".to_owned());
        }
        if entry.hash.is_none() && entry.custom_password_hash.is_none() {
            return self.problem(line, "neither hash nor custom_password_hash".to_owned());
        }
        let index = self.offsets.len() as u64;
        let mut taken = false;
        if let Some(id) = id {
            taken |= self.by_id.insert_first(id, index).is_none();
        }
        if let Some(email) = &email {
            taken |= self.by_email.insert_first(email, index).is_none();
        }
        if taken {
            self.offsets.push(offset);
            self.used.push(false);
            self.entries += 1;
        } else {
            self.problem(
                line,
                "a hash for this user_id or email came earlier; kept the first".to_owned(),
            );
        }
    }

    fn problem(&mut self, line: u64, problem: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_LISTED {
            self.problems.push(HashFileProblem { line, problem });
        }
    }

    /// The password field for the user with raw id `user_id` and `email`
    /// (by id first; emails compared as the import compares them), if the
    /// file has one. `Err` when the entry cannot be turned into what Auth0
    /// accepts.
    pub fn lookup(
        &mut self,
        user_id: &str,
        email: &str,
    ) -> io::Result<Option<Result<PasswordField, String>>> {
        let email = email_identity(email);
        let Some(index) = self
            .by_id
            .get(user_id)
            .or_else(|| self.by_email.get(&email))
        else {
            return Ok(None);
        };
        let index = index as usize;
        self.read_entry(self.offsets[index])?;
        let entry: HashLine = match serde_json::from_slice(self.scratch.trim_ascii()) {
            Ok(entry) => entry,
            Err(error) => return Ok(Some(Err(error.to_string()))),
        };
        // A 64-bit clash between different keys is possible, if unlikely:
        // the entry must really be this user's.
        let same_id = entry.user_id.as_deref().map(strip_prefix) == Some(user_id);
        let same_email = entry
            .email
            .as_deref()
            .is_some_and(|e| email_identity(e) == email);
        if !same_id && !same_email {
            return Ok(None);
        }
        self.used[index] = true;
        Ok(Some(password_field(entry)))
    }

    /// Reads the line at `offset` (indexing checked its length) into
    /// `scratch`: one seek and usually one small read.
    fn read_entry(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset))?;
        let line = &mut self.scratch;
        line.clear();
        let mut chunk = [0u8; 1024];
        while line.len() <= MAX_LINE_BYTES {
            let n = self.file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            match memchr::memchr(b'\n', &chunk[..n]) {
                Some(end) => {
                    line.extend_from_slice(&chunk[..end]);
                    break;
                }
                None => line.extend_from_slice(&chunk[..n]),
            }
        }
        Ok(())
    }

    /// Entries no written user used.
    pub fn unused(&self) -> u64 {
        self.used.iter().filter(|used| !**used).count() as u64
    }
}

fn strip_prefix(id: &str) -> &str {
    id.strip_prefix(AUTH0_PREFIX).unwrap_or(id)
}

/// The algorithms `custom_password_hash` accepts.
pub const CUSTOM_ALGORITHMS: [&str; 11] = [
    "argon2", "bcrypt", "hmac", "ldap", "md4", "md5", "sha1", "sha256", "sha512", "pbkdf2",
    "scrypt",
];

fn password_field(entry: HashLine) -> Result<PasswordField, String> {
    if let Some(custom) = entry.custom_password_hash {
        if entry.hash.is_some() {
            return Err("both hash and custom_password_hash".to_owned());
        }
        return check_custom(&custom).map(|()| PasswordField::Custom(custom));
    }
    let hash = entry.hash.unwrap_or_default();
    let algorithm = match entry.algorithm.as_deref() {
        Some(algorithm) => algorithm.to_ascii_lowercase(),
        None => detect(&hash)
            .ok_or("the algorithm is not given and cannot be told from the hash")?
            .to_owned(),
    };
    if algorithm == "bcrypt" {
        let (hash, cost) = bcrypt(&hash)?;
        if cost == 10 {
            return Ok(PasswordField::Bcrypt(hash));
        }
        let custom = json!({"algorithm": "bcrypt", "hash": {"value": hash, "encoding": "utf8"}});
        return Ok(PasswordField::Custom(custom));
    }
    let mut hash_object = Map::new();
    hash_object.insert("value".into(), hash.into());
    let self_describing = matches!(algorithm.as_str(), "argon2" | "ldap" | "pbkdf2");
    let encoding = entry
        .encoding
        .unwrap_or_else(|| if self_describing { "utf8" } else { "hex" }.to_owned());
    hash_object.insert("encoding".into(), encoding.into());
    if let Some(digest) = entry.digest {
        hash_object.insert("digest".into(), digest.into());
    }
    if let Some(key) = entry.key {
        hash_object.insert("key".into(), json!({"value": key, "encoding": "utf8"}));
    }
    let mut custom = Map::new();
    custom.insert("algorithm".into(), algorithm.into());
    custom.insert("hash".into(), Value::Object(hash_object));
    if let Some(salt) = entry.salt {
        custom.insert(
            "salt".into(),
            json!({
                "value": salt,
                "encoding": entry.salt_encoding.unwrap_or_else(|| "utf8".to_owned()),
                "position": entry.salt_position.unwrap_or_else(|| "prefix".to_owned()),
            }),
        );
    }
    let custom = Value::Object(custom);
    check_custom(&custom)?;
    Ok(PasswordField::Custom(custom))
}

/// A legacy export's `password_hash` object (the legacy API contract):
/// `algorithm` and `value`, and for the digests `encoding`, `salt`,
/// `salt_encoding`, `salt_position`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportHash {
    algorithm: String,
    value: String,
    encoding: Option<String>,
    salt: Option<String>,
    salt_encoding: Option<String>,
    salt_position: Option<String>,
}

/// The algorithms a legacy export's `password_hash` may name.
pub const EXPORT_ALGORITHMS: [&str; 7] = [
    "bcrypt", "argon2", "pbkdf2", "md5", "sha1", "sha256", "sha512",
];

/// The password field for a legacy export's `password_hash` (an object,
/// or its JSON text from a CSV column), mapped as the hashes file's lines
/// are; a digest must have its algorithm's length in its encoding.
pub fn from_export(hash: &Value) -> Result<PasswordField, String> {
    let parsed = match hash {
        Value::String(text) => serde_json::from_str(text),
        other => ExportHash::deserialize(other),
    };
    let hash = parsed.map_err(|error| format!("password_hash: {error}"))?;
    let algorithm = hash.algorithm.to_ascii_lowercase();
    if !EXPORT_ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(format!(
            "password_hash.algorithm `{}` is not one of {}",
            hash.algorithm,
            EXPORT_ALGORITHMS.join(", ")
        ));
    }
    check_digest_length(&algorithm, &hash.value, hash.encoding.as_deref())?;
    password_field(HashLine {
        user_id: None,
        email: None,
        hash: Some(hash.value),
        algorithm: Some(algorithm),
        encoding: hash.encoding,
        salt: hash.salt,
        salt_encoding: hash.salt_encoding,
        salt_position: hash.salt_position,
        digest: None,
        key: None,
        custom_password_hash: None,
    })
}

/// A digest written in hex (the default) or base64 must decode to its
/// algorithm's size: a cut or mangled value would import a user who can
/// never log in.
fn check_digest_length(algorithm: &str, value: &str, encoding: Option<&str>) -> Result<(), String> {
    let bytes = match algorithm {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        "sha512" => 64,
        _ => return Ok(()),
    };
    let fits = match encoding.unwrap_or("hex") {
        "hex" => value.len() == bytes * 2 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        "base64" => {
            let data = value.trim_end_matches('=');
            let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
            data.len() == (bytes * 4).div_ceil(3) && data.bytes().all(alphabet)
        }
        _ => true, // refused by the schema check, with its own message
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "password_hash.value is not a {algorithm} digest ({bytes} bytes) in {}",
            encoding.unwrap_or("hex")
        ))
    }
}

/// The algorithm a self-describing hash names.
fn detect(hash: &str) -> Option<&'static str> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        Some("bcrypt")
    } else if hash.starts_with("$argon2") {
        Some("argon2")
    } else if hash.starts_with("$pbkdf2") {
        Some("pbkdf2")
    } else if hash.starts_with('{') && hash[1..].contains('}') {
        Some("ldap")
    } else {
        None
    }
}

/// A well-formed bcrypt hash, as `$2b$` when it was `$2y$`, and its cost.
fn bcrypt(hash: &str) -> Result<(String, u32), String> {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = hash.as_bytes();
    let well_formed = bytes.len() == 60
        && bytes[0] == b'$'
        && bytes[1] == b'2'
        && matches!(bytes[2], b'a' | b'b' | b'y')
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..].iter().all(|b| ALPHABET.contains(b));
    if !well_formed {
        return Err(
            "not a bcrypt hash ($2a$, $2b$ or $2y$, two-digit cost, 53 characters)".to_owned(),
        );
    }
    let cost = u32::from(bytes[4] - b'0') * 10 + u32::from(bytes[5] - b'0');
    if !(4..=31).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is out of range 4..=31"));
    }
    let hash = match hash.strip_prefix("$2y$") {
        Some(rest) => format!("$2b${rest}"),
        None => hash.to_owned(),
    };
    Ok((hash, cost))
}

/// Checks a `custom_password_hash` object against Auth0's import schema:
/// its shape first, then each of [`CUSTOM_CHECKS`] in order.
pub fn check_custom(custom: &Value) -> Result<(), String> {
    let custom = CustomHash::read(custom)?;
    CUSTOM_CHECKS.iter().try_for_each(|check| check(&custom))
}

/// A `custom_password_hash` whose shape is right: an object of known
/// properties, a known algorithm, a `hash` with a value.
struct CustomHash<'a> {
    object: &'a Map<String, Value>,
    algorithm: &'a str,
    hash: &'a Map<String, Value>,
}

impl<'a> CustomHash<'a> {
    fn read(custom: &'a Value) -> Result<Self, String> {
        let object = custom
            .as_object()
            .ok_or("custom_password_hash is not an object")?;
        only_keys(
            object,
            "custom_password_hash",
            &[
                "algorithm",
                "hash",
                "salt",
                "password",
                "keylen",
                "cost",
                "blockSize",
                "parallelization",
            ],
        )?;
        let algorithm = object
            .get("algorithm")
            .and_then(Value::as_str)
            .ok_or("custom_password_hash.algorithm is missing")?;
        if !CUSTOM_ALGORITHMS.contains(&algorithm) {
            return Err(format!(
                "custom_password_hash.algorithm `{algorithm}` is not one of {}",
                CUSTOM_ALGORITHMS.join(", ")
            ));
        }
        let hash = object
            .get("hash")
            .and_then(Value::as_object)
            .ok_or("custom_password_hash.hash is missing")?;
        only_keys(hash, "hash", &["value", "encoding", "digest", "key"])?;
        match hash.get("value").and_then(Value::as_str) {
            Some(value) if !value.is_empty() => {}
            _ => return Err("hash.value is missing".to_owned()),
        }
        Ok(CustomHash {
            object,
            algorithm,
            hash,
        })
    }
}

/// A check of a well-shaped `custom_password_hash`: its problem, if any.
type CustomCheck = fn(&CustomHash<'_>) -> Result<(), String>;

/// The checks of a well-shaped `custom_password_hash`, in order: the first
/// problem is the one reported.
const CUSTOM_CHECKS: [CustomCheck; 5] = [
    check_hash_encoding,
    check_hmac,
    check_salt,
    check_password_encoding,
    check_scrypt_parameters,
];

/// Self-describing hashes are utf8 and carry their own salt; the others
/// are hex or base64.
fn check_hash_encoding(custom: &CustomHash<'_>) -> Result<(), String> {
    let algorithm = custom.algorithm;
    let self_describing = matches!(algorithm, "argon2" | "bcrypt" | "ldap" | "pbkdf2");
    let encoding = optional_str(custom.hash, "hash.encoding", "encoding")?;
    if self_describing {
        if encoding.is_some_and(|e| e != "utf8") {
            return Err(format!("hash.encoding must be utf8 for {algorithm}"));
        }
        if custom.object.contains_key("salt") {
            return Err(format!(
                "{algorithm} hashes carry their own salt: no salt allowed"
            ));
        }
    } else if encoding.is_some_and(|e| !matches!(e, "hex" | "base64")) {
        return Err(format!(
            "hash.encoding must be hex or base64 for {algorithm}"
        ));
    }
    Ok(())
}

/// `hmac` needs a known digest and a key; no other algorithm takes them.
fn check_hmac(custom: &CustomHash<'_>) -> Result<(), String> {
    let hash = custom.hash;
    if custom.algorithm != "hmac" {
        if hash.contains_key("digest") || hash.contains_key("key") {
            return Err("hash.digest and hash.key are for hmac only".to_owned());
        }
        return Ok(());
    }
    let digest =
        optional_str(hash, "hash.digest", "digest")?.ok_or("hash.digest is required for hmac")?;
    const DIGESTS: [&str; 8] = [
        "md4",
        "md5",
        "ripemd160",
        "sha1",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
    ];
    if !DIGESTS.contains(&digest) {
        return Err(format!(
            "hash.digest `{digest}` is not one of {}",
            DIGESTS.join(", ")
        ));
    }
    let key = hash
        .get("key")
        .and_then(Value::as_object)
        .ok_or("hash.key is required for hmac")?;
    encoded_value(key, "hash.key", &["base64", "hex", "utf8"], &[])
}

/// A salt is an encoded value with a position; `scrypt` needs one.
fn check_salt(custom: &CustomHash<'_>) -> Result<(), String> {
    let Some(salt) = custom.object.get("salt") else {
        return match custom.algorithm {
            "scrypt" => Err("scrypt needs a salt".to_owned()),
            _ => Ok(()),
        };
    };
    let salt = salt.as_object().ok_or("salt is not an object")?;
    encoded_value(salt, "salt", &["base64", "hex", "utf8"], &["position"])?;
    if let Some(position) = optional_str(salt, "salt.position", "position")? {
        if !matches!(position, "prefix" | "suffix") {
            return Err("salt.position must be prefix or suffix".to_owned());
        }
    }
    Ok(())
}

/// `password` says only how the password is encoded, in a known way.
fn check_password_encoding(custom: &CustomHash<'_>) -> Result<(), String> {
    let Some(password) = custom.object.get("password") else {
        return Ok(());
    };
    let password = password.as_object().ok_or("password is not an object")?;
    only_keys(password, "password", &["encoding"])?;
    let encoding = optional_str(password, "password.encoding", "encoding")?;
    const ENCODINGS: [&str; 6] = ["ascii", "utf8", "utf16le", "ucs2", "latin1", "binary"];
    if encoding.is_some_and(|e| !ENCODINGS.contains(&e)) {
        return Err(format!(
            "password.encoding must be one of {}",
            ENCODINGS.join(", ")
        ));
    }
    Ok(())
}

/// `scrypt`'s parameters: positive integers, for `scrypt` only.
fn check_scrypt_parameters(custom: &CustomHash<'_>) -> Result<(), String> {
    for key in ["keylen", "cost", "blockSize", "parallelization"] {
        if let Some(value) = custom.object.get(key) {
            if custom.algorithm != "scrypt" {
                return Err(format!("{key} is for scrypt only"));
            }
            if value.as_u64().is_none_or(|n| n == 0) {
                return Err(format!("{key} must be a positive integer"));
            }
        }
    }
    Ok(())
}

fn only_keys(object: &Map<String, Value>, what: &str, allowed: &[&str]) -> Result<(), String> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(format!("{what} has an unknown property `{key}`")),
        None => Ok(()),
    }
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    what: &str,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("{what} is not a string")),
    }
}

fn encoded_value(
    object: &Map<String, Value>,
    what: &str,
    encodings: &[&str],
    extra: &[&str],
) -> Result<(), String> {
    let mut allowed = vec!["value", "encoding"];
    allowed.extend_from_slice(extra);
    only_keys(object, what, &allowed)?;
    match object.get("value").and_then(Value::as_str) {
        Some(value) if !value.is_empty() => {}
        _ => return Err(format!("{what}.value is missing")),
    }
    if let Some(encoding) = optional_str(object, what, "encoding")? {
        if !encodings.contains(&encoding) {
            return Err(format!(
                "{what}.encoding must be one of {}",
                encodings.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT_10: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    fn field(line: Value) -> Result<PasswordField, String> {
        password_field(serde_json::from_value(line).unwrap())
    }

    #[test]
    fn bcrypt_cost_10_is_a_password_hash_and_2y_becomes_2b() {
        assert_eq!(
            field(json!({"email": "a@x", "hash": BCRYPT_10})),
            Ok(PasswordField::Bcrypt(BCRYPT_10.to_owned()))
        );
        let y = BCRYPT_10.replace("$2b$", "$2y$");
        assert_eq!(
            field(json!({"email": "a@x", "hash": y})),
            Ok(PasswordField::Bcrypt(BCRYPT_10.to_owned()))
        );
        let a = BCRYPT_10.replace("$2b$", "$2a$");
        assert_eq!(
            field(json!({"email": "a@x", "hash": a})),
            Ok(PasswordField::Bcrypt(a))
        );
    }

    #[test]
    fn bcrypt_of_another_cost_is_a_custom_hash() {
        let twelve = BCRYPT_10.replace("$10$", "$12$");
        assert_eq!(
            field(json!({"email": "a@x", "hash": twelve})),
            Ok(PasswordField::Custom(
                json!({"algorithm": "bcrypt", "hash": {"value": twelve, "encoding": "utf8"}})
            ))
        );
    }

    #[test]
    fn malformed_bcrypt_is_refused() {
        for bad in [
            "$2b$10$short",
            "$2x$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
        ] {
            assert!(field(json!({"email": "a@x", "hash": bad, "algorithm": "bcrypt"})).is_err());
        }
        assert!(
            field(json!({"email": "a@x", "hash": "5f4dcc3b5aa765d61d8327deb882cf99"})).is_err()
        );
    }

    #[test]
    fn self_describing_hashes_become_utf8_custom_hashes() {
        let argon = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        assert_eq!(
            field(json!({"user_id": "auth0|1", "hash": argon})),
            Ok(PasswordField::Custom(
                json!({"algorithm": "argon2", "hash": {"value": argon, "encoding": "utf8"}})
            ))
        );
        let pbkdf2 = "$pbkdf2-sha512$i=10000,l=32$c2FsdA$aGFzaA";
        assert!(
            matches!(field(json!({"email": "a@x", "hash": pbkdf2})), Ok(PasswordField::Custom(c)) if c["algorithm"] == "pbkdf2")
        );
        assert!(
            matches!(field(json!({"email": "a@x", "hash": "{SSHA}abcd"})), Ok(PasswordField::Custom(c)) if c["algorithm"] == "ldap")
        );
    }

    #[test]
    fn salted_digests_follow_the_schema() {
        let got = field(json!({
            "email": "a@x", "algorithm": "sha256", "hash": "abcd", "salt": "pepper",
            "salt_position": "suffix"
        }))
        .unwrap();
        assert_eq!(
            got,
            PasswordField::Custom(json!({
                "algorithm": "sha256",
                "hash": {"value": "abcd", "encoding": "hex"},
                "salt": {"value": "pepper", "encoding": "utf8", "position": "suffix"}
            }))
        );
        let hmac = field(json!({"email": "a@x", "algorithm": "hmac", "hash": "abcd", "digest": "sha1", "key": "k"})).unwrap();
        let PasswordField::Custom(hmac) = hmac else {
            panic!()
        };
        assert_eq!(
            hmac["hash"]["key"],
            json!({"value": "k", "encoding": "utf8"})
        );
        assert!(field(json!({"email": "a@x", "algorithm": "hmac", "hash": "abcd"})).is_err());
        assert!(field(json!({"email": "a@x", "algorithm": "sha256", "hash": "abcd", "salt_position": "middle", "salt": "s"})).is_err());
        assert!(field(json!({"email": "a@x", "algorithm": "rot13", "hash": "abcd"})).is_err());
        assert!(field(json!({"email": "a@x", "algorithm": "scrypt", "hash": "abcd"})).is_err());
    }

    #[test]
    fn legacy_export_hashes_map_to_the_import_schema() {
        assert_eq!(
            from_export(&json!({"algorithm": "bcrypt", "value": BCRYPT_10})),
            Ok(PasswordField::Bcrypt(BCRYPT_10.to_owned()))
        );
        let md5 = "5f4dcc3b5aa765d61d8327deb882cf99";
        assert_eq!(
            from_export(&json!({"algorithm": "md5", "value": md5})),
            Ok(PasswordField::Custom(
                json!({"algorithm": "md5", "hash": {"value": md5, "encoding": "hex"}})
            ))
        );
        let text =
            json!({"algorithm": "sha256", "value": "OM/b6u6+pxnK1QPcloAlb4eo2b6a675VD8xyT9LMvqY=",
                          "encoding": "base64", "salt": "NaCl", "salt_position": "suffix"})
            .to_string();
        assert_eq!(
            from_export(&Value::String(text)),
            Ok(PasswordField::Custom(json!({
                "algorithm": "sha256",
                "hash": {"value": "OM/b6u6+pxnK1QPcloAlb4eo2b6a675VD8xyT9LMvqY=", "encoding": "base64"},
                "salt": {"value": "NaCl", "encoding": "utf8", "position": "suffix"}
            })))
        );
        for bad in [
            json!({"algorithm": "md5", "value": "5f4dcc3b"}),
            json!({"algorithm": "sha1", "value": "zz".repeat(20)}),
            json!({"algorithm": "sha256", "value": "AAAA", "encoding": "base64"}),
            json!({"algorithm": "hmac", "value": "ab"}),
            json!({"algorithm": "md5", "value": md5, "pepper": "x"}),
            json!({"algorithm": "argon2", "value": "$argon2id$v=19$x", "encoding": "hex"}),
            json!("not json"),
        ] {
            assert!(from_export(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn custom_objects_are_checked_and_passed_through() {
        let scrypt = json!({
            "algorithm": "scrypt",
            "hash": {"value": "abcd", "encoding": "base64"},
            "salt": {"value": "c2FsdA==", "encoding": "base64"},
            "password": {"encoding": "utf8"},
            "keylen": 64, "cost": 16384, "blockSize": 8, "parallelization": 1
        });
        assert_eq!(
            field(json!({"email": "a@x", "custom_password_hash": scrypt})),
            Ok(PasswordField::Custom(scrypt))
        );
        for bad in [
            json!({"algorithm": "md5", "hash": {"value": "ab"}, "extra": 1}),
            json!({"algorithm": "md5", "hash": {"value": ""}}),
            json!({"algorithm": "argon2", "hash": {"value": "$argon2id$x", "encoding": "hex"}}),
            json!({"algorithm": "bcrypt", "hash": {"value": "$2b$..."}, "salt": {"value": "s"}}),
            json!({"algorithm": "md5", "hash": {"value": "ab"}, "cost": 3}),
            json!({"algorithm": "md5", "hash": {"value": "ab"}, "password": {"encoding": "ebcdic"}}),
            json!("md5"),
        ] {
            assert!(check_custom(&bad).is_err(), "{bad}");
        }
    }
}
