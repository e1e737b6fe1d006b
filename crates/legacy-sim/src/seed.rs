//! The seed file: the legacy store's users, as JSON. Strict (unknown keys
//! are refused, with their path), bounded in size, and every problem is
//! named with the user it belongs to.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::hashes::{self, HashSpec, StoredHash};
use crate::store::{parse_time, User};

/// The largest seed file read.
pub const MAX_SEED_BYTES: u64 = 64 * 1024 * 1024;
/// The bcrypt cost of seeded passwords that name no algorithm.
pub const DEFAULT_BCRYPT_COST: u32 = 10;

/// A whole seed file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Free text for people reading the file (ignored).
    #[serde(default, rename = "$comment")]
    pub comment: Option<Value>,
    /// The cost of bcrypt hashes made from plain passwords without `hash`.
    #[serde(default = "default_cost")]
    pub bcrypt_cost: u32,
    #[serde(default)]
    pub users: Vec<SeedUser>,
}

/// One user: the contract's profile, and a password given in plain text
/// (hashed at load as `hash` says, bcrypt by default) or already hashed
/// (`password_hash`, the export's shape). Neither: the user cannot log in.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub user_metadata: Map<String, Value>,
    #[serde(default)]
    pub app_metadata: Map<String, Value>,
    #[serde(default)]
    pub blocked: bool,
    /// RFC 3339: the user was marked migrated.
    #[serde(default)]
    pub migrated_at: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub hash: Option<HashSpec>,
    #[serde(default)]
    pub password_hash: Option<StoredHash>,
}

impl std::fmt::Debug for SeedUser {
    // No password in any log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn default_cost() -> u32 {
    DEFAULT_BCRYPT_COST
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read the seed: {0}")]
    Read(#[from] std::io::Error),
    #[error("the seed is larger than {} MiB", MAX_SEED_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("the seed is not valid: {0}")]
    Syntax(String),
    #[error("the seed is not valid:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

impl Seed {
    /// Reads and parses a seed file (checks come with [`Seed::users`]).
    pub fn from_path(path: &Path) -> Result<Seed, SeedError> {
        let file = std::fs::File::open(path)?;
        let mut text = String::new();
        file.take(MAX_SEED_BYTES + 1).read_to_string(&mut text)?;
        if text.len() as u64 > MAX_SEED_BYTES {
            return Err(SeedError::TooLarge);
        }
        Seed::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            SeedError::Syntax(format!("{path}: {}", error.into_inner()))
        })
    }

    /// The stored users, passwords hashed (slow on purpose for bcrypt and
    /// argon2: call it off the async runtime), or every problem found.
    pub fn users(&self) -> Result<Vec<User>, SeedError> {
        let mut problems = Vec::new();
        let mut ids = HashSet::new();
        let mut users = Vec::with_capacity(self.users.len());
        for (index, seed) in self.users.iter().enumerate() {
            let who = format!("users[{index}] ({})", seed.id);
            if seed.id.is_empty() {
                problems.push(format!("users[{index}]: id must not be empty"));
            } else if !ids.insert(seed.id.as_str()) {
                problems.push(format!(
                    "{who}: duplicate id (ids are unique and never reused)"
                ));
            }
            match user(seed, self.bcrypt_cost) {
                Ok(user) => users.push(user),
                Err(problem) => problems.push(format!("{who}: {problem}")),
            }
        }
        if problems.is_empty() {
            Ok(users)
        } else {
            Err(SeedError::Invalid(problems))
        }
    }
}

fn user(seed: &SeedUser, bcrypt_cost: u32) -> Result<User, String> {
    if !seed.email.contains('@') {
        return Err(format!("email {:?} is not an email address", seed.email));
    }
    if let Some(at) = &seed.migrated_at {
        parse_time(at).map_err(|e| format!("migrated_at {at:?} is not an RFC 3339 time ({e})"))?;
    }
    let password = match (&seed.password, &seed.hash, &seed.password_hash) {
        (Some(_), _, Some(_)) => return Err("give password or password_hash, not both".to_owned()),
        (None, Some(_), _) => {
            return Err("hash says how to store a password: give the password".to_owned())
        }
        (Some(password), spec, None) => {
            let spec = spec.clone().unwrap_or(HashSpec::Bcrypt { cost: None });
            Some(hashes::make(password, &spec, bcrypt_cost)?)
        }
        (None, None, Some(stored)) => {
            hashes::check(stored).map_err(|e| format!("password_hash: {e}"))?;
            Some(stored.clone())
        }
        (None, None, None) => None,
    };
    Ok(User {
        id: seed.id.clone(),
        email: seed.email.clone(),
        email_verified: seed.email_verified,
        username: seed.username.clone(),
        given_name: seed.given_name.clone(),
        family_name: seed.family_name.clone(),
        name: seed.name.clone(),
        nickname: seed.nickname.clone(),
        picture: seed.picture.clone(),
        user_metadata: seed.user_metadata.clone(),
        app_metadata: seed.app_metadata.clone(),
        blocked: seed.blocked,
        migrated_at: seed.migrated_at.clone(),
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_hashed_as_told_and_problems_named() {
        let seed = Seed::from_json(
            r#"{"bcrypt_cost": 4, "users": [
                {"id": "u-1", "email": "Ada@Example.com", "password": "pw"},
                {"id": "u-2", "email": "b@example.com", "password": "pw", "hash": {"algorithm": "md5"}},
                {"id": "u-3", "email": "c@example.com", "password_hash": {"algorithm": "md5", "value": "5f4dcc3b5aa765d61d8327deb882cf99"}},
                {"id": "u-4", "email": "d@example.com"}
            ]}"#,
        )
        .unwrap();
        let users = seed.users().unwrap();
        assert!(users[0]
            .password
            .as_ref()
            .unwrap()
            .value
            .starts_with("$2b$04$"));
        assert_eq!(users[1].password.as_ref().unwrap().algorithm, "md5");
        assert!(crate::hashes::verify(
            users[2].password.as_ref().unwrap(),
            "password"
        ));
        assert!(users[3].password.is_none());

        let bad = Seed::from_json(
            r#"{"users": [
                {"id": "x", "email": "a@example.com", "password": "p", "password_hash": {"algorithm": "md5", "value": "00"}},
                {"id": "x", "email": "nope"},
                {"id": "y", "email": "y@example.com", "hash": {"algorithm": "md5"}},
                {"id": "z", "email": "z@example.com", "migrated_at": "yesterday"},
                {"id": "w", "email": "w@example.com", "password_hash": {"algorithm": "rot13", "value": "x"}}
            ]}"#,
        )
        .unwrap();
        let message = bad.users().unwrap_err().to_string();
        for expected in [
            "users[0] (x): give password or password_hash, not both",
            "users[1] (x): duplicate id",
            "users[1] (x): email \"nope\"",
            "users[2] (y): hash says how to store a password",
            "users[3] (z): migrated_at \"yesterday\"",
            "users[4] (w): password_hash: algorithm \"rot13\"",
        ] {
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }
        let typo = Seed::from_json(r#"{"users": [{"id": "x", "email": "a@b", "pasword": "p"}]}"#);
        assert!(typo.unwrap_err().to_string().contains("users[0]"));
    }
}
