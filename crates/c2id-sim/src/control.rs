//! This emulator's part of the `/__sim/` control API (the rest is
//! `trickle-emulator`'s): the whole state, streamed, with every secret, for
//! tests that compare a source and a target. No token, never faulted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::state::AppState;
use crate::store::AuthzFilter;
use crate::stream::{self, Part};

pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/__sim/state", get(whole))
        .route("/__sim/clients", get(clients))
        .route("/__sim/authorizations", get(authorizations))
        .route("/__sim/sessions", get(sessions))
        .with_state(state)
}

fn streamed(state: Arc<AppState>, parts: Vec<Part>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json; charset=utf-8")
        .body(stream::body(state, parts))
        .expect("a valid response")
}

/// `{"version", "issuer", "clients": [...], "authorizations": [...], "sessions": {...}}`.
async fn whole(State(state): State<Arc<AppState>>) -> Response {
    let head = format!(
        "{{\"version\":{},\"issuer\":{},\"clients\":",
        Value::from(state.version.as_str()),
        Value::from(state.issuer.as_str())
    );
    let parts = vec![
        Part::Raw(Bytes::from(head)),
        Part::Clients,
        Part::Raw(Bytes::from_static(b",\"authorizations\":")),
        Part::Authorizations(AuthzFilter::All),
        Part::Raw(Bytes::from_static(b",\"sessions\":")),
        Part::Sessions(None),
        Part::Raw(Bytes::from_static(b"}")),
    ];
    streamed(state, parts)
}

async fn clients(State(state): State<Arc<AppState>>) -> Response {
    streamed(state, vec![Part::Clients])
}

async fn authorizations(State(state): State<Arc<AppState>>) -> Response {
    streamed(state, vec![Part::Authorizations(AuthzFilter::All)])
}

async fn sessions(State(state): State<Arc<AppState>>) -> Response {
    streamed(state, vec![Part::Sessions(None)])
}
