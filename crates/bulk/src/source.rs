//! Which kind of export a plan reads, and one record of it as the source
//! user the core normalises, with its marker and (legacy exports) its
//! password: an Auth0 users export, or a legacy store's export (see
//! [`crate::legacy`]). `Auto` decides on the first record that is a JSON
//! object: `id` and no `user_id` is a legacy export.

use serde_json::Value;
use trickle_core::{migrated_at, SourceUser};

use crate::hashes::PasswordField;
use crate::input::Record;
use crate::legacy;
use crate::record::{Skip, SkipReason};

/// The kind of export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Told by the first record.
    Auto,
    /// An Auth0 users export (`users-exports` job).
    Auth0,
    /// A legacy store's export: the legacy API contract's `User` records.
    Api,
}

impl SourceKind {
    pub const fn name(self) -> &'static str {
        match self {
            SourceKind::Auto => "auto",
            SourceKind::Auth0 => "auth0",
            SourceKind::Api => "api",
        }
    }
}

/// One record read, before the per-record checks.
pub struct SourceRecord {
    pub user: SourceUser<Value>,
    /// The migration marker: `app_metadata.trickle_migrated_at` (Auth0) or
    /// `migrated_at` (legacy).
    pub marked_at: Option<String>,
    /// A legacy record's own `password_hash`, mapped.
    pub password: Option<Result<PasswordField, String>>,
}

/// Reads a record as `kind` says, settling `Auto` on the first object.
pub fn read_record(
    kind: &mut SourceKind,
    line: u64,
    record: Record<'_>,
) -> Result<SourceRecord, Skip> {
    let value = match record {
        Record::Unreadable(message) => return Err(unreadable(line, message)),
        // The common case stays one pass: straight into the source user.
        Record::Json(bytes) if *kind == SourceKind::Auth0 => {
            let user = serde_json::from_slice(bytes).map_err(|error| json_skip(line, &error))?;
            return Ok(auth0(user));
        }
        Record::Json(bytes) => {
            serde_json::from_slice(bytes).map_err(|error| json_skip(line, &error))?
        }
        Record::Object(value) => value,
    };
    if *kind == SourceKind::Auto {
        if let Value::Object(object) = &value {
            *kind = if legacy::looks_legacy(object) {
                SourceKind::Api
            } else {
                SourceKind::Auth0
            };
        }
    }
    if *kind == SourceKind::Api {
        let read = legacy::read(value).map_err(|error| json_skip(line, &error))?;
        return Ok(SourceRecord {
            user: read.user,
            marked_at: read.marked_at,
            password: read.password,
        });
    }
    let user = serde_json::from_value(value).map_err(|error| json_skip(line, &error))?;
    Ok(auth0(user))
}

fn auth0(user: SourceUser<Value>) -> SourceRecord {
    SourceRecord {
        marked_at: migrated_at(&user),
        user,
        password: None,
    }
}

fn unreadable(line: u64, message: String) -> Skip {
    Skip {
        line,
        reason: SkipReason::Unreadable,
        detail: Some(message),
        user_id: None,
        email: None,
    }
}

/// A record that is not JSON is unreadable; JSON of the wrong shape is not a user.
pub fn json_skip(line: u64, error: &serde_json::Error) -> Skip {
    let reason = match error.classify() {
        serde_json::error::Category::Data => SkipReason::InvalidUser,
        _ => SkipReason::Unreadable,
    };
    Skip {
        line,
        reason,
        detail: Some(error.to_string()),
        user_id: None,
        email: None,
    }
}
