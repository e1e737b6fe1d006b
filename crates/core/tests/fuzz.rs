//! Property-based fuzzing of the core's public functions (proptest): the
//! scripts run them on whatever the old tenant answers, and a panic there
//! is a trap in the WASM, a failed login. Every function gets arbitrary
//! JSON and strings (any Unicode scalar value, NUL, up to 70 KB), and
//! besides never panicking each must keep its contract (std's
//! lower-casing, only `invalid_grant` a wrong password, exact email
//! selection, one normaliser).
//!
//! Why proptest and not cargo-fuzz: only the stable toolchain exists here,
//! cargo-fuzz needs nightly's sanitizer flags, and proptest runs inside
//! `cargo test`, shrinks what it finds to a small input, and is
//! reproducible from a seed. `scripts/test.sh` runs it briefly (the
//! default, 200 cases per property, a fixed seed); `scripts/fuzz.sh` runs it
//! long: `TRICKLE_FUZZ_CASES` cases, seed `TRICKLE_FUZZ_SEED` (or a random
//! one, printed).

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use trickle_core::{
    api_base_url, base_url, check_legacy_marker, check_marker, classify_legacy_answer,
    classify_legacy_marker_write, classify_management_answer, classify_marker_write,
    classify_token_answer, decide, decide_by_email, decide_legacy, decide_legacy_by_email,
    email_key, import_policy, import_profile, is_own_key, is_reserved_app_metadata_key,
    is_valid_metadata_key, marker_patch, migrated_at, normalise, parse_ratelimit_reset,
    raw_user_id, select_by_email, select_by_username, to_lowercase, AppMetadataKey, Field,
    LegacyOutcome, LegacyUser, ManagementOutcome, MarkerWrite, Policy, SourceUser, TokenBody,
    TokenOutcome, UserError, Verdict, MARKER_KEY,
};

const REALM: &str = "Username-Password-Authentication";

thread_local! {
    /// Calls into the core made by this thread's property.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn call<T>(value: T) -> T {
    CALLS.set(CALLS.get() + 1);
    value
}

/// Runs `test` on `strategy`'s values and prints what it did (cargo test
/// shows it with `--nocapture`, as `scripts/fuzz.sh` runs it).
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let cases = std::env::var("TRICKLE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let seed = match std::env::var("TRICKLE_FUZZ_SEED").ok().as_deref() {
        Some("random") => fastrand_seed(),
        Some(seed) => seed
            .parse()
            .expect("TRICKLE_FUZZ_SEED is a number or `random`"),
        None => 0x7121_c1e5,
    };
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // A finding is printed (shrunk, with the seed), not written into the tree.
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let before = CALLS.get();
    let started = std::time::Instant::now();
    let result = TestRunner::new(config).run(&strategy, test);
    eprintln!(
        "fuzz {name}: {cases} cases, seed {seed}, {} core calls, {} panics or broken properties, {:.1} s",
        CALLS.get() - before,
        u32::from(result.is_err()),
        started.elapsed().as_secs_f64()
    );
    if let Err(failure) = result {
        panic!("fuzz {name} (seed {seed}): {failure}");
    }
}

fn fastrand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// Text as an old tenant might send it: anything Unicode allows, NUL,
/// cased and final-sigma letters, email-like text, and now and then 70 KB.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => any::<String>(),
        4 => "[a-zA-Z0-9._%+|-]{0,12}@[a-zA-Z0-9.-]{0,12}",
        2 => "[ΣσςİIıẞßǅA-Z\u{0301}\u{0000}\u{FFFD} a-z@.]{0,16}",
        1 => prop::collection::vec(any::<char>(), 0..40).prop_map(|chars| {
            chars.into_iter().flat_map(|c| [c, '\0']).collect()
        }),
        1 => (any::<char>(), 60_000usize..70_000).prop_map(|(c, n)| std::iter::repeat_n(c, n / c.len_utf8()).collect()),
    ]
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value for a key that wants `right`: usually that type, sometimes any JSON.
fn typed_or_not(right: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(0.7, prop_oneof![5 => right, 1 => json_value().boxed()])
}

fn string_value() -> BoxedStrategy<Value> {
    text().prop_map(Value::String).boxed()
}

fn identity() -> impl Strategy<Value = Value> {
    (
        typed_or_not(string_value()),
        typed_or_not(prop_oneof![Just(json!(REALM)), string_value()].boxed()),
        typed_or_not(
            prop_oneof![string_value(), any::<i64>().prop_map(Value::from).boxed()].boxed(),
        ),
    )
        .prop_map(|(provider, connection, user_id)| {
            let mut object = Map::new();
            for (key, value) in [
                ("provider", provider),
                ("connection", connection),
                ("user_id", user_id),
            ] {
                if let Some(value) = value {
                    object.insert(key.to_owned(), value);
                }
            }
            Value::Object(object)
        })
}

/// A user object as the Management API might return it, or garble it.
fn user_value() -> impl Strategy<Value = Value> {
    let metadata = || {
        prop_oneof![
            4 => json_value(),
            1 => text().prop_map(|at| json!({MARKER_KEY: at})),
            1 => (text(), json_value()).prop_map(|(at, other)| {
                json!({"trickle_checked_at": at, "trickle_": 1, "plan": other})
            }),
        ]
        .boxed()
    };
    (
        prop::collection::vec(typed_or_not(string_value()), 8),
        typed_or_not(any::<bool>().prop_map(Value::Bool).boxed()),
        typed_or_not(any::<bool>().prop_map(Value::Bool).boxed()),
        typed_or_not(
            prop::collection::vec(identity(), 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        typed_or_not(metadata()),
        typed_or_not(metadata()),
        prop::collection::btree_map(text(), json_value(), 0..3),
    )
        .prop_map(
            |(texts, email_verified, blocked, identities, app, user, extra)| {
                let mut object: Map<String, Value> = extra.into_iter().collect();
                let names = [
                    "user_id",
                    "email",
                    "username",
                    "name",
                    "nickname",
                    "given_name",
                    "family_name",
                    "picture",
                ];
                for (name, value) in names.into_iter().zip(texts) {
                    if let Some(value) = value {
                        object.insert(name.to_owned(), value);
                    }
                }
                for (name, value) in [
                    ("email_verified", email_verified),
                    ("blocked", blocked),
                    ("identities", identities),
                    ("app_metadata", app),
                    ("user_metadata", user),
                ] {
                    if let Some(value) = value {
                        object.insert(name.to_owned(), value);
                    }
                }
                Value::Object(object)
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    any::<u32>().prop_map(Policy::decode)
}

fn user_of(value: &Value) -> Option<SourceUser<Value>> {
    call(serde_json::from_value(value.clone())).ok()
}

#[test]
fn text_functions_keep_their_contracts() {
    fuzz("text", (text(), text()), |(domain, email)| {
        let lowered = call(to_lowercase(&email));
        prop_assert_eq!(&lowered, &email.to_lowercase(), "std's lower-casing");
        prop_assert_eq!(call(email_key(&email)), lowered);
        for candidate in [domain.as_str(), email.as_str()] {
            if let Ok(base) = call(base_url(candidate)) {
                let secure = base.starts_with("https://");
                prop_assert!(secure || base.starts_with("http://"), "{base}");
                prop_assert!(candidate.starts_with(base), "a prefix of the setting");
                prop_assert!(!base.ends_with('/'));
                let host = base.split("://").nth(1).unwrap_or_default();
                prop_assert!(!host.contains(['/', '?', '#', '@']), "an origin: {base}");
                if !secure {
                    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
                    prop_assert!(
                        name.eq_ignore_ascii_case("localhost")
                            || name == "[::1]"
                            || name.starts_with("127."),
                        "plain http only to this machine: {base}"
                    );
                }
            }
        }
        let patch = serde_json::to_value(call(marker_patch(&email))).expect("serializes");
        prop_assert_eq!(patch, json!({"app_metadata": {MARKER_KEY: email.clone()}}));
        call(is_reserved_app_metadata_key(&email));
        prop_assert_eq!(
            call(is_valid_metadata_key(&email)),
            !email.contains(['.', '$'])
        );
        call(Field::from_name(&email));
        call(AppMetadataKey::from_name(&email));
        prop_assert_eq!(
            call(parse_ratelimit_reset(Some(&email))),
            email.trim().parse::<u32>().ok()
        );
        Ok(())
    });
}

#[test]
fn users_of_any_shape_normalise_or_fail_cleanly() {
    fuzz(
        "user",
        (user_value(), policy(), text()),
        |(value, policy, realm)| {
            let Some(user) = user_of(&value) else {
                return Ok(());
            };
            for realm in [REALM, realm.as_str()] {
                let user = user_of(&value).expect("it read once");
                let raw = call(raw_user_id(&user, realm)).map(str::to_owned);
                let email = user.email.clone();
                let marked = call(migrated_at(&user)).is_some();
                let blocked = user.blocked == Some(true);
                match call(normalise(user, realm, &policy)) {
                    Ok(profile) => {
                        prop_assert_eq!(Some(&profile.user_id), raw.as_ref());
                        prop_assert!(!profile.user_id.is_empty());
                        prop_assert_eq!(
                            Some(profile.email.clone()),
                            email.as_deref().map(email_key)
                        );
                        // Trickle's own keys never travel; every other key does, as it was.
                        if let Some(Value::Object(kept)) = &profile.app_metadata {
                            prop_assert!(kept.keys().all(|key| !is_own_key(key)));
                            if let Some(Value::Object(source)) = value.get("app_metadata") {
                                prop_assert!(source
                                    .iter()
                                    .filter(|(key, _)| !is_own_key(key))
                                    .all(|(key, v)| kept.get(key) == Some(v)));
                            }
                        }
                        serde_json::to_value(&profile).expect("a profile serializes");
                    }
                    Err(UserError::MissingUserId) => prop_assert!(raw.is_none()),
                    Err(UserError::MissingEmail) => {
                        prop_assert!(email.is_none_or(|e| e.is_empty()))
                    }
                    Err(UserError::Ambiguous) => prop_assert!(false, "one user is never ambiguous"),
                }
                let verdict = call(decide(user_of(&value).expect("again"), realm, &policy));
                match &verdict {
                    Ok(Verdict::AlreadyMigrated) => prop_assert!(policy.skip_marked && marked),
                    Ok(Verdict::Blocked) => prop_assert!(blocked),
                    Ok(Verdict::Migrate { source_user_id, .. }) => {
                        prop_assert!(!(blocked || policy.skip_marked && marked));
                        prop_assert_eq!(
                            source_user_id,
                            &value
                                .get("user_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        );
                    }
                    Ok(Verdict::NotFound) => prop_assert!(false, "a found user is never not found"),
                    Err(_) => {}
                }
                // Bulk and lazy migration give the same user.
                let imported = call(import_profile(
                    user_of(&value).expect("again"),
                    realm,
                    &policy,
                ));
                let scripted = call(normalise(
                    user_of(&value).expect("again"),
                    realm,
                    &import_policy(policy),
                ));
                prop_assert_eq!(imported, scripted);
                for status in [200, 204, 302, 404, 503] {
                    call(check_marker(status, Some(&user_of(&value).expect("again"))));
                }
            }
            let _ = user;
            Ok(())
        },
    );
}

#[test]
fn email_lookups_take_exactly_one_exact_match_or_none() {
    // Candidates around one email: the same in other cases, near misses, other realms.
    let candidates = (text(), prop::collection::vec((user_value(), 0u8..5), 0..6));
    fuzz(
        "by-email",
        (candidates, policy()),
        |((email, raw), policy)| {
            let values: Vec<Value> = raw
                .into_iter()
                .map(|(mut value, variant)| {
                    if let Value::Object(object) = &mut value {
                        let near = match variant {
                            0 => email.clone(),
                            1 => email.to_uppercase(),
                            2 => format!("{email}x"),
                            _ => return value,
                        };
                        object.insert("email".to_owned(), json!(near));
                        object.insert(
                            "identities".to_owned(),
                            json!([{"connection": REALM, "user_id": "u"}]),
                        );
                    }
                    value
                })
                .collect();
            let users: Vec<SourceUser<Value>> = values.iter().filter_map(user_of).collect();
            let wanted = email_key(&email);
            let matches: Vec<usize> = users
                .iter()
                .enumerate()
                .filter(|(_, u)| {
                    u.email.as_deref().is_some_and(|e| email_key(e) == wanted)
                        && u.identity_in(REALM).is_some()
                })
                .map(|(i, _)| i)
                .collect();
            let chosen = call(select_by_email(
                values.iter().filter_map(user_of).collect(),
                &email,
                REALM,
            ));
            // The same text as a username: only an exact one (ignoring case) is taken.
            let wanted_name = to_lowercase(&email);
            match call(select_by_username(
                values.iter().filter_map(user_of).collect(),
                &email,
                REALM,
            )) {
                Ok(Some(user)) => prop_assert!(
                    user.username.as_deref().map(to_lowercase) == Some(wanted_name)
                        && user.identity_in(REALM).is_some()
                ),
                Ok(None) | Err(UserError::Ambiguous) => {}
                Err(other) => prop_assert!(false, "{other}"),
            }
            let verdict = call(decide_by_email(users, &email, REALM, &policy));
            match matches.as_slice() {
                [] => {
                    prop_assert!(matches!(chosen, Ok(None)));
                    prop_assert_eq!(verdict, Ok(Verdict::NotFound));
                }
                [only] => {
                    let expected = values.iter().filter_map(user_of).nth(*only).expect("there");
                    let chosen = chosen.expect("one match").expect("found");
                    prop_assert_eq!(&chosen.user_id, &expected.user_id);
                    prop_assert_eq!(verdict, call(decide(expected, REALM, &policy)));
                }
                _ => {
                    prop_assert!(matches!(chosen, Err(UserError::Ambiguous)));
                    prop_assert_eq!(verdict, Err(UserError::Ambiguous));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn answers_are_classified_totally_and_only_invalid_grant_is_a_wrong_password() {
    let body = prop::option::of(prop_oneof![
        json_value(),
        (prop_oneof![Just("invalid_grant".to_owned()), Just("invalid_user_password".to_owned()), text()],
         prop::option::of(text()), prop::option::of(text()))
            .prop_map(|(error, access, id)| json!({"error": error, "access_token": access, "id_token": id})),
    ]);
    let status = prop_oneof![
        1 => any::<u16>(),
        3 => 0u16..=600,
        3 => prop::sample::select(vec![0u16, 200, 204, 301, 302, 307, 400, 401, 403, 404, 429, 500, 502, 503]),
    ];
    fuzz(
        "answers",
        (status, body, prop::option::of(text()), any::<bool>()),
        |(status, body, reset, answered)| {
            let parsed: Option<TokenBody> = body.and_then(|b| call(serde_json::from_value(b)).ok());
            let token = call(classify_token_answer(
                status,
                parsed.as_ref(),
                reset.as_deref(),
            ));
            let error = parsed.as_ref().and_then(|b| b.error.as_deref());
            let wrong = (400..=499).contains(&status)
                && status != 429
                && matches!(error, Some("invalid_grant" | "invalid_user_password"));
            prop_assert_eq!(
                token == TokenOutcome::WrongCredentials,
                wrong,
                "{:?}",
                token
            );
            if (300..=399).contains(&status) {
                prop_assert_eq!(token, TokenOutcome::Redirected);
            }
            let management = call(classify_management_answer(status, reset.as_deref()));
            if (300..=399).contains(&status) {
                prop_assert_eq!(management, ManagementOutcome::Redirected);
            }
            prop_assert_eq!(
                management.reset_at(),
                if status == 429 {
                    parse_ratelimit_reset(reset.as_deref())
                } else {
                    None
                }
            );
            let write = call(classify_marker_write(status, answered));
            if status == 408 || status == 499 {
                prop_assert_eq!(write, MarkerWrite::Uncertain);
            } else if (300..=499).contains(&status) {
                prop_assert_eq!(write, MarkerWrite::Refused);
            }
            if write == MarkerWrite::Written {
                prop_assert!(answered && (200..=299).contains(&status));
            }
            call(check_marker(status, None::<&SourceUser<Value>>));
            Ok(())
        },
    );
}

#[test]
fn every_policy_number_decodes_to_one_policy() {
    fuzz("policy", any::<u32>(), |bits| {
        let policy = call(Policy::decode(bits));
        prop_assert_eq!(call(Policy::decode(policy.encode())), policy);
        prop_assert_eq!(
            import_policy(policy).app_metadata_key,
            AppMetadataKey::AppMetadata
        );
        Ok(())
    });
}

/// The legacy store's `User` as an API might send it, or garble it: a
/// Management API user with its id under `id` and a `migrated_at`.
fn legacy_user_value() -> impl Strategy<Value = Value> {
    (
        user_value(),
        typed_or_not(prop_oneof![string_value(), Just(json!(null))].boxed()),
    )
        .prop_map(|(mut user, migrated_at)| {
            if let Some(object) = user.as_object_mut() {
                if let Some(id) = object.remove("user_id") {
                    object.insert("id".to_owned(), id);
                }
                if let Some(at) = migrated_at {
                    object.insert("migrated_at".to_owned(), at);
                }
            }
            user
        })
}

#[test]
fn legacy_answers_say_the_user_only_through_the_named_errors() {
    let error = prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "invalid_credentials",
            "user_not_found",
            "user_blocked",
            "already_migrated"
        ])
        .prop_map(str::to_owned),
        text(),
    ]);
    let status = prop_oneof![
        1 => any::<u16>(),
        3 => prop::sample::select(vec![0u16, 200, 302, 307, 401, 403, 404, 408, 409, 423, 429, 499, 500, 503]),
    ];
    fuzz(
        "legacy answers",
        (
            status,
            error,
            any::<bool>(),
            prop::option::of(text()),
            any::<u32>(),
        ),
        |(status, error, payload, retry_after, now)| {
            let error = error.as_deref();
            let outcome = call(classify_legacy_answer(
                status,
                error,
                payload,
                retry_after.as_deref(),
                now,
            ));
            let named = |code, wanted| status == code && error == Some(wanted);
            prop_assert_eq!(
                outcome == LegacyOutcome::WrongCredentials,
                named(403, "invalid_credentials")
            );
            prop_assert_eq!(
                outcome == LegacyOutcome::NotFound,
                named(404, "user_not_found")
            );
            prop_assert_eq!(
                outcome == LegacyOutcome::Blocked,
                named(423, "user_blocked")
            );
            if (300..=399).contains(&status) {
                prop_assert_eq!(outcome, LegacyOutcome::Redirected);
            }
            prop_assert_eq!(
                outcome.reset_at().is_some(),
                status == 429 && parse_ratelimit_reset(retry_after.as_deref()).is_some()
            );
            if let Some(at) = outcome.reset_at() {
                prop_assert!(at >= now);
            }
            let write = call(classify_legacy_marker_write(
                status,
                error,
                None::<&LegacyUser<Value>>,
            ));
            prop_assert_eq!(
                write == MarkerWrite::Written,
                named(409, "already_migrated")
            );
            call(check_legacy_marker(status, None::<&LegacyUser<Value>>));
            Ok(())
        },
    );
}

#[test]
fn legacy_users_normalise_as_auth0_users_do_and_lookups_stay_exact() {
    fuzz(
        "legacy users",
        (
            prop::collection::vec(legacy_user_value(), 0..4),
            text(),
            policy(),
        ),
        |(values, email, policy)| {
            let users: Vec<LegacyUser<Value>> = values
                .iter()
                .filter_map(|value| call(serde_json::from_value(value.clone())).ok())
                .collect();
            for value in &values {
                let Ok(user) = call(serde_json::from_value::<LegacyUser<Value>>(value.clone()))
                else {
                    continue;
                };
                let marked = user.is_marked();
                let blocked = user.user.blocked == Some(true);
                let as_source: Option<SourceUser<Value>> = {
                    let mut source = value.clone();
                    let object = source.as_object_mut().expect("an object deserialized");
                    object.remove("identities");
                    if let Some(id) = object.remove("id") {
                        object.insert("user_id".to_owned(), id);
                    }
                    user_of(&source)
                };
                match (call(decide_legacy(user, &policy)), as_source) {
                    (Ok(Verdict::AlreadyMigrated), _) => prop_assert!(marked && policy.skip_marked),
                    (Ok(Verdict::Blocked), _) => prop_assert!(blocked),
                    (Ok(Verdict::Migrate { profile, .. }), Some(source)) => {
                        prop_assert!(!(blocked || marked && policy.skip_marked));
                        let same = call(normalise(source, "", &policy)).expect("normalised once");
                        prop_assert_eq!(profile, same);
                    }
                    (Ok(other), _) => prop_assert!(false, "unexpected verdict {}", other.kind()),
                    (Err(_), _) => {}
                }
            }
            let key = email_key(&email);
            let exact = users
                .iter()
                .filter(|user| {
                    user.user
                        .email
                        .as_deref()
                        .is_some_and(|e| email_key(e) == key)
                })
                .count();
            match call(decide_legacy_by_email(users, &email, &policy)) {
                Err(UserError::Ambiguous) => prop_assert!(exact >= 2),
                Ok(Verdict::NotFound) => prop_assert_eq!(exact, 0),
                _ => prop_assert_eq!(exact, 1),
            }
            Ok(())
        },
    );
}

#[test]
fn api_urls_keep_to_https_or_loopback_and_plain_paths() {
    fuzz("api urls", text(), |url| {
        if let Ok(base) = call(api_base_url(&url)) {
            prop_assert!(!base.ends_with('/'));
            prop_assert!(!base.contains(['?', '#', '@', '\\', ' ']));
            let origin_end = base
                .match_indices('/')
                .nth(2)
                .map_or(base.len(), |(at, _)| at);
            prop_assert_eq!(call(base_url(&base[..origin_end])), Ok(&base[..origin_end]));
        }
        for path in ["/api", "/a/b-c_d.e~f%20"] {
            let joined = format!("https://legacy.example.com{path}");
            prop_assert_eq!(call(api_base_url(&joined)), Ok(joined.as_str()));
        }
        Ok(())
    });
}
