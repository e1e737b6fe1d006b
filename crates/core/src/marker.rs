use alloc::string::String;

use serde::Serialize;

use crate::{Metadata, SourceUser};

/// The `app_metadata` key that marks a user of the old tenant as migrated;
/// its value is the time of migration (ISO 8601, from the caller's clock).
pub const MARKER_KEY: &str = "trickle_migrated_at";

/// When the user was marked as migrated, if it was.
pub fn migrated_at<M: Metadata>(user: &SourceUser<M>) -> Option<String> {
    user.app_metadata
        .as_ref()?
        .string_field(MARKER_KEY)
        .filter(|value| !value.is_empty())
}

/// The body of `PATCH /api/v2/users/{id}` that writes the marker. Auth0
/// merges `app_metadata` at the top level, so nothing else is touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkerPatch<'a> {
    app_metadata: MarkerFields<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct MarkerFields<'a> {
    trickle_migrated_at: &'a str,
}

/// The marker patch for a migration that happened at `now_iso`.
pub fn marker_patch(now_iso: &str) -> MarkerPatch<'_> {
    MarkerPatch {
        app_metadata: MarkerFields {
            trickle_migrated_at: now_iso,
        },
    }
}

/// The body of `PATCH /api/v2/users/{id}` that removes the marker (a key
/// set to `null` is removed), so the user's next login migrates them: for a
/// user marked but never stored by the new tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkerClear {
    app_metadata: ClearedFields,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ClearedFields {
    trickle_migrated_at: (),
}

/// The patch that removes the marker.
pub const fn marker_clear() -> MarkerClear {
    MarkerClear {
        app_metadata: ClearedFields {
            trickle_migrated_at: (),
        },
    }
}

/// What the answer to the marker PATCH says about the marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerWrite {
    /// 2xx with the user back: the marker is written.
    Written,
    /// A refusal (a 3xx or 4xx, 429 included): certainly not written.
    Refused,
    /// No answer, a 5xx, a 408 (a proxy gave up waiting) or 499 (the
    /// request was closed early), or a 2xx without a readable user: the old
    /// tenant may have written it. Read the user back before deciding.
    Uncertain,
}

impl MarkerWrite {
    /// The name the scripts switch on.
    pub const fn kind(self) -> &'static str {
        match self {
            MarkerWrite::Written => "written",
            MarkerWrite::Refused => "refused",
            MarkerWrite::Uncertain => "uncertain",
        }
    }
}

/// Classifies the answer to the marker PATCH; `answered_a_user` is whether
/// its body is a user object.
pub fn classify_marker_write(status: u16, answered_a_user: bool) -> MarkerWrite {
    match status {
        200..=299 if answered_a_user => MarkerWrite::Written,
        408 | 499 => MarkerWrite::Uncertain,
        300..=499 => MarkerWrite::Refused,
        _ => MarkerWrite::Uncertain,
    }
}

/// What reading the user back after an uncertain marker write found.
///
/// Whatever it finds, the login then migrates the user: the password and
/// the profile are confirmed, and failing it could strand them behind a
/// marker written after all (a write that timed out can still land after
/// the read-back), locked out for good since marked users count as absent.
/// A missing marker costs far less: `bulk plan --exclude-export` still
/// leaves a migrated user out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerCheck {
    /// The marker is there: the write happened.
    Marked,
    /// It is not (yet): write it once more, then migrate.
    NotMarked,
    /// The old tenant could not say: write it once more, then migrate.
    Unconfirmed,
}

impl MarkerCheck {
    /// The name the scripts switch on.
    pub const fn kind(self) -> &'static str {
        match self {
            MarkerCheck::Marked => "marked",
            MarkerCheck::NotMarked => "not_marked",
            MarkerCheck::Unconfirmed => "unconfirmed",
        }
    }
}

/// Reads the user fetched back (`status` 0 when there was no answer,
/// `user` `None` when the body was not a user).
pub fn check_marker<M: Metadata>(status: u16, user: Option<&SourceUser<M>>) -> MarkerCheck {
    match (status, user) {
        (200..=299, Some(user)) if migrated_at(user).is_some() => MarkerCheck::Marked,
        (200..=299, Some(_)) => MarkerCheck::NotMarked,
        _ => MarkerCheck::Unconfirmed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn the_patch_writes_the_key_the_reader_reads() {
        let now = "2026-11-21T10:00:00.000Z";
        let patch = serde_json::to_value(marker_patch(now)).unwrap();
        assert_eq!(patch, json!({"app_metadata": {MARKER_KEY: now}}));
        let user: SourceUser<Value> =
            serde_json::from_value(json!({"app_metadata": patch["app_metadata"]})).unwrap();
        assert_eq!(migrated_at(&user).as_deref(), Some(now));
    }

    #[test]
    fn the_clearing_patch_removes_the_key_the_reader_reads() {
        let patch = serde_json::to_value(marker_clear()).unwrap();
        assert_eq!(patch, json!({"app_metadata": {MARKER_KEY: null}}));
        let user: SourceUser<Value> =
            serde_json::from_value(json!({"app_metadata": patch["app_metadata"]})).unwrap();
        assert_eq!(migrated_at(&user), None);
    }

    #[test]
    fn a_write_is_trusted_only_when_the_user_came_back() {
        assert_eq!(classify_marker_write(200, true), MarkerWrite::Written);
        // A 200 whose body is an HTML page or cut short proves nothing.
        assert_eq!(classify_marker_write(200, false), MarkerWrite::Uncertain);
        // No answer, a 5xx, a proxy's 408 or a client's 499: the write may have landed.
        for status in [0, 408, 499, 500, 502, 503, 504] {
            assert_eq!(
                classify_marker_write(status, false),
                MarkerWrite::Uncertain,
                "{status}"
            );
        }
        for status in [301, 307, 400, 401, 403, 404, 429] {
            assert_eq!(
                classify_marker_write(status, false),
                MarkerWrite::Refused,
                "{status}"
            );
        }
    }

    #[test]
    fn reading_back_decides_an_uncertain_write() {
        let marked: SourceUser<Value> =
            serde_json::from_value(json!({"app_metadata": {MARKER_KEY: "2026-12-01T00:00:00Z"}}))
                .unwrap();
        let unmarked: SourceUser<Value> =
            serde_json::from_value(json!({"app_metadata": {"plan": "gold"}})).unwrap();
        assert_eq!(check_marker(200, Some(&marked)), MarkerCheck::Marked);
        assert_eq!(check_marker(200, Some(&unmarked)), MarkerCheck::NotMarked);
        assert_eq!(check_marker::<Value>(200, None), MarkerCheck::Unconfirmed);
        for status in [0, 404, 429, 503] {
            assert_eq!(
                check_marker(status, Some(&unmarked)),
                MarkerCheck::Unconfirmed,
                "{status}"
            );
        }
    }

    #[test]
    fn only_a_non_empty_string_marks() {
        for app_metadata in [
            json!(null),
            json!({}),
            json!({MARKER_KEY: ""}),
            json!({MARKER_KEY: true}),
            json!({"other": "x"}),
        ] {
            let user: SourceUser<Value> =
                serde_json::from_value(json!({"app_metadata": app_metadata})).unwrap();
            assert_eq!(migrated_at(&user), None, "{app_metadata}");
        }
    }
}
