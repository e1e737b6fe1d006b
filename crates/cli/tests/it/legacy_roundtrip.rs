//! The "done means" for bulk from a legacy store: for every hash
//! format, a user in a legacy export → `trickle bulk plan` → `trickle bulk
//! import` into `trickle sim` (the new tenant) → a password-realm login
//! with the original password succeeds, and with another fails. The
//! export comes from `trickle legacy-sim` (its own hashing) plus a
//! known-answer record hashed by an independent implementation; the CLI
//! binaries run as a user runs them.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use support::emulator::Emulator;

const NEW_CONNECTION: &str = "New-Users";
const NEW_CONNECTION_ID: &str = "con_NewUsers0000001";
const API: &str = "https://legacy.example/api";

/// Runs trickle with nothing inherited from the shell's secrets.
fn trickle(args: &[&str], env: &[(&str, &str)]) -> Output {
    support::run::trickle(args, env, Duration::from_secs(120))
}

fn new_tenant(dir: &Path) -> Emulator {
    let seed = dir.join("new-tenant.json");
    let body = json!({
        "bcrypt_cost": 4,
        "connections": [{"name": NEW_CONNECTION, "id": NEW_CONNECTION_ID}],
        "clients": [
            {"client_id": "importer", "client_secret": "importer-secret", "grant_types": ["client_credentials"],
             "scopes": ["read:users", "create:users"]},
            {"client_id": "app", "client_secret": "app-secret", "grant_types": ["password"]}
        ],
        "apis": [{"identifier": API, "client_grants": [{"client_id": "importer"}]}]
    });
    fs::write(&seed, body.to_string()).unwrap();
    Emulator::start(
        "trickle sim",
        &[
            "sim",
            "--seed",
            seed.to_str().unwrap(),
            "--rate-limit",
            "0",
            "--job-delay-ms",
            "20",
        ],
    )
}

/// One user per hash format, each with its own password.
fn legacy_users() -> Vec<(&'static str, Value)> {
    vec![
        ("bcrypt-10", json!({"algorithm": "bcrypt", "cost": 10})),
        ("bcrypt-4", json!({"algorithm": "bcrypt", "cost": 4})),
        (
            "argon2id",
            json!({"algorithm": "argon2", "memory_kib": 64, "iterations": 1}),
        ),
        (
            "argon2i",
            json!({"algorithm": "argon2", "variant": "argon2i", "memory_kib": 64, "iterations": 2}),
        ),
        (
            "pbkdf2-sha256",
            json!({"algorithm": "pbkdf2", "iterations": 1000}),
        ),
        (
            "pbkdf2-sha512",
            json!({"algorithm": "pbkdf2", "digest": "sha512", "iterations": 1000, "key_length": 64}),
        ),
        ("md5", json!({"algorithm": "md5"})),
        (
            "md5-salted",
            json!({"algorithm": "md5", "salt": "c0ffee", "salt_encoding": "hex", "salt_position": "suffix"}),
        ),
        (
            "sha1-salted",
            json!({"algorithm": "sha1", "salt": "c2FsdA==", "salt_encoding": "base64"}),
        ),
        (
            "sha256-prefix",
            json!({"algorithm": "sha256", "salt": "NaCl", "salt_position": "prefix"}),
        ),
        (
            "sha256-base64",
            json!({"algorithm": "sha256", "salt": "NaCl", "salt_position": "suffix", "encoding": "base64"}),
        ),
        (
            "sha512-prefix",
            json!({"algorithm": "sha512", "salt": "pepper"}),
        ),
        (
            "sha512-suffix",
            json!({"algorithm": "sha512", "salt": "pepper", "salt_position": "suffix", "encoding": "base64"}),
        ),
    ]
}

fn password_of(name: &str) -> String {
    format!("{name} pässword")
}

fn legacy_store(dir: &Path, issuer: &str) -> Emulator {
    let users: Vec<Value> = legacy_users()
        .into_iter()
        .map(|(name, hash)| {
            json!({"id": format!("legacy-{name}"), "email": format!("{name}@Legacy.Example"),
                   "email_verified": true, "name": name, "app_metadata": {"plan": "legacy"},
                   "password": password_of(name), "hash": hash})
        })
        .collect();
    let seed = dir.join("legacy.json");
    fs::write(&seed, json!({"users": users}).to_string()).unwrap();
    Emulator::start(
        "trickle legacy-sim",
        &[
            "legacy-sim",
            "--seed",
            seed.to_str().unwrap(),
            "--issuer",
            issuer,
            "--audience",
            API,
        ],
    )
}

/// sha256("NaCl" + "Corr3ct horse") in base64, from Python's hashlib.
fn known_answer_record() -> Value {
    json!({"id": "known-answer", "email": "known@legacy.example",
           "password_hash": {"algorithm": "sha256", "value": "OM/b6u6+pxnK1QPcloAlb4eo2b6a675VD8xyT9LMvqY=",
                             "encoding": "base64", "salt": "NaCl", "salt_encoding": "utf8", "salt_position": "prefix"}})
}

fn plan_and_import(
    dir: &Path,
    tenant: &Emulator,
    input: &Path,
    out: &str,
    extra: &[&str],
) -> Value {
    let config = dir.join("trickle.toml");
    fs::write(
        &config,
        format!("[connection]\nname = \"{NEW_CONNECTION}\"\n[source]\nrealm = \"Legacy\"\n"),
    )
    .unwrap();
    let plan = dir.join(out);
    let mut args = vec![
        "bulk",
        "plan",
        "--config",
        config.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let planned = trickle(&args, &[]);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let report: Value =
        serde_json::from_slice(&fs::read(plan.join("report.json")).unwrap()).unwrap();
    let imported = trickle(
        &[
            "bulk",
            "import",
            "--plan",
            plan.to_str().unwrap(),
            "--domain",
            &tenant.base,
            "--client-id",
            "importer",
            "--connection-id",
            NEW_CONNECTION_ID,
            "--poll-interval-ms",
            "20",
        ],
        &[("TRICKLE_NEW_CLIENT_SECRET", "importer-secret")],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    report
}

fn login(tenant: &Emulator, email: &str, password: &str) -> (u16, Value) {
    let body = json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "realm": NEW_CONNECTION,
                      "username": email, "password": password, "client_id": "app", "client_secret": "app-secret",
                      "scope": "openid"});
    let (status, text) = tenant.request("POST", "/oauth/token", Some(&body));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn every_hash_format_round_trips_from_a_legacy_export_to_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = new_tenant(dir.path());
    let legacy = legacy_store(dir.path(), &format!("{}/", tenant.base));
    let (status, export) = legacy.request("GET", "/__sim/export", None);
    assert_eq!(status, 200);
    let input = dir.path().join("legacy-export.ndjson");
    fs::write(&input, format!("{export}{}\n", known_answer_record())).unwrap();

    let report = plan_and_import(
        dir.path(),
        &tenant,
        &input,
        "plan",
        &["--source-kind", "api"],
    );
    assert_eq!(report["source_kind"], "api");
    assert_eq!(
        report["users_written"],
        legacy_users().len() + 1,
        "{report}"
    );
    assert_eq!(
        report["passwords"],
        json!({"password_hash": 1, "custom_password_hash": legacy_users().len(), "none": 0})
    );

    let (_, stored) = tenant.request("GET", "/__sim/users", None);
    let stored: Vec<Value> = serde_json::from_str(&stored).unwrap();
    let imported = stored
        .iter()
        .find(|u| u["email"] == "md5@legacy.example")
        .expect("imported");
    assert_eq!(
        imported["user_id"], "auth0|legacy-md5",
        "the legacy id, prefixed once by the import"
    );
    assert_eq!(imported["app_metadata"], json!({"plan": "legacy"}));
    for (name, _) in legacy_users() {
        let email = format!("{name}@legacy.example");
        let (status, body) = login(&tenant, &email, &password_of(name));
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body["id_token"].is_string(), "{name}");
        let (status, body) = login(&tenant, &email, &password_of(name).to_uppercase());
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant")),
            "{name}"
        );
    }
    assert_eq!(
        login(&tenant, "known@legacy.example", "Corr3ct horse").0,
        200
    );
    assert_eq!(
        login(&tenant, "known@legacy.example", "corr3ct horse").0,
        403
    );
}

#[test]
fn a_legacy_csv_export_is_told_by_its_columns_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = new_tenant(dir.path());
    let hash = |record: Value| record.to_string().replace('"', "\"\"");
    let md5 = json!({"algorithm": "md5", "value": "3a325d57b2e9100c31116a33d8e2c5e0"});
    let sha = known_answer_record()["password_hash"].clone();
    let csv = format!(
        "id,email,email_verified,name,app_metadata,migrated_at,password_hash\n\
         csv-1,One@CSV.example,true,One,\"{{\"\"tier\"\": 1}}\",,\"{}\"\n\
         csv-2,two@csv.example,false,Two,,,\"{}\"\n\
         csv-3,marked@csv.example,true,Marked,,2026-01-01T00:00:00Z,\n",
        hash(md5),
        hash(sha)
    );
    let input = dir.path().join("legacy-export.csv");
    fs::write(&input, csv).unwrap();
    let report = plan_and_import(dir.path(), &tenant, &input, "plan", &[]);
    assert_eq!(
        report["source_kind"], "api",
        "told by its columns: {report}"
    );
    assert_eq!(report["users_written"], 2, "{report}");
    assert_eq!(report["already_migrated"], 1, "migrated_at is the marker");
    assert_eq!(login(&tenant, "one@csv.example", "Corr3ct horse").0, 200);
    assert_eq!(login(&tenant, "two@csv.example", "Corr3ct horse").0, 200);
    assert_eq!(login(&tenant, "two@csv.example", "Corr3ct Horse").0, 403);
}

#[test]
fn a_broken_legacy_hash_leaves_its_user_out_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trickle.toml");
    fs::write(
        &config,
        format!("[connection]\nname = \"{NEW_CONNECTION}\"\n[source]\nrealm = \"Legacy\"\n"),
    )
    .unwrap();
    let input = dir.path().join("export.ndjson");
    let lines = [
        json!({"id": "ok", "email": "ok@x.example", "password_hash": {"algorithm": "md5", "value": "3a325d57b2e9100c31116a33d8e2c5e0"}}),
        json!({"id": "cut", "email": "cut@x.example", "password_hash": {"algorithm": "md5", "value": "3a325d57"}}),
        json!({"id": "odd", "email": "odd@x.example", "password_hash": {"algorithm": "rot13", "value": "x"}}),
    ];
    fs::write(
        &input,
        lines
            .iter()
            .map(|l| l.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("plan");
    let planned = trickle(
        &[
            "bulk",
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let report: Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["users_written"], 1);
    assert_eq!(
        report["skipped_by_reason"],
        json!({"invalid_password_hash": 2})
    );
    let lines: Vec<u64> = report["skipped_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn the_wrong_source_kind_says_which_it_read_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trickle.toml");
    fs::write(
        &config,
        format!("[connection]\nname = \"{NEW_CONNECTION}\"\n[source]\nrealm = \"Legacy\"\n"),
    )
    .unwrap();
    let input = dir.path().join("auth0-export.ndjson");
    fs::write(
        &input,
        json!({"user_id": "auth0|1", "email": "a@x.example"}).to_string() + "\n",
    )
    .unwrap();
    let out = dir.path().join("plan");
    let planned = trickle(
        &[
            "bulk",
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--source-kind",
            "api",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&planned.stderr);
    assert_eq!(planned.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--source-kind api"), "{stderr}");
    assert!(!out.exists());
}
