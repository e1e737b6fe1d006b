//! What Auth0's bulk import (`POST /api/v2/jobs/users-imports`) accepts, and
//! the profile it is given: the same [`normalise`] as the scripts, so a user
//! imported in bulk and one migrated at login look alike.

use crate::{normalise, AppMetadataKey, Metadata, Policy, Profile, SourceUser, UserError};

/// The properties a user of an import file may have; nothing else is allowed.
pub const IMPORT_FIELDS: [&str; 14] = [
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "password_hash",
    "custom_password_hash",
    "app_metadata",
    "user_metadata",
];

/// `mfa_factors` is in the import schema too, but an export never carries
/// factors, so Trickle never writes it; listed apart for schema checks.
pub const IMPORT_FIELD_MFA_FACTORS: &str = "mfa_factors";

/// Keys an imported user's `app_metadata` must not contain (Auth0 keeps
/// them for itself): the Management API SDK's list plus the two multifactor
/// keys the import documentation adds.
pub const RESERVED_APP_METADATA_KEYS: [&str; 18] = [
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email",
    "email_verified",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor",
    "multifactor_last_modified",
    "updated_at",
    "user_id",
];

/// Whether `key` may not appear at the top level of an imported user's
/// `app_metadata`.
pub fn is_reserved_app_metadata_key(key: &str) -> bool {
    RESERVED_APP_METADATA_KEYS.contains(&key)
}

/// Whether `key` may name a metadata field: Auth0 refuses field names with
/// `.` or `$` (at any depth).
pub fn is_valid_metadata_key(key: &str) -> bool {
    !key.contains(['.', '$'])
}

/// The policy for import files: the configured field allow-list, with app
/// metadata always under `app_metadata` (the import schema has no
/// `metadata`). Marked users are always left out of bulk imports.
pub const fn import_policy(policy: Policy) -> Policy {
    Policy {
        fields: policy.fields,
        app_metadata_key: AppMetadataKey::AppMetadata,
        skip_marked: true,
    }
}

/// The profile of `user` for an import file: [`normalise`] under
/// [`import_policy`], so ids, emails and metadata match what the scripts
/// hand Auth0 for the same user.
pub fn import_profile<M: Metadata>(
    user: SourceUser<M>,
    realm: &str,
    policy: &Policy,
) -> Result<Profile<M>, UserError> {
    normalise(user, realm, &import_policy(*policy))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::{Field, FieldSet};

    const REALM: &str = "Username-Password-Authentication";

    fn user(value: Value) -> SourceUser<Value> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_import_profile_is_the_script_profile_with_app_metadata_named_so() {
        let source = json!({
            "user_id": "auth0|abc",
            "email": "Ann@Example.com",
            "name": "Ann",
            "identities": [{"provider": "auth0", "connection": REALM, "user_id": "abc"}],
            "app_metadata": {"plan": "gold"},
            "user_metadata": {"lang": "fr"}
        });
        let policy = Policy::default();
        let script = normalise(user(source.clone()), REALM, &policy).unwrap();
        let import = import_profile(user(source), REALM, &policy).unwrap();
        let script = serde_json::to_value(script).unwrap();
        let import = serde_json::to_value(import).unwrap();
        assert_eq!(import["user_id"], "abc");
        assert_eq!(import["email"], "ann@example.com");
        assert_eq!(import["app_metadata"], script["metadata"]);
        assert!(import.get("metadata").is_none());
        for key in ["user_id", "email", "name", "user_metadata"] {
            assert_eq!(import[key], script[key], "{key}");
        }
    }

    #[test]
    fn the_import_policy_keeps_the_allow_list() {
        let policy = Policy {
            fields: FieldSet::empty().with(Field::Name),
            app_metadata_key: AppMetadataKey::Metadata,
            skip_marked: false,
        };
        let import = import_policy(policy);
        assert_eq!(import.fields, policy.fields);
        assert_eq!(import.app_metadata_key, AppMetadataKey::AppMetadata);
        assert!(import.skip_marked);
    }

    #[test]
    fn reserved_and_invalid_keys() {
        for key in ["created_at", "clientID", "__tenant", "metadata", "user_id"] {
            assert!(is_reserved_app_metadata_key(key), "{key}");
        }
        for key in ["plan", "roles", "Created_at", "trickle_migrated_at"] {
            assert!(!is_reserved_app_metadata_key(key), "{key}");
        }
        assert!(is_valid_metadata_key("plan_v2"));
        assert!(is_valid_metadata_key("ünï"));
        assert!(!is_valid_metadata_key("a.b"));
        assert!(!is_valid_metadata_key("$set"));
    }

    #[test]
    fn the_schema_fields_cover_the_profile() {
        let profile = import_profile(
            user(json!({
                "user_id": "auth0|x", "email": "x@y.z", "email_verified": true, "username": "x",
                "name": "n", "nickname": "k", "given_name": "g", "family_name": "f",
                "picture": "p", "app_metadata": {}, "user_metadata": {}
            })),
            REALM,
            &Policy::default(),
        )
        .unwrap();
        for (key, _) in profile.entries() {
            assert!(IMPORT_FIELDS.contains(&key), "{key}");
        }
    }
}
