use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::email::{email_key, select_by_name, NameKind};
use crate::marker::migrated_at;
use crate::metadata::OWN_KEYS;
use crate::{AppMetadataKey, Field, Metadata, Policy, SourceUser, AUTH0_PREFIX};

/// The profile a custom-database script hands back to Auth0, the same for
/// `login`, `get_user` and bulk import. Absent fields are left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile<M> {
    /// The raw id, without `auth0|`: Auth0 adds the prefix itself.
    pub user_id: String,
    /// Lower-cased, as Auth0 stores emails.
    pub email: String,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub user_metadata: Option<M>,
    pub app_metadata: Option<M>,
    /// The key `app_metadata` is written under.
    pub app_metadata_key: AppMetadataKey,
}

/// Why the source data gives no profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserError {
    /// Neither an identity in the realm nor a root `user_id` gives an id.
    MissingUserId,
    /// Auth0 needs an email for every migrated user.
    MissingEmail,
    /// More than one user of the source connection has the email asked
    /// for; picking one would hand someone else's account over.
    Ambiguous,
}

impl UserError {
    pub const fn message(self) -> &'static str {
        match self {
            UserError::MissingUserId => "the source user has no usable user_id",
            UserError::MissingEmail => "the source user has no email",
            UserError::Ambiguous => {
                "more than one source user has this email in the source connection"
            }
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for UserError {}

/// What to do with what the old tenant answered about a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Made once per script call and consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Verdict<M> {
    /// Hand this profile to Auth0. `source_user_id` is the user's id in the
    /// old tenant (`auth0|…`), for writing the migration marker there.
    Migrate {
        profile: Profile<M>,
        source_user_id: Option<String>,
    },
    /// The user carries the migration marker and the policy skips such users:
    /// treat as absent, so a user deleted in the new tenant stays deleted.
    AlreadyMigrated,
    /// Blocked in the old tenant: never migrated.
    Blocked,
    /// No such user in the source connection.
    NotFound,
}

impl<M> Verdict<M> {
    /// The name the scripts switch on (the serde tag).
    pub const fn kind(&self) -> &'static str {
        match self {
            Verdict::Migrate { .. } => "migrate",
            Verdict::AlreadyMigrated => "already_migrated",
            Verdict::Blocked => "blocked",
            Verdict::NotFound => "not_found",
        }
    }
}

/// The id to return for `user`: the raw id of its identity in `realm`, so
/// Auth0's own `auth0|` prefix is never doubled. Without such an identity,
/// the root id with exactly one leading `auth0|` removed. A `|` anywhere else
/// is part of the id and stays.
pub fn raw_user_id<'a, M>(user: &'a SourceUser<M>, realm: &str) -> Option<&'a str> {
    let from_identity = user
        .identity_in(realm)
        .and_then(|identity| identity.user_id.0.as_deref());
    let id = match from_identity {
        Some(id) => id,
        None => {
            let root = user.user_id.as_deref()?;
            root.strip_prefix(AUTH0_PREFIX).unwrap_or(root)
        }
    };
    (!id.is_empty()).then_some(id)
}

/// The profile for `user`, as `policy` shapes it. One function for every
/// path, so login, get_user, the post-login Action and bulk agree to the
/// byte. Trickle's own `app_metadata` keys ([`is_own_key`]) are left out:
/// they describe this migration, not the user.
pub fn normalise<M: Metadata>(
    user: SourceUser<M>,
    realm: &str,
    policy: &Policy,
) -> Result<Profile<M>, UserError> {
    let user_id = raw_user_id(&user, realm)
        .ok_or(UserError::MissingUserId)?
        .to_owned();
    let email = match user.email.as_deref() {
        Some(email) if !email.is_empty() => email_key(email),
        _ => return Err(UserError::MissingEmail),
    };
    let allowed = |field: Field| policy.fields.contains(field);
    let keep = |field: Field, value: Option<String>| value.filter(|_| allowed(field));
    Ok(Profile {
        user_id,
        email,
        email_verified: user
            .email_verified
            .filter(|_| allowed(Field::EmailVerified)),
        username: keep(Field::Username, user.username),
        name: keep(Field::Name, user.name),
        nickname: keep(Field::Nickname, user.nickname),
        given_name: keep(Field::GivenName, user.given_name),
        family_name: keep(Field::FamilyName, user.family_name),
        picture: keep(Field::Picture, user.picture),
        user_metadata: user.user_metadata.filter(|_| allowed(Field::UserMetadata)),
        app_metadata: user
            .app_metadata
            .filter(|_| allowed(Field::AppMetadata))
            .map(|metadata| metadata.without_keys(&OWN_KEYS)),
        app_metadata_key: policy.app_metadata_key,
    })
}

/// The whole decision for a found user: skip it when marked (if the policy
/// says so), refuse it when blocked, otherwise normalise it.
pub fn decide<M: Metadata>(
    user: SourceUser<M>,
    realm: &str,
    policy: &Policy,
) -> Result<Verdict<M>, UserError> {
    if policy.skip_marked && migrated_at(&user).is_some() {
        return Ok(Verdict::AlreadyMigrated);
    }
    if user.blocked == Some(true) {
        return Ok(Verdict::Blocked);
    }
    let source_user_id = user.user_id.clone();
    normalise(user, realm, policy).map(|profile| Verdict::Migrate {
        profile,
        source_user_id,
    })
}

/// [`decide`] for the user among `candidates` (a users-by-email answer)
/// that [`select_by_email`](crate::select_by_email) picks;
/// [`Verdict::NotFound`] when none.
pub fn decide_by_email<M: Metadata>(
    candidates: Vec<SourceUser<M>>,
    email: &str,
    realm: &str,
    policy: &Policy,
) -> Result<Verdict<M>, UserError> {
    decide_by_name(candidates, email, NameKind::Email, realm, policy)
}

/// [`decide`] for the user among `candidates` that
/// [`select_by_name`] picks for `name` (an email from users-by-email, or a
/// username from a user search: a login by username, where users-by-email
/// cannot help); [`Verdict::NotFound`] when none.
pub fn decide_by_name<M: Metadata>(
    candidates: Vec<SourceUser<M>>,
    name: &str,
    kind: NameKind,
    realm: &str,
    policy: &Policy,
) -> Result<Verdict<M>, UserError> {
    match select_by_name(candidates, name, kind, realm)? {
        Some(user) => decide(user, realm, policy),
        None => Ok(Verdict::NotFound),
    }
}

/// One value of a profile, as [`Profile::entries`] yields it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProfileValue<'a, M> {
    Text(&'a str),
    Flag(bool),
    Metadata(&'a M),
}

impl<M> Profile<M> {
    /// The fields present, in output order, under their output names: the
    /// one definition of the profile's shape, for serde and the WASM alike.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, ProfileValue<'_, M>)> {
        fn text<M>(value: &Option<String>) -> Option<ProfileValue<'_, M>> {
            value.as_deref().map(ProfileValue::Text)
        }
        [
            ("user_id", Some(ProfileValue::Text(&self.user_id))),
            ("email", Some(ProfileValue::Text(&self.email))),
            (
                "email_verified",
                self.email_verified.map(ProfileValue::Flag),
            ),
            ("username", text(&self.username)),
            ("name", text(&self.name)),
            ("nickname", text(&self.nickname)),
            ("given_name", text(&self.given_name)),
            ("family_name", text(&self.family_name)),
            ("picture", text(&self.picture)),
            (
                "user_metadata",
                self.user_metadata.as_ref().map(ProfileValue::Metadata),
            ),
            (
                self.app_metadata_key.name(),
                self.app_metadata.as_ref().map(ProfileValue::Metadata),
            ),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
    }
}

impl<M: Serialize> Serialize for Profile<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.entries() {
            match value {
                ProfileValue::Text(text) => map.serialize_entry(key, text)?,
                ProfileValue::Flag(flag) => map.serialize_entry(key, &flag)?,
                ProfileValue::Metadata(metadata) => map.serialize_entry(key, metadata)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::FieldSet;

    const REALM: &str = "Username-Password-Authentication";

    fn user(value: Value) -> SourceUser<Value> {
        serde_json::from_value(value).expect("test user must deserialize")
    }

    fn full_user() -> Value {
        json!({
            "user_id": "auth0|5f1c",
            "email": "Jane.Doe@Example.COM",
            "email_verified": true,
            "username": "jane",
            "name": "Jane Doe",
            "nickname": "jd",
            "given_name": "Jane",
            "family_name": "Doe",
            "picture": "https://example.com/jane.png",
            "identities": [
                {"provider": "google-oauth2", "connection": "google-oauth2", "user_id": 1234567, "isSocial": true},
                {"provider": "auth0", "connection": REALM, "user_id": "5f1c", "isSocial": false}
            ],
            "app_metadata": {"plan": "gold", "roles": ["admin"], "nested": {"deep": [1, {"x": "ü"}]}},
            "user_metadata": {"lang": "fr", "bio": "Émile — 日本語 🎉"},
            "blocked": false,
            "created_at": "2020-01-01T00:00:00.000Z",
            "updated_at": "2024-01-01T00:00:00.000Z",
            "last_ip": "203.0.113.9",
            "last_login": "2024-01-01T00:00:00.000Z",
            "logins_count": 42
        })
    }

    fn profile_json(value: Value, policy: &Policy) -> Value {
        let profile = normalise(user(value), REALM, policy).expect("normalises");
        serde_json::to_value(profile).expect("serializes")
    }

    #[test]
    fn id_comes_from_the_realm_identity_so_the_prefix_is_never_doubled() {
        let mut value = full_user();
        value["user_id"] = json!("auth0|auth0|5f1c");
        let profile = profile_json(value, &Policy::default());
        assert_eq!(profile["user_id"], "5f1c");
    }

    #[test]
    fn without_a_realm_identity_exactly_one_prefix_is_stripped() {
        let once = user(json!({"user_id": "auth0|abc", "email": "a@x.com"}));
        assert_eq!(raw_user_id(&once, REALM), Some("abc"));
        let twice = user(json!({"user_id": "auth0|auth0|abc", "email": "a@x.com"}));
        assert_eq!(raw_user_id(&twice, REALM), Some("auth0|abc"));
        let other_realm = user(json!({
            "user_id": "auth0|abc",
            "identities": [{"provider": "auth0", "connection": "elsewhere", "user_id": "zzz"}]
        }));
        assert_eq!(raw_user_id(&other_realm, REALM), Some("abc"));
    }

    #[test]
    fn ids_with_a_bar_elsewhere_stay_intact() {
        let from_identity = user(json!({
            "user_id": "auth0|legacy|42",
            "identities": [{"provider": "auth0", "connection": REALM, "user_id": "legacy|42"}]
        }));
        assert_eq!(raw_user_id(&from_identity, REALM), Some("legacy|42"));
        let from_root = user(json!({"user_id": "auth0|legacy|42"}));
        assert_eq!(raw_user_id(&from_root, REALM), Some("legacy|42"));
        let not_auth0 = user(json!({"user_id": "samlp|corp|jane"}));
        assert_eq!(raw_user_id(&not_auth0, REALM), Some("samlp|corp|jane"));
    }

    #[test]
    fn empty_or_missing_ids_are_errors_not_panics() {
        for value in [
            json!({"email": "a@x.com"}),
            json!({"email": "a@x.com", "user_id": ""}),
            json!({"email": "a@x.com", "user_id": "auth0|"}),
            json!({"email": "a@x.com", "identities": [{"connection": REALM, "user_id": ""}]}),
        ] {
            let result = normalise(user(value), REALM, &Policy::default());
            assert_eq!(result.unwrap_err(), UserError::MissingUserId);
        }
    }

    #[test]
    fn email_is_lower_cased_and_required() {
        let profile = profile_json(full_user(), &Policy::default());
        assert_eq!(profile["email"], "jane.doe@example.com");
        for email in [json!(null), json!("")] {
            let value = json!({"user_id": "auth0|abc", "email": email});
            let result = normalise(user(value), REALM, &Policy::default());
            assert_eq!(result.unwrap_err(), UserError::MissingEmail);
        }
    }

    #[test]
    fn only_profile_fields_go_back() {
        let profile = profile_json(full_user(), &Policy::default());
        let keys: Vec<&str> = profile
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "email",
                "email_verified",
                "family_name",
                "given_name",
                "metadata",
                "name",
                "nickname",
                "picture",
                "user_id",
                "user_metadata",
                "username"
            ]
        );
    }

    #[test]
    fn metadata_is_preserved_exactly_under_the_configured_key() {
        let source = full_user();
        let profile = profile_json(source.clone(), &Policy::default());
        assert_eq!(profile["metadata"], source["app_metadata"]);
        assert_eq!(profile["user_metadata"], source["user_metadata"]);
        assert!(profile.get("app_metadata").is_none());

        let policy = Policy {
            app_metadata_key: AppMetadataKey::AppMetadata,
            ..Policy::default()
        };
        let profile = profile_json(source.clone(), &policy);
        assert_eq!(profile["app_metadata"], source["app_metadata"]);
        assert!(profile.get("metadata").is_none());
    }

    #[test]
    fn trickles_own_app_metadata_keys_never_travel() {
        // A user that came in through Trickle (A → B) carries B's bookkeeping;
        // moving it on (B → C) must not take it along.
        let mut source = full_user();
        source["app_metadata"]["trickle_migrated_at"] = json!("2026-01-01T00:00:00.000Z");
        source["app_metadata"]["trickle_checked_at"] = json!("2026-01-02T00:00:00.000Z");
        source["app_metadata"]["trickle_marked_at"] = json!("2026-01-02T00:00:00.000Z");
        source["user_metadata"]["trickle_note"] = json!("the user's own");
        let keep = Policy {
            skip_marked: false,
            ..Policy::default()
        };
        let profile = profile_json(source.clone(), &keep);
        assert_eq!(profile["metadata"], full_user()["app_metadata"]);
        assert_eq!(profile["user_metadata"]["trickle_note"], "the user's own");
        let only_own = json!({"user_id": "auth0|abc", "email": "a@x.com",
                              "app_metadata": {"trickle_checked_at": "x"}});
        assert_eq!(profile_json(only_own, &keep)["metadata"], json!({}));
        assert!(crate::is_own_key("trickle_marked_at") && !crate::is_own_key("trickle_other"));
    }

    #[test]
    fn the_allow_list_keeps_only_what_it_names_plus_id_and_email() {
        let policy = Policy {
            fields: FieldSet::empty()
                .with(Field::Name)
                .with(Field::UserMetadata),
            ..Policy::default()
        };
        let profile = profile_json(full_user(), &policy);
        let mut keys: Vec<&str> = profile
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["email", "name", "user_id", "user_metadata"]);
    }

    #[test]
    fn absent_fields_stay_absent() {
        let profile = profile_json(
            json!({"user_id": "auth0|abc", "email": "a@x.com"}),
            &Policy::default(),
        );
        assert_eq!(profile, json!({"user_id": "abc", "email": "a@x.com"}));
    }

    #[test]
    fn decide_skips_marked_users_only_when_the_policy_says_so() {
        let mut value = full_user();
        value["app_metadata"]["trickle_migrated_at"] = json!("2026-01-01T00:00:00.000Z");
        let skip = Policy::default();
        assert_eq!(
            decide(user(value.clone()), REALM, &skip),
            Ok(Verdict::AlreadyMigrated)
        );
        let keep = Policy {
            skip_marked: false,
            ..Policy::default()
        };
        assert!(matches!(
            decide(user(value), REALM, &keep),
            Ok(Verdict::Migrate { .. })
        ));
    }

    #[test]
    fn decide_refuses_blocked_users() {
        let mut value = full_user();
        value["blocked"] = json!(true);
        assert_eq!(
            decide(user(value), REALM, &Policy::default()),
            Ok(Verdict::Blocked)
        );
    }

    #[test]
    fn verdicts_serialize_as_tagged_objects() {
        let verdict = decide_by_email(
            vec![user(full_user())],
            "JANE.doe@example.com",
            REALM,
            &Policy::default(),
        );
        let json = serde_json::to_value(verdict.unwrap()).unwrap();
        assert_eq!(json["kind"], "migrate");
        for verdict in [
            Verdict::<Value>::AlreadyMigrated,
            Verdict::Blocked,
            Verdict::NotFound,
        ] {
            assert_eq!(
                serde_json::to_value(&verdict).unwrap()["kind"],
                verdict.kind()
            );
        }
        assert_eq!(
            json["profile"],
            profile_json(full_user(), &Policy::default())
        );
        assert_eq!(json["source_user_id"], "auth0|5f1c");
        let none = decide_by_email::<Value>(vec![], "a@x.com", REALM, &Policy::default()).unwrap();
        assert_eq!(
            serde_json::to_value(none).unwrap(),
            json!({"kind": "not_found"})
        );
    }

    #[test]
    fn login_and_lookup_by_email_give_the_same_profile() {
        let by_id = decide(user(full_user()), REALM, &Policy::default()).unwrap();
        let by_email = decide_by_email(
            vec![user(full_user())],
            "jane.doe@example.com",
            REALM,
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(by_id, by_email);
    }

    #[test]
    fn wrongly_typed_input_is_a_typed_error() {
        let result: Result<SourceUser<Value>, _> =
            serde_json::from_value(json!({"user_id": "auth0|a", "email_verified": "yes"}));
        assert!(result.is_err());
        let result: Result<SourceUser<Value>, _> =
            serde_json::from_value(json!({"identities": "x"}));
        assert!(result.is_err());
    }
}
