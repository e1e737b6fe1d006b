//! The tenant as a client that reaches it over HTTPS (or through a proxy)
//! sees it: the issuer, the JWKS URL, the discovery document and the
//! Management API audience follow the scheme and host it was reached by
//! (or `public_url`), as a real tenant's do for its own domain; and the
//! discovery document names only endpoints that answer.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest_tls::{Certificate, Client, StatusCode};
use serde_json::{json, Value};
use trickle_emulator::TlsOptions;
use trickle_sim::{Options, Seed, Sim, PASSWORD_REALM_GRANT};

const REALM: &str = "Username-Password-Authentication";

fn seed() -> Seed {
    Seed::from_json(
        &json!({
            "bcrypt_cost": 4,
            "clients": [{"client_id": "app", "client_secret": "app-secret",
                         "grant_types": ["password", "client_credentials"], "scopes": ["read:users"]}],
            "users": [{"id": "jane1", "email": "jane@example.com", "password": "jane-pw", "name": "Jane"}]
        })
        .to_string(),
    )
    .expect("valid")
}

async fn start(options: Options) -> (Sim, Client) {
    let sim = Sim::start_local(
        seed(),
        Options {
            rate_limit: 0,
            ..options
        },
    )
    .await
    .expect("starts");
    let mut builder = Client::builder().pool_max_idle_per_host(0);
    if let Some(pem) = sim.ca_cert_pem() {
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(Certificate::from_pem(pem.as_bytes()).expect("a PEM"));
    }
    (sim, builder.build().expect("client"))
}

fn tls() -> Options {
    Options {
        tls: Some(TlsOptions::default()),
        ..Options::default()
    }
}

async fn json_of(response: reqwest_tls::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}")),
    )
}

async fn discovery(http: &Client, base: &str) -> Value {
    let (status, body) = json_of(
        http.get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body
}

async fn login(http: &Client, base: &str, grant: &str, realm: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({
        "grant_type": grant, "username": "jane@example.com", "password": "jane-pw",
        "client_id": "app", "client_secret": "app-secret", "scope": "openid",
    });
    if let Some(realm) = realm {
        body["realm"] = json!(realm);
    }
    json_of(
        http.post(format!("{base}/oauth/token"))
            .json(&body)
            .send()
            .await
            .expect("answered"),
    )
    .await
}

async fn management_token(http: &Client, base: &str, audience: &str) -> (StatusCode, Value) {
    json_of(
        http.post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "app"),
                ("client_secret", "app-secret"),
                ("audience", audience),
            ])
            .send()
            .await
            .expect("answered"),
    )
    .await
}

/// The id_token's claims, verified against the JWKS the discovery document names.
async fn verified_claims(http: &Client, discovered: &Value, id_token: &str) -> Value {
    let jwks_uri = discovered["jwks_uri"].as_str().expect("jwks_uri");
    let jwks: JwkSet = http
        .get(jwks_uri)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("a JWK set");
    let key = DecodingKey::from_jwk(&jwks.keys[0]).expect("usable");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[discovered["issuer"].as_str().expect("issuer")]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("iss, aud and signature as discovered")
        .claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_issuer_jwks_and_audience_are_https_for_the_host_asked_for() {
    let (sim, http) = start(tls()).await;
    let port = sim.addr().port();
    assert_eq!(sim.base_url(), format!("https://127.0.0.1:{port}"));
    for base in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let discovered = discovery(&http, &base).await;
        assert_eq!(discovered["issuer"], format!("{base}/"));
        assert_eq!(
            discovered["jwks_uri"],
            format!("{base}/.well-known/jwks.json")
        );
        assert_eq!(discovered["token_endpoint"], format!("{base}/oauth/token"));

        let (status, body) = login(&http, &base, PASSWORD_REALM_GRANT, Some(REALM)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = verified_claims(&http, &discovered, body["id_token"].as_str().unwrap()).await;
        assert_eq!(claims["iss"], format!("{base}/"));
        assert_eq!(claims["sub"], "auth0|jane1");

        // The audience an SDK derives from the domain: https://DOMAIN/api/v2/.
        let (status, body) = management_token(&http, &base, &format!("{base}/api/v2/")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let answer = http
            .get(format!(
                "{base}/api/v2/users-by-email?email=jane@example.com"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // Over HTTPS, the plain-http audience names no API of this tenant.
    let base = sim.base_url().to_owned();
    let plain_audience = format!("http://127.0.0.1:{port}/api/v2/");
    let (status, body) = management_token(&http, &base, &plain_audience).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "access_denied");
    assert!(sim.ca_cert_path().is_some_and(|path| path.exists()));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_public_url_is_the_tenant_domain() {
    let (sim, http) = start(Options {
        public_url: Some("https://old-tenant.example.test/".to_owned()),
        ..Options::default()
    })
    .await;
    let public = "https://old-tenant.example.test";
    assert_eq!(sim.public_url(), Some(public));
    let base = sim.base_url().to_owned();
    let discovered = discovery(&http, &base).await;
    assert_eq!(discovered["issuer"], format!("{public}/"));
    assert_eq!(
        discovered["jwks_uri"],
        format!("{public}/.well-known/jwks.json")
    );
    let (status, body) = login(&http, &base, PASSWORD_REALM_GRANT, Some(REALM)).await;
    assert_eq!(status, StatusCode::OK);
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<Value>(body["id_token"].as_str().unwrap())
            .expect("a JWT")
            .claims;
    assert_eq!(claims["iss"], format!("{public}/"));
    let (status, body) = management_token(&http, &base, &format!("{public}/api/v2/")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = management_token(&http, &base, &format!("{base}/api/v2/")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the bound address stays an audience"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discovery_document_names_only_endpoints_that_answer() {
    for options in [Options::default(), tls()] {
        let (sim, http) = start(options).await;
        let discovered = discovery(&http, sim.base_url()).await;
        let endpoints: Vec<(&String, &str)> = discovered
            .as_object()
            .unwrap()
            .iter()
            .filter(|(key, _)| key.ends_with("_endpoint") || key.ends_with("_uri"))
            .map(|(key, value)| (key, value.as_str().expect("a URL")))
            .collect();
        assert!(endpoints.len() >= 2, "{discovered}");
        for (key, url) in endpoints {
            // A POST-only endpoint answers a GET with 405, never 404.
            let status = http.get(url).send().await.expect("answered").status();
            assert!(
                status != StatusCode::NOT_FOUND,
                "{key} = {url} is advertised but not served ({status})"
            );
        }
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_grant_with_a_realm_logs_in_as_password_realm_does() {
    let (sim, http) = start(Options::default()).await;
    let base = sim.base_url().to_owned();
    let (status, body) = login(&http, &base, "password", Some(REALM)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id_token"].is_string());
    let (status, body) = login(&http, &base, "password", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no Default Directory here");
    assert_eq!(body["error"], "invalid_request");
    let stats = sim.stats();
    assert_eq!(stats.requests.token_password_realm, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_with_a_path_is_refused() {
    let error = Sim::start_local(
        seed(),
        Options {
            public_url: Some("https://example.test/tenant".to_owned()),
            ..Options::default()
        },
    )
    .await
    .err()
    .expect("refused");
    assert!(error.to_string().contains("no path"), "{error}");
}
