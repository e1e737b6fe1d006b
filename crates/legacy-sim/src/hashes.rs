//! Passwords as legacy stores keep them, in the contract's export shape
//! (`password_hash`: `algorithm`, `value`, and for the digests `encoding`,
//! `salt`, `salt_encoding`, `salt_position`): made from a seed's plain
//! password ([`HashSpec`]) and checked by `POST /users/verify`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

/// The algorithms of the contract's `password_hash.algorithm`.
pub const ALGORITHMS: [&str; 7] = [
    "bcrypt", "argon2", "pbkdf2", "md5", "sha1", "sha256", "sha512",
];

/// A stored password, exactly as the export writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredHash {
    pub algorithm: String,
    pub value: String,
    /// Digests only: `hex` (the default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// `utf8` (the default), `hex` or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_encoding: Option<String>,
    /// `prefix` (the default) or `suffix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt_position: Option<String>,
}

/// How a seeded plain password is to be stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
pub enum HashSpec {
    Bcrypt {
        #[serde(default)]
        cost: Option<u32>,
    },
    Argon2 {
        /// `argon2id` (default), `argon2i` or `argon2d`.
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        memory_kib: Option<u32>,
        #[serde(default)]
        iterations: Option<u32>,
        #[serde(default)]
        parallelism: Option<u32>,
    },
    Pbkdf2 {
        /// `sha256` (default) or `sha512`.
        #[serde(default)]
        digest: Option<String>,
        #[serde(default)]
        iterations: Option<u32>,
        #[serde(default)]
        key_length: Option<usize>,
    },
    Md5(DigestSpec),
    Sha1(DigestSpec),
    Sha256(DigestSpec),
    Sha512(DigestSpec),
}

/// A salted (or not) digest's settings, named as the export names them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSpec {
    #[serde(default)]
    pub salt: Option<String>,
    #[serde(default)]
    pub salt_encoding: Option<String>,
    #[serde(default)]
    pub salt_position: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
}

/// Hashes `password` as `spec` says (`bcrypt_cost` when bcrypt names none).
pub fn make(password: &str, spec: &HashSpec, bcrypt_cost: u32) -> Result<StoredHash, String> {
    let self_describing = |algorithm: &str, value: String| StoredHash {
        algorithm: algorithm.to_owned(),
        value,
        encoding: None,
        salt: None,
        salt_encoding: None,
        salt_position: None,
    };
    match spec {
        HashSpec::Bcrypt { cost } => {
            let cost = cost.unwrap_or(bcrypt_cost);
            check_bcrypt_cost(cost)?;
            let value = bcrypt::hash(password, cost).map_err(|e| e.to_string())?;
            Ok(self_describing("bcrypt", value))
        }
        HashSpec::Argon2 {
            variant,
            memory_kib,
            iterations,
            parallelism,
        } => {
            let value = argon2_phc(
                password,
                variant.as_deref(),
                [*memory_kib, *iterations, *parallelism],
            )?;
            Ok(self_describing("argon2", value))
        }
        HashSpec::Pbkdf2 {
            digest,
            iterations,
            key_length,
        } => {
            let value = pbkdf2_phc(password, digest.as_deref(), *iterations, *key_length)?;
            Ok(self_describing("pbkdf2", value))
        }
        HashSpec::Md5(d) => digest_hash("md5", password, d),
        HashSpec::Sha1(d) => digest_hash("sha1", password, d),
        HashSpec::Sha256(d) => digest_hash("sha256", password, d),
        HashSpec::Sha512(d) => digest_hash("sha512", password, d),
    }
}

fn check_bcrypt_cost(cost: u32) -> Result<(), String> {
    if (4..=14).contains(&cost) {
        Ok(())
    } else {
        Err(format!(
            "bcrypt cost must be between 4 and 14 (got {cost}): each step doubles the time of every hash"
        ))
    }
}

fn random_salt() -> Vec<u8> {
    (0..16).map(|_| fastrand::u8(..)).collect()
}

/// `[memory KiB, iterations, parallelism]`, defaults OWASP's minimum.
fn argon2_phc(
    password: &str,
    variant: Option<&str>,
    params: [Option<u32>; 3],
) -> Result<String, String> {
    use argon2::PasswordHasher;
    let algorithm = match variant.unwrap_or("argon2id") {
        "argon2id" => argon2::Algorithm::Argon2id,
        "argon2i" => argon2::Algorithm::Argon2i,
        "argon2d" => argon2::Algorithm::Argon2d,
        other => {
            return Err(format!(
                "argon2 variant {other:?} is not argon2id, argon2i or argon2d"
            ))
        }
    };
    let [m, t, p] = params;
    let params = argon2::Params::new(m.unwrap_or(19_456), t.unwrap_or(2), p.unwrap_or(1), None)
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), &random_salt())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// `$pbkdf2-<digest>$i=…,l=…$salt$hash` (unpadded base64), Auth0's format.
fn pbkdf2_phc(
    password: &str,
    digest: Option<&str>,
    iterations: Option<u32>,
    key_length: Option<usize>,
) -> Result<String, String> {
    use pbkdf2::password_hash::PasswordHasher;
    let algorithm = match digest.unwrap_or("sha256") {
        "sha256" => pbkdf2::Algorithm::Pbkdf2Sha256,
        "sha512" => pbkdf2::Algorithm::Pbkdf2Sha512,
        other => return Err(format!("pbkdf2 digest {other:?} is not sha256 or sha512")),
    };
    let params = pbkdf2::Params::new_with_output_len(
        iterations.unwrap_or(600_000),
        key_length.unwrap_or(32),
    )
    .map_err(|e| format!("pbkdf2 parameters (at least 1000 iterations, 10 to 64 bytes): {e}"))?;
    pbkdf2::Pbkdf2::new(algorithm, params)
        .hash_password_with_salt(password.as_bytes(), &random_salt())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("pbkdf2: {e}"))
}

fn digest_hash(algorithm: &str, password: &str, spec: &DigestSpec) -> Result<StoredHash, String> {
    let stored = StoredHash {
        algorithm: algorithm.to_owned(),
        value: String::new(),
        encoding: spec.encoding.clone(),
        salt: spec.salt.clone(),
        salt_encoding: spec.salt_encoding.clone(),
        salt_position: spec.salt_position.clone(),
    };
    let bytes = digest(algorithm, &salted(&stored, password)?).ok_or("unknown digest")?;
    let value = match stored.encoding.as_deref().unwrap_or("hex") {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => STANDARD.encode(bytes),
        other => return Err(format!("encoding {other:?} is not hex or base64")),
    };
    Ok(StoredHash { value, ..stored })
}

/// Whether `stored` is well formed: a known algorithm, known encodings.
pub fn check(stored: &StoredHash) -> Result<(), String> {
    if !ALGORITHMS.contains(&stored.algorithm.as_str()) {
        return Err(format!(
            "algorithm {:?} is not one of {}",
            stored.algorithm,
            ALGORITHMS.join(", ")
        ));
    }
    let digest = matches!(
        stored.algorithm.as_str(),
        "md5" | "sha1" | "sha256" | "sha512"
    );
    let has_digest_fields = stored.encoding.is_some() || stored.salt.is_some();
    if !digest && has_digest_fields {
        return Err(format!(
            "{} hashes carry their own salt and encoding",
            stored.algorithm
        ));
    }
    for (name, value, allowed) in [
        ("encoding", &stored.encoding, &["hex", "base64"][..]),
        (
            "salt_encoding",
            &stored.salt_encoding,
            &["utf8", "hex", "base64"][..],
        ),
        (
            "salt_position",
            &stored.salt_position,
            &["prefix", "suffix"][..],
        ),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !allowed.contains(v)) {
            return Err(format!(
                "{name} {value:?} is not one of {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether `password` is the stored one. Malformed is never a match.
pub fn verify(stored: &StoredHash, password: &str) -> bool {
    match stored.algorithm.as_str() {
        "bcrypt" => bcrypt::verify(password, &stored.value).unwrap_or(false),
        "argon2" => {
            use argon2::PasswordVerifier;
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), stored.value.as_str())
                .is_ok()
        }
        "pbkdf2" => verify_pbkdf2(&stored.value, password),
        algorithm => {
            let expected = match stored.encoding.as_deref().unwrap_or("hex") {
                "hex" => hex(&stored.value),
                "base64" => STANDARD.decode(&stored.value).ok(),
                _ => None,
            };
            let actual = salted(stored, password)
                .ok()
                .and_then(|input| digest(algorithm, &input));
            matches!((expected, actual), (Some(e), Some(a)) if e == a)
        }
    }
}

fn verify_pbkdf2(phc: &str, password: &str) -> bool {
    use pbkdf2::password_hash::{phc::PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|hash| {
        pbkdf2::Pbkdf2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

fn salted(stored: &StoredHash, password: &str) -> Result<Vec<u8>, String> {
    let Some(salt) = &stored.salt else {
        return Ok(password.as_bytes().to_vec());
    };
    let salt = match stored.salt_encoding.as_deref().unwrap_or("utf8") {
        "utf8" => salt.as_bytes().to_vec(),
        "hex" => hex(salt).ok_or("the salt is not hex")?,
        "base64" => STANDARD
            .decode(salt)
            .map_err(|_| "the salt is not base64")?,
        other => {
            return Err(format!(
                "salt_encoding {other:?} is not utf8, hex or base64"
            ))
        }
    };
    Ok(match stored.salt_position.as_deref().unwrap_or("prefix") {
        "suffix" => [password.as_bytes(), &salt].concat(),
        _ => [&salt, password.as_bytes()].concat(),
    })
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let digits: Option<Vec<u8>> = text
        .chars()
        .map(|c| c.to_digit(16).map(|d| d as u8))
        .collect();
    let digits = digits?;
    digits.len().is_multiple_of(2).then(|| {
        digits
            .chunks(2)
            .map(|pair| pair[0] << 4 | pair[1])
            .collect()
    })
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(value: serde_json::Value) -> HashSpec {
        serde_json::from_value(value).expect("a hash spec")
    }

    #[test]
    fn every_algorithm_round_trips_and_refuses_another_password() {
        for value in [
            json!({"algorithm": "bcrypt", "cost": 4}),
            json!({"algorithm": "argon2", "memory_kib": 64, "iterations": 1}),
            json!({"algorithm": "argon2", "variant": "argon2i", "memory_kib": 64, "iterations": 1}),
            json!({"algorithm": "pbkdf2", "iterations": 1000}),
            json!({"algorithm": "pbkdf2", "digest": "sha512", "iterations": 1000, "key_length": 64}),
            json!({"algorithm": "md5"}),
            json!({"algorithm": "sha1", "salt": "a1b2", "salt_encoding": "hex", "salt_position": "suffix"}),
            json!({"algorithm": "sha256", "salt": "NaCl", "encoding": "base64"}),
            json!({"algorithm": "sha512", "salt": "c2FsdA==", "salt_encoding": "base64"}),
        ] {
            let stored = make("pässword", &spec(value.clone()), 4).expect("hashed");
            assert!(check(&stored).is_ok(), "{value}");
            assert!(verify(&stored, "pässword"), "{value}: {stored:?}");
            assert!(!verify(&stored, "password"), "{value}");
        }
    }

    #[test]
    fn stored_forms_are_the_contracts() {
        let pbkdf2 = make(
            "pw",
            &spec(json!({"algorithm": "pbkdf2", "iterations": 1000})),
            4,
        )
        .unwrap();
        assert!(
            pbkdf2.value.starts_with("$pbkdf2-sha256$i=1000,l=32$"),
            "{}",
            pbkdf2.value
        );
        let argon = make(
            "pw",
            &spec(json!({"algorithm": "argon2", "memory_kib": 64, "iterations": 1})),
            4,
        )
        .unwrap();
        assert!(
            argon.value.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{}",
            argon.value
        );
        // md5("password"), from an independent implementation.
        let md5 = make("password", &spec(json!({"algorithm": "md5"})), 4).unwrap();
        assert_eq!(md5.value, "5f4dcc3b5aa765d61d8327deb882cf99");
        assert_eq!(
            serde_json::to_value(&md5).unwrap(),
            json!({"algorithm": "md5", "value": md5.value})
        );
    }

    #[test]
    fn bad_specs_and_stored_forms_are_refused() {
        assert!(make("pw", &spec(json!({"algorithm": "bcrypt", "cost": 31})), 4).is_err());
        assert!(make(
            "pw",
            &spec(json!({"algorithm": "pbkdf2", "iterations": 10})),
            4
        )
        .is_err());
        assert!(make(
            "pw",
            &spec(json!({"algorithm": "argon2", "variant": "argon3"})),
            4
        )
        .is_err());
        assert!(make(
            "pw",
            &spec(json!({"algorithm": "md5", "encoding": "utf8"})),
            4
        )
        .is_err());
        assert!(
            serde_json::from_value::<HashSpec>(json!({"algorithm": "md5", "rounds": 3})).is_err()
        );
        assert!(serde_json::from_value::<HashSpec>(json!({"algorithm": "rot13"})).is_err());
        let stored =
            |value: serde_json::Value| serde_json::from_value::<StoredHash>(value).unwrap();
        assert!(check(&stored(json!({"algorithm": "md4", "value": "x"}))).is_err());
        assert!(check(&stored(
            json!({"algorithm": "bcrypt", "value": "x", "salt": "s"})
        ))
        .is_err());
        assert!(check(&stored(
            json!({"algorithm": "md5", "value": "x", "salt_position": "middle"})
        ))
        .is_err());
        assert!(!verify(
            &stored(json!({"algorithm": "md5", "value": "zz"})),
            "password"
        ));
    }
}
