//! This emulator's part of the `/__sim/` control API (the rest is
//! `trickle-emulator`'s): the whole state, streamed, with every secret, for
//! tests that compare a source and a target; and live churn's settings,
//! counters and one-shot batches. No token, never faulted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::changes;
use crate::churn::{ChurnBatch, ChurnRates};
use crate::state::AppState;
use crate::store::AuthzFilter;
use crate::stream::{self, Part};

pub fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/__sim/state", get(whole))
        .route("/__sim/clients", get(clients))
        .route("/__sim/authorizations", get(authorizations))
        .route("/__sim/sessions", get(sessions))
        .route(
            "/__sim/churn",
            get(churn_status).put(set_churn).post(set_churn),
        )
        .route("/__sim/churn/apply", post(apply_churn))
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

/// `{"statusCode": 400, …}`, as `trickle-emulator`'s control routes answer.
fn bad_request(message: &str) -> Response {
    trickle_emulator::json(
        StatusCode::BAD_REQUEST,
        json!({"statusCode": 400, "error": "Bad Request", "message": message}),
    )
}

fn status_of(state: &AppState) -> Response {
    let status = serde_json::to_value(state.churn.status()).expect("plain data");
    trickle_emulator::json(StatusCode::OK, status)
}

/// `{"rates": {...}, "seed", "done": {...}}`.
async fn churn_status(State(state): State<Arc<AppState>>) -> Response {
    status_of(&state)
}

/// The rates (omitted: 0; `{}` stops the churn) and optionally a new seed,
/// which restarts the random stream.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChurnSettings {
    #[serde(default)]
    revoke_authz: f64,
    #[serde(default)]
    edit_authz: f64,
    #[serde(default)]
    logout: f64,
    #[serde(default)]
    edit_sessions: f64,
    #[serde(default)]
    edit_clients: f64,
    #[serde(default)]
    delete_clients: f64,
    #[serde(default)]
    add: f64,
    seed: Option<u64>,
}

/// `PUT` (or `POST`) `/__sim/churn`: replaces the settings.
async fn set_churn(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let settings: ChurnSettings = match serde_json::from_slice(&body) {
        Ok(settings) => settings,
        Err(error) => return bad_request(&format!("invalid churn settings: {error}")),
    };
    let rates = ChurnRates {
        revoke_authz: settings.revoke_authz,
        edit_authz: settings.edit_authz,
        logout: settings.logout,
        edit_sessions: settings.edit_sessions,
        edit_clients: settings.edit_clients,
        delete_clients: settings.delete_clients,
        add: settings.add,
    };
    match state.churn.set(rates, settings.seed) {
        Ok(()) => status_of(&state),
        Err(message) => bad_request(&message),
    }
}

/// `POST /__sim/churn/apply`: makes the changes asked for now;
/// `{"applied": {...}, "done": {...}}`.
async fn apply_churn(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let batch: ChurnBatch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(error) => return bad_request(&format!("invalid churn batch: {error}")),
    };
    if let Err(message) = batch.check() {
        return bad_request(&message);
    }
    let applying = state.clone();
    let applied = tokio::task::spawn_blocking(move || changes::apply(&applying, &batch))
        .await
        .expect("churn never panics");
    let done = state.churn.status().done;
    trickle_emulator::json(StatusCode::OK, json!({"applied": applied, "done": done}))
}
