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
