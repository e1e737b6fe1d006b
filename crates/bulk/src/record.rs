//! One export user → one import record (or the reason it is left out), by
//! `trickle_core::import_profile`: the scripts' own normaliser.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};
use trickle_core::{
    import_profile, is_valid_metadata_key, raw_user_id, Policy, Profile, ProfileValue, SourceUser,
    UserError, RESERVED_APP_METADATA_KEYS,
};

use crate::hashes::PasswordField;

/// Why a record of the export is not in the plan. The names are stable:
/// they are the report's `reason`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not JSON (or not a CSV row, or too long to read).
    Unreadable,
    /// JSON, but not a user: a field of the wrong type, not an object.
    InvalidUser,
    MissingEmail,
    /// An email Auth0 would refuse (no `@`, blanks).
    InvalidEmail,
    MissingUserId,
    /// Carries the marker (`app_metadata.trickle_migrated_at`, or a legacy
    /// record's `migrated_at`): the scripts migrated it.
    AlreadyMigrated,
    /// The new tenant's export already has this user id or email.
    AlreadyInTarget,
    /// An earlier record had the same email (compared lower-cased and in
    /// Unicode NFC, as the import compares them); the first is kept.
    DuplicateEmail,
    /// An earlier record had the same `user_id` (unique in a connection).
    DuplicateUserId,
    /// An earlier record had the same username, ignoring case.
    DuplicateUsername,
    /// Has identities, none in the source connection (a social or other
    /// connection's user).
    NotInRealm,
    /// Blocked, and blocked users were asked to be left out.
    Blocked,
    /// Metadata that is not an object, or a field name with `.` or `$`.
    InvalidMetadata,
    /// The hashes file has an entry for this user that Auth0 would refuse.
    InvalidPasswordHash,
    /// The record alone would exceed the import file limit.
    TooLarge,
}

impl SkipReason {
    pub const fn name(self) -> &'static str {
        match self {
            SkipReason::Unreadable => "unreadable",
            SkipReason::InvalidUser => "invalid_user",
            SkipReason::MissingEmail => "missing_email",
            SkipReason::InvalidEmail => "invalid_email",
            SkipReason::MissingUserId => "missing_user_id",
            SkipReason::AlreadyMigrated => "already_migrated",
            SkipReason::AlreadyInTarget => "already_in_target",
            SkipReason::DuplicateEmail => "duplicate_email",
            SkipReason::DuplicateUserId => "duplicate_user_id",
            SkipReason::DuplicateUsername => "duplicate_username",
            SkipReason::NotInRealm => "not_in_realm",
            SkipReason::Blocked => "blocked",
            SkipReason::InvalidMetadata => "invalid_metadata",
            SkipReason::InvalidPasswordHash => "invalid_password_hash",
            SkipReason::TooLarge => "too_large",
        }
    }
}

/// One left-out record, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skip {
    pub line: u64,
    pub reason: SkipReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A user that passed the per-record checks, before the cross-record ones
/// (exclusion, duplicates, hashes).
pub struct Candidate {
    pub profile: Profile<Value>,
    pub blocked: bool,
    /// When the user carries the migration marker that was not honoured
    /// (the new tenant's export decides instead), the marker's time.
    pub marked_at: Option<String>,
    /// The old tenant's own `user_id` (`auth0|…`), where the export has it:
    /// what a marker is cleared by.
    pub source_user_id: Option<String>,
    /// Reserved keys removed from `app_metadata`.
    pub stripped: Vec<&'static str>,
}

/// Per-record checks and normalisation. `marked_at`: the record's
/// migration marker. With `honour_marker` a marked user is left out as
/// migrated; without (the new tenant's export is given and decides), it
/// goes on, its marker noted.
pub fn candidate(
    line: u64,
    user: SourceUser<Value>,
    marked_at: Option<String>,
    realm: &str,
    policy: &Policy,
    skip_blocked: bool,
    honour_marker: bool,
) -> Result<Candidate, Skip> {
    let user_id = raw_user_id(&user, realm).map(str::to_owned);
    let email = user.email.clone();
    let skip = |(reason, detail): Refusal| Skip {
        line,
        reason,
        detail,
        user_id: user_id.clone(),
        email: email.clone(),
    };
    let source_user_id = user.user_id.clone();
    let rules = SourceRules {
        marked_at: marked_at.as_deref(),
        realm,
        skip_blocked,
        honour_marker,
    };
    if let Some(refusal) = SOURCE_CHECKS.iter().find_map(|check| check(&user, &rules)) {
        return Err(skip(refusal));
    }
    let blocked = user.blocked == Some(true);
    let mut profile = normalised(user, realm, policy).map_err(&skip)?;
    let stripped = clean_metadata(&mut profile).map_err(&skip)?;
    Ok(Candidate {
        profile,
        blocked,
        marked_at,
        source_user_id,
        stripped,
    })
}

/// Why a record is left out, and the detail the report gives.
type Refusal = (SkipReason, Option<String>);

/// What a source user is checked against before it is normalised.
struct SourceRules<'a> {
    marked_at: Option<&'a str>,
    realm: &'a str,
    skip_blocked: bool,
    honour_marker: bool,
}

/// A check of a source user: why it is left out, if it is.
type SourceCheck = fn(&SourceUser<Value>, &SourceRules<'_>) -> Option<Refusal>;

/// The checks before normalisation, in order: the first refusal decides.
const SOURCE_CHECKS: [SourceCheck; 3] = [already_migrated, not_in_realm, blocked];

/// Carries the marker, and the marker is honoured.
fn already_migrated(_: &SourceUser<Value>, rules: &SourceRules<'_>) -> Option<Refusal> {
    let at = rules.marked_at.filter(|_| rules.honour_marker)?;
    Some((SkipReason::AlreadyMigrated, Some(format!("marked at {at}"))))
}

/// Identities that name their connection, none of them the source one: a
/// social or other connection's user. (Exports without the `identities`
/// field, or filtered by connection, pass.)
fn not_in_realm(user: &SourceUser<Value>, rules: &SourceRules<'_>) -> Option<Refusal> {
    let names_connections = user.identities.iter().any(|i| i.connection.is_some());
    if !names_connections || user.identity_in(rules.realm).is_some() {
        return None;
    }
    let connections: Vec<&str> = user
        .identities
        .iter()
        .filter_map(|identity| identity.connection.as_deref())
        .collect();
    Some((
        SkipReason::NotInRealm,
        Some(format!("identities in {}", connections.join(", "))),
    ))
}

/// Blocked, and blocked users are left out.
fn blocked(user: &SourceUser<Value>, rules: &SourceRules<'_>) -> Option<Refusal> {
    (user.blocked == Some(true) && rules.skip_blocked).then_some((SkipReason::Blocked, None))
}

/// The profile the scripts would make, with an email Auth0 accepts.
fn normalised(
    user: SourceUser<Value>,
    realm: &str,
    policy: &Policy,
) -> Result<Profile<Value>, Refusal> {
    let profile = match import_profile(user, realm, policy) {
        Ok(profile) => profile,
        Err(UserError::MissingEmail) => return Err((SkipReason::MissingEmail, None)),
        Err(error) => return Err((SkipReason::MissingUserId, Some(error.message().to_owned()))),
    };
    if !plausible_email(&profile.email) {
        return Err((SkipReason::InvalidEmail, None));
    }
    Ok(profile)
}

/// Checks both metadata are objects with names Auth0 accepts, and strips
/// the reserved keys from `app_metadata`; returns those stripped.
fn clean_metadata(profile: &mut Profile<Value>) -> Result<Vec<&'static str>, Refusal> {
    let mut stripped = Vec::new();
    for (name, metadata) in [
        ("user_metadata", &mut profile.user_metadata),
        ("app_metadata", &mut profile.app_metadata),
    ] {
        let Some(value) = metadata else { continue };
        let Value::Object(object) = value else {
            return Err((
                SkipReason::InvalidMetadata,
                Some(format!("{name} is not an object")),
            ));
        };
        if name == "app_metadata" {
            object.retain(|key, _| {
                match RESERVED_APP_METADATA_KEYS
                    .iter()
                    .find(|reserved| **reserved == key)
                {
                    Some(reserved) => {
                        stripped.push(*reserved);
                        false
                    }
                    None => true,
                }
            });
        }
        if let Some(path) = bad_key(object, name) {
            return Err((
                SkipReason::InvalidMetadata,
                Some(format!("field name with `.` or `$`: {path}")),
            ));
        }
    }
    Ok(stripped)
}

/// The path of the first field name (at any depth) Auth0 would refuse.
fn bad_key(object: &Map<String, Value>, path: &str) -> Option<String> {
    for (key, value) in object {
        if !is_valid_metadata_key(key) {
            return Some(format!("{path}.{key}"));
        }
        let nested = match value {
            Value::Object(inner) => bad_key(inner, &format!("{path}.{key}")),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| match item {
                Value::Object(inner) => bad_key(inner, &format!("{path}.{key}[{i}]")),
                _ => None,
            }),
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
    }
    None
}

/// Enough of an address for Auth0's `format: email`: exactly one `@` with text on
/// both sides, no blanks or control characters.
fn plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// An import record: the profile's fields in the profile's order, then
/// `blocked` and the password.
pub struct ImportRecord<'a> {
    pub profile: &'a Profile<Value>,
    pub blocked: bool,
    pub password: Option<&'a PasswordField>,
}

impl Serialize for ImportRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.profile.entries() {
            match value {
                ProfileValue::Text(text) => map.serialize_entry(key, text)?,
                ProfileValue::Flag(flag) => map.serialize_entry(key, &flag)?,
                ProfileValue::Metadata(metadata) => map.serialize_entry(key, metadata)?,
            }
        }
        if self.blocked {
            map.serialize_entry("blocked", &true)?;
        }
        match self.password {
            Some(PasswordField::Bcrypt(hash)) => map.serialize_entry("password_hash", hash)?,
            Some(PasswordField::Custom(custom)) => {
                map.serialize_entry("custom_password_hash", custom)?
            }
            None => {}
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn emails_are_checked_loosely() {
        for good in ["a@x.com", "ünï@exämple.com", "a+b@x"] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in ["", "a", "@x.com", "a@", "a b@x.com", "a@x@y"] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn bad_keys_are_found_at_any_depth() {
        let object = json!({"a": {"b": [1, {"c.d": 1}]}});
        assert_eq!(
            bad_key(object.as_object().unwrap(), "app_metadata").as_deref(),
            Some("app_metadata.a.b[1].c.d")
        );
        assert_eq!(
            bad_key(json!({"ok": {"fine": 1}}).as_object().unwrap(), "m"),
            None
        );
    }
}
