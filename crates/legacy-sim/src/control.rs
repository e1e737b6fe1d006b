//! This emulator's part of the `/__sim/` control API (the rest is
//! `trickle-emulator`'s): no token, never faulted, never counted.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use trickle_emulator::{json, lock};

use crate::state::AppState;

/// `GET /__sim/users`, `GET /__sim/export`, `GET|PUT /__sim/reject-tokens`.
pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/__sim/users", get(users))
        .route("/__sim/export", get(export))
        .route("/__sim/reject-tokens", get(rejecting).put(reject))
        .with_state(state)
}

/// Every user as the API shows them (the state a test checks).
async fn users(State(state): State<Arc<AppState>>) -> Response {
    let users: Vec<Value> = lock(&state.store)
        .users()
        .iter()
        .map(|u| u.to_json())
        .collect();
    json(StatusCode::OK, Value::Array(users))
}

/// The legacy export of the whole store: NDJSON, one `User` with its
/// `password_hash` a line (what `trickle bulk plan --source-kind api` reads).
async fn export(State(state): State<Arc<AppState>>) -> Response {
    let mut text = String::new();
    for user in lock(&state.store).users() {
        text.push_str(&user.to_export().to_string());
        text.push('\n');
    }
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
    );
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reject {
    next: u32,
}

async fn rejecting(State(state): State<Arc<AppState>>) -> Response {
    let next = state.reject_tokens.load(Ordering::SeqCst);
    json(StatusCode::OK, json!({"next": next}))
}

/// `{"next": n}`: the next n API requests get 401 `invalid_token` whatever
/// their token (a revoked or rotated key, as the scripts must survive).
async fn reject(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Reject>(&body) {
        Ok(reject) => {
            state.reject_tokens.store(reject.next, Ordering::SeqCst);
            json(StatusCode::OK, json!({"next": reject.next}))
        }
        Err(error) => json(
            StatusCode::BAD_REQUEST,
            json!({"statusCode": 400, "error": "Bad Request", "message": format!("invalid body: {error}")}),
        ),
    }
}
