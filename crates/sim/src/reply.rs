//! Answers shaped as Auth0 shapes them: the Authentication API's
//! `{error, error_description}` and the Management API's
//! `{statusCode, error, message, errorCode}`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

pub use trickle_emulator::json;

/// An Authentication API (`/oauth/token`) error.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// A Management API error.
pub fn api_error(status: StatusCode, message: &str, error_code: Option<&str>) -> Response {
    let mut body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    if let Some(code) = error_code {
        body["errorCode"] = Value::String(code.to_owned());
    }
    json(status, body)
}

/// The Management API's 401, with the reason repeated under `attributes`.
pub fn unauthorized(message: &str) -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        json!({
            "statusCode": 401,
            "error": "Unauthorized",
            "message": message,
            "attributes": {"error": message},
        }),
    )
}
