//! The contract's endpoints over real HTTP, with real tokens of the new
//! tenant (`trickle-sim`): what each answer means, and the `/__sim/` state.

use crate::common;

use common::Env;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tells_right_wrong_blocked_absent_and_ambiguous_apart() {
    let env = Env::start().await;
    let token = env.migration_token().await;
    let right = env.verify(&token, "ada@EXAMPLE.com", "ada-pw").await;
    assert_eq!(right.status, StatusCode::OK, "{:?}", right.body);
    assert_eq!(
        right.body["user"],
        json!({"id": "u-1", "email": "Ada@Example.com", "email_verified": true, "username": "ada",
               "given_name": "Ada", "family_name": "Lovelace", "name": "Ada Lovelace",
               "user_metadata": {"lang": "en"}, "app_metadata": {"plan": "gold"},
               "blocked": false, "migrated_at": null})
    );
    assert_eq!(
        env.verify(&token, "ADA", "ada-pw").await.status,
        StatusCode::OK,
        "by username"
    );
    assert_eq!(
        env.verify(&token, "md5@example.com", "md5-pw").await.status,
        StatusCode::OK
    );
    let cases = [
        (
            "ada@example.com",
            "Ada-pw",
            StatusCode::FORBIDDEN,
            "invalid_credentials",
        ),
        (
            "nobody@example.com",
            "x",
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        (
            "blocked@example.com",
            "blocked-pw",
            StatusCode::LOCKED,
            "user_blocked",
        ),
        (
            "blocked@example.com",
            "wrong",
            StatusCode::FORBIDDEN,
            "invalid_credentials",
        ),
        (
            "twice@example.com",
            "one",
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
        ),
        (
            "nopassword@example.com",
            "",
            StatusCode::FORBIDDEN,
            "invalid_credentials",
        ),
    ];
    for (username, password, status, code) in cases {
        let answer = env.verify(&token, username, password).await;
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (status, Some(code)),
            "{username}"
        );
        assert!(answer.body["error_description"].is_string());
    }
    let marked = env.verify(&token, "marked@example.com", "marked-pw").await;
    assert_eq!(
        marked.status,
        StatusCode::OK,
        "a marked user is still returned"
    );
    assert_eq!(marked.body["user"]["migrated_at"], "2026-01-02T03:04:05Z");
    let bad = env
        .call(
            Method::POST,
            "/users/verify",
            Some(&token),
            Some(json!({"username": "x"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_by_email_and_id() {
    let env = Env::start().await;
    let token = env.migration_token().await;
    let ids = |answer: &common::Answer| -> Vec<String> {
        answer.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let one = env
        .call(
            Method::GET,
            "/users?email=ADA%40example.COM",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (one.status, ids(&one)),
        (StatusCode::OK, vec!["u-1".to_owned()])
    );
    let two = env
        .call(
            Method::GET,
            "/users?email=twice%40example.com",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(ids(&two), ["u-5", "u-6"], "a broken store answers both");
    let none = env
        .call(
            Method::GET,
            "/users?email=a%40example.com",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (none.status, none.body.clone()),
        (StatusCode::OK, json!({"users": []}))
    );
    let missing = env.call(Method::GET, "/users", Some(&token), None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let user = env
        .call(Method::GET, "/users/u-2", Some(&token), None)
        .await;
    assert_eq!(
        (user.status, user.body["user"]["email"].as_str()),
        (StatusCode::OK, Some("md5@example.com"))
    );
    let absent = env
        .call(Method::GET, "/users/u-99", Some(&token), None)
        .await;
    assert_eq!(
        (absent.status, absent.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("user_not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_is_idempotent_and_unmarking_clears_only_the_marker_seen() {
    let env = Env::start().await;
    let token = env.migration_token().await;
    let mark = |at: &str| Some(json!({"migrated_at": at}));
    let first = env
        .call(
            Method::PUT,
            "/users/u-1/migrated",
            Some(&token),
            mark("2026-03-01T10:00:00Z"),
        )
        .await;
    assert_eq!(
        (first.status, first.body["user"]["migrated_at"].as_str()),
        (StatusCode::OK, Some("2026-03-01T10:00:00Z"))
    );
    let same = env
        .call(
            Method::PUT,
            "/users/u-1/migrated",
            Some(&token),
            mark("2026-03-01T10:00:00+00:00"),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "the same instant again");
    let other = env
        .call(
            Method::PUT,
            "/users/u-1/migrated",
            Some(&token),
            mark("2026-03-02T10:00:00Z"),
        )
        .await;
    assert_eq!(
        (other.status, other.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_migrated"))
    );
    assert_eq!(other.body["user"]["migrated_at"], "2026-03-01T10:00:00Z");
    for (body, status) in [
        (mark("yesterday"), StatusCode::BAD_REQUEST),
        (Some(json!({})), StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(
            env.call(Method::PUT, "/users/u-2/migrated", Some(&token), body)
                .await
                .status,
            status
        );
    }
    let absent = env
        .call(
            Method::PUT,
            "/users/u-99/migrated",
            Some(&token),
            mark("2026-03-01T10:00:00Z"),
        )
        .await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
    let reader = env.token("reader", common::API).await;
    let refused = env
        .call(
            Method::PUT,
            "/users/u-2/migrated",
            Some(&reader),
            mark("2026-03-01T10:00:00Z"),
        )
        .await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    let unmark = |at: &str| Some(json!({"expected_migrated_at": at}));
    let changed = env
        .call(
            Method::DELETE,
            "/users/u-1/migrated",
            Some(&token),
            unmark("2026-03-02T10:00:00Z"),
        )
        .await;
    assert_eq!(
        (changed.status, changed.body["error"].as_str()),
        (StatusCode::CONFLICT, Some("marker_changed"))
    );
    assert_eq!(
        changed.body["user"]["migrated_at"], "2026-03-01T10:00:00Z",
        "left alone"
    );
    let cleared = env
        .call(
            Method::DELETE,
            "/users/u-1/migrated",
            Some(&token),
            unmark("2026-03-01T10:00:00Z"),
        )
        .await;
    assert_eq!(
        (cleared.status, cleared.body["user"]["migrated_at"].clone()),
        (StatusCode::OK, Value::Null)
    );
    let again = env
        .call(
            Method::DELETE,
            "/users/u-1/migrated",
            Some(&token),
            unmark("2026-03-01T10:00:00Z"),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing to clear twice");
    let users = env.control(Method::GET, "users", Value::Null).await;
    assert_eq!(users.as_array().unwrap().len(), 7);
    assert_eq!(users[0]["migrated_at"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_is_ndjson_of_users_with_their_hashes() {
    let env = Env::start().await;
    let text = env
        .http
        .get(format!("{}/__sim/export", env.legacy.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 7);
    assert!(records[0]["password_hash"]["value"]
        .as_str()
        .unwrap()
        .starts_with("$2b$04$"));
    assert_eq!(records[1]["password_hash"]["algorithm"], "md5");
    assert!(records[6].get("password_hash").is_none());
    assert_eq!(records[3]["migrated_at"], "2026-01-02T03:04:05Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_may_live_under_a_base_path() {
    let env = Env::with(|options| options.base_path = "/auth0-migration".to_owned()).await;
    assert!(env.legacy.api_url().ends_with("/auth0-migration"));
    let token = env.migration_token().await;
    assert_eq!(
        env.verify(&token, "ada", "ada-pw").await.status,
        StatusCode::OK
    );
    let outside = env
        .http
        .post(format!("{}/users/verify", env.legacy.base_url()))
        .bearer_auth(&token)
        .json(&json!({"username": "ada", "password": "ada-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    assert_eq!(env.legacy.stats().requests.verify, 1);
}
