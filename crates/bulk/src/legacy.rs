//! A legacy export's record (the legacy API contract's `User`, plus an
//! optional `password_hash`) as the source user the core normalises: `id`
//! becomes the root `user_id` (one `auth0|` is stripped by the core, as for
//! an Auth0 export), `migrated_at` is the migration marker, the hash goes
//! through [`crate::hashes::from_export`]. Unknown members are ignored, as
//! the contract allows.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use trickle_core::SourceUser;

use crate::hashes::{from_export, PasswordField};

/// One legacy record, read.
pub struct LegacyRecord {
    pub user: SourceUser<Value>,
    /// `migrated_at` when set (not null, not empty).
    pub marked_at: Option<String>,
    pub password: Option<Result<PasswordField, String>>,
}

#[derive(Deserialize)]
struct LegacyUser {
    id: String,
    email: Option<String>,
    email_verified: Option<bool>,
    username: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    blocked: Option<bool>,
    migrated_at: Option<String>,
    password_hash: Option<Value>,
}

/// Whether a record looks like the contract's `User`: an `id`, no `user_id`.
pub fn looks_legacy(record: &Map<String, Value>) -> bool {
    record.contains_key("id") && !record.contains_key("user_id")
}

/// The record as the core's source user; `Err` is serde's reason (a member
/// of the wrong type, no `id`).
pub fn read(record: Value) -> Result<LegacyRecord, serde_json::Error> {
    let legacy = LegacyUser::deserialize(record)?;
    let password = legacy.password_hash.as_ref().map(from_export);
    let marked_at = legacy.migrated_at.filter(|at| !at.is_empty());
    // Built as JSON and read by the core's own deserializer, so fields the
    // core's source user gains later default as they do for an export.
    let user = json!({
        "user_id": legacy.id,
        "email": legacy.email,
        "email_verified": legacy.email_verified,
        "username": legacy.username,
        "given_name": legacy.given_name,
        "family_name": legacy.family_name,
        "name": legacy.name,
        "nickname": legacy.nickname,
        "picture": legacy.picture,
        "user_metadata": legacy.user_metadata,
        "app_metadata": legacy.app_metadata,
        "blocked": legacy.blocked,
    });
    Ok(LegacyRecord {
        user: serde_json::from_value(user)?,
        marked_at,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_user_becomes_a_source_user_with_its_marker_and_hash() {
        let record = json!({
            "id": "u-1029", "email": "Ada@Example.com", "email_verified": true, "username": "ada",
            "name": "Ada Lovelace", "user_metadata": {"lang": "en"}, "app_metadata": {"plan": "gold"},
            "blocked": false, "migrated_at": "2026-01-02T03:04:05Z", "shoe_size": 38,
            "password_hash": {"algorithm": "md5", "value": "5f4dcc3b5aa765d61d8327deb882cf99"}
        });
        let read = read(record).unwrap();
        assert_eq!(read.user.user_id.as_deref(), Some("u-1029"));
        assert_eq!(read.user.email.as_deref(), Some("Ada@Example.com"));
        assert_eq!(read.user.app_metadata, Some(json!({"plan": "gold"})));
        assert_eq!(read.marked_at.as_deref(), Some("2026-01-02T03:04:05Z"));
        assert!(matches!(read.password, Some(Ok(PasswordField::Custom(_)))));
        let bare =
            super::read(json!({"id": "u-2", "email": "b@x.com", "migrated_at": null})).unwrap();
        assert!(bare.marked_at.is_none() && bare.password.is_none());
        assert!(super::read(json!({"email": "b@x.com"})).is_err(), "no id");
        assert!(
            super::read(json!({"id": 7, "email": "b@x.com"})).is_err(),
            "a number id"
        );
    }

    #[test]
    fn only_id_without_user_id_looks_legacy() {
        let object = |value: Value| value.as_object().unwrap().clone();
        assert!(looks_legacy(&object(json!({"id": "u-1", "email": "a@x"}))));
        assert!(!looks_legacy(&object(
            json!({"user_id": "auth0|1", "id": "x"})
        )));
        assert!(!looks_legacy(&object(json!({"email": "a@x"}))));
    }
}
