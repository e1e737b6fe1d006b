//! The Authentication API over real HTTP: password-realm (success, every
//! refusal, brute force, MFA, blocked), client credentials, and tokens
//! verified against the published JWKS.

use crate::common;

use common::{answer, Env, LEGACY, REALM};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::PASSWORD_REALM_GRANT;

async fn jwks_key(env: &Env) -> (String, DecodingKey) {
    let (status, jwks) = answer(
        env.http
            .get(env.url("/.well-known/jwks.json"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert!(key["n"].as_str().is_some_and(|n| n.len() > 300));
    assert_eq!(key["e"], "AQAB");
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("a JWK set");
    let kid = key["kid"].as_str().expect("kid").to_owned();
    let decoding = DecodingKey::from_jwk(set.find(&kid).expect("by kid")).expect("usable");
    (kid, decoding)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_realm_success_signs_an_id_token_the_jwks_verifies() {
    let env = Env::start(common::quiet()).await;
    // Email in any case, as the login page sends it.
    let (status, body) = answer(env.login(REALM, "JANE@example.COM", "jane-pw").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("scope").is_none(), "granted as asked");
    assert_eq!(body["expires_in"], 86400);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 20));
    let id_token = body["id_token"].as_str().expect("an id_token");

    let header = jsonwebtoken::decode_header(id_token).expect("a JWT");
    let (kid, key) = jwks_key(&env).await;
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[format!("{}/", env.sim.base_url())]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("verifies against the JWKS")
        .claims;
    assert_eq!(claims["sub"], "auth0|jane1");
    assert_eq!(claims["email"], "jane@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Jane Doe");
    let (iat, exp) = (
        claims["iat"].as_u64().expect("iat"),
        claims["exp"].as_u64().expect("exp"),
    );
    assert!(exp > iat);

    // By username too, and the login is counted on the user.
    let (status, _) = answer(env.login(REALM, "jane", "jane-pw").await).await;
    assert_eq!(status, StatusCode::OK);
    let jane = env.sim_user("auth0|jane1").await;
    assert_eq!(jane["logins_count"], 2);
    assert!(jane["last_login"].is_string());

    // The same email in the other connection is another user with another password.
    let (status, body) = answer(env.login(LEGACY, "jane@example.com", "legacy-pw").await).await;
    assert_eq!(status, StatusCode::OK);
    let claims = jsonwebtoken::decode::<Value>(
        body["id_token"].as_str().expect("id_token"),
        &key,
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(claims["sub"], "auth0|legacy|42");
    let (status, _) = answer(env.login(LEGACY, "jane@example.com", "jane-pw").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_bodies_basic_auth_and_scopes_without_openid() {
    let env = Env::start(common::quiet()).await;
    let response = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", PASSWORD_REALM_GRANT),
            ("realm", REALM),
            ("username", "a@example.com"),
            ("password", "a-pw"),
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("scope", "openid profile email"),
        ])
        .send()
        .await
        .expect("answered");
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("scope").is_none(), "granted as asked");
    assert!(body["id_token"].is_string());

    // client_secret_basic, and no openid scope: no id_token.
    let response = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth("app", Some("app-secret"))
        .json(&json!({"grant_type": PASSWORD_REALM_GRANT, "realm": REALM,
                      "username": "a@example.com", "password": "a-pw", "scope": "profile"}))
        .send()
        .await
        .expect("answered");
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("id_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_unknown_users_and_refused_clients() {
    let env = Env::start(common::quiet()).await;
    let wrong = json!({"error": "invalid_grant", "error_description": "Wrong email or password."});
    assert_eq!(
        answer(env.login(REALM, "a@example.com", "nope").await).await,
        (StatusCode::FORBIDDEN, wrong.clone())
    );
    assert_eq!(
        answer(env.login(REALM, "nobody@example.com", "x").await).await,
        (StatusCode::FORBIDDEN, wrong.clone())
    );
    // A user of another connection is unknown in this realm.
    assert_eq!(
        answer(env.login(REALM, "jane@example.com", "legacy-pw").await).await,
        (StatusCode::FORBIDDEN, wrong)
    );

    let base = json!({"grant_type": PASSWORD_REALM_GRANT, "realm": REALM, "username": "a@example.com",
                      "password": "a-pw", "scope": "openid"});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            json!({"client_id": "ghost", "client_secret": "x"}),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            json!({"client_id": "app", "client_secret": "wrong"}),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            json!({"client_id": "app"}),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            json!({"client_id": "reader", "client_secret": "reader-secret"}),
            StatusCode::FORBIDDEN,
            "unauthorized_client",
        ),
        (
            json!({"client_id": "app", "client_secret": "app-secret", "realm": "Nope"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"client_id": "app", "client_secret": "app-secret", "username": ""}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"client_id": "app", "client_secret": "app-secret", "grant_type": "refresh_token"}),
            StatusCode::FORBIDDEN,
            "unsupported_grant_type",
        ),
        (
            json!({"client_id": "app", "client_secret": "app-secret", "grant_type": "authorization_code"}),
            StatusCode::FORBIDDEN,
            "unsupported_grant_type",
        ),
    ];
    for (extra, status, error) in cases {
        let (got, body) = answer(env.post_json("/oauth/token", with(extra.clone())).await).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{extra}: {body}"
        );
        assert!(body["error_description"].is_string());
    }
    // The password-realm URL itself as the grant works like "password".
    let mut body = with(json!({"client_id": "login-only", "client_secret": "login-secret"}));
    body["username"] = json!("aa@example.com");
    body["password"] = json!("aa-pw");
    assert_eq!(
        env.post_json("/oauth/token", body).await.status(),
        StatusCode::OK
    );
    let response = env
        .http
        .post(env.url("/oauth/token"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(answer(response).await.1["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_and_mfa_users() {
    let env = Env::start(common::quiet()).await;
    assert_eq!(
        answer(env.login(REALM, "blocked@example.com", "blocked-pw").await).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "unauthorized", "error_description": "user is blocked"})
        )
    );
    // A wrong password is still just a wrong password.
    assert_eq!(
        answer(env.login(REALM, "blocked@example.com", "x").await)
            .await
            .1["error"],
        "invalid_grant"
    );

    let (status, body) = answer(env.login(REALM, "mfa@example.com", "mfa-pw").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "mfa_required");
    assert_eq!(
        body["error_description"],
        "Multifactor authentication required"
    );
    assert!(body["mfa_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body.get("id_token").is_none());
    assert_eq!(
        answer(env.login(REALM, "mfa@example.com", "x").await)
            .await
            .1["error"],
        "invalid_grant"
    );
    assert_eq!(env.sim_user("auth0|mfa1").await["logins_count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_protection_counts_failures_per_user() {
    // The test seed sets brute_force_threshold to 3.
    let env = Env::start(common::quiet()).await;
    let login = |user: &'static str, password: &'static str| env.login(REALM, user, password);

    // Two failures, then a success resets the counter.
    for _ in 0..2 {
        assert_eq!(
            login("brute@example.com", "x").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        login("brute@example.com", "brute-pw").await.status(),
        StatusCode::OK
    );
    for _ in 0..3 {
        assert_eq!(
            login("brute@example.com", "x").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    // Past the threshold even the right password is refused.
    let (status, body) = answer(login("brute@example.com", "brute-pw").await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "too_many_attempts");
    assert!(body["error_description"].is_string());
    assert_eq!(
        login("BRUTE@example.com", "x").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Others are not affected.
    assert_eq!(
        login("brute2@example.com", "brute2-pw").await.status(),
        StatusCode::OK
    );
    // A password change (PATCH) unblocks, as Auth0's reset does.
    let token = env.admin_token().await;
    let response = env
        .http
        .patch(env.url("/api/v2/users/auth0%7Cbrute1"))
        .bearer_auth(&token)
        .json(&json!({"password": "new-pw", "connection": REALM}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        login("brute@example.com", "new-pw").await.status(),
        StatusCode::OK
    );

    // Unknown users are counted too.
    for _ in 0..3 {
        assert_eq!(
            login("ghost@example.com", "x").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        login("ghost@example.com", "x").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_tokens_carry_the_clients_scopes() {
    let env = Env::start(trickle_sim::Options {
        token_lifetime_secs: 600,
        ..common::quiet()
    })
    .await;
    let (status, body) = answer(
        env.post_json(
            "/oauth/token",
            json!({"grant_type": "client_credentials", "client_id": "app", "client_secret": "app-secret",
                   "audience": env.audience()}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read:users update:users create:users");
    let (_, key) = jwks_key(&env).await;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[env.audience()]);
    let claims = jsonwebtoken::decode::<Value>(
        body["access_token"].as_str().expect("token"),
        &key,
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(claims["sub"], "app@clients");
    assert_eq!(claims["scope"], "read:users update:users create:users");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        600
    );

    // Form-encoded, asking for a subset.
    let response = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("audience", env.audience().as_str()),
            ("scope", "read:users"),
        ])
        .send()
        .await
        .expect("answered");
    assert_eq!(answer(response).await.1["scope"], "read:users");

    let refused = [
        (
            json!({"client_id": "app", "client_secret": "app-secret", "audience": "https://elsewhere/api/v2/"}),
            StatusCode::FORBIDDEN,
            "access_denied",
            Some("Service not enabled within domain"),
        ),
        (
            json!({"client_id": "app", "client_secret": "app-secret"}),
            StatusCode::FORBIDDEN,
            "access_denied",
            None,
        ),
        (
            json!({"client_id": "login-only", "client_secret": "login-secret", "audience": env.audience()}),
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            None,
        ),
        (
            json!({"client_id": "no-scopes", "client_secret": "no-scopes-secret", "audience": env.audience()}),
            StatusCode::FORBIDDEN,
            "access_denied",
            None,
        ),
        (
            json!({"client_id": "reader", "client_secret": "reader-secret", "audience": env.audience(), "scope": "update:users"}),
            StatusCode::FORBIDDEN,
            "access_denied",
            None,
        ),
        (
            json!({"client_id": "reader", "client_secret": "nope", "audience": env.audience()}),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            None,
        ),
    ];
    for (mut request, status, error, description) in refused {
        request["grant_type"] = json!("client_credentials");
        let (got, body) = answer(env.post_json("/oauth/token", request.clone()).await).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{request}: {body}"
        );
        if let Some(description) = description {
            assert!(
                body["error_description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(description)),
                "{body}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_configuration_points_at_the_emulator() {
    let env = Env::start(common::quiet()).await;
    let (status, config) = answer(
        env.http
            .get(env.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let base = env.sim.base_url();
    assert_eq!(config["issuer"], format!("{base}/"));
    assert_eq!(config["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(config["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let (kid, _) = jwks_key(&env).await;
    assert_eq!(kid, trickle_sim::KEY_ID);
}

/// examples/old-tenant-users.json is valid and has what it promises, with
/// the realm of examples/tenant-to-tenant.toml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_seed_covers_the_pitfalls() {
    let text = include_str!("../../../../examples/old-tenant-users.json");
    let toml = include_str!("../../../../examples/tenant-to-tenant.toml");
    assert!(toml.contains(&format!("realm = \"{REALM}\"")));
    let raw: Value = serde_json::from_str(text).expect("JSON");
    let seed = trickle_sim::Seed::from_json(text).expect("a valid seed");
    let users = raw["users"].as_array().expect("users");
    let password_of = |email: &str| {
        users
            .iter()
            .find(|u| u["email"] == email)
            .and_then(|u| u["password"].as_str())
            .expect("a password")
            .to_owned()
    };
    assert!(users.iter().any(|u| u["blocked"] == true));
    assert!(users.iter().any(|u| u["mfa"] == true));
    assert!(users
        .iter()
        .any(|u| u["id"].as_str().is_some_and(|id| id.contains('|'))));
    assert!(users.iter().any(|u| u["app_metadata"]
        .as_object()
        .is_some_and(|m| m.values().any(Value::is_object))));
    let client = &raw["clients"][0];
    for grant in ["password", "client_credentials"] {
        assert!(client["grant_types"]
            .as_array()
            .expect("grants")
            .contains(&json!(grant)));
    }

    let env = Env::with_seed(seed, common::quiet()).await;
    let login = |email: &str, password: String| {
        env.post_json(
            "/oauth/token",
            json!({"grant_type": PASSWORD_REALM_GRANT, "realm": REALM, "username": email, "password": password,
                   "client_id": client["client_id"], "client_secret": client["client_secret"], "scope": "openid"}),
        )
    };
    let jane = users[0]["email"].as_str().expect("email");
    assert_eq!(
        login(jane, password_of(jane)).await.status(),
        StatusCode::OK
    );
    let token = env
        .token_for(
            client["client_id"].as_str().expect("id"),
            client["client_secret"].as_str().expect("secret"),
        )
        .await;
    // The same email in two connections; a@ and aa@ both there.
    let (_, sams) = answer(
        env.get("/api/v2/users-by-email?email=sam%40example.com", &token)
            .await,
    )
    .await;
    assert_eq!(sams.as_array().map(Vec::len), Some(2));
    for email in ["a%40example.com", "aa%40example.com"] {
        let (_, found) = answer(
            env.get(&format!("/api/v2/users-by-email?email={email}"), &token)
                .await,
        )
        .await;
        assert_eq!(found.as_array().map(Vec::len), Some(1), "{email}");
    }
}

/// With a canonical host, the other names the emulator answers under play
/// custom domains: tokens may be asked through either, and the Management
/// API audience is the canonical one only, as Auth0's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canonical_host_makes_the_other_names_custom_domains() {
    let env = Env::start(trickle_sim::Options {
        canonical_host: Some("localhost".to_owned()),
        ..common::quiet()
    })
    .await;
    let port = env.sim.addr().port();
    let canonical = format!("http://localhost:{port}");
    let custom = format!("http://127.0.0.1:{port}");
    let ask = |base: String, audience: String| {
        let http = env.http.clone();
        async move {
            let response = http
                .post(format!("{base}/oauth/token"))
                .json(
                    &json!({"grant_type": "client_credentials", "client_id": "app",
                              "client_secret": "app-secret", "audience": audience}),
                )
                .send()
                .await
                .expect("answered");
            answer(response).await
        }
    };
    for base in [&canonical, &custom] {
        let (status, body) = ask(base.clone(), format!("{canonical}/api/v2/")).await;
        assert_eq!(status, StatusCode::OK, "through {base}: {body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let users = env
            .http
            .get(format!(
                "{canonical}/api/v2/users-by-email?email=jane%40example.com"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(users.status(), StatusCode::OK);
    }
    let (status, body) = ask(custom.clone(), format!("{custom}/api/v2/")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Service not enabled within domain"));
}
