//! Shared by the integration tests: a seeded emulator on a free loopback
//! port, driven over real HTTP.
#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use trickle_sim::{Options, Seed, Sim, PASSWORD_REALM_GRANT};

pub const REALM: &str = "Username-Password-Authentication";
pub const LEGACY: &str = "Legacy-DB";
pub const LEGACY_ID: &str = "con_LegacyDB00000001";

/// Every test's tenant: two connections, clients with various grants and
/// scopes, and users covering the pitfalls.
pub fn seed_json() -> Value {
    json!({
        "bcrypt_cost": 4,
        "brute_force_threshold": 3,
        "connections": [{"name": REALM}, {"name": LEGACY, "id": LEGACY_ID}],
        "clients": [
            {"client_id": "app", "client_secret": "app-secret",
             "grant_types": ["password", "client_credentials"],
             "scopes": ["read:users", "update:users", "create:users"]},
            {"client_id": "reader", "client_secret": "reader-secret",
             "grant_types": ["client_credentials"], "scopes": ["read:users"]},
            {"client_id": "login-only", "client_secret": "login-secret",
             "grant_types": ["http://auth0.com/oauth/grant-type/password-realm"]},
            {"client_id": "no-scopes", "client_secret": "no-scopes-secret",
             "grant_types": ["client_credentials"]}
        ],
        "users": [
            {"id": "jane1", "connection": REALM, "email": "Jane@Example.com", "password": "jane-pw", "email_verified": true,
             "username": "jane", "name": "Jane Doe", "given_name": "Jane", "family_name": "Doe",
             "app_metadata": {"plan": "gold", "keep": 1, "nested": {"a": 1, "b": 2}},
             "user_metadata": {"lang": "fr", "city": "Zürich"}},
            {"id": "a1", "connection": REALM, "email": "a@example.com", "password": "a-pw"},
            {"id": "aa1", "connection": REALM, "email": "aa@example.com", "password": "aa-pw"},
            {"id": "blocked1", "connection": REALM, "email": "blocked@example.com", "password": "blocked-pw", "blocked": true},
            {"id": "mfa1", "connection": REALM, "email": "mfa@example.com", "password": "mfa-pw", "mfa": true},
            {"id": "legacy|42", "connection": LEGACY, "email": "jane@example.com", "password": "legacy-pw"},
            {"id": "brute1", "connection": REALM, "email": "brute@example.com", "password": "brute-pw"},
            {"id": "brute2", "connection": REALM, "email": "brute2@example.com", "password": "brute2-pw"}
        ]
    })
}

pub fn seed() -> Seed {
    Seed::from_json(&seed_json().to_string()).expect("the test seed is valid")
}

pub fn quiet() -> Options {
    Options {
        job_delay: Duration::from_millis(40),
        rate_limit: 0,
        ..Options::default()
    }
}

pub struct Env {
    pub sim: Sim,
    pub http: Client,
}

impl Env {
    pub async fn start(options: Options) -> Env {
        Env::with_seed(seed(), options).await
    }

    pub async fn with_seed(seed: Seed, options: Options) -> Env {
        let sim = Sim::start_local(seed, options).await.expect("starts");
        Env {
            sim,
            http: fresh_client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub fn audience(&self) -> String {
        format!("{}/api/v2/", self.sim.base_url())
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("answered")
    }

    pub async fn login(&self, realm: &str, username: &str, password: &str) -> Response {
        self.post_json(
            "/oauth/token",
            json!({
                "grant_type": PASSWORD_REALM_GRANT,
                "realm": realm,
                "username": username,
                "password": password,
                "client_id": "app",
                "client_secret": "app-secret",
                "scope": "openid",
            }),
        )
        .await
    }

    /// A Management API token for a seeded client.
    pub async fn token_for(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .post_json(
                "/oauth/token",
                json!({
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "audience": self.audience(),
                }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("a token").to_owned()
    }

    /// A token with read:users, update:users and create:users.
    pub async fn admin_token(&self) -> String {
        self.token_for("app", "app-secret").await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("answered")
    }

    pub async fn sim_users(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.url("/__sim/users"))
            .send()
            .await
            .expect("answered");
        response.json().await.expect("json")
    }

    pub async fn sim_user(&self, user_id: &str) -> Value {
        self.sim_users()
            .await
            .into_iter()
            .find(|u| u["user_id"] == user_id)
            .unwrap_or_else(|| panic!("{user_id} is stored"))
    }
}

/// A client that never reuses a connection (so a dropped connection is
/// never retried on another one behind the test's back).
pub fn fresh_client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Status and JSON body.
pub async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}
