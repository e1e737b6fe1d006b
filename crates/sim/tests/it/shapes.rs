//! Answers whose shape a client may depend on, as Auth0 documents (or, where
//! it does not, as its users report) them: metadata removed by an empty
//! object, a token request body read only under its media type, the refusal
//! of a client that fails to authenticate (either form), `blocked: false`
//! kept, `scope` only when it differs from what was asked, and linked
//! accounts (a database identity linked under another provider's primary).

use crate::common;

use common::{answer, Env, REALM};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::{Seed, PASSWORD_REALM_GRANT};

fn seed_with(extra: Value) -> Seed {
    let mut seed = common::seed_json();
    for (key, value) in extra.as_object().expect("an object") {
        seed[key] = value.clone();
    }
    Seed::from_json(&seed.to_string()).expect("a valid seed")
}

fn password_grant(client_secret: &str) -> Value {
    json!({"grant_type": PASSWORD_REALM_GRANT, "realm": REALM, "username": "a@example.com",
           "password": "a-pw", "client_id": "app", "client_secret": client_secret, "scope": "openid"})
}

async fn post_raw(env: &Env, content_type: Option<&str>, body: String) -> (StatusCode, Value) {
    let mut request = env.http.post(env.url("/oauth/token")).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    answer(request.send().await.expect("answered")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_metadata_object_removes_the_metadata() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    for key in ["app_metadata", "user_metadata"] {
        let response = env
            .http
            .patch(env.url("/api/v2/users/auth0%7Cjane1"))
            .bearer_auth(&token)
            .json(&json!({ key: {} }))
            .send()
            .await
            .expect("answered");
        let (status, user) = answer(response).await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user[key], json!({}), "{key}: the answer");
        assert_eq!(
            env.sim_user("auth0|jane1").await[key],
            json!({}),
            "{key}: stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_request_body_is_read_only_under_its_media_type() {
    let env = Env::start(common::quiet()).await;
    let json_body = password_grant("app-secret").to_string();
    let form_body =
        "grant_type=client_credentials&client_id=app&client_secret=app-secret".to_owned();
    // The body is not read: the client never authenticated.
    for (content_type, body) in [
        (Some("text/plain"), json_body.clone()),
        (Some("text/plain;charset=UTF-8"), json_body.clone()),
        (None, json_body.clone()),
        (None, form_body.clone()),
        (Some("application/octet-stream"), json_body.clone()),
    ] {
        let (status, body) = post_raw(&env, content_type, body).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{content_type:?}: {body}"
        );
    }
    let (status, body) = post_raw(&env, Some("Application/JSON; charset=utf-8"), json_body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let with_audience = format!("{form_body}&audience={}", urlencoding(&env.audience()));
    let (status, body) = post_raw(
        &env,
        Some("application/x-www-form-urlencoded"),
        with_audience,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn urlencoding(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_fails_to_authenticate_is_refused_in_the_form_the_seed_picks() {
    let env = Env::with_seed(
        seed_with(json!({"client_auth_error": "access_denied"})),
        common::quiet(),
    )
    .await;
    let refused = json!({"error": "access_denied", "error_description": "Unauthorized"});
    let mut unknown = password_grant("x");
    unknown["client_id"] = json!("ghost");
    let credentials = json!({"grant_type": "client_credentials", "client_id": "app",
                             "client_secret": "wrong", "audience": env.audience()});
    for body in [password_grant("wrong"), unknown, credentials] {
        assert_eq!(
            answer(env.post_json("/oauth/token", body.clone()).await).await,
            (StatusCode::UNAUTHORIZED, refused.clone()),
            "{body}"
        );
    }
    let (status, body) = post_raw(&env, None, password_grant("app-secret").to_string()).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, refused));

    let problem =
        Seed::from_json(&json!({"client_auth_error": "unauthorized", "users": []}).to_string())
            .expect_err("refused");
    assert!(
        problem.to_string().contains("client_auth_error"),
        "{problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_false_is_shown_once_set() {
    let env = Env::start(common::quiet()).await;
    assert!(
        env.sim_user("auth0|a1").await.get("blocked").is_none(),
        "never set"
    );
    let token = env.admin_token().await;
    for blocked in [true, false] {
        let response = env
            .http
            .patch(env.url("/api/v2/users/auth0%7Ca1"))
            .bearer_auth(&token)
            .json(&json!({ "blocked": blocked }))
            .send()
            .await
            .expect("answered");
        let (status, user) = answer(response).await;
        assert_eq!(
            (status, &user["blocked"]),
            (StatusCode::OK, &json!(blocked))
        );
        assert_eq!(env.sim_user("auth0|a1").await["blocked"], json!(blocked));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_in_a_password_realm_answer_only_when_it_differs_from_the_request() {
    let env = Env::start(common::quiet()).await;
    let (status, body) = answer(env.login(REALM, "a@example.com", "a-pw").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("scope").is_none(), "granted as asked: {body}");
    assert!(body["id_token"].is_string());
    let mut unscoped = password_grant("app-secret");
    unscoped.as_object_mut().expect("object").remove("scope");
    let (status, body) = answer(env.post_json("/oauth/token", unscoped).await).await;
    assert_eq!(
        (status, &body["scope"]),
        (StatusCode::OK, &json!("openid")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_account_is_known_by_its_primary_identity() {
    let mut seed = common::seed_json();
    seed["users"].as_array_mut().expect("users").push(json!({
        "id": "linked1", "connection": REALM, "email": "linked@example.com", "password": "linked-pw",
        "primary_identity": {"provider": "google-oauth2", "user_id": "1098765"}
    }));
    let env = Env::with_seed(
        Seed::from_json(&seed.to_string()).expect("valid"),
        common::quiet(),
    )
    .await;
    let root = "google-oauth2|1098765";
    let user = env.sim_user(root).await;
    assert_eq!(
        user["identities"],
        json!([
            {"provider": "google-oauth2", "connection": "google-oauth2", "user_id": "1098765", "isSocial": true},
            {"provider": "auth0", "connection": REALM, "user_id": "linked1", "isSocial": false}
        ])
    );
    let (status, body) = answer(env.login(REALM, "linked@example.com", "linked-pw").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = body["id_token"]
        .as_str()
        .expect("id_token")
        .split('.')
        .nth(1)
        .expect("claims");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims)
            .expect("base64url"),
    )
    .expect("json");
    assert_eq!(claims["sub"], root);

    let token = env.admin_token().await;
    let (status, _) = answer(env.get("/api/v2/users/auth0%7Clinked1", &token).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the secondary id is no user");
    let (status, found) = answer(
        env.get("/api/v2/users/google-oauth2%7C1098765", &token)
            .await,
    )
    .await;
    assert_eq!((status, &found["user_id"]), (StatusCode::OK, &json!(root)));
    let (_, by_email) = answer(
        env.get("/api/v2/users-by-email?email=linked%40example.com", &token)
            .await,
    )
    .await;
    assert_eq!(by_email[0]["user_id"], root);

    let mut duplicate = common::seed_json();
    for id in ["one", "two"] {
        duplicate["users"]
            .as_array_mut()
            .expect("users")
            .push(json!({
                "id": id, "connection": REALM, "email": format!("{id}@example.com"),
                "primary_identity": {"provider": "google-oauth2", "user_id": "same"}
            }));
    }
    let problem = Seed::from_json(&duplicate.to_string()).expect_err("refused");
    assert!(
        problem.to_string().contains("google-oauth2|same"),
        "{problem}"
    );
}
