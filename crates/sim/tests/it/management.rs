//! The Management API over real HTTP: token checks and scopes, the user
//! endpoints (exact users-by-email vs the deliberately loose search, PATCH
//! merge semantics), and the rate limit with its headers.

use crate::common;

use common::{answer, Env, LEGACY, REALM};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::{Options, KEY_ID};

fn ids(users: &Value) -> Vec<String> {
    let mut ids: Vec<String> = users
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["user_id"].as_str().expect("user_id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// A token signed with the emulator's (public, fixed) key, with any claims.
fn forged(claims: Value) -> String {
    let key =
        EncodingKey::from_rsa_pem(include_bytes!("../../src/emulator_key.pem")).expect("the key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_owned());
    jsonwebtoken::encode(&header, &claims, &key).expect("signs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_by_email_is_exact_and_case_sensitive() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let (status, users) = answer(
        env.get("/api/v2/users-by-email?email=a%40example.com", &token)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&users), ["auth0|a1"], "aa@example.com must not match");
    // Stored lower-cased, compared exactly.
    let (_, users) = answer(
        env.get("/api/v2/users-by-email?email=A%40example.com", &token)
            .await,
    )
    .await;
    assert_eq!(users, json!([]));
    // Every connection.
    let (_, users) = answer(
        env.get("/api/v2/users-by-email?email=jane%40example.com", &token)
            .await,
    )
    .await;
    assert_eq!(ids(&users), ["auth0|jane1", "auth0|legacy|42"]);
    let legacy = users
        .as_array()
        .expect("array")
        .iter()
        .find(|u| u["user_id"] == "auth0|legacy|42")
        .expect("legacy");
    assert_eq!(
        legacy["identities"],
        json!([{"provider": "auth0", "connection": LEGACY, "user_id": "legacy|42", "isSocial": false}])
    );

    let (status, body) = answer(env.get("/api/v2/users-by-email", &token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["errorCode"], "invalid_query_string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_loose_on_purpose() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    for q in ["email%3A%22a%40example.com%22", "email%3Aa%40example.com"] {
        let (status, users) = answer(
            env.get(&format!("/api/v2/users?q={q}&search_engine=v3"), &token)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // Containment: aa@example.com and even mfa@example.com "match" a@example.com.
        assert_eq!(
            ids(&users),
            ["auth0|a1", "auth0|aa1", "auth0|mfa1"],
            "q={q}: the a@ / aa@ pitfall"
        );
    }
    let (_, page) = answer(
        env.get("/api/v2/users?q=identities.connection%3A%22Legacy-DB%22&search_engine=v3&include_totals=true", &token)
            .await,
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(ids(&page["users"]), ["auth0|legacy|42"]);
    let (_, page) = answer(
        env.get(
            "/api/v2/users?per_page=3&page=1&include_totals=true",
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["start"].as_u64(),
            page["length"].as_u64()
        ),
        (Some(8), Some(3), Some(3))
    );
    let (status, _) = answer(env.get("/api/v2/users?q=x&search_engine=v2", &token).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_user_by_encoded_id() {
    let env = Env::start(common::quiet()).await;
    let token = env.token_for("reader", "reader-secret").await;
    let (status, user) = answer(env.get("/api/v2/users/auth0%7Clegacy%7C42", &token).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["user_id"], "auth0|legacy|42");
    assert_eq!(user["identities"][0]["user_id"], "legacy|42");
    assert_eq!(user["identities"][0]["connection"], LEGACY);

    let (_, jane) = answer(env.get("/api/v2/users/auth0%7Cjane1", &token).await).await;
    for (key, value) in [
        ("email", json!("jane@example.com")),
        ("email_verified", json!(true)),
        ("username", json!("jane")),
        ("name", json!("Jane Doe")),
        ("given_name", json!("Jane")),
        ("family_name", json!("Doe")),
        ("user_metadata", json!({"lang": "fr", "city": "Zürich"})),
        ("logins_count", json!(0)),
    ] {
        assert_eq!(jane[key], value, "{key}");
    }
    for key in ["nickname", "picture", "created_at", "updated_at"] {
        assert!(jane[key].is_string(), "{key}");
    }
    assert!(jane.get("blocked").is_none(), "blocked only when true");
    let (_, blocked) = answer(env.get("/api/v2/users/auth0%7Cblocked1", &token).await).await;
    assert_eq!(blocked["blocked"], true);

    assert_eq!(
        answer(env.get("/api/v2/users/auth0%7Cnobody", &token).await).await,
        (
            StatusCode::NOT_FOUND,
            json!({"statusCode": 404, "error": "Not Found", "message": "The user does not exist.", "errorCode": "inexistent_user"})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_merges_metadata_at_the_top_level_and_null_removes() {
    let env = Env::start(common::quiet()).await;
    let token = env.admin_token().await;
    let patch = |body: Value| {
        env.http
            .patch(env.url("/api/v2/users/auth0%7Cjane1"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let (status, user) = answer(
        patch(json!({
            "app_metadata": {"trickle_migrated_at": "2025-01-01T00:00:00.000Z", "keep": null, "nested": {"c": 3}},
            "user_metadata": {"lang": null, "emoji": "🦀"}
        }))
        .await
        .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let expected_app = json!({"plan": "gold", "trickle_migrated_at": "2025-01-01T00:00:00.000Z", "nested": {"c": 3}});
    assert_eq!(
        user["app_metadata"], expected_app,
        "top-level merge; nested objects replaced whole"
    );
    assert_eq!(
        user["user_metadata"],
        json!({"city": "Zürich", "emoji": "🦀"})
    );
    let stored = env.sim_user("auth0|jane1").await;
    assert_eq!(stored["app_metadata"], expected_app);

    let (status, user) = answer(
        patch(json!({"blocked": true, "name": "J. Doe"}))
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(
        (status, &user["blocked"], &user["name"]),
        (StatusCode::OK, &json!(true), &json!("J. Doe"))
    );
    let (status, user) = answer(patch(json!({"blocked": false})).await.expect("answered")).await;
    assert_eq!((status, &user["blocked"]), (StatusCode::OK, &json!(false)));

    let (status, body) = answer(
        patch(json!({"favourite_colour": "red"}))
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (status, _) = answer(
        patch(json!({"app_metadata": "not an object"}))
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = answer(
        patch(json!({"email": "A@example.com"}))
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let response = env
        .http
        .patch(env.url("/api/v2/users/auth0%7Cnobody"))
        .bearer_auth(&token)
        .json(&json!({"app_metadata": {}}))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer(response).await.1["errorCode"], "inexistent_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_and_scopes_enforced() {
    let env = Env::start(common::quiet()).await;
    let url = env.url("/api/v2/users/auth0%7Ca1");

    let (status, body) = answer(env.http.get(&url).send().await.expect("answered")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["statusCode"], 401);
    assert_eq!(body["error"], "Unauthorized");
    assert_eq!(body["message"], "Missing authentication");
    assert_eq!(body["attributes"]["error"], "Missing authentication");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let audience = env.audience();
    let real = env.admin_token().await;
    // Change a character in the middle of the signature (the last one
    // carries padding bits that may not change the decoded bytes).
    let mut tampered: Vec<char> = real.chars().collect();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    // A password-realm access token is opaque: not a Management API token.
    let (_, login) = answer(env.login(REALM, "a@example.com", "a-pw").await).await;
    let refused = [
        ("garbage".to_owned(), "Invalid token"),
        (tampered, "Invalid signature"),
        (
            login["access_token"].as_str().expect("token").to_owned(),
            "Invalid token",
        ),
        (
            forged(
                json!({"aud": audience, "exp": now - 10, "iat": now - 100, "scope": "read:users"}),
            ),
            "Expired token",
        ),
        (
            forged(
                json!({"aud": "https://other/api/v2/", "exp": now + 100, "scope": "read:users"}),
            ),
            "Bad audience",
        ),
    ];
    for (token, message) in refused {
        let (status, body) = answer(env.get("/api/v2/users/auth0%7Ca1", &token).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{message}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message)),
            "{message}: {body}"
        );
    }
    assert_eq!(
        env.get("/api/v2/users/auth0%7Ca1", &real).await.status(),
        StatusCode::OK
    );

    let reader = env.token_for("reader", "reader-secret").await;
    let response = env
        .http
        .patch(env.url("/api/v2/users/auth0%7Ca1"))
        .bearer_auth(&reader)
        .json(&json!({"app_metadata": {"x": 1}}))
        .send()
        .await
        .expect("answered");
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["errorCode"], "insufficient_scope");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Insufficient scope, expected any of: update:users")));

    let no_read = forged(json!({"aud": audience, "exp": now + 100, "scope": "update:users"}));
    assert_eq!(
        answer(
            env.get("/api/v2/users-by-email?email=a%40example.com", &no_read)
                .await
        )
        .await,
        (
            StatusCode::FORBIDDEN,
            json!({"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: read:users",
                   "errorCode": "insufficient_scope"})
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_headers_on_every_answer_and_429_past_the_limit() {
    let env = Env::start(Options {
        rate_limit: 3,
        ..common::quiet()
    })
    .await;
    let token = env.admin_token().await;
    let mut refused = 0;
    for _ in 0..10 {
        let response = env.get("/api/v2/users/auth0%7Ca1", &token).await;
        let header = |name: &str| -> u64 {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{name}"))
                .to_str()
                .expect("ascii")
                .parse()
                .expect("a number")
        };
        assert_eq!(header("x-ratelimit-limit"), 3);
        assert!(header("x-ratelimit-remaining") <= 2);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        assert!((now..=now + 2).contains(&header("x-ratelimit-reset")));
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(header("x-ratelimit-remaining"), 0);
            let (_, body) = answer(response).await;
            assert_eq!(body["statusCode"], 429);
            assert_eq!(body["error"], "Too Many Requests");
            assert_eq!(body["message"], "Global limit has been reached");
            refused += 1;
        }
    }
    // Ten requests span at most a few seconds; at 3/s some must be refused.
    assert!(refused >= 1, "no 429 in ten requests at 3/s");
    // Errors carry the headers too.
    let response = env
        .http
        .get(env.url("/api/v2/users/x"))
        .send()
        .await
        .expect("answered");
    assert!(response.headers().contains_key("x-ratelimit-reset"));
    // The token endpoint is not limited.
    for _ in 0..5 {
        env.admin_token().await;
    }

    // Off: no 429, no headers.
    let put = env
        .http
        .put(env.url("/__sim/rate-limit"))
        .json(&json!({"rps": 0}))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer(put).await.1, json!({"rps": 0}));
    for _ in 0..20 {
        let response = env.get("/api/v2/users/auth0%7Ca1", &token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("x-ratelimit-limit"));
    }
}
