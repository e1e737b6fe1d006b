//! The legacy store's users, and how the API shows them (the contract's
//! `User`) and the export writes them (`User` plus `password_hash`).

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::hashes::StoredHash;

/// A stored user.
#[derive(Clone)]
pub struct User {
    pub id: String,
    /// As stored (case kept); compared lower-cased.
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub blocked: bool,
    /// RFC 3339, as it was written.
    pub migrated_at: Option<String>,
    pub password: Option<StoredHash>,
}

impl std::fmt::Debug for User {
    // No hash in any log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The contract's `User`: optional text members only when set;
    /// `blocked` and `migrated_at` always.
    pub fn to_json(&self) -> Value {
        let mut user = json!({
            "id": self.id,
            "email": self.email,
            "email_verified": self.email_verified,
        });
        let object = user.as_object_mut().expect("built as an object");
        for (key, value) in [
            ("username", &self.username),
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("name", &self.name),
            ("nickname", &self.nickname),
            ("picture", &self.picture),
        ] {
            if let Some(value) = value {
                object.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        object.insert(
            "user_metadata".to_owned(),
            Value::Object(self.user_metadata.clone()),
        );
        object.insert(
            "app_metadata".to_owned(),
            Value::Object(self.app_metadata.clone()),
        );
        object.insert("blocked".to_owned(), Value::Bool(self.blocked));
        object.insert("migrated_at".to_owned(), json!(self.migrated_at));
        user
    }

    /// One record of the legacy export: the `User` and its `password_hash`.
    pub fn to_export(&self) -> Value {
        let mut record = self.to_json();
        if let Some(hash) = &self.password {
            record["password_hash"] = serde_json::to_value(hash).expect("plain data");
        }
        record
    }
}

/// An RFC 3339 time.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| e.to_string())
}

/// Every user, in seed order.
pub struct Store {
    users: Vec<User>,
}

impl Store {
    pub fn new(users: Vec<User>) -> Store {
        Store { users }
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn by_id_mut(&mut self, id: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.id == id)
    }

    /// Exact match of the lower-cased email: zero, one, or (a store whose
    /// uniqueness is broken) more.
    pub fn by_email(&self, email: &str) -> Vec<&User> {
        let email = email.to_lowercase();
        self.users
            .iter()
            .filter(|u| u.email.to_lowercase() == email)
            .collect()
    }

    /// What a login name (email or username, as typed) names.
    pub fn by_login_name(&self, name: &str) -> Vec<&User> {
        let name = name.to_lowercase();
        self.users
            .iter()
            .filter(|u| {
                u.email.to_lowercase() == name
                    || u.username
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase() == name)
            })
            .collect()
    }
}
