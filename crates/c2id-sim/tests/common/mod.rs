//! Shared by the integration tests: seeded emulators on free loopback
//! ports, driven over real HTTP.
#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use trickle_c2id_sim::{
    C2idSim, Options, Seed, AUTHZ_STORE_TOKEN, CLIENT_REGISTRATION_TOKEN, EXAMPLE_JWKS,
    SESSION_STORE_TOKEN,
};

pub const MASTER: &str = CLIENT_REGISTRATION_TOKEN;
pub const AUTHZ: &str = AUTHZ_STORE_TOKEN;
pub const SESSIONS: &str = SESSION_STORE_TOKEN;
pub const AUTHZ_V3: &str = "/authz-store/rest/v3/authorizations";
pub const AUTHZ_V2: &str = "/authz-store/rest/v2/authorizations";
pub const SESSIONS_PATH: &str = "/session-store/rest/v2/sessions";

pub fn example_jwks() -> Value {
    serde_json::from_str(EXAMPLE_JWKS).expect("JSON")
}

/// A JWK set with other secret material than the example's.
pub fn other_jwks() -> Value {
    json!({"keys": [
        {"kty": "oct", "kid": "hmac", "use": "sig", "alg": "HS256", "k": "b3RoZXItc2VjcmV0LW1hdGVyaWFsLWZvci10ZXN0cy0w"},
        {"kty": "EC", "kid": "other-ec", "crv": "P-256", "x": "WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis",
         "y": "y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE", "d": "Hndv7ZZjs_ke8o9zXYo3iq-Yr8SewI5vrqd0pAvEPqg"}
    ]})
}

/// The test seed: three clients, three authorisations, two sessions.
pub fn seed_json(version: &str) -> Value {
    json!({
        "version": version,
        "jwks": example_jwks(),
        "api_tokens": {"client_registration": MASTER, "authz_store": AUTHZ, "session_store": SESSIONS},
        "clients": [
            {"client_id": "webapp", "client_secret": "webapp-secret", "client_id_issued_at": 1600000000,
             "registration_access_token": "webapp-rat", "client_name": "Web app",
             "redirect_uris": ["https://app.example.com/cb"], "grant_types": ["authorization_code", "refresh_token"]},
            {"client_id": "spa", "redirect_uris": ["https://spa.example.com/"], "token_endpoint_auth_method": "none"},
            {"client_id": "m2m", "client_secret": "m2m-secret", "grant_types": ["client_credentials"]}
        ],
        "authorizations": [
            {"sub": "alice", "cid": "webapp", "scp": ["openid", "email"], "iat": 1700000000, "rft": "alice-refresh"},
            {"sub": "alice", "cid": "spa", "scp": ["openid"], "iat": 1700000001},
            {"sub": "bob", "cid": "webapp", "scp": ["openid"], "iat": 1700000002}
        ],
        "sessions": {
            "aliceKey0001": {"sub": "alice", "auth_time": 1700000000, "creation_time": 1700000000, "max_idle": 15, "data": {"x": 1}},
            "bobKey0002": {"sub": "bob", "auth_time": 1700000100, "creation_time": 1700000100}
        }
    })
}

pub fn seed(version: &str) -> Seed {
    Seed::from_json(&seed_json(version).to_string()).expect("the test seed is valid")
}

pub struct Env {
    pub sim: C2idSim,
    pub http: Client,
}

impl Env {
    pub async fn start(version: &str) -> Env {
        Env::with_seed(seed(version), Options::default()).await
    }

    pub async fn with_seed(seed: Seed, options: Options) -> Env {
        let sim = C2idSim::start_local(seed, options).await.expect("starts");
        Env {
            sim,
            http: fresh_client(),
        }
    }

    /// A URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.issuer())
    }

    /// A URL under the base (for `/__sim/`).
    pub fn control(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token).json(body)
    }

    pub async fn state(&self) -> Value {
        let response = self
            .http
            .get(self.control("/__sim/state"))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }
}

/// A client that never reuses a connection (so a dropped connection is
/// never retried on another one behind the test's back).
pub fn fresh_client() -> Client {
    Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
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

pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    answer(request.send().await.expect("answered")).await
}

/// Every write request the web APIs counted.
pub fn writes(r: &trickle_c2id_sim::Counters) -> u64 {
    r.client_register
        + r.client_update
        + r.client_delete
        + r.authz_v3_create
        + r.authz_v3_delete
        + r.authz_v3_revoke
        + r.authz_v2_create
        + r.authz_v2_delete
        + r.authz_v2_revoke
        + r.session_create
        + r.session_update
        + r.session_delete
}
