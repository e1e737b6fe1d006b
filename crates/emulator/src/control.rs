//! The generic part of the `/__sim/` control API: counters, their reset,
//! faults and the rate limit. Its error bodies are its own (the same in
//! every emulator), never an emulated API's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use crate::faults::Faults;
use crate::reply::json;
use crate::serve::Emulator;

/// `GET /__sim/stats`, `POST /__sim/stats/reset`, `GET|PUT /__sim/faults`,
/// `GET|PUT /__sim/rate-limit`; merge it into the emulator's router.
pub fn control_routes<E: Emulator>(emulator: Arc<E>) -> Router {
    Router::new()
        .route("/__sim/stats", get(stats::<E>))
        .route("/__sim/stats/reset", post(reset_stats::<E>))
        .route("/__sim/faults", get(get_faults::<E>).put(put_faults::<E>))
        .route(
            "/__sim/rate-limit",
            get(get_rate_limit::<E>).put(put_rate_limit::<E>),
        )
        .with_state(emulator)
}

fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({"statusCode": 400, "error": "Bad Request", "message": message}),
    )
}

async fn stats<E: Emulator>(State(emulator): State<Arc<E>>) -> Response {
    json(StatusCode::OK, emulator.stats())
}

async fn reset_stats<E: Emulator>(State(emulator): State<Arc<E>>) -> Response {
    emulator.reset_stats();
    json(StatusCode::OK, emulator.stats())
}

async fn get_faults<E: Emulator>(State(emulator): State<Arc<E>>) -> Response {
    let faults = emulator.controls().faults();
    json(
        StatusCode::OK,
        serde_json::to_value(faults).expect("plain data"),
    )
}

/// Replaces the fault settings; omitted fields are 0.
async fn put_faults<E: Emulator>(State(emulator): State<Arc<E>>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return bad_request(&format!("invalid faults: {error}")),
    };
    let shown = serde_json::to_value(&faults).expect("plain data");
    match emulator.controls().set_faults(faults) {
        Ok(()) => json(StatusCode::OK, shown),
        Err(message) => bad_request(&message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    rps: u32,
}

async fn get_rate_limit<E: Emulator>(State(emulator): State<Arc<E>>) -> Response {
    let rps = emulator.controls().rate_limit();
    json(StatusCode::OK, json!({"rps": rps}))
}

/// `{"rps": n}`; 0 turns the limit off.
async fn put_rate_limit<E: Emulator>(State(emulator): State<Arc<E>>, body: Bytes) -> Response {
    let limit: RateLimit = match serde_json::from_slice(&body) {
        Ok(limit) => limit,
        Err(error) => return bad_request(&format!("invalid rate limit: {error}")),
    };
    emulator.controls().set_rate_limit(limit.rps);
    json(StatusCode::OK, json!({"rps": limit.rps}))
}
