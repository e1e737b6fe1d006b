//! Injected faults, request counters and the rest of the `/__sim/` control
//! API over real HTTP; and the start-up time of a large seed (printed).

use crate::common;

use std::time::{Duration, Instant};

use common::{answer, fresh_client, Env, REALM};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::{Faults, Options, Seed, Sim, Stats};

async fn set_faults(env: &Env, faults: Value) -> (StatusCode, Value) {
    answer(
        env.http
            .put(env.url("/__sim/faults"))
            .json(&faults)
            .send()
            .await
            .expect("answered"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_applies_to_auth0_endpoints_only() {
    let env = Env::start(common::quiet()).await;
    let (status, faults) = set_faults(&env, json!({"latency_ms": 300})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["latency_ms"], 300);
    let started = Instant::now();
    let response = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let (_, current) = answer(
        env.http
            .get(env.url("/__sim/faults"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "/__sim/ is never delayed"
    );
    assert_eq!(
        current,
        json!({"latency_ms": 300, "error_ratio": 0.0, "drop_ratio": 0.0, "malformed_ratio": 0.0, "truncate_ratio": 0.0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_faults_answer_503_with_auth0_like_bodies() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    set_faults(&env, json!({"error_ratio": 1.0})).await;
    let (status, body) = answer(env.login(REALM, "a@example.com", "a-pw").await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"].is_string() && body["error_description"].is_string(),
        "{body}"
    );
    let (status, body) = answer(env.get("/api/v2/users/auth0%7Ca1", &token).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["statusCode"], 503);
    // A faulted login never reached the tenant.
    assert_eq!(env.sim_user("auth0|a1").await["logins_count"], 0);
    set_faults(&env, json!({})).await;
    assert_eq!(
        env.login(REALM, "a@example.com", "a-pw").await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_faults_close_the_connection_without_an_answer() {
    let env = Env::start(common::quiet()).await;
    set_faults(&env, json!({"drop_ratio": 1.0})).await;
    let result = fresh_client()
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await;
    let error = result.expect_err("no HTTP answer at all");
    assert!(error.status().is_none(), "{error}");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    let error = fresh_client()
        .post(env.url("/oauth/token"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect_err("dropped");
    assert!(error.status().is_none());
    // The control API still answers, and counted the dropped requests.
    let (_, stats) = answer(
        env.http
            .get(env.url("/__sim/stats"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(stats["requests"]["well_known"], 1);
    assert_eq!(stats["requests"]["token_client_credentials"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_faults_answer_200_with_a_body_that_is_not_json() {
    let env = Env::start(common::quiet()).await;
    set_faults(&env, json!({"malformed_ratio": 1.0})).await;
    let response = env.login(REALM, "a@example.com", "a-pw").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("a body");
    assert!(text.starts_with("<html>"), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_faults_send_part_of_the_body_then_close() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    set_faults(&env, json!({"truncate_ratio": 1.0})).await;
    let response = fresh_client()
        .get(env.url("/api/v2/users/auth0%7Cjane1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the status and headers arrive");
    assert_eq!(response.status(), StatusCode::OK, "the real status");
    let declared: usize = response.headers()["content-length"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a length");
    assert!(declared > 100);
    let error = response.bytes().await.expect_err("the body is cut short");
    assert!(
        error.is_body() || error.is_decode() || error.is_request(),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_validated_and_ratios_mix() {
    let env = Env::start(common::quiet()).await;
    for bad in [
        json!({"drop_ratio": 2.0}),
        json!({"error_ratio": -0.1}),
        json!({"typo_ratio": 0.5}),
        json!("x"),
    ] {
        let (status, body) = set_faults(&env, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // Half the requests fail: over 60 requests both kinds appear.
    set_faults(&env, json!({"error_ratio": 0.5})).await;
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(
            env.http
                .get(env.url("/.well-known/jwks.json"))
                .send()
                .await
                .expect("answered")
                .status(),
        );
    }
    assert!(statuses.contains(&StatusCode::OK));
    assert!(statuses.contains(&StatusCode::SERVICE_UNAVAILABLE));
    // The Rust API sets the same settings.
    env.sim.set_faults(Faults::default()).expect("valid");
    assert!(env
        .sim
        .set_faults(Faults {
            truncate_ratio: 7.0,
            ..Faults::default()
        })
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_each_endpoint_and_reset() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    env.login(REALM, "a@example.com", "a-pw").await;
    env.login(REALM, "a@example.com", "wrong").await;
    env.post_json("/oauth/token", json!({"grant_type": "refresh_token"}))
        .await;
    env.get("/api/v2/users-by-email?email=a%40example.com", &token)
        .await;
    env.get("/api/v2/users/auth0%7Ca1", &token).await;
    env.get("/api/v2/users?q=email%3Aa", &token).await;
    env.get("/api/v2/jobs/job_x", &token).await;
    env.http
        .patch(env.url("/api/v2/users/auth0%7Ca1"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("answered");
    env.http
        .get(env.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("answered");
    env.http
        .get(env.url("/nowhere"))
        .send()
        .await
        .expect("answered");
    let (_, stats) = answer(
        env.http
            .get(env.url("/__sim/stats"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(
        stats,
        json!({"total": 11, "requests": {
            "token_password_realm": 2, "token_client_credentials": 1, "token_other": 1,
            "users_by_email": 1, "get_user": 1, "patch_user": 1, "search_users": 1, "jobs": 1, "well_known": 1}})
    );
    let expected: Stats = serde_json::from_value(stats).expect("the same shape");
    assert_eq!(env.sim.stats(), expected);

    let (status, _) = answer(
        env.http
            .post(env.url("/__sim/stats/reset"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env.sim.stats(), Stats::default());
    // /__sim/ requests are not counted.
    env.http
        .get(env.url("/__sim/users"))
        .send()
        .await
        .expect("answered");
    assert_eq!(env.sim.stats().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_users_lists_every_user_without_a_token() {
    let env = Env::start(common::quiet()).await;
    let users = env.sim_users().await;
    assert_eq!(users.len(), 8);
    assert!(users.iter().all(|u| u["user_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("auth0|"))));
    assert!(users
        .iter()
        .all(|u| u.get("password").is_none() && u.get("password_hash").is_none()));
    assert_eq!(env.sim.users(), users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_seed_starts_quickly() {
    let users: Vec<Value> = (0..500)
        .map(|i| json!({"id": format!("u{i}"), "email": format!("user{i}@example.com"), "password": format!("pw{i}")}))
        .collect();
    let seed = Seed::from_json(
        &json!({"bcrypt_cost": 4, "clients": [{"client_id": "c", "client_secret": "s", "grant_types": ["password"]}],
                "users": users})
        .to_string(),
    )
    .expect("valid");
    let started = Instant::now();
    let sim = Sim::start_local(seed, Options::default())
        .await
        .expect("starts");
    let elapsed = started.elapsed();
    println!(
        "start-up with 500 users at bcrypt cost 4: {} ms",
        elapsed.as_millis()
    );
    let response = fresh_client()
        .post(format!("{}/oauth/token", sim.base_url()))
        .json(&json!({"grant_type": trickle_sim::PASSWORD_REALM_GRANT, "realm": REALM, "username": "user499@example.com",
                      "password": "pw499", "client_id": "c", "client_secret": "s", "scope": "openid"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_can_be_limited_to_one_kind_of_request() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let (status, faults) = set_faults(
        &env,
        json!({"error_ratio": 1.0, "only": "PATCH /api/v2/users/"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["only"], "PATCH /api/v2/users/");
    // Other requests, even to the same path, are served normally.
    let read = env.get("/api/v2/users/auth0%7Ca1", &token).await;
    assert_eq!(read.status(), StatusCode::OK);
    let patched = env
        .http
        .patch(env.url("/api/v2/users/auth0%7Ca1"))
        .bearer_auth(&token)
        .json(&json!({"app_metadata": {"x": 1}}))
        .send()
        .await
        .expect("answered");
    assert_eq!(patched.status(), StatusCode::SERVICE_UNAVAILABLE);
    // A malformed selector is refused and changes nothing.
    let (status, _) = set_faults(&env, json!({"error_ratio": 1.0, "only": "PATCH"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, current) = answer(
        env.http
            .get(env.url("/__sim/faults"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(current["only"], "PATCH /api/v2/users/");
}
