//! A legacy user store behind an API as the migration's source (the
//! contract in `docs/legacy-api.openapi.yaml`): what its answers mean, and
//! its `User` handed to the one normaliser as a [`SourceUser`], so login,
//! get_user and bulk give the same profile as for an Auth0 source.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::email::email_key;
use crate::marker::{MarkerCheck, MarkerWrite};
use crate::profile::{normalise, UserError, Verdict};
use crate::token::parse_ratelimit_reset;
use crate::{Metadata, Policy, SourceUser};

/// A user as the API returns it (the contract's `User`): the fields the
/// normaliser reads, as a [`SourceUser`] whose `user_id` is the store's `id`
/// and which has no identities, and the store's marker.
#[derive(Debug)]
pub struct LegacyUser<M> {
    pub user: SourceUser<M>,
    /// When the store marked the user as migrated (RFC 3339), if it did.
    pub migrated_at: Option<String>,
}

/// No identities come from the API, so no realm is looked for: the id is
/// the store's own (one leading `auth0|` removed).
const NO_REALM: &str = "";

impl<M> LegacyUser<M> {
    /// Whether the store marked the user as migrated.
    pub fn is_marked(&self) -> bool {
        self.migrated_at.as_deref().is_some_and(|at| !at.is_empty())
    }
}

/// The contract's `User` as JSON (natively: bulk, tests). Unknown members
/// are ignored, timestamps and the like too: they never reach a profile.
#[derive(Deserialize)]
#[serde(bound(deserialize = "M: Deserialize<'de>"))]
struct WireUser<M> {
    id: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    username: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    picture: Option<String>,
    user_metadata: Option<M>,
    app_metadata: Option<M>,
    blocked: Option<bool>,
    migrated_at: Option<String>,
}

impl<'de, M: Deserialize<'de>> Deserialize<'de> for LegacyUser<M> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireUser::<M>::deserialize(deserializer)?;
        Ok(LegacyUser {
            user: SourceUser {
                user_id: wire.id,
                email: wire.email,
                email_verified: wire.email_verified,
                username: wire.username,
                name: wire.name,
                nickname: wire.nickname,
                given_name: wire.given_name,
                family_name: wire.family_name,
                picture: wire.picture,
                identities: Vec::new(),
                app_metadata: wire.app_metadata,
                user_metadata: wire.user_metadata,
                blocked: wire.blocked,
            },
            migrated_at: wire.migrated_at,
        })
    }
}

/// Whether the body's `error` is `code`. Out of line on purpose: a string
/// `match` compiles to inlined byte-swapped compares, kilobytes of WASM.
#[inline(never)]
fn is_error(error: Option<&str>, code: &str) -> bool {
    error == Some(code)
}

/// What one answer of the legacy API means for the script that asked.
/// Only `WrongCredentials` and `NotFound` may become a wrong password, and
/// only when the body names that error: a bare 403 or 404 (a proxy, a
/// wrong base URL) says nothing about the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyOutcome {
    /// 2xx with the `user` or `users` the endpoint returns.
    Ok,
    /// 403 `invalid_credentials` from `POST /users/verify`.
    WrongCredentials,
    /// 404 `user_not_found`.
    NotFound,
    /// 423 `user_blocked`: the password may be right, the user is blocked.
    Blocked,
    /// 401: the token; renew it once, then it is a misconfiguration.
    Unauthorized,
    /// 429: try again once `Retry-After` has passed (UNIX seconds), if known.
    RateLimited { reset_at: Option<u32> },
    /// A 3xx: never followed; the API URL setting is wrong.
    Redirected,
    /// No answer, 408, 499 or 5xx: the store could not answer.
    Transient,
    /// 2xx without the `user` or `users` the contract promises.
    Malformed,
    /// Any other answer.
    Unexpected,
}

impl LegacyOutcome {
    /// The name the scripts switch on.
    pub const fn kind(self) -> &'static str {
        match self {
            LegacyOutcome::Ok => "ok",
            LegacyOutcome::WrongCredentials => "wrong_credentials",
            LegacyOutcome::NotFound => "not_found",
            LegacyOutcome::Blocked => "blocked",
            LegacyOutcome::Unauthorized => "unauthorized",
            LegacyOutcome::RateLimited { .. } => "rate_limited",
            LegacyOutcome::Redirected => "redirected",
            LegacyOutcome::Transient => "transient",
            LegacyOutcome::Malformed => "malformed",
            LegacyOutcome::Unexpected => "unexpected",
        }
    }

    /// When a rate limit resets (UNIX seconds), if this is one and it is known.
    pub const fn reset_at(self) -> Option<u32> {
        match self {
            LegacyOutcome::RateLimited { reset_at } => reset_at,
            _ => None,
        }
    }
}

/// The longest `Retry-After` honoured; a script's whole budget is shorter.
const MAX_RETRY_AFTER_S: u32 = 3600;

/// What an answer of the legacy API says, whatever the endpoint: `status`
/// (0: no answer), the body's `error` code, whether the body holds the
/// `user` or `users` the endpoint returns, its `Retry-After` (seconds), and
/// the caller's clock (UNIX seconds) to turn that into a time.
pub fn classify_legacy_answer(
    status: u16,
    error: Option<&str>,
    has_payload: bool,
    retry_after: Option<&str>,
    now: u32,
) -> LegacyOutcome {
    match status {
        200..=299 if has_payload => LegacyOutcome::Ok,
        200..=299 => LegacyOutcome::Malformed,
        300..=399 => LegacyOutcome::Redirected,
        401 => LegacyOutcome::Unauthorized,
        403 if is_error(error, "invalid_credentials") => LegacyOutcome::WrongCredentials,
        404 if is_error(error, "user_not_found") => LegacyOutcome::NotFound,
        423 if is_error(error, "user_blocked") => LegacyOutcome::Blocked,
        429 => LegacyOutcome::RateLimited {
            reset_at: parse_ratelimit_reset(retry_after)
                .map(|wait| now.saturating_add(wait.min(MAX_RETRY_AFTER_S))),
        },
        0 | 408 | 499 | 500..=599 => LegacyOutcome::Transient,
        _ => LegacyOutcome::Unexpected,
    }
}

/// The whole decision for a user the API returned: skip it when marked (if
/// the policy says so), refuse it when blocked, otherwise normalise it.
/// `source_user_id` is the store's own id, for marking it there.
pub fn decide_legacy<M: Metadata>(
    user: LegacyUser<M>,
    policy: &Policy,
) -> Result<Verdict<M>, UserError> {
    if policy.skip_marked && user.is_marked() {
        return Ok(Verdict::AlreadyMigrated);
    }
    if user.user.blocked == Some(true) {
        return Ok(Verdict::Blocked);
    }
    let source_user_id = user.user.user_id.clone();
    normalise(user.user, NO_REALM, policy).map(|profile| Verdict::Migrate {
        profile,
        source_user_id,
    })
}

/// [`decide_legacy`] for the one user of a lookup whose email is exactly
/// `email` (ignoring case): the API's own matching is not trusted, and two
/// exact matches are an error, never a pick. [`Verdict::NotFound`] when none.
pub fn decide_legacy_by_email<M: Metadata>(
    users: Vec<LegacyUser<M>>,
    email: &str,
    policy: &Policy,
) -> Result<Verdict<M>, UserError> {
    let wanted = email_key(email);
    let mut found = None;
    for user in users {
        let same = user
            .user
            .email
            .as_deref()
            .is_some_and(|candidate| email_key(candidate) == wanted);
        if same {
            if found.is_some() {
                return Err(UserError::Ambiguous);
            }
            found = Some(user);
        }
    }
    match found {
        Some(user) => decide_legacy(user, policy),
        None => Ok(Verdict::NotFound),
    }
}

/// Whether `user` (a body's `user`, when readable) is a user back from the
/// store and carries the marker; `None` when it is not a user at all.
fn marked<M>(user: Option<&LegacyUser<M>>) -> Option<bool> {
    user.filter(|user| user.user.user_id.is_some())
        .map(LegacyUser::is_marked)
}

/// What the answer to `PUT /users/{id}/migrated` says about the marker:
/// `status`, the body's `error` code and its `user`. A 409
/// `already_migrated` was marked before: written. A lost answer, and a 429
/// the retries did not get past, is uncertain: read the user back rather
/// than fail a login whose write may have landed.
pub fn classify_legacy_marker_write<M>(
    status: u16,
    error: Option<&str>,
    user: Option<&LegacyUser<M>>,
) -> MarkerWrite {
    match (status, marked(user)) {
        (200..=299, Some(true)) => MarkerWrite::Written,
        (409, _) if is_error(error, "already_migrated") => MarkerWrite::Written,
        (200..=299 | 0 | 408 | 429 | 499 | 500..=599, _) => MarkerWrite::Uncertain,
        _ => MarkerWrite::Refused,
    }
}

/// Reads the user fetched back (`GET /users/{id}`) after an uncertain
/// marker write.
pub fn check_legacy_marker<M>(status: u16, user: Option<&LegacyUser<M>>) -> MarkerCheck {
    match (status, marked(user)) {
        (200..=299, Some(true)) => MarkerCheck::Marked,
        (200..=299, Some(false)) => MarkerCheck::NotMarked,
        _ => MarkerCheck::Unconfirmed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::{decide, AppMetadataKey, Field, FieldSet, Metadata};

    fn user(value: Value) -> LegacyUser<Value> {
        serde_json::from_value(value).expect("test user must deserialize")
    }

    fn ada() -> Value {
        json!({
            "id": "u-1029",
            "email": "Ada@Example.COM",
            "email_verified": true,
            "username": "ada",
            "given_name": "Ada", "family_name": "Lovelace", "name": "Ada Lovelace",
            "nickname": "ada", "picture": "https://example.com/ada.png",
            "user_metadata": {"lang": "en", "bio": "Émile — 日本語 🎉"},
            "app_metadata": {"plan": "gold", "nested": {"deep": [1, {"x": "ü"}]}},
            "blocked": false,
            "migrated_at": null,
            "created_at": "2001-01-01T00:00:00Z",
            "password_hash": {"algorithm": "bcrypt", "value": "$2b$10$x"},
            "identities": "not an array: unknown members are ignored"
        })
    }

    fn profile(verdict: Verdict<Value>) -> Value {
        match verdict {
            Verdict::Migrate { profile, .. } => serde_json::to_value(profile).unwrap(),
            other => panic!("expected a profile, got {}", other.kind()),
        }
    }

    fn classify(status: u16, error: Option<&str>, payload: bool) -> LegacyOutcome {
        classify_legacy_answer(status, error, payload, None, 1_000)
    }

    #[test]
    fn the_profile_is_the_one_normalisers_with_the_stores_id() {
        let verdict = decide_legacy(user(ada()), &Policy::default()).unwrap();
        let Verdict::Migrate { source_user_id, .. } = &verdict else {
            panic!("not migrated");
        };
        assert_eq!(source_user_id.as_deref(), Some("u-1029"));
        assert_eq!(
            profile(verdict),
            json!({
                "user_id": "u-1029",
                "email": "ada@example.com",
                "email_verified": true,
                "username": "ada",
                "name": "Ada Lovelace",
                "nickname": "ada",
                "given_name": "Ada",
                "family_name": "Lovelace",
                "picture": "https://example.com/ada.png",
                "user_metadata": {"lang": "en", "bio": "Émile — 日本語 🎉"},
                "metadata": {"plan": "gold", "nested": {"deep": [1, {"x": "ü"}]}},
            })
        );
    }

    #[test]
    fn it_is_the_profile_an_auth0_source_gives_for_the_same_user() {
        // The same person as an Auth0 user: one normaliser, one profile.
        let mut auth0 = ada();
        auth0["user_id"] = json!("auth0|u-1029");
        auth0["identities"] =
            json!([{"provider": "auth0", "connection": "db", "user_id": "u-1029"}]);
        let policy = Policy {
            app_metadata_key: AppMetadataKey::AppMetadata,
            fields: FieldSet::all(),
            skip_marked: true,
        };
        let from_auth0 = decide(serde_json::from_value(auth0).unwrap(), "db", &policy).unwrap();
        let from_api = decide_legacy(user(ada()), &policy).unwrap();
        assert_eq!(profile(from_api), profile(from_auth0));
    }

    #[test]
    fn one_auth0_prefix_is_stripped_and_the_marker_goes_to_the_stores_id() {
        let mut value = ada();
        value["id"] = json!("auth0|auth0|legacy|7");
        let verdict = decide_legacy(user(value), &Policy::default()).unwrap();
        let Verdict::Migrate { source_user_id, .. } = &verdict else {
            panic!("not migrated");
        };
        assert_eq!(source_user_id.as_deref(), Some("auth0|auth0|legacy|7"));
        assert_eq!(profile(verdict)["user_id"], "auth0|legacy|7");
    }

    #[test]
    fn a_user_without_id_or_email_is_an_error_not_a_profile() {
        for (missing, error) in [
            ("id", UserError::MissingUserId),
            ("email", UserError::MissingEmail),
        ] {
            let mut value = ada();
            value[missing] = Value::Null;
            assert_eq!(
                decide_legacy(user(value), &Policy::default()).unwrap_err(),
                error
            );
        }
        let mut value = ada();
        value["id"] = json!("auth0|");
        assert_eq!(
            decide_legacy(user(value), &Policy::default()).unwrap_err(),
            UserError::MissingUserId
        );
    }

    #[test]
    fn a_marked_user_is_absent_when_the_policy_skips_marked_users() {
        let mut value = ada();
        value["migrated_at"] = json!("2026-01-02T03:04:05Z");
        let marked = user(value.clone());
        assert!(marked.is_marked());
        assert_eq!(
            decide_legacy(marked, &Policy::default()).unwrap(),
            Verdict::AlreadyMigrated
        );
        let keep = Policy {
            skip_marked: false,
            ..Policy::default()
        };
        assert_eq!(decide_legacy(user(value), &keep).unwrap().kind(), "migrate");
        for empty in [json!(null), json!("")] {
            let mut value = ada();
            value["migrated_at"] = empty;
            assert!(!user(value).is_marked());
        }
        // The Auth0 source's marker key means nothing here.
        let mut value = ada();
        value["app_metadata"] = json!({"trickle_migrated_at": "2026-01-01T00:00:00Z"});
        assert_eq!(
            decide_legacy(user(value), &Policy::default())
                .unwrap()
                .kind(),
            "migrate"
        );
    }

    #[test]
    fn a_blocked_user_is_never_migrated() {
        let mut value = ada();
        value["blocked"] = json!(true);
        assert_eq!(
            decide_legacy(user(value), &Policy::default()).unwrap(),
            Verdict::Blocked
        );
    }

    #[test]
    fn the_allow_list_and_metadata_key_apply() {
        let policy = Policy {
            fields: FieldSet::empty().with(Field::AppMetadata),
            app_metadata_key: AppMetadataKey::AppMetadata,
            skip_marked: true,
        };
        let value = profile(decide_legacy(user(ada()), &policy).unwrap());
        assert_eq!(
            value,
            json!({"user_id": "u-1029", "email": "ada@example.com",
                   "app_metadata": {"plan": "gold", "nested": {"deep": [1, {"x": "ü"}]}}})
        );
    }

    #[test]
    fn a_lookup_takes_exactly_one_exact_match_or_none() {
        let entry = |id: &str, email: &str| user(json!({"id": id, "email": email}));
        let policy = Policy::default();
        let found = decide_legacy_by_email(
            vec![entry("1", "aa@x.com"), entry("2", "A@X.com")],
            "a@x.COM",
            &policy,
        )
        .unwrap();
        assert_eq!(profile(found)["user_id"], "2");
        let loose = vec![entry("1", "aa@x.com"), entry("2", "a@x.com.evil")];
        assert_eq!(
            decide_legacy_by_email(loose, "a@x.com", &policy).unwrap(),
            Verdict::NotFound
        );
        assert_eq!(
            decide_legacy_by_email::<Value>(Vec::new(), "a@x.com", &policy).unwrap(),
            Verdict::NotFound
        );
        let twins = vec![entry("1", "a@x.com"), entry("2", "A@x.com")];
        assert_eq!(
            decide_legacy_by_email(twins, "a@x.com", &policy).unwrap_err(),
            UserError::Ambiguous
        );
        let unicode = vec![entry("9", "ÉMILE@example.com")];
        assert_eq!(
            profile(decide_legacy_by_email(unicode, "émile@example.com", &policy).unwrap())
                ["user_id"],
            "9"
        );
    }

    #[test]
    fn only_named_errors_say_anything_about_the_user() {
        assert_eq!(classify(200, None, true), LegacyOutcome::Ok);
        assert_eq!(
            classify(403, Some("invalid_credentials"), false),
            LegacyOutcome::WrongCredentials
        );
        assert_eq!(
            classify(404, Some("user_not_found"), false),
            LegacyOutcome::NotFound
        );
        assert_eq!(
            classify(423, Some("user_blocked"), false),
            LegacyOutcome::Blocked
        );
        // The same statuses without the contract's error code: a proxy's
        // page, a wrong base URL. Never a wrong password.
        for (status, error) in [
            (403, None),
            (403, Some("forbidden")),
            (404, None),
            (404, Some("not_found")),
            (423, None),
            (400, Some("invalid_credentials")),
            (409, Some("already_migrated")),
        ] {
            assert_eq!(
                classify(status, error, false),
                LegacyOutcome::Unexpected,
                "{status} {error:?}"
            );
        }
    }

    #[test]
    fn outages_redirects_and_bad_bodies_are_never_about_the_user() {
        for status in [0, 408, 499, 500, 502, 503, 504] {
            assert_eq!(
                classify(status, Some("invalid_credentials"), false),
                LegacyOutcome::Transient,
                "{status}"
            );
        }
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(
                classify(status, Some("invalid_credentials"), true),
                LegacyOutcome::Redirected
            );
        }
        assert_eq!(classify(200, None, false), LegacyOutcome::Malformed);
        assert_eq!(
            classify(200, Some("invalid_credentials"), false),
            LegacyOutcome::Malformed
        );
        assert_eq!(
            classify(401, Some("invalid_token"), false),
            LegacyOutcome::Unauthorized
        );
    }

    #[test]
    fn retry_after_becomes_a_time_on_the_callers_clock() {
        let at = |header| classify_legacy_answer(429, None, false, header, 1_000).reset_at();
        assert_eq!(at(Some("2")), Some(1_002));
        assert_eq!(at(Some(" 0 ")), Some(1_000));
        assert_eq!(at(Some("86400000")), Some(1_000 + MAX_RETRY_AFTER_S));
        assert_eq!(at(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(at(None), None);
        let late = classify_legacy_answer(429, None, false, Some("60"), u32::MAX);
        assert_eq!(late.reset_at(), Some(u32::MAX));
        assert_eq!(late.kind(), "rate_limited");
    }

    fn back(marked: Option<&str>) -> Option<LegacyUser<Value>> {
        Some(user(
            json!({"id": "u-1", "email": "a@x.com", "migrated_at": marked}),
        ))
    }

    #[test]
    fn a_marker_write_is_trusted_only_when_the_mark_came_back() {
        use MarkerWrite::*;
        let write = |status, error, user: Option<LegacyUser<Value>>| {
            classify_legacy_marker_write(status, error, user.as_ref())
        };
        let marked = || back(Some("2026-01-01T00:00:00Z"));
        assert_eq!(write(200, None, marked()), Written);
        assert_eq!(write(409, Some("already_migrated"), None), Written);
        // A user without its id is no user back; one unmarked, no write seen.
        let anonymous = Some(user(json!({"migrated_at": "2026-01-01T00:00:00Z"})));
        for (status, user) in [
            (200, back(None)),
            (200, None),
            (200, anonymous),
            (0, None),
            (429, None),
        ] {
            assert_eq!(write(status, None, user), Uncertain, "{status}");
        }
        for status in [408, 499, 500, 502, 503, 504] {
            assert_eq!(write(status, None, None), Uncertain);
        }
        for (status, error) in [
            (404, Some("user_not_found")),
            (403, Some("forbidden")),
            (401, Some("invalid_token")),
            (409, Some("marker_changed")),
            (409, None),
            (307, None),
            (400, None),
        ] {
            assert_eq!(
                write(status, error, marked()),
                Refused,
                "{status} {error:?}"
            );
        }
    }

    #[test]
    fn reading_back_decides_an_uncertain_write() {
        let check =
            |status, user: Option<LegacyUser<Value>>| check_legacy_marker(status, user.as_ref());
        assert_eq!(
            check(200, back(Some("2026-01-01T00:00:00Z"))),
            MarkerCheck::Marked
        );
        assert_eq!(check(200, back(None)), MarkerCheck::NotMarked);
        assert_eq!(check(200, back(Some(""))), MarkerCheck::NotMarked);
        for (status, user) in [
            (200, None),
            (404, None),
            (503, back(Some("2026-01-01T00:00:00Z"))),
            (0, None),
        ] {
            assert_eq!(check(status, user), MarkerCheck::Unconfirmed);
        }
    }

    #[test]
    fn metadata_is_passed_through_untouched() {
        let verdict = decide_legacy(user(ada()), &Policy::default()).unwrap();
        let Verdict::Migrate { profile, .. } = verdict else {
            panic!("not migrated");
        };
        let metadata = profile.app_metadata.unwrap();
        assert_eq!(metadata.string_field("plan").as_deref(), Some("gold"));
        assert_eq!(metadata, ada()["app_metadata"]);
    }
}
