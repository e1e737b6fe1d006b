//! `plan` on real files in temporary folders.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trickle_bulk::{plan, PlanError, PlanOptions, PlanReport, SkipReason, IMPORT_FILE_LIMIT_BYTES};
use trickle_core::{
    decide, AppMetadataKey, Field, FieldSet, Policy, SourceUser, Verdict, IMPORT_FIELDS,
    RESERVED_APP_METADATA_KEYS,
};

const REALM: &str = "Username-Password-Authentication";
const TARGET: &str = "old-tenant-import";
const BCRYPT_10: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_lines(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.path(name);
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(&path, text).unwrap();
        path
    }

    fn options(&self, input: PathBuf, out: &str) -> PlanOptions {
        PlanOptions::new(
            input,
            self.path(out),
            REALM.to_owned(),
            TARGET.to_owned(),
            Policy::default(),
        )
    }
}

fn user(id: &str, email: &str) -> Value {
    json!({
        "user_id": format!("auth0|{id}"),
        "email": email,
        "email_verified": true,
        "name": "Some One",
        "identities": [{"provider": "auth0", "connection": REALM, "user_id": id, "isSocial": false}],
        "created_at": "2020-01-01T00:00:00.000Z",
        "logins_count": 3,
        "last_ip": "203.0.113.1"
    })
}

fn lines(users: &[Value]) -> Vec<String> {
    users.iter().map(Value::to_string).collect()
}

fn run(options: &PlanOptions) -> PlanReport {
    plan(options, &mut |_| {}).expect("plan succeeds")
}

/// Every record of every import file, in order.
fn records(out: &Path, report: &PlanReport) -> Vec<Value> {
    report
        .files
        .iter()
        .flat_map(|file| {
            let text = fs::read(out.join(&file.file)).unwrap();
            assert_eq!(text.len() as u64, file.bytes, "{}", file.file);
            let users: Vec<Value> = serde_json::from_slice(&text).expect("a JSON array");
            assert_eq!(users.len() as u64, file.users, "{}", file.file);
            users
        })
        .collect()
}

fn report_json(out: &Path) -> Value {
    serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap()
}

fn skipped(out: &Path) -> Vec<Value> {
    report_json(out)["skipped_records"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn bulk_and_the_scripts_give_the_same_profile() {
    let fixture = Fixture::new();
    let source = json!({
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
        "created_at": "2020-01-01T00:00:00.000Z",
        "logins_count": 42
    });
    // What the scripts hand Auth0 (the WASM calls the same core function).
    let script_user: SourceUser<Value> = serde_json::from_value(source.clone()).unwrap();
    let Ok(Verdict::Migrate { profile, .. }) = decide(script_user, REALM, &Policy::default())
    else {
        panic!("the scripts migrate this user");
    };
    let script = serde_json::to_value(&profile).unwrap();

    let input = fixture.write_lines("export.json", &[source.to_string()]);
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let bulk = records(&options.out, &report).remove(0);

    assert_eq!(bulk["user_id"], "5f1c");
    assert_eq!(bulk["email"], "jane.doe@example.com");
    for key in [
        "user_id",
        "email",
        "email_verified",
        "username",
        "name",
        "nickname",
        "given_name",
        "family_name",
        "picture",
        "user_metadata",
    ] {
        assert_eq!(bulk[key], script[key], "{key}");
    }
    // The scripts default to `metadata`; the import schema has only `app_metadata`.
    assert_eq!(bulk["app_metadata"], script["metadata"]);
    assert!(bulk.get("metadata").is_none());
    assert!(bulk.get("identities").is_none() && bulk.get("created_at").is_none());
}

#[test]
fn exactly_one_auth0_prefix_is_stripped_and_realm_ids_win() {
    let fixture = Fixture::new();
    let input = fixture.write_lines(
        "export.json",
        &lines(&[
            json!({"user_id": "auth0|abc", "email": "a@x.com"}),
            json!({"user_id": "auth0|auth0|twice", "email": "b@x.com"}),
            json!({"user_id": "auth0|legacy|42", "email": "c@x.com",
                   "identities": [{"provider": "auth0", "connection": REALM, "user_id": "legacy|42"}]}),
            json!({"user_id": "auth0|root", "email": "d@x.com",
                   "identities": [{"provider": "auth0", "connection": REALM, "user_id": "from-identity"}]}),
        ]),
    );
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let ids: Vec<Value> = records(&options.out, &report)
        .into_iter()
        .map(|user| user["user_id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            json!("abc"),
            json!("auth0|twice"),
            json!("legacy|42"),
            json!("from-identity")
        ]
    );
}

#[test]
fn files_stay_under_the_limit_and_are_filled() {
    let fixture = Fixture::new();
    // Users of very different sizes.
    let users: Vec<Value> = (0..6000)
        .map(|n| {
            let mut user = user(&format!("id{n}"), &format!("user{n}@example.com"));
            user["user_metadata"] = json!({"bio": "x".repeat((n * 37) % 900)});
            user
        })
        .collect();
    let input = fixture.write_lines("export.json", &lines(&users));
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(report.users_written, 6000);
    assert!(report.files.len() > 3, "{} files", report.files.len());
    for (i, file) in report.files.iter().enumerate() {
        assert!(file.bytes <= IMPORT_FILE_LIMIT_BYTES as u64, "{file:?}");
        let on_disk = fs::metadata(options.out.join(&file.file)).unwrap().len();
        assert_eq!(on_disk, file.bytes);
        if let Some(next) = report.files.get(i + 1) {
            // Filled: the next file's first record would not have fitted.
            let text = fs::read_to_string(options.out.join(&next.file)).unwrap();
            let first = text[2..]
                .split(",\n")
                .next()
                .unwrap()
                .trim_end_matches("\n]\n");
            assert!(
                file.bytes as usize + 2 + first.len() > IMPORT_FILE_LIMIT_BYTES,
                "{} could have taken one more record",
                file.file
            );
        }
    }
    assert_eq!(records(&options.out, &report).len(), 6000);
}

#[test]
fn a_record_too_large_for_any_file_is_reported() {
    let fixture = Fixture::new();
    let mut huge = user("big", "big@x.com");
    huge["user_metadata"] = json!({"blob": "y".repeat(IMPORT_FILE_LIMIT_BYTES)});
    let input = fixture.write_lines("export.json", &lines(&[huge, user("ok", "ok@x.com")]));
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(report.users_written, 1);
    assert_eq!(report.skipped_by_reason[&SkipReason::TooLarge], 1);
    assert_eq!(skipped(&options.out)[0]["line"], 1);
}

#[test]
fn records_hold_only_what_the_import_schema_allows() {
    let fixture = Fixture::new();
    let mut full = user("a", "A@x.com");
    full["app_metadata"] = json!({"plan": "gold"});
    full["user_metadata"] = json!({"lang": "fr"});
    full["blocked"] = json!(true);
    full["phone_number"] = json!("+15555550100");
    full["multifactor"] = json!(["guardian"]);
    full["last_login"] = json!("2024-01-01T00:00:00.000Z");
    full["username"] = json!("ann");
    let hashes = fixture.write_lines(
        "hashes.jsonl",
        &[json!({"email": "a@x.com", "hash": BCRYPT_10}).to_string()],
    );
    let input = fixture.write_lines("export.json", &lines(&[full, user("b", "b@x.com")]));
    let mut options = fixture.options(input, "plan");
    options.hashes = Some(hashes);
    let report = run(&options);
    for record in records(&options.out, &report) {
        let object = record.as_object().unwrap();
        for key in object.keys() {
            assert!(
                IMPORT_FIELDS.contains(&key.as_str()),
                "unknown property {key}"
            );
        }
        assert!(object["email"].is_string());
        for flag in ["email_verified", "blocked"] {
            assert!(object.get(flag).is_none_or(Value::is_boolean), "{flag}");
        }
        for text in [
            "user_id",
            "username",
            "name",
            "nickname",
            "given_name",
            "family_name",
            "picture",
            "password_hash",
        ] {
            assert!(object.get(text).is_none_or(Value::is_string), "{text}");
        }
        for metadata in ["app_metadata", "user_metadata"] {
            assert!(
                object.get(metadata).is_none_or(Value::is_object),
                "{metadata}"
            );
        }
    }
    let first = records(&options.out, &report).remove(0);
    assert_eq!(first["blocked"], true);
    assert_eq!(first["password_hash"], BCRYPT_10);
    assert_eq!(report.blocked_written, 1);
}

#[test]
fn the_field_allow_list_applies() {
    let fixture = Fixture::new();
    let mut full = user("a", "a@x.com");
    full["app_metadata"] = json!({"plan": "gold"});
    full["picture"] = json!("https://x/p.png");
    let input = fixture.write_lines("export.json", &lines(&[full]));
    let mut options = fixture.options(input, "plan");
    options.policy = Policy {
        fields: FieldSet::empty().with(Field::Name),
        app_metadata_key: AppMetadataKey::Metadata,
        skip_marked: true,
    };
    let report = run(&options);
    assert_eq!(
        records(&options.out, &report)[0],
        json!({"user_id": "a", "email": "a@x.com", "name": "Some One"})
    );
}

#[test]
fn reserved_app_metadata_keys_are_stripped_and_counted() {
    let fixture = Fixture::new();
    let mut reserved = serde_json::Map::new();
    for key in RESERVED_APP_METADATA_KEYS {
        reserved.insert(key.to_owned(), json!("x"));
    }
    reserved.insert("plan".to_owned(), json!("gold"));
    let mut one = user("a", "a@x.com");
    one["app_metadata"] = Value::Object(reserved);
    let mut two = user("b", "b@x.com");
    two["app_metadata"] = json!({"created_at": "2020", "keep": {"created_at": "nested keys stay"}});
    let input = fixture.write_lines("export.json", &lines(&[one, two]));
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let users = records(&options.out, &report);
    assert_eq!(users[0]["app_metadata"], json!({"plan": "gold"}));
    assert_eq!(
        users[1]["app_metadata"],
        json!({"keep": {"created_at": "nested keys stay"}})
    );
    assert_eq!(report.app_metadata_keys_stripped["created_at"], 2);
    assert_eq!(report.app_metadata_keys_stripped["__tenant"], 1);
}

#[test]
fn metadata_field_names_with_dots_or_dollars_are_reported_not_fatal() {
    let fixture = Fixture::new();
    let mut dotted = user("a", "a@x.com");
    dotted["user_metadata"] = json!({"prefs": {"ui.theme": "dark"}});
    let mut dollar = user("b", "b@x.com");
    dollar["app_metadata"] = json!({"$set": 1});
    let mut not_object = user("c", "c@x.com");
    not_object["user_metadata"] = json!("text");
    let input = fixture.write_lines(
        "export.json",
        &lines(&[dotted, dollar, not_object, user("d", "d@x.com")]),
    );
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(report.users_written, 1);
    assert_eq!(report.skipped_by_reason[&SkipReason::InvalidMetadata], 3);
    let skipped = skipped(&options.out);
    assert_eq!(skipped[0]["line"], 1);
    assert!(skipped[0]["detail"]
        .as_str()
        .unwrap()
        .contains("user_metadata.prefs.ui.theme"));
    assert!(skipped[1]["detail"]
        .as_str()
        .unwrap()
        .contains("app_metadata.$set"));
}

#[test]
fn duplicate_emails_keep_the_first() {
    let fixture = Fixture::new();
    let input = fixture.write_lines(
        "export.json",
        &lines(&[
            user("1", "ann@x.com"),
            user("2", "bob@x.com"),
            user("3", "ANN@X.com"),
            user("4", "Ann@x.com"),
        ]),
    );
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let ids: Vec<Value> = records(&options.out, &report)
        .into_iter()
        .map(|u| u["user_id"].clone())
        .collect();
    assert_eq!(ids, [json!("1"), json!("2")]);
    let skipped = skipped(&options.out);
    assert_eq!(
        skipped
            .iter()
            .map(|s| (s["line"].clone(), s["reason"].clone(), s["user_id"].clone()))
            .collect::<Vec<_>>(),
        [
            (json!(3), json!("duplicate_email"), json!("3")),
            (json!(4), json!("duplicate_email"), json!("4"))
        ]
    );
}

#[test]
fn users_of_the_new_tenant_are_left_out_by_id_and_by_email() {
    let fixture = Fixture::new();
    // The new tenant: a lazily migrated user (identity in the import
    // connection, same raw id) and one created there with an old email.
    let new_tenant = fixture.write_lines(
        "new.json",
        &lines(&[
            json!({"user_id": "auth0|1", "email": "ann@x.com",
                   "identities": [{"provider": "auth0", "connection": TARGET, "user_id": "1"}]}),
            json!({"user_id": "auth0|zzz", "email": "CAROL@x.com",
                   "identities": [{"provider": "auth0", "connection": TARGET, "user_id": "zzz"}]}),
            json!({"user_id": "auth0|2b", "email": "other@x.com",
                   "identities": [{"provider": "auth0", "connection": TARGET, "user_id": "2"}]}),
        ]),
    );
    let input = fixture.write_lines(
        "export.json",
        &lines(&[
            user("1", "ann.renamed@x.com"),
            user("2", "bob@x.com"),
            user("3", "carol@x.com"),
            user("4", "dan@x.com"),
        ]),
    );
    let mut options = fixture.options(input, "plan");
    options.exclude = Some(new_tenant);
    let report = run(&options);
    let ids: Vec<Value> = records(&options.out, &report)
        .into_iter()
        .map(|u| u["user_id"].clone())
        .collect();
    assert_eq!(ids, [json!("4")]);
    assert_eq!(report.skipped_by_reason[&SkipReason::AlreadyInTarget], 3);
    let exclude = report.exclude.unwrap();
    assert_eq!(
        (exclude.records, exclude.user_ids, exclude.emails),
        (3, 3, 3)
    );
    let details: Vec<String> = skipped(&options.out)
        .iter()
        .map(|s| s["detail"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        details[0].contains("user_id") && details[1].contains("user_id"),
        "{details:?}"
    );
    assert!(details[2].contains("email"), "{details:?}");
}

#[test]
fn marked_users_are_already_migrated() {
    let fixture = Fixture::new();
    let mut marked = user("1", "a@x.com");
    marked["app_metadata"] = json!({"trickle_migrated_at": "2026-01-01T00:00:00.000Z"});
    let mut empty_marker = user("2", "b@x.com");
    empty_marker["app_metadata"] = json!({"trickle_migrated_at": ""});
    let input = fixture.write_lines("export.json", &lines(&[marked, empty_marker]));
    let mut options = fixture.options(input, "plan");
    // Even when the scripts themselves do not skip marked users.
    options.policy.skip_marked = false;
    let report = run(&options);
    assert_eq!(report.already_migrated, 1);
    assert_eq!(report.users_written, 1);
    let skipped = skipped(&options.out);
    assert_eq!(skipped[0]["reason"], "already_migrated");
    assert_eq!(skipped[0]["line"], 1);
    assert!(skipped[0]["detail"]
        .as_str()
        .unwrap()
        .contains("2026-01-01"));
}

#[test]
fn with_the_new_tenants_export_a_marked_user_it_lacks_is_planned_and_listed() {
    // Marked but never stored by the new tenant (Auth0 failed to create
    // them, or an older Trickle failed their login after marking): the
    // export of the new tenant decides, not the marker.
    let fixture = Fixture::new();
    let marker = json!({"trickle_migrated_at": "2026-01-01T00:00:00.000Z"});
    let mut stranded = user("1", "stranded@x.com");
    stranded["app_metadata"] = marker.clone();
    let mut migrated = user("2", "migrated@x.com");
    migrated["app_metadata"] = marker;
    let input = fixture.write_lines(
        "export.json",
        &lines(&[stranded, migrated, user("3", "never@x.com")]),
    );
    let new_tenant = fixture.write_lines(
        "new.json",
        &lines(&[json!({"user_id": "auth0|2", "email": "migrated@x.com",
                        "identities": [{"provider": "auth0", "connection": TARGET, "user_id": "2"}]})]),
    );
    let mut options = fixture.options(input.clone(), "plan");
    options.exclude = Some(new_tenant);
    let report = run(&options);
    let ids: Vec<Value> = records(&options.out, &report)
        .into_iter()
        .map(|u| u["user_id"].clone())
        .collect();
    assert_eq!(ids, [json!("1"), json!("3")]);
    assert_eq!(report.already_migrated, 0);
    assert_eq!(report.skipped_by_reason[&SkipReason::AlreadyInTarget], 1);
    assert_eq!(report.marked_not_in_new_tenant, Some(1));
    let listed = &report_json(&options.out)["marked_not_in_new_tenant_listed"];
    assert_eq!(
        listed,
        &json!([{"line": 1, "user_id": "1", "email": "stranded@x.com", "marked_at": "2026-01-01T00:00:00.000Z"}])
    );

    // Without it, the marker is all there is to go by.
    let options = fixture.options(input, "plan-without");
    let report = run(&options);
    assert_eq!(report.already_migrated, 2);
    assert_eq!(report.marked_not_in_new_tenant, None);
    assert!(report_json(&options.out)
        .get("marked_not_in_new_tenant")
        .is_none());
}

#[test]
fn password_hashes_join_by_user_id_or_email() {
    let fixture = Fixture::new();
    let hashes = fixture.write_lines(
        "hashes.jsonl",
        &[
            json!({"user_id": "auth0|1", "hash": BCRYPT_10}).to_string(),
            json!({"email": "B@X.com", "hash": BCRYPT_10.replace("$2b$", "$2y$")}).to_string(),
            json!({"email": "c@x.com", "hash": BCRYPT_10.replace("$10$", "$12$")}).to_string(),
            json!({"email": "d@x.com", "algorithm": "sha256", "hash": "ab12", "salt": "s", "salt_position": "suffix"}).to_string(),
            json!({"user_id": "5", "custom_password_hash": {"algorithm": "argon2", "hash": {"value": "$argon2id$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA", "encoding": "utf8"}}}).to_string(),
            json!({"email": "f@x.com", "hash": "not-a-hash"}).to_string(),
            json!({"email": "nobody@x.com", "hash": BCRYPT_10}).to_string(),
            "not json".to_owned(),
            json!({"hash": BCRYPT_10}).to_string(),
        ],
    );
    let input = fixture.write_lines(
        "export.json",
        &lines(&[
            user("1", "a@x.com"),
            user("2", "b@x.com"),
            user("3", "c@x.com"),
            user("4", "d@x.com"),
            user("5", "e@x.com"),
            user("6", "f@x.com"),
            user("7", "g@x.com"),
        ]),
    );
    let mut options = fixture.options(input, "plan");
    options.hashes = Some(hashes);
    let report = run(&options);
    let users = records(&options.out, &report);
    assert_eq!(users[0]["password_hash"], BCRYPT_10);
    assert_eq!(
        users[1]["password_hash"], BCRYPT_10,
        "$2y$ is written as $2b$"
    );
    assert_eq!(users[2]["custom_password_hash"]["algorithm"], "bcrypt");
    assert_eq!(
        users[3]["custom_password_hash"],
        json!({"algorithm": "sha256", "hash": {"value": "ab12", "encoding": "hex"},
               "salt": {"value": "s", "encoding": "utf8", "position": "suffix"}})
    );
    assert_eq!(users[4]["custom_password_hash"]["algorithm"], "argon2");
    assert!(
        users[5].get("password_hash").is_none() && users[5].get("custom_password_hash").is_none()
    );
    assert_eq!(users[5]["user_id"], "7");
    for user in &users {
        assert!(
            !(user.get("password_hash").is_some() && user.get("custom_password_hash").is_some())
        );
    }
    assert_eq!(
        report.skipped_by_reason[&SkipReason::InvalidPasswordHash],
        1
    );
    assert_eq!(skipped(&options.out)[0]["line"], 6);
    assert_eq!(
        (
            report.passwords.password_hash,
            report.passwords.custom_password_hash,
            report.passwords.none
        ),
        (2, 3, 1)
    );
    let hashes = report.hashes.unwrap();
    assert_eq!(hashes.entries, 7);
    assert_eq!(hashes.unused, 1, "nobody@x.com");
    assert_eq!(hashes.problem_count, 2);
    assert_eq!(hashes.problems[0].line, 8);
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_never_abort() {
    let fixture = Fixture::new();
    let input = fixture.write_lines(
        "export.json",
        &[
            user("1", "a@x.com").to_string(),
            "{not json".to_owned(),
            json!({"user_id": "auth0|2"}).to_string(),
            json!({"user_id": "auth0|3", "email": "c@x.com", "email_verified": "yes"}).to_string(),
            "[1, 2]".to_owned(),
            json!({"email": "d@x.com"}).to_string(),
            json!({"user_id": "auth0|5", "email": "not-an-email"}).to_string(),
            String::new(),
            json!({"user_id": "google-oauth2|9", "email": "g@x.com",
                   "identities": [{"provider": "google-oauth2", "connection": "google-oauth2", "user_id": "9"}]}).to_string(),
            user("10", "j@x.com").to_string(),
        ],
    );
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(report.records_read, 9, "the blank line is not a record");
    assert_eq!(report.users_written, 2);
    let got: Vec<(u64, String)> = skipped(&options.out)
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        (2, "unreadable"),
        (3, "missing_email"),
        (4, "invalid_user"),
        (5, "invalid_user"),
        (6, "missing_user_id"),
        (7, "invalid_email"),
        (9, "not_in_realm"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(l, r)| (*l, (*r).to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(report.skipped, 7);
}

#[test]
fn an_input_with_no_user_at_all_is_unusable() {
    let fixture = Fixture::new();
    let input = fixture.write_lines(
        "export.json",
        &["id,email".to_owned(), "1,a@x.com".to_owned()],
    );
    let options = fixture.options(input, "plan");
    let error = plan(&options, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PlanError::Unusable(_)), "{error}");
    assert!(error.is_bad_input());
    assert!(!options.out.exists());
    let missing = fixture.options(fixture.path("missing.json"), "plan");
    let error = plan(&missing, &mut |_| {}).unwrap_err();
    assert!(
        matches!(error, PlanError::Input { .. }) && error.is_bad_input(),
        "{error}"
    );
}

#[test]
fn gzip_input_gives_the_same_plan() {
    let fixture = Fixture::new();
    let users: Vec<Value> = (0..300)
        .map(|n| user(&n.to_string(), &format!("u{n}@x.com")))
        .collect();
    let text = lines(&users).join("\n") + "\n";
    let plain = fixture.path("export.json");
    fs::write(&plain, &text).unwrap();
    let gz = fixture.path("export.json.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    let a = fixture.options(plain, "a");
    let b = fixture.options(gz, "b");
    let report_a = run(&a);
    let report_b = run(&b);
    assert_eq!(report_b.users_written, 300);
    assert_eq!(report_a.files, report_b.files);
    for file in &report_a.files {
        assert_eq!(
            fs::read(a.out.join(&file.file)).unwrap(),
            fs::read(b.out.join(&file.file)).unwrap()
        );
    }
}

#[test]
fn a_truncated_gzip_stream_aborts_and_writes_nothing() {
    let fixture = Fixture::new();
    let users: Vec<Value> = (0..2000)
        .map(|n| user(&n.to_string(), &format!("u{n}@x.com")))
        .collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all((lines(&users).join("\n") + "\n").as_bytes())
        .unwrap();
    let bytes = encoder.finish().unwrap();
    let gz = fixture.path("export.json.gz");
    fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let options = fixture.options(gz, "plan");
    let error = plan(&options, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PlanError::Input { .. }), "{error}");
    // Nothing under the final name, no staging folder left behind.
    let names: Vec<String> = fs::read_dir(fixture.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["export.json.gz"]);
}

#[test]
fn csv_exports_are_read_too() {
    let fixture = Fixture::new();
    let input = fixture.path("export.csv");
    fs::write(
        &input,
        "user_id,email,email_verified,name,app_metadata\n\
         auth0|1,Ann@x.com,true,Ann,\"{\"\"plan\"\":\"\"gold\"\"}\"\n\
         auth0|2,,false,Bob,\n",
    )
    .unwrap();
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(
        records(&options.out, &report),
        [
            json!({"user_id": "1", "email": "ann@x.com", "email_verified": true, "name": "Ann", "app_metadata": {"plan": "gold"}})
        ]
    );
    assert_eq!(skipped(&options.out)[0]["line"], 3);
}

#[test]
fn blocked_users_are_imported_blocked_or_left_out() {
    let fixture = Fixture::new();
    let mut blocked = user("1", "a@x.com");
    blocked["blocked"] = json!(true);
    let input = fixture.write_lines("export.json", &lines(&[blocked, user("2", "b@x.com")]));
    let mut options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(records(&options.out, &report)[0]["blocked"], true);
    assert!(records(&options.out, &report)[1].get("blocked").is_none());
    options.out = fixture.path("plan2");
    options.skip_blocked = true;
    let report = run(&options);
    assert_eq!(report.users_written, 1);
    assert_eq!(report.skipped_by_reason[&SkipReason::Blocked], 1);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let fixture = Fixture::new();
    let mut users: Vec<Value> = (0..3000)
        .map(|n| {
            let mut u = user(&n.to_string(), &format!("u{}@x.com", n % 2900));
            u["app_metadata"] =
                json!({"z": n, "a": [n, "x"], "created_at": "r", "m": {"b": 1, "a": 2}});
            u
        })
        .collect();
    users.push(json!("garbage"));
    let input = fixture.write_lines("export.json", &lines(&users));
    let a = fixture.options(input.clone(), "a");
    let b = fixture.options(input, "b");
    run(&a);
    run(&b);
    let list = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list(&a.out), list(&b.out));
    assert!(list(&a.out).contains(&"report.json".to_owned()));
    for name in list(&a.out) {
        assert_eq!(
            fs::read(a.out.join(&name)).unwrap(),
            fs::read(b.out.join(&name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn an_existing_plan_is_kept_unless_replacing_is_asked() {
    let fixture = Fixture::new();
    let input = fixture.write_lines("export.json", &lines(&[user("1", "a@x.com")]));
    let mut options = fixture.options(input, "plan");
    run(&options);
    fs::write(options.out.join("marker"), "mine").unwrap();
    let error = plan(&options, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PlanError::OutExists(_)) && error.is_bad_input());
    assert!(options.out.join("marker").exists(), "untouched");
    options.replace = true;
    run(&options);
    assert!(!options.out.join("marker").exists(), "replaced whole");
    assert!(options.out.join("users-00001.json").exists());
    // A plan an import has started from is never replaced.
    fs::write(options.out.join("import-state.ndjson"), "").unwrap();
    let error = plan(&options, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("import"), "{error}");
    assert!(options.out.join("import-state.ndjson").exists());
    let leftovers: Vec<String> = fs::read_dir(fixture.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_report_counts_everything() {
    let fixture = Fixture::new();
    let input = fixture.write_lines(
        "export.json",
        &[
            user("1", "a@x.com").to_string(),
            "nope".to_owned(),
            user("2", "A@x.com").to_string(),
        ],
    );
    let options = fixture.options(input, "plan");
    run(&options);
    let report = report_json(&options.out);
    assert_eq!(report["records_read"], 3);
    assert_eq!(report["users_written"], 1);
    assert_eq!(report["skipped"], 2);
    assert_eq!(report["already_migrated"], 0);
    assert_eq!(
        report["skipped_by_reason"],
        json!({"unreadable": 1, "duplicate_email": 1})
    );
    assert_eq!(
        report["files"],
        json!([{"file": "users-00001.json", "users": 1, "bytes": fs::metadata(options.out.join("users-00001.json")).unwrap().len()}])
    );
    assert_eq!(report["skipped_records"].as_array().unwrap().len(), 2);
}

#[test]
fn a_gzipped_hashes_file_with_an_over_long_line_is_read() {
    let fixture = Fixture::new();
    let text = [
        json!({"email": "x@x.com", "hash": "z".repeat(70 * 1024)}).to_string(),
        json!({"email": "a@x.com", "hash": BCRYPT_10}).to_string(),
    ]
    .join("\n");
    let hashes = fixture.path("hashes.jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        fs::File::create(&hashes).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
    let input = fixture.write_lines("export.json", &lines(&[user("1", "a@x.com")]));
    let mut options = fixture.options(input, "plan");
    options.hashes = Some(hashes);
    let report = run(&options);
    assert_eq!(
        records(&options.out, &report)[0]["password_hash"],
        BCRYPT_10
    );
    let hashes = report.hashes.unwrap();
    assert_eq!((hashes.entries, hashes.problem_count), (1, 1));
    assert_eq!(hashes.problems[0].line, 1);
    // The unpacked copy lived in the staging folder only.
    let names: Vec<String> = fs::read_dir(&options.out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

fn gzip(path: &Path, bytes: &[u8]) {
    let mut encoder =
        flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap();
}

/// (line, reason, detail) of every listed skipped record.
fn skips(out: &Path) -> Vec<(u64, String, String)> {
    skipped(out)
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().to_owned(),
                s["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn an_unclosed_csv_quote_is_reported_by_line_and_the_rows_after_it_are_planned() {
    let fixture = Fixture::new();
    // The adversarial run's file: the quote opened on line 2 never closes.
    let text = "user_id,email,name\nauth0|1,a@x.com,\"open\nauth0|2,b@x.com,n\n";
    for name in ["short.csv", "short.csv.gz"] {
        let input = fixture.path(name);
        if name.ends_with(".gz") {
            gzip(&input, text.as_bytes());
        } else {
            fs::write(&input, text).unwrap();
        }
        let options = fixture.options(input, &format!("plan-{name}"));
        let report = run(&options);
        let ids: Vec<Value> = records(&options.out, &report)
            .into_iter()
            .map(|u| u["user_id"].clone())
            .collect();
        assert_eq!(ids, [json!("2")], "{name}");
        let json = report_json(&options.out);
        assert_eq!(json["lines_read"], 3, "{name}");
        assert_eq!(json["records_read"], 2, "{name}");
        assert_eq!(json["skipped"], 1, "{name}");
        let skips = skips(&options.out);
        assert_eq!((skips[0].0, skips[0].1.as_str()), (2, "unreadable"));
        assert!(
            skips[0].2.contains("unterminated quote starting at line 2"),
            "{}",
            skips[0].2
        );
    }

    // 1,001 rows as in the run, plus a quoted field that rightly spans
    // lines and blank lines: every physical line is counted, every row
    // after the bad one is planned.
    let mut text = String::from("user_id,email,name\n");
    text.push_str("auth0|ok,ok@x.com,\"two\nlines\"\n\n");
    text.push_str("auth0|bad,bad@x.com,\"never closed\n");
    for n in 0..1_001 {
        text.push_str(&format!("auth0|{n},u{n}@x.com,Person {n}\n"));
    }
    let input = fixture.path("long.csv.gz");
    gzip(&input, text.as_bytes());
    let options = fixture.options(input, "plan-long");
    let report = run(&options);
    let users = records(&options.out, &report);
    assert_eq!(users.len(), 1_002);
    assert_eq!(users[0]["name"], "two\nlines");
    assert_eq!(users[1]["user_id"], "0");
    assert_eq!(users[1_001]["user_id"], "1000");
    let json = report_json(&options.out);
    assert_eq!(json["lines_read"], 1_006);
    assert_eq!(json["records_read"], 1_003);
    assert_eq!(
        json["users_written"].as_u64().unwrap() + json["skipped"].as_u64().unwrap(),
        1_003,
        "planned + skipped = records"
    );
    let skips = skips(&options.out);
    assert_eq!(skips.len(), 1, "{skips:?}");
    assert_eq!(skips[0].0, 5);
    assert!(
        skips[0].2.contains("unterminated quote starting at line 5"),
        "{}",
        skips[0].2
    );
}

#[test]
fn a_gzipped_csv_with_one_unclosed_quote_and_megabytes_of_rows_is_planned_whole() {
    // Peak memory on this input is measured by scripts/bench-bulk-adversarial.sh.
    let fixture = Fixture::new();
    let rows = 120_000;
    let mut text = String::with_capacity(rows * 110);
    text.push_str("user_id,email,name\nauth0|x,x@x.com,\"open\n");
    for n in 0..rows {
        text.push_str(&format!(
            "auth0|{n},user{n}@example.com,Person number {n} with a longer name field\n"
        ));
    }
    assert!(text.len() > 8 * 1024 * 1024);
    let input = fixture.path("export.csv.gz");
    gzip(&input, text.as_bytes());
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let json = report_json(&options.out);
    assert_eq!(json["users_written"], rows as u64);
    assert_eq!(json["records_read"], rows as u64 + 1);
    assert_eq!(json["lines_read"], rows as u64 + 2);
    assert_eq!(json["skipped_by_reason"], json!({"unreadable": 1}));
    assert_eq!(
        report.files.iter().map(|f| f.users).sum::<u64>(),
        rows as u64
    );
}

#[test]
fn the_report_lists_at_most_a_thousand_records_per_reason_and_counts_them_all() {
    let fixture = Fixture::new();
    // Long values are cut in the listing, never copied whole.
    let mut lines = vec![json!({"user_id": format!("auth0|{}", "i".repeat(100_000))}).to_string()];
    for _ in 0..2_500 {
        lines.push("{}".to_owned());
    }
    for n in 0..1_200 {
        lines.push(format!("not json {n}"));
    }
    lines.push(user("1", "a@x.com").to_string());
    let input = fixture.write_lines("export.json", &lines);
    let options = fixture.options(input, "plan");
    let report = run(&options);
    assert_eq!(report.users_written, 1);
    let json = report_json(&options.out);
    assert_eq!(json["skipped"], 3_701);
    assert_eq!(
        json["skipped_by_reason"],
        json!({"missing_email": 1, "missing_user_id": 2_500, "unreadable": 1_200})
    );
    assert_eq!(json["skipped_records_listed_per_reason"], 1_000);
    assert_eq!(json["skipped_records_truncated"], true);
    assert_eq!(
        json["skipped_records_unlisted"],
        json!({"missing_user_id": 1_500, "unreadable": 200})
    );
    let listed = skips(&options.out);
    assert_eq!(listed.len(), 2_001);
    let missing: Vec<u64> = listed
        .iter()
        .filter(|s| s.1 == "missing_user_id")
        .map(|s| s.0)
        .collect();
    assert_eq!(
        missing,
        (2..=1_001).collect::<Vec<u64>>(),
        "the first, by line"
    );
    let size = fs::metadata(options.out.join("report.json")).unwrap().len();
    assert!(size < 200_000, "report.json is {size} bytes");
    let long_id = skipped(&options.out)[0]["user_id"].as_str().unwrap().len();
    assert!(long_id < 1_000, "a user_id of {long_id} bytes listed");

    // Under the cap, everything is listed and nothing is said to be missing.
    let input = fixture.write_lines(
        "few.json",
        &["{}".to_owned(), user("1", "a@x.com").to_string()],
    );
    let options = fixture.options(input, "few");
    run(&options);
    let json = report_json(&options.out);
    assert_eq!(json["skipped_records_truncated"], false);
    assert_eq!(json["skipped_records_unlisted"], json!({}));
    assert_eq!(json["skipped_records"].as_array().unwrap().len(), 1);
}

#[test]
fn trickles_own_keys_are_not_in_the_import_files() {
    // A user that reached this tenant through Trickle (A → B) carries B's
    // post-login bookkeeping; the import into C must not carry it on.
    let fixture = Fixture::new();
    let mut carried = user("1", "ann@x.com");
    carried["app_metadata"] = json!({"plan": "gold", "trickle_checked_at": "2026-01-01T00:00:00.000Z",
                                     "trickle_marked_at": "2026-01-01T00:00:00.000Z"});
    let input = fixture.write_lines("export.json", &lines(&[carried]));
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let written = records(&options.out, &report);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["app_metadata"], json!({"plan": "gold"}));
}

#[test]
fn duplicate_ids_usernames_and_emails_are_left_out_as_the_import_would() {
    let fixture = Fixture::new();
    let with_username = |id: &str, email: &str, username: &str| {
        let mut u = user(id, email);
        u["username"] = json!(username);
        u
    };
    let nfc = "jos\u{e9}@x.com";
    let nfd = "jose\u{301}@x.com";
    let input = fixture.write_lines(
        "export.json",
        &lines(&[
            with_username("1", "ann@x.com", "Ann"),
            user("1", "other@x.com"),               // same user_id
            with_username("3", "bob@x.com", "ANN"), // same username, other case
            user("4", nfc),
            user("5", nfd),                 // same email, other normal form
            user("6", "JOSE\u{301}@X.COM"), // and other case too
            with_username("7", "carol@x.com", "carol"),
            with_username("8", "dan@x.com", "jos\u{e9}"),
            with_username("9", "eve@x.com", "JOSE\u{301}"), // same username, other form and case
        ]),
    );
    let options = fixture.options(input, "plan");
    let report = run(&options);
    let ids: Vec<Value> = records(&options.out, &report)
        .into_iter()
        .map(|u| u["user_id"].clone())
        .collect();
    assert_eq!(ids, [json!("1"), json!("4"), json!("7"), json!("8")]);
    let got: Vec<(u64, String)> = skips(&options.out)
        .into_iter()
        .map(|(line, reason, _)| (line, reason))
        .collect();
    assert_eq!(
        got,
        [
            (2, "duplicate_user_id".to_owned()),
            (3, "duplicate_username".to_owned()),
            (5, "duplicate_email".to_owned()),
            (6, "duplicate_email".to_owned()),
            (9, "duplicate_username".to_owned()),
        ]
    );
    let json = report_json(&options.out);
    assert_eq!(
        json["skipped_by_reason"],
        json!({"duplicate_user_id": 1, "duplicate_username": 2, "duplicate_email": 2})
    );

    // The new tenant's export is compared the same way.
    let new_tenant = fixture.write_lines("new.json", &lines(&[json!({"email": nfd})]));
    let input = fixture.write_lines(
        "export2.json",
        &lines(&[user("4", nfc), user("8", "d@x.com")]),
    );
    let mut options = fixture.options(input, "plan2");
    options.exclude = Some(new_tenant);
    let report = run(&options);
    assert_eq!(report.users_written, 1);
    assert_eq!(skips(&options.out)[0].1, "already_in_target");
}

#[test]
fn a_utf8_bom_does_not_cost_the_first_user() {
    let fixture = Fixture::new();
    let bom = "\u{feff}";
    let ndjson = format!("{bom}{}\n{}\n", user("1", "a@x.com"), user("2", "b@x.com"));
    let csv = format!("{bom}user_id,email\nauth0|1,a@x.com\nauth0|2,b@x.com\n");
    for (name, text) in [
        ("export.json", &ndjson),
        ("export.csv", &csv),
        ("export.json.gz", &ndjson),
        ("export.csv.gz", &csv),
    ] {
        let input = fixture.path(name);
        if name.ends_with(".gz") {
            gzip(&input, text.as_bytes());
        } else {
            fs::write(&input, text).unwrap();
        }
        let options = fixture.options(input, &format!("plan-{name}"));
        let report = run(&options);
        assert_eq!(report.users_written, 2, "{name}: {:?}", skips(&options.out));
        assert_eq!(report.skipped, 0, "{name}");
    }
}

#[test]
fn a_hashes_file_with_a_bom_and_decomposed_emails_still_joins() {
    let fixture = Fixture::new();
    let hashes = fixture.path("hashes.jsonl");
    fs::write(
        &hashes,
        format!(
            "\u{feff}{}\n",
            json!({"email": "JOSE\u{301}@x.com", "hash": BCRYPT_10})
        ),
    )
    .unwrap();
    let input = fixture.write_lines("export.json", &lines(&[user("1", "jos\u{e9}@x.com")]));
    let mut options = fixture.options(input, "plan");
    options.hashes = Some(hashes);
    let report = run(&options);
    assert_eq!(
        records(&options.out, &report)[0]["password_hash"],
        BCRYPT_10
    );
    let hashes = report.hashes.unwrap();
    assert_eq!((hashes.entries, hashes.problem_count), (1, 0));
}
