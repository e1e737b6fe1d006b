//! Shared by the integration tests: `trickle-sim` playing the NEW tenant
//! (the token issuer, with the legacy API as a custom API), the emulated
//! legacy store on a free port, and requests over real HTTP.
#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use trickle_legacy_sim::{LegacySim, Options, Seed, Store};
use trickle_sim::Sim;

pub const API: &str = "https://legacy.example/api";
pub const WRITE_SCOPE: &str = "update:users";

/// The new tenant: `migration` may get tokens for the API (with the write
/// scope), `reader` too (without it), `outsider` only for another API.
pub async fn new_tenant() -> Sim {
    let seed = json!({
        "bcrypt_cost": 4,
        "clients": [
            {"client_id": "migration", "client_secret": "migration-secret", "grant_types": ["client_credentials"]},
            {"client_id": "reader", "client_secret": "reader-secret", "grant_types": ["client_credentials"]},
            {"client_id": "outsider", "client_secret": "outsider-secret", "grant_types": ["client_credentials"]}
        ],
        "apis": [
            {"identifier": API, "client_grants": [
                {"client_id": "migration", "scope": ["read:users", WRITE_SCOPE]},
                {"client_id": "reader", "scope": ["read:users"]}]},
            {"identifier": "https://other.example/api", "client_grants": [{"client_id": "outsider"}]}
        ]
    });
    let seed = trickle_sim::Seed::from_json(&seed.to_string()).expect("valid");
    let options = trickle_sim::Options {
        rate_limit: 0,
        ..trickle_sim::Options::default()
    };
    Sim::start_local(seed, options)
        .await
        .expect("the new tenant starts")
}

/// The legacy store's users: one per hash kind, a blocked one, a marked one, two with one email.
pub fn legacy_seed() -> Value {
    json!({
        "bcrypt_cost": 4,
        "users": [
            {"id": "u-1", "email": "Ada@Example.com", "email_verified": true, "username": "ada",
             "given_name": "Ada", "family_name": "Lovelace", "name": "Ada Lovelace",
             "user_metadata": {"lang": "en"}, "app_metadata": {"plan": "gold"},
             "password": "ada-pw"},
            {"id": "u-2", "email": "md5@example.com", "password": "md5-pw", "hash": {"algorithm": "md5"}},
            {"id": "u-3", "email": "blocked@example.com", "password": "blocked-pw", "blocked": true},
            {"id": "u-4", "email": "marked@example.com", "password": "marked-pw", "migrated_at": "2026-01-02T03:04:05Z"},
            {"id": "u-5", "email": "twice@example.com", "password": "one"},
            {"id": "u-6", "email": "Twice@example.com", "password": "two"},
            {"id": "u-7", "email": "nopassword@example.com"}
        ]
    })
}

pub struct Env {
    pub tenant: Sim,
    pub legacy: LegacySim,
    pub http: Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::with(|_| {}).await
    }

    /// With options changed by `tune` (issuer and audience already set).
    pub async fn with(tune: impl FnOnce(&mut Options)) -> Env {
        let tenant = new_tenant().await;
        let mut options = Options {
            issuer: format!("{}/", tenant.base_url()),
            audience: API.to_owned(),
            write_scope: Some(WRITE_SCOPE.to_owned()),
            ..Options::default()
        };
        tune(&mut options);
        let users = Seed::from_json(&legacy_seed().to_string())
            .unwrap()
            .users()
            .unwrap();
        let legacy = LegacySim::start_local(Store::new(users), options)
            .await
            .expect("starts");
        let http = Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Env {
            tenant,
            legacy,
            http,
        }
    }

    /// A client-credentials token of the new tenant.
    pub async fn token(&self, client: &str, audience: &str) -> String {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.tenant.base_url()))
            .json(
                &json!({"grant_type": "client_credentials", "client_id": client,
                          "client_secret": format!("{client}-secret"), "audience": audience}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn migration_token(&self) -> String {
        self.token("migration", API).await
    }

    /// One API request: status, `WWW-Authenticate`, `Retry-After`, JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.legacy.api_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (authenticate, retry_after) = (header("www-authenticate"), header("retry-after"));
        let status = response.status();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        Answer {
            status,
            authenticate,
            retry_after,
            body,
        }
    }

    pub async fn verify(&self, token: &str, username: &str, password: &str) -> Answer {
        let body = json!({"username": username, "password": password});
        self.call(Method::POST, "/users/verify", Some(token), Some(body))
            .await
    }

    pub async fn control(&self, method: Method, route: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/__sim/{route}", self.legacy.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{route}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub authenticate: Option<String>,
    pub retry_after: Option<String>,
    pub body: Value,
}
