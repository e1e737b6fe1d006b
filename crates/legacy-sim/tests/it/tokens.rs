//! The bearer token: every way it can be wrong is a 401 `invalid_token`
//! with `WWW-Authenticate`, never anything about the password; the JWKS is
//! fetched once; an issuer that cannot be reached is a 503; forced
//! rejections, faults and the rate limit answer as documented.

use crate::common;

use common::{Env, API};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trickle_legacy_sim::Faults;

/// Signed with trickle-sim's published test key (the new tenant's), so
/// only the claims make it wrong.
fn forged(claims: Value, kid: &str) -> String {
    let key =
        EncodingKey::from_rsa_pem(include_bytes!("../../../sim/src/emulator_key.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, &claims, &key).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_invalid_token_and_the_jwks_is_fetched_once() {
    let env = Env::start().await;
    let issuer = format!("{}/", env.tenant.base_url());
    let claims = |change: Value| {
        let mut claims = json!({"iss": issuer, "aud": API, "sub": "migration@clients", "iat": now(), "exp": now() + 600});
        for (key, value) in change.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let kid = trickle_sim::KEY_ID;
    let good = env.migration_token().await;
    let (head, _) = good.rsplit_once('.').unwrap();
    let other_api = env.token("outsider", "https://other.example/api").await;
    let hs256 = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(b"k"),
    )
    .unwrap();
    let bad_tokens = [
        ("expired", forged(claims(json!({"exp": now() - 5})), kid)),
        (
            "another issuer",
            forged(claims(json!({"iss": "https://evil.example/"})), kid),
        ),
        ("another audience", other_api),
        (
            "an end user's",
            forged(claims(json!({"sub": "auth0|123"})), kid),
        ),
        (
            "no exp",
            forged(
                json!({"iss": issuer, "aud": API, "sub": "migration@clients"}),
                kid,
            ),
        ),
        (
            "an unknown key",
            forged(claims(json!({})), "some-other-key"),
        ),
        ("HS256", hs256),
        ("a broken signature", format!("{head}.AAAA")),
        ("not a JWT", "opaque-token".to_owned()),
    ];
    for (what, token) in &bad_tokens {
        let answer = env.verify(token, "ada@example.com", "ada-pw").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["error"], "invalid_token", "{what}");
        assert_eq!(
            answer.authenticate.as_deref(),
            Some("Bearer error=\"invalid_token\""),
            "{what}"
        );
    }
    let missing = env.call(Method::GET, "/users/u-1", None, None).await;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    // A forged token with every claim right passes: the checks are the claims'.
    let fine = forged(claims(json!({"aud": ["https://x.example/", API]})), kid);
    assert_eq!(
        env.verify(&fine, "ada@example.com", "ada-pw").await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.verify(&good, "ada@example.com", "ada-pw").await.status,
        StatusCode::OK
    );
    let stats = env.legacy.stats();
    assert_eq!(stats.invalid_tokens, bad_tokens.len() as u64 + 1);
    assert_eq!(stats.jwks_fetches, 1, "fetched once, then kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_rejections_come_first_then_tokens_work_again() {
    let env = Env::start().await;
    let token = env.migration_token().await;
    let set = env
        .control(Method::PUT, "reject-tokens", json!({"next": 2}))
        .await;
    assert_eq!(set, json!({"next": 2}));
    for _ in 0..2 {
        assert_eq!(
            env.verify(&token, "ada", "ada-pw").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        env.verify(&token, "ada", "ada-pw").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_out_of_reach_is_an_outage_not_a_bad_token() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let env = Env::with(|options| options.issuer = format!("http://{address}/")).await;
    let token = env.migration_token().await;
    let answer = env.verify(&token, "ada", "ada-pw").await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable")
        )
    );
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("jwks.json"),
        "{:?}",
        answer.body
    );
    assert_eq!(env.legacy.stats().jwks_fetches, 1);
    let again = env.verify(&token, "ada", "ada-pw").await;
    assert_eq!(again.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        env.legacy.stats().jwks_fetches,
        2,
        "a failed fetch is tried again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_the_rate_limit_answer_as_documented() {
    let env = Env::start().await;
    let token = env.migration_token().await;
    env.legacy
        .set_faults(Faults {
            error_ratio: 1.0,
            only: Some("POST /users/verify".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let outage = env.verify(&token, "ada", "ada-pw").await;
    assert_eq!(
        (outage.status, outage.body["error"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("temporarily_unavailable")
        )
    );
    assert_eq!(
        env.call(Method::GET, "/users/u-1", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    env.legacy.set_faults(Faults::default()).unwrap();
    env.control(Method::PUT, "rate-limit", json!({"rps": 1}))
        .await;
    let mut limited = None;
    for _ in 0..3 {
        let answer = env
            .call(Method::GET, "/users/u-1", Some(&token), None)
            .await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("past one request a second: 429");
    assert_eq!(limited.body["error"], "too_many_requests");
    let wait: u64 = limited.retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&wait));
}
