//! What a user logs in with, and how a password is checked against it: a
//! bcrypt hash (seeded, set by `PATCH`, or imported as `password_hash`),
//! or an imported `custom_password_hash`, read as Auth0's import schema
//! documents it:
//!
//! - `bcrypt`, `argon2`, `pbkdf2`: `hash.value` is self-describing (modular
//!   crypt for bcrypt; a PHC string for argon2, and for pbkdf2
//!   `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>` with
//!   salt and hash in unpadded standard base64), `hash.encoding` `utf8`,
//!   no `salt`.
//! - `md5`, `sha1`, `sha256`, `sha512`: the digest of the password with
//!   `salt.value` (decoded by `salt.encoding`: `utf8` by default, `hex`,
//!   `base64`) before it (`salt.position` `prefix`, the default here) or
//!   after it (`suffix`), compared with `hash.value` decoded by
//!   `hash.encoding` (`hex` by default, or `base64`). The password's bytes
//!   follow `password.encoding` (`utf8` by default; `latin1`, `ascii` and
//!   `binary` take one byte per character, `utf16le`/`ucs2` two).
//! - `hmac`, `ldap`, `md4`, `scrypt`: accepted by the import, not
//!   verifiable here (such users cannot log in; the README says so).
//!
//! An independent reading of the documentation: nothing here is shared
//! with `trickle-bulk`, which writes these objects.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

/// What a stored user logs in with.
#[derive(Clone, Debug)]
pub enum PasswordHash {
    /// `$2a$`/`$2b$`/`$2y$`.
    Bcrypt(String),
    /// An imported `custom_password_hash` object, as given.
    Custom(Map<String, Value>),
}

impl PasswordHash {
    /// Whether `password` is the one this hash was made from. Anything
    /// malformed or unsupported is never a match.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            PasswordHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            PasswordHash::Custom(custom) => verify_custom(custom, password).unwrap_or(false),
        }
    }
}

/// What an import record gives a user to log in with: `password_hash`
/// (bcrypt), else `custom_password_hash`.
pub fn from_import(record: &Map<String, Value>) -> Option<PasswordHash> {
    if let Some(hash) = record.get("password_hash").and_then(Value::as_str) {
        return Some(PasswordHash::Bcrypt(hash.to_owned()));
    }
    let custom = record.get("custom_password_hash")?.as_object()?;
    Some(PasswordHash::Custom(custom.clone()))
}

const SELF_DESCRIBING: [&str; 3] = ["bcrypt", "argon2", "pbkdf2"];
const TEXT_ENCODINGS: [&str; 3] = ["base64", "hex", "utf8"];
const PASSWORD_ENCODINGS: [&str; 6] = ["ascii", "utf8", "utf16le", "ucs2", "latin1", "binary"];

/// What the import refuses in a `custom_password_hash` beyond its algorithm
/// and `hash.value` (checked by the job itself): `(code, message, path)`.
pub fn import_problems(custom: &Map<String, Value>) -> Vec<(&'static str, String, String)> {
    let algorithm = custom.get("algorithm").and_then(Value::as_str);
    let self_describing = algorithm.is_some_and(|a| SELF_DESCRIBING.contains(&a));
    let mut problems = Vec::new();
    let enums = [
        ("hash", "encoding", &TEXT_ENCODINGS[..]),
        ("salt", "encoding", &TEXT_ENCODINGS[..]),
        ("salt", "position", &["prefix", "suffix"][..]),
        ("password", "encoding", &PASSWORD_ENCODINGS[..]),
    ];
    for (object, key, allowed) in enums {
        let value = custom.get(object).and_then(|o| o.get(key));
        if let Some(value) = value.filter(|v| !v.as_str().is_some_and(|v| allowed.contains(&v))) {
            problems.push((
                "ENUM_MISMATCH",
                format!("No enum match for: {value}"),
                format!("custom_password_hash.{object}.{key}"),
            ));
        }
    }
    if let Some(salt) = custom.get("salt") {
        if salt.get("value").and_then(Value::as_str).is_none() {
            let path = "custom_password_hash.salt.value".to_owned();
            let message = "Missing required property: value".to_owned();
            problems.push(("OBJECT_REQUIRED", message, path));
        }
        if self_describing {
            let message = format!(
                "{} hashes carry their own salt: salt is not allowed",
                algorithm.unwrap_or_default()
            );
            problems.push((
                "NOT_PASSED",
                message,
                "custom_password_hash.salt".to_owned(),
            ));
        }
    }
    let encoding = custom.get("hash").and_then(|h| h.get("encoding"));
    if self_describing && encoding.is_some_and(|e| e != "utf8") {
        let message = "hash.encoding must be utf8 for this algorithm".to_owned();
        let path = "custom_password_hash.hash.encoding".to_owned();
        problems.push(("NOT_PASSED", message, path));
    }
    problems
}

/// `None`: malformed or not verifiable here.
fn verify_custom(custom: &Map<String, Value>, password: &str) -> Option<bool> {
    let algorithm = custom.get("algorithm")?.as_str()?;
    let value = custom.get("hash")?.get("value")?.as_str()?;
    match algorithm {
        "bcrypt" => bcrypt::verify(password, value).ok(),
        "argon2" => Some(verify_argon2(value, password)),
        "pbkdf2" => verify_pbkdf2(value, password),
        "md5" | "sha1" | "sha256" | "sha512" => {
            let expected = decode(value, text_of(custom, "hash", "encoding").unwrap_or("hex"))?;
            let salted = salted_password(custom, password)?;
            Some(constant_time_eq(&digest(algorithm, &salted)?, &expected))
        }
        _ => None,
    }
}

fn verify_argon2(phc: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// `$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>` (`pbkdf2` alone is SHA-1).
fn verify_pbkdf2(phc: &str, password: &str) -> Option<bool> {
    let mut parts = phc.split('$');
    let (Some(""), Some(id), Some(params), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let mut iterations = None;
    let mut length = None;
    for param in params.split(',') {
        match param.split_once('=')? {
            ("i", n) => iterations = Some(n.parse::<u32>().ok()?),
            ("l", n) => length = Some(n.parse::<usize>().ok()?),
            _ => return None,
        }
    }
    let (salt, expected) = (b64(salt)?, b64(hash)?);
    let iterations = iterations.filter(|i| *i > 0)?;
    let length = length.unwrap_or(expected.len());
    if length != expected.len() || length == 0 || length > 1024 {
        return None;
    }
    let mut out = vec![0u8; length];
    let password = password.as_bytes();
    match id {
        "pbkdf2" | "pbkdf2-sha1" => {
            pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, &salt, iterations, &mut out)
        }
        "pbkdf2-sha256" => pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, iterations, &mut out),
        "pbkdf2-sha512" => pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, iterations, &mut out),
        _ => return None,
    }
    Some(constant_time_eq(&out, &expected))
}

/// PHC's base64: standard alphabet, padding optional.
fn b64(text: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

fn text_of<'a>(custom: &'a Map<String, Value>, object: &str, key: &str) -> Option<&'a str> {
    custom.get(object)?.get(key)?.as_str()
}

/// The salt (if any) and the password's bytes, in the documented order.
fn salted_password(custom: &Map<String, Value>, password: &str) -> Option<Vec<u8>> {
    let password = encode_password(password, text_of(custom, "password", "encoding"))?;
    let Some(salt) = custom.get("salt") else {
        return Some(password);
    };
    let salt = decode(
        salt.get("value")?.as_str()?,
        text_of(custom, "salt", "encoding").unwrap_or("utf8"),
    )?;
    match text_of(custom, "salt", "position").unwrap_or("prefix") {
        "prefix" => Some([salt, password].concat()),
        "suffix" => Some([password, salt].concat()),
        _ => None,
    }
}

/// As Node's `Buffer.from(password, encoding)` would give it.
fn encode_password(password: &str, encoding: Option<&str>) -> Option<Vec<u8>> {
    match encoding.unwrap_or("utf8") {
        "utf8" => Some(password.as_bytes().to_vec()),
        // One byte per UTF-16 code unit, its low byte.
        "latin1" | "binary" | "ascii" => Some(
            password
                .encode_utf16()
                .map(|unit| (unit & 0xff) as u8)
                .collect(),
        ),
        "utf16le" | "ucs2" => Some(password.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        _ => None,
    }
}

fn decode(text: &str, encoding: &str) -> Option<Vec<u8>> {
    match encoding {
        "utf8" => Some(text.as_bytes().to_vec()),
        "hex" => hex(text),
        "base64" => STANDARD.decode(text).ok(),
        _ => None,
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn digest(algorithm: &str, input: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm {
        "md5" => md5::Md5::digest(input).to_vec(),
        "sha1" => sha1::Sha1::digest(input).to_vec(),
        "sha256" => Sha256::digest(input).to_vec(),
        "sha512" => Sha512::digest(input).to_vec(),
        _ => return None,
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn custom(value: Value) -> PasswordHash {
        PasswordHash::Custom(value.as_object().expect("an object").clone())
    }

    // Known answers from an independent implementation (Python's hashlib).
    const MD5_PASSWORD: &str = "5f4dcc3b5aa765d61d8327deb882cf99";
    const SHA1_PASSWORD: &str = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8";
    /// sha256("pepper" + "password")
    const SHA256_PEPPER_PASSWORD: &str =
        "4b65d30b048d9eab292a2ea50fd60423d3d5d581a6ed85169b8a0c4f7dd10c00";

    #[test]
    fn unsalted_digests_verify_in_hex_and_base64() {
        let md5 = custom(json!({"algorithm": "md5", "hash": {"value": MD5_PASSWORD}}));
        assert!(md5.verify("password"));
        assert!(!md5.verify("Password"));
        let upper = custom(
            json!({"algorithm": "md5", "hash": {"value": MD5_PASSWORD.to_uppercase(), "encoding": "hex"}}),
        );
        assert!(upper.verify("password"), "hex digits of either case");
        let sha1 = custom(json!({"algorithm": "sha1", "hash": {"value": SHA1_PASSWORD}}));
        assert!(sha1.verify("password"));
        let bytes = hex(MD5_PASSWORD).unwrap();
        let b64 = custom(
            json!({"algorithm": "md5", "hash": {"value": STANDARD.encode(bytes), "encoding": "base64"}}),
        );
        assert!(b64.verify("password"));
    }

    #[test]
    fn the_salt_goes_where_it_is_told() {
        let prefix = json!({"algorithm": "sha256", "hash": {"value": SHA256_PEPPER_PASSWORD, "encoding": "hex"},
                            "salt": {"value": "pepper", "encoding": "utf8", "position": "prefix"}});
        assert!(custom(prefix.clone()).verify("password"));
        let mut suffix = prefix.clone();
        suffix["salt"]["position"] = json!("suffix");
        assert!(!custom(suffix).verify("password"));
        let mut hex_salt = prefix.clone();
        hex_salt["salt"] =
            json!({"value": "706570706572", "encoding": "hex", "position": "prefix"});
        assert!(custom(hex_salt).verify("password"));
        let mut default_position = prefix;
        default_position["salt"] = json!({"value": "pepper"});
        assert!(custom(default_position).verify("password"));
        let suffixed: Vec<u8> = Sha512::digest(b"passwordpepper").to_vec();
        let sha512 = json!({"algorithm": "sha512", "hash": {"value": STANDARD.encode(suffixed), "encoding": "base64"},
                            "salt": {"value": STANDARD.encode("pepper"), "encoding": "base64", "position": "suffix"}});
        assert!(custom(sha512).verify("password"));
    }

    #[test]
    fn the_password_encoding_is_applied() {
        let utf16: Vec<u8> = "pässword"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let value: String = md5::Md5::digest(&utf16)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hash = custom(
            json!({"algorithm": "md5", "hash": {"value": value}, "password": {"encoding": "utf16le"}}),
        );
        assert!(hash.verify("pässword"));
        let latin1: String = md5::Md5::digest(b"p\xe4ssword")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hash = custom(
            json!({"algorithm": "md5", "hash": {"value": latin1}, "password": {"encoding": "latin1"}}),
        );
        assert!(hash.verify("pässword"));
    }

    #[test]
    fn pbkdf2_phc_strings_verify() {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"password", b"saltsalt", 1000, &mut out);
        let phc = format!(
            "$pbkdf2-sha256$i=1000,l=32${}${}",
            STANDARD_NO_PAD.encode(b"saltsalt"),
            STANDARD_NO_PAD.encode(out)
        );
        let hash =
            custom(json!({"algorithm": "pbkdf2", "hash": {"value": phc, "encoding": "utf8"}}));
        assert!(hash.verify("password"));
        assert!(!hash.verify("passwore"));
        for broken in [
            "$pbkdf2-sha256$i=0,l=32$c2FsdHNhbHQ$AAAA",
            "$pbkdf2-md2$i=1000,l=32$c2FsdHNhbHQ$AAAA",
            "pbkdf2-sha256$i=1000$x$y",
            "$pbkdf2-sha256$i=1000,l=16$c2FsdHNhbHQ$AAAA",
        ] {
            let hash = custom(json!({"algorithm": "pbkdf2", "hash": {"value": broken}}));
            assert!(!hash.verify("password"), "{broken}");
        }
    }

    #[test]
    fn argon2_and_bcrypt_verify_and_the_rest_never_do() {
        use argon2::PasswordHasher;
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_with_salt(b"password", b"saltsaltsalt")
                .unwrap()
                .to_string();
        let hash = custom(json!({"algorithm": "argon2", "hash": {"value": argon}}));
        assert!(hash.verify("password") && !hash.verify("other"));
        let bcrypt = bcrypt::hash("password", 4).unwrap();
        let hash = custom(json!({"algorithm": "bcrypt", "hash": {"value": bcrypt.clone()}}));
        assert!(hash.verify("password"));
        assert!(PasswordHash::Bcrypt(bcrypt).verify("password"));
        for algorithm in ["hmac", "ldap", "md4", "scrypt"] {
            let hash = custom(json!({"algorithm": algorithm, "hash": {"value": MD5_PASSWORD}}));
            assert!(!hash.verify("password"), "{algorithm}");
        }
    }

    #[test]
    fn the_import_refuses_what_the_schema_does() {
        let paths = |value: Value| -> Vec<String> {
            import_problems(value.as_object().unwrap())
                .into_iter()
                .map(|(_, _, path)| path)
                .collect()
        };
        assert!(paths(
            json!({"algorithm": "md5", "hash": {"value": "x", "encoding": "hex"},
                             "salt": {"value": "s", "encoding": "utf8", "position": "suffix"},
                             "password": {"encoding": "latin1"}})
        )
        .is_empty());
        assert_eq!(
            paths(
                json!({"algorithm": "md5", "hash": {"value": "x", "encoding": "rot13"},
                         "salt": {"value": "s", "position": "middle"}, "password": {"encoding": "ebcdic"}})
            ),
            [
                "custom_password_hash.hash.encoding",
                "custom_password_hash.salt.position",
                "custom_password_hash.password.encoding"
            ]
        );
        assert_eq!(
            paths(
                json!({"algorithm": "argon2", "hash": {"value": "x", "encoding": "hex"}, "salt": {"value": "s"}})
            ),
            [
                "custom_password_hash.salt",
                "custom_password_hash.hash.encoding"
            ]
        );
        assert_eq!(
            paths(json!({"algorithm": "md5", "hash": {"value": "x"}, "salt": {}})),
            ["custom_password_hash.salt.value"]
        );
    }
}
