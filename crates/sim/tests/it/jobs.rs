//! Bulk import jobs over real HTTP: creation, background completion,
//! imported users logging in, DUPLICATED_USER and upsert, schema errors,
//! the 500,000-byte file limit and the two-active-jobs limit.

use crate::common;

use std::time::{Duration, Instant};

use common::{answer, Env, LEGACY, LEGACY_ID, REALM};
use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use trickle_sim::{connection_id_for, Options, MAX_IMPORT_FILE_BYTES};

async fn import(env: &Env, token: &str, users: Vec<u8>, fields: &[(&str, &str)]) -> Response {
    let mut form = Form::new().part(
        "users",
        Part::bytes(users)
            .file_name("users.json")
            .mime_str("application/json")
            .expect("mime"),
    );
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    env.http
        .post(env.url("/api/v2/jobs/users-imports"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("answered")
}

/// Polls the job until it is neither pending nor processing.
async fn finished(env: &Env, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, job) = answer(env.get(&format!("/api/v2/jobs/{id}"), token).await).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if !matches!(job["status"].as_str(), Some("pending" | "processing")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn errors(env: &Env, token: &str, id: &str) -> Vec<Value> {
    let (status, body) = answer(env.get(&format!("/api/v2/jobs/{id}/errors"), token).await).await;
    assert_eq!(status, StatusCode::OK);
    body.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("an array of errors: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_completes_and_imported_users_can_log_in() {
    let env = Env::start(Options {
        job_delay: Duration::from_millis(300),
        ..common::quiet()
    })
    .await;
    let token = env.admin_token().await;
    let hash = bcrypt::hash("imported-pw", 4).expect("hash");
    let users = json!([
        {"email": "New@Example.com", "email_verified": true, "user_id": "imported|1", "password_hash": hash,
         "name": "New User", "app_metadata": {"roles": ["a"], "deep": {"x": "ü"}}, "user_metadata": {"k": "v"}},
        {"email": "second@example.com", "username": "second"}
    ]);
    let response = import(
        &env,
        &token,
        users.to_string().into_bytes(),
        &[
            ("connection_id", LEGACY_ID),
            ("upsert", "false"),
            ("external_id", "batch-1"),
            ("send_completion_email", "false"),
        ],
    )
    .await;
    let (status, job) = answer(response).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["type"], "users_import");
    assert_eq!(job["connection_id"], LEGACY_ID);
    assert_eq!(job["connection"], LEGACY);
    assert_eq!(job["upsert"], false);
    assert_eq!(job["external_id"], "batch-1");
    assert!(job["created_at"].is_string());
    let id = job["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("job_"));

    // Not done yet: the errors endpoint answers with the job itself.
    let (_, early) = answer(env.get(&format!("/api/v2/jobs/{id}/errors"), &token).await).await;
    assert!(
        matches!(early["status"].as_str(), Some("pending" | "processing")),
        "{early}"
    );

    let job = finished(&env, &token, &id).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(
        job["summary"],
        json!({"failed": 0, "updated": 0, "inserted": 2, "total": 2})
    );
    assert_eq!(errors(&env, &token, &id).await, Vec::<Value>::new());

    let imported = env.sim_user("auth0|imported|1").await;
    assert_eq!(imported["email"], "new@example.com");
    assert_eq!(imported["identities"][0]["connection"], LEGACY);
    assert_eq!(
        imported["app_metadata"],
        json!({"roles": ["a"], "deep": {"x": "ü"}})
    );
    let (status, _) = answer(env.login(LEGACY, "new@example.com", "imported-pw").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.login(LEGACY, "new@example.com", "wrong").await.status(),
        StatusCode::FORBIDDEN
    );
    // Without a hash the user exists but cannot log in.
    let second = env
        .sim_users()
        .await
        .into_iter()
        .find(|u| u["email"] == "second@example.com")
        .expect("imported");
    assert_eq!(
        second["identities"][0]["user_id"].as_str().map(str::len),
        Some(24)
    );
    assert_eq!(
        env.login(LEGACY, "second", "anything").await.status(),
        StatusCode::FORBIDDEN
    );

    let (status, body) = answer(env.get("/api/v2/jobs/job_doesnotexist00", &token).await).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("inexistent_job"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_fail_unless_upsert() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let realm_id = connection_id_for(REALM);
    let users = json!([
        {"email": "A@example.com", "name": "Changed", "app_metadata": {"only": "this"}},
        {"email": "fresh@example.com"},
        {"email": "fresh@example.com", "name": "twice in the file"}
    ])
    .to_string()
    .into_bytes();

    let (_, job) =
        answer(import(&env, &token, users.clone(), &[("connection_id", &realm_id)]).await).await;
    let job = finished(&env, &token, job["id"].as_str().expect("id")).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 2, "updated": 0, "inserted": 1, "total": 3})
    );
    let failures = errors(&env, &token, job["id"].as_str().expect("id")).await;
    assert_eq!(failures.len(), 2);
    for failure in &failures {
        assert_eq!(failure["errors"][0]["code"], "DUPLICATED_USER", "{failure}");
    }
    assert_eq!(
        failures[0]["user"]["email"], "A@example.com",
        "the user as sent"
    );
    assert_eq!(
        env.sim_user("auth0|a1").await["name"],
        "a@example.com",
        "unchanged"
    );

    let (_, job) = answer(
        import(
            &env,
            &token,
            users,
            &[("connection_id", &realm_id), ("upsert", "true")],
        )
        .await,
    )
    .await;
    assert_eq!(job["upsert"], true);
    let job = finished(&env, &token, job["id"].as_str().expect("id")).await;
    // fresh@ now exists: the first entry updates it, the second is a duplicate within the file.
    assert_eq!(
        job["summary"],
        json!({"failed": 1, "updated": 2, "inserted": 0, "total": 3})
    );
    let a = env.sim_user("auth0|a1").await;
    assert_eq!(a["name"], "Changed");
    assert_eq!(
        a["app_metadata"],
        json!({"only": "this"}),
        "upsert replaces metadata whole"
    );
    assert_eq!(a["email"], "a@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_errors_are_reported_per_user() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let users = json!([
        {"name": "no email"},
        {"email": "extra@example.com", "password": "plain"},
        {"email": "reserved@example.com", "app_metadata": {"blocked": true}},
        {"email": "prefixed@example.com", "user_id": "auth0|abc"},
        {"email": "ok@example.com"}
    ]);
    let (_, job) = answer(
        import(
            &env,
            &token,
            users.to_string().into_bytes(),
            &[("connection_id", LEGACY_ID)],
        )
        .await,
    )
    .await;
    let id = job["id"].as_str().expect("id").to_owned();
    let job = finished(&env, &token, &id).await;
    assert_eq!(
        job["summary"],
        json!({"failed": 4, "updated": 0, "inserted": 1, "total": 5})
    );
    let found: Vec<(String, String)> = errors(&env, &token, &id)
        .await
        .iter()
        .map(|e| {
            let first = &e["errors"][0];
            assert!(first["message"].is_string());
            (
                first["code"].as_str().expect("code").to_owned(),
                first["path"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("OBJECT_REQUIRED", "email"),
        ("OBJECT_ADDITIONAL_PROPERTIES", "password"),
        ("NOT_PASSED", "app_metadata.blocked"),
        ("PATTERN", "user_id"),
    ]
    .iter()
    .map(|(c, p)| (c.to_string(), p.to_string()))
    .collect();
    assert_eq!(found, expected);

    // A file that is not a JSON array fails the whole job.
    let (_, job) = answer(
        import(
            &env,
            &token,
            b"{\"not\": \"an array\"}".to_vec(),
            &[("connection_id", LEGACY_ID)],
        )
        .await,
    )
    .await;
    let job = finished(&env, &token, job["id"].as_str().expect("id")).await;
    assert_eq!(job["status"], "failed");
    assert!(job["status_details"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_limit_job_limit_and_bad_requests() {
    let env = Env::start(Options {
        job_delay: Duration::from_secs(30),
        ..common::quiet()
    })
    .await;
    let token = env.admin_token().await;

    // One byte over 500,000.
    let mut big = b"[".to_vec();
    big.resize(MAX_IMPORT_FILE_BYTES, b' ');
    big.push(b']');
    assert_eq!(big.len(), 500_001);
    let (status, body) =
        answer(import(&env, &token, big, &[("connection_id", LEGACY_ID)]).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["statusCode"], 413);
    let mut exact = b"[".to_vec();
    exact.resize(MAX_IMPORT_FILE_BYTES - 1, b' ');
    exact.push(b']');
    let (status, first) =
        answer(import(&env, &token, exact, &[("connection_id", LEGACY_ID)]).await).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "exactly 500,000 bytes is accepted"
    );
    let (status, _) = answer(
        import(
            &env,
            &token,
            b"[]".to_vec(),
            &[("connection_id", LEGACY_ID)],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Both still pending (30 s delay): a third is refused.
    let (status, body) = answer(
        import(
            &env,
            &token,
            b"[]".to_vec(),
            &[("connection_id", LEGACY_ID)],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["statusCode"], 429);
    let (_, job) = answer(
        env.get(
            &format!("/api/v2/jobs/{}", first["id"].as_str().expect("id")),
            &token,
        )
        .await,
    )
    .await;
    assert!(matches!(
        job["status"].as_str(),
        Some("pending" | "processing")
    ));
    assert!(job.get("summary").is_none());

    let bad = [
        (
            vec![("connection_id", "con_doesnotexist0000")],
            StatusCode::BAD_REQUEST,
        ),
        (vec![], StatusCode::BAD_REQUEST),
        (
            vec![("connection_id", LEGACY_ID), ("upsert", "maybe")],
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (fields, status) in bad {
        let (got, body) = answer(import(&env, &token, b"[]".to_vec(), &fields).await).await;
        assert_eq!(got, status, "{fields:?}: {body}");
        assert_eq!(body["statusCode"], status.as_u16());
    }
    let response = env
        .http
        .post(env.url("/api/v2/jobs/users-imports"))
        .bearer_auth(&token)
        .json(&json!({"users": []}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let reader = env.token_for("reader", "reader-secret").await;
    let (status, body) = answer(
        import(
            &env,
            &reader,
            b"[]".to_vec(),
            &[("connection_id", LEGACY_ID)],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "Insufficient scope, expected any of: create:users"
    );
}
