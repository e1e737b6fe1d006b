//! The server's JWK set: its public half (`[issuer]/jwks.json`) and the
//! secret that session IDs are HMAC'd with.
//!
//! A SID is `<key>.<base64url(HMAC-SHA256(secret, key))>`. The secret is
//! SHA-256 over a canonical serialisation of every key in the set that holds
//! private or secret material: each such JWK with its members sorted, no
//! whitespace; those strings sorted and joined with `\n`. So two servers with
//! the same JWK set (in any order) compute the same SID for a key, and any
//! change to private or secret material changes every SID. Public-only keys
//! do not count (they cannot be a secret).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Members of a JWK that only its owner holds (RFC 7517/7518).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The longest SID key accepted (the `SID-Key` header, a seed's key).
pub const MAX_SID_KEY_LEN: usize = 256;

pub struct KeySet {
    /// `{"keys": [...]}` without private members or symmetric keys.
    public: Value,
    secret: [u8; 32],
}

impl KeySet {
    /// Checks a JWK set (`{"keys": [...]}`) and derives its public half and secret.
    pub fn from_jwks(jwks: &Value) -> Result<KeySet, Vec<String>> {
        let mut problems = Vec::new();
        let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
            return Err(vec!["jwks: must be a JWK set, {\"keys\": [...]}".to_owned()]);
        };
        if jwks.as_object().is_some_and(|o| o.len() != 1) {
            problems.push("jwks: only \"keys\" is allowed in a JWK set".to_owned());
        }
        let mut public = Vec::new();
        let mut secret_parts = Vec::new();
        let mut kids = std::collections::BTreeSet::new();
        for (i, key) in keys.iter().enumerate() {
            let Some(object) = key.as_object() else {
                problems.push(format!("jwks.keys[{i}]: must be an object"));
                continue;
            };
            let kty = object.get("kty").and_then(Value::as_str).unwrap_or("");
            let required: &[&str] = match kty {
                "RSA" => &["n", "e"],
                "EC" => &["crv", "x", "y"],
                "OKP" => &["crv", "x"],
                "oct" => &["k"],
                _ => {
                    problems.push(format!(
                        "jwks.keys[{i}]: kty must be \"RSA\", \"EC\", \"OKP\" or \"oct\""
                    ));
                    continue;
                }
            };
            for member in required {
                if !object.get(*member).is_some_and(Value::is_string) {
                    problems.push(format!(
                        "jwks.keys[{i}]: a {kty} key needs the string member {member:?}"
                    ));
                }
            }
            if let Some(kid) = object.get("kid") {
                match kid.as_str() {
                    Some(kid) if !kids.insert(kid.to_owned()) => {
                        problems.push(format!("jwks.keys[{i}]: kid {kid:?} is used twice"))
                    }
                    Some(_) => {}
                    None => problems.push(format!("jwks.keys[{i}]: kid must be a string")),
                }
            }
            if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
                secret_parts.push(canonical(key));
            }
            if kty != "oct" {
                let mut shown = object.clone();
                for member in PRIVATE_MEMBERS {
                    shown.remove(member);
                }
                public.push(Value::Object(shown));
            }
        }
        if secret_parts.is_empty() && problems.is_empty() {
            problems.push(
                "jwks: needs at least one private or secret key (a server's JWK set holds its \
                 private keys; the session IDs are secured with them)"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        secret_parts.sort();
        let secret = Sha256::digest(secret_parts.join("\n").as_bytes()).into();
        let mut shown = Map::new();
        shown.insert("keys".to_owned(), Value::Array(public));
        Ok(KeySet {
            public: Value::Object(shown),
            secret,
        })
    }

    /// The public JWK set, as `[issuer]/jwks.json` serves it.
    pub fn public(&self) -> &Value {
        &self.public
    }

    /// `key.HMAC`: the SID this server gives a session key.
    pub fn sid(&self, key: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(key.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{key}.{tag}")
    }

    /// Whether a SID was made by this key set (its HMAC matches its key).
    pub fn verifies(&self, sid: &str) -> bool {
        match sid.split_once('.') {
            Some((key, _)) if is_sid_key(key) => self.sid(key) == sid,
            _ => false,
        }
    }
}

/// A session key: 1 to 256 base64url characters.
pub fn is_sid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_SID_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new random session key (32 base64url characters, 192 bits).
pub fn new_sid_key(rng: &mut fastrand::Rng) -> String {
    let bytes: Vec<u8> = (0..24).map(|_| rng.u8(..)).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compact JSON with every object's members sorted.
pub fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                // Rebuilt in sorted order; also right when serde_json keeps
                // insertion order (its preserve_order feature).
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(k: &str) -> Value {
        json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": k},
            {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": "X", "y": "Y", "d": "D"},
            {"kty": "RSA", "kid": "pub", "n": "N", "e": "AQAB"}
        ]})
    }

    #[test]
    fn public_half_drops_private_members_and_symmetric_keys() {
        let keys = KeySet::from_jwks(&set("c2VjcmV0")).expect("valid");
        assert_eq!(
            keys.public(),
            &json!({"keys": [
                {"kty": "EC", "kid": "ec1", "crv": "P-256", "x": "X", "y": "Y"},
                {"kty": "RSA", "kid": "pub", "n": "N", "e": "AQAB"}
            ]})
        );
    }

    #[test]
    fn sids_depend_on_the_secret_material_only() {
        let a = KeySet::from_jwks(&set("c2VjcmV0")).expect("valid");
        let same = KeySet::from_jwks(&set("c2VjcmV0")).expect("valid");
        let other = KeySet::from_jwks(&set("b3RoZXI")).expect("valid");
        assert_eq!(a.sid("abc"), same.sid("abc"));
        assert_ne!(a.sid("abc"), other.sid("abc"));
        assert!(a.sid("abc").starts_with("abc."));
        assert!(a.verifies(&a.sid("abc")));
        assert!(!other.verifies(&a.sid("abc")));
        assert!(!a.verifies("abc"));
        // Reordered keys and members: the same set, the same SIDs.
        let reordered = json!({"keys": [
            {"kid": "pub", "e": "AQAB", "n": "N", "kty": "RSA"},
            {"d": "D", "y": "Y", "x": "X", "crv": "P-256", "kid": "ec1", "kty": "EC"},
            {"k": "c2VjcmV0", "kid": "hmac", "kty": "oct"}
        ]});
        assert_eq!(
            KeySet::from_jwks(&reordered).expect("valid").sid("abc"),
            a.sid("abc")
        );
        // A public-only key added: SIDs unchanged.
        let mut more = set("c2VjcmV0");
        more["keys"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kty": "OKP", "crv": "Ed25519", "x": "Q"}));
        assert_eq!(
            KeySet::from_jwks(&more).expect("valid").sid("abc"),
            a.sid("abc")
        );
    }

    #[test]
    fn bad_sets_are_refused_with_reasons() {
        for (jwks, expected) in [
            (json!([]), "must be a JWK set"),
            (json!({"keys": [{"kty": "RSA", "n": "N"}]}), "\"e\""),
            (json!({"keys": [{"kty": "XYZ"}]}), "kty must be"),
            (
                json!({"keys": [{"kty": "RSA", "n": "N", "e": "E"}]}),
                "at least one private or secret key",
            ),
            (
                json!({"keys": [{"kty": "oct", "k": "a", "kid": "x"}, {"kty": "oct", "k": "b", "kid": "x"}]}),
                "used twice",
            ),
        ] {
            let problems = KeySet::from_jwks(&jwks).err().expect("refused");
            assert!(
                problems.join(" ").contains(expected),
                "{jwks}: {problems:?}"
            );
        }
    }

    #[test]
    fn sid_keys_are_base64url() {
        assert!(is_sid_key("abc-_09XYZ"));
        assert!(!is_sid_key(""));
        assert!(!is_sid_key("a.b"));
        assert!(!is_sid_key("a b"));
        assert!(!is_sid_key(&"a".repeat(257)));
        let key = new_sid_key(&mut fastrand::Rng::with_seed(1));
        assert_eq!(key.len(), 32);
        assert!(is_sid_key(&key));
    }
}
