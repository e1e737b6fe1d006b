//! The contract's error body, which every layer answers with.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use trickle_emulator::json;

/// Every error body: `{"error": code, "error_description": text}`.
pub fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json(
        status,
        json!({"error": code, "error_description": description}),
    )
}
