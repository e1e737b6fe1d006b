//! Users imported with a `custom_password_hash` log in with their original
//! password (and not with another), for every algorithm legacy stores use;
//! the import refuses what Auth0's schema refuses. The digests and the
//! PBKDF2 string are known answers from an independent implementation
//! (Python's hashlib), not made by the code under test.

use crate::common;

use std::time::{Duration, Instant};

use common::{answer, Env, LEGACY, LEGACY_ID};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "Corr3ct horse";

async fn import_and_wait(env: &Env, token: &str, users: Value) -> Value {
    let form = Form::new()
        .part(
            "users",
            Part::bytes(users.to_string().into_bytes())
                .file_name("users.json")
                .mime_str("application/json")
                .expect("mime"),
        )
        .text("connection_id", LEGACY_ID);
    let response = env
        .http
        .post(env.url("/api/v2/jobs/users-imports"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("answered");
    let (status, job) = answer(response).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().expect("an id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, job) = answer(env.get(&format!("/api/v2/jobs/{id}"), token).await).await;
        if !matches!(job["status"].as_str(), Some("pending" | "processing")) {
            let (_, errors) =
                answer(env.get(&format!("/api/v2/jobs/{id}/errors"), token).await).await;
            return json!({"job": job, "errors": errors});
        }
        assert!(Instant::now() < deadline, "job {id} never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn argon2id() -> String {
    use argon2::PasswordHasher;
    let params = argon2::Params::new(256, 1, 1, None).expect("params");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_with_salt(PASSWORD.as_bytes(), b"legacy-salt-16by")
        .expect("hashed")
        .to_string()
}

fn users() -> Vec<(&'static str, Value)> {
    vec![
        (
            "md5",
            json!({"algorithm": "md5", "hash": {"value": "3a325d57b2e9100c31116a33d8e2c5e0", "encoding": "hex"}}),
        ),
        (
            "sha1",
            json!({"algorithm": "sha1", "hash": {"value": "d0c577adf15948fdc3f6c225474f6d07e7112132", "encoding": "hex"},
                        "salt": {"value": "a1b2c3", "encoding": "hex", "position": "suffix"}}),
        ),
        (
            "sha256",
            json!({"algorithm": "sha256", "hash": {"value": "OM/b6u6+pxnK1QPcloAlb4eo2b6a675VD8xyT9LMvqY=", "encoding": "base64"},
                          "salt": {"value": "NaCl", "encoding": "utf8", "position": "prefix"}}),
        ),
        (
            "sha512",
            json!({"algorithm": "sha512", "hash": {"value": "2ca2d14176de4aead7d1e3c448e67da716ea39e70102f77df05507a58be33026fafd6758aae4787a2626ea0ca7bd2a386356c9d41124f66a77e9d814cedc61d4", "encoding": "hex"},
                          "salt": {"value": "AAFzYWx0", "encoding": "base64", "position": "suffix"}}),
        ),
        (
            "pbkdf2",
            json!({"algorithm": "pbkdf2", "hash": {"encoding": "utf8",
                          "value": "$pbkdf2-sha512$i=1000,l=64$bGVnYWN5LXNhbHQ$U2ceoS5Mp/7A389u7b+BTXZmzF2wTYClPwUJaX7yNubuUP0J5V9WTb84ltLk8W9wmZQwdBTOURNrQDztZjoDKg"}}),
        ),
        (
            "argon2",
            json!({"algorithm": "argon2", "hash": {"value": argon2id(), "encoding": "utf8"}}),
        ),
        (
            "bcrypt",
            json!({"algorithm": "bcrypt", "hash": {"value": bcrypt::hash(PASSWORD, 4).expect("hashed"), "encoding": "utf8"}}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_custom_hashes_log_in_with_the_original_password() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let records: Vec<Value> = users()
        .into_iter()
        .map(|(name, custom)| {
            json!({"email": format!("{name}@legacy.example"), "custom_password_hash": custom})
        })
        .collect();
    let done = import_and_wait(&env, &token, Value::Array(records)).await;
    assert_eq!(done["job"]["summary"]["inserted"], 7, "{done}");
    for (name, _) in users() {
        let email = format!("{name}@legacy.example");
        let (status, body) = answer(env.login(LEGACY, &email, PASSWORD).await).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(body["id_token"].is_string(), "{name}");
        let (status, body) = answer(env.login(LEGACY, &email, "corr3ct horse").await).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_refuses_custom_hashes_outside_the_schema() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let users = json!([
        {"email": "bad-encoding@legacy.example",
         "custom_password_hash": {"algorithm": "md5", "hash": {"value": "00", "encoding": "rot13"}}},
        {"email": "salted-argon@legacy.example",
         "custom_password_hash": {"algorithm": "argon2", "hash": {"value": argon2id()}, "salt": {"value": "s", "position": "prefix"}}},
        {"email": "fine@legacy.example",
         "custom_password_hash": {"algorithm": "md5", "hash": {"value": "3a325d57b2e9100c31116a33d8e2c5e0"}}}
    ]);
    let done = import_and_wait(&env, &token, users).await;
    assert_eq!(
        done["job"]["summary"],
        json!({"failed": 2, "updated": 0, "inserted": 1, "total": 3})
    );
    let paths: Vec<&str> = done["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .flat_map(|e| e["errors"].as_array().expect("per user"))
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "custom_password_hash.hash.encoding",
            "custom_password_hash.salt"
        ]
    );
    let (status, _) = answer(env.login(LEGACY, "fine@legacy.example", PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK);
}
