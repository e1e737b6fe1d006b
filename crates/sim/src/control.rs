//! `/__sim/`: the emulator's own control API (not Auth0's), for tests and
//! people rehearsing a migration. Never faulted, never rate-limited.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::reply::json;
use crate::state::{lock, AppState, Faults, Stats};

fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({"statusCode": 400, "error": "Bad Request", "message": message}),
    )
}

pub async fn stats(State(state): State<Arc<AppState>>) -> Response {
    let stats = lock(&state.stats).clone();
    json(
        StatusCode::OK,
        serde_json::to_value(stats).expect("plain data"),
    )
}

pub async fn reset_stats(State(state): State<Arc<AppState>>) -> Response {
    *lock(&state.stats) = Stats::default();
    json(
        StatusCode::OK,
        serde_json::to_value(Stats::default()).expect("plain data"),
    )
}

pub async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    let faults = lock(&state.faults).clone();
    json(
        StatusCode::OK,
        serde_json::to_value(faults).expect("plain data"),
    )
}

/// Replaces the fault settings; omitted fields are 0.
pub async fn put_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return bad_request(&format!("invalid faults: {error}")),
    };
    if let Err(message) = faults.validate() {
        return bad_request(&message);
    }
    let shown = serde_json::to_value(&faults).expect("plain data");
    *lock(&state.faults) = faults;
    json(StatusCode::OK, shown)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    rps: u32,
}

pub async fn get_rate_limit(State(state): State<Arc<AppState>>) -> Response {
    let rps = lock(&state.rate).rps;
    json(StatusCode::OK, json!({"rps": rps}))
}

/// `{"rps": n}`; 0 turns the limit off.
pub async fn put_rate_limit(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let limit: RateLimit = match serde_json::from_slice(&body) {
        Ok(limit) => limit,
        Err(error) => return bad_request(&format!("invalid rate limit: {error}")),
    };
    lock(&state.rate).set(limit.rps);
    json(StatusCode::OK, json!({"rps": limit.rps}))
}

/// Every stored user, as the Management API shows them, no token needed.
pub async fn users(State(state): State<Arc<AppState>>) -> Response {
    let users: Vec<Value> = lock(&state.tenant)
        .users()
        .iter()
        .map(|u| u.to_json())
        .collect();
    json(StatusCode::OK, Value::Array(users))
}

/// `/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let base = state.base_for(&headers);
    json(
        StatusCode::OK,
        json!({
            "issuer": format!("{base}/"),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["code", "token", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials", "http://auth0.com/oauth/grant-type/password-realm"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "nickname", "picture", "sub", "updated_at"],
        }),
    )
}

/// `/.well-known/jwks.json`.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json(StatusCode::OK, state.keys.jwks())
}
