//! The tenant as the NEW tenant of a migration from a legacy store: client
//! credentials for a seeded custom API (the legacy API's audience), signed
//! with the tenant's key and verifiable with its JWKS; only granted clients,
//! only granted scopes; the Management API unchanged.

use crate::common;

use common::{answer, Env};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::{Seed, SeedError};

const API: &str = "https://legacy.example/api";

fn seed() -> Seed {
    let mut seed = common::seed_json();
    seed["clients"].as_array_mut().unwrap().push(json!({
        "client_id": "legacy-migration", "client_secret": "legacy-secret",
        "grant_types": ["client_credentials"]
    }));
    seed["apis"] = json!([{
        "identifier": API,
        "name": "Legacy user store",
        "token_lifetime": 600,
        "client_grants": [
            {"client_id": "legacy-migration", "scope": ["read:users", "update:users"]},
            {"client_id": "reader"}
        ]
    }]);
    Seed::from_json(&seed.to_string()).expect("valid")
}

async fn ask(
    env: &Env,
    client: &str,
    secret: &str,
    audience: &str,
    scope: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"grant_type": "client_credentials", "client_id": client,
                          "client_secret": secret, "audience": audience});
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    answer(env.post_json("/oauth/token", body).await).await
}

/// Verified as an API would: RS256 against the tenant's JWKS.
async fn verified_claims(env: &Env, token: &str) -> Value {
    let (_, jwks) = answer(
        env.http
            .get(env.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let kid = decode_header(token).expect("a JWT").kid.expect("a kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the JWKS has the token's key");
    let key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[API]);
    validation.set_issuer(&[format!("{}/", env.sim.base_url())]);
    decode::<Value>(token, &key, &validation)
        .expect("verifies")
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_client_gets_an_rs256_token_for_the_api() {
    let env = Env::with_seed(seed(), common::quiet()).await;
    let (status, body) = ask(&env, "legacy-migration", "legacy-secret", API, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read:users update:users");
    let claims = verified_claims(&env, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "legacy-migration@clients");
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["scope"], "read:users update:users");
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 600);

    let (status, body) = ask(
        &env,
        "legacy-migration",
        "legacy-secret",
        API,
        Some("read:users"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read:users");
    // A grant without scopes: a token without any.
    let (status, body) = ask(&env, "reader", "reader-secret", API, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("scope").is_none(), "{body}");
    let claims = verified_claims(&env, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "reader@clients");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_granted_clients_and_scopes_and_known_apis() {
    let env = Env::with_seed(seed(), common::quiet()).await;
    let (status, body) = ask(&env, "app", "app-secret", API, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client-grant"),
        "{body}"
    );
    let (status, body) = ask(
        &env,
        "legacy-migration",
        "legacy-secret",
        API,
        Some("read:users delete:users"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("delete:users"),
        "{body}"
    );
    let (status, body) = ask(&env, "legacy-migration", "wrong", API, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = ask(
        &env,
        "legacy-migration",
        "legacy-secret",
        "https://other.example/api",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Service not enabled"),
        "{body}"
    );
    // A password-realm-only client cannot use client credentials at all.
    let (status, body) = ask(&env, "login-only", "login-secret", API, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("unauthorized_client"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_is_unchanged_and_refuses_api_tokens() {
    let env = Env::with_seed(seed(), common::quiet()).await;
    let management = env.token_for("reader", "reader-secret").await;
    assert_eq!(
        env.get("/api/v2/users-by-email?email=a%40example.com", &management)
            .await
            .status(),
        StatusCode::OK
    );
    let (_, body) = ask(&env, "reader", "reader-secret", API, None).await;
    let api_token = body["access_token"].as_str().unwrap();
    let refused = env
        .get("/api/v2/users-by-email?email=a%40example.com", api_token)
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn the_seed_names_bad_grants() {
    let mut seed = common::seed_json();
    seed["apis"] = json!([
        {"identifier": API, "client_grants": [{"client_id": "nobody"}, {"client_id": "login-only"},
                                               {"client_id": "reader"}, {"client_id": "reader"}]},
        {"identifier": API, "token_lifetime": 0},
        {"identifier": " "}
    ]);
    let Err(SeedError::Invalid(problems)) = Seed::from_json(&seed.to_string()) else {
        panic!("accepted");
    };
    let text = problems.join("\n");
    for expected in [
        "unknown client \"nobody\"",
        "client \"login-only\" has no client_credentials grant type",
        "client \"reader\" is granted twice",
        "apis[1] (https://legacy.example/api): duplicate identifier",
        "token_lifetime must be between 1 and 2592000",
        "apis[2]: identifier must not be empty",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    seed["apis"] = json!([{"identifier": API, "grants": []}]);
    let message = Seed::from_json(&seed.to_string())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("grants"), "{message}");
}
