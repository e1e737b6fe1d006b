//! What the three web APIs share: bearer-token checks (one token set per
//! API, RFC 6750 challenges), OAuth-style error bodies, JSON bodies and
//! query strings.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::tokens::TokenDigests;

/// A JSON answer that no cache may keep (they carry secrets).
pub fn answer(status: StatusCode, body: Value) -> Response {
    no_store(trickle_emulator::json(status, body))
}

pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `{"error", "error_description"}`, as OAuth 2.0 and RFC 7591 word errors.
pub fn error(status: StatusCode, code: &str, description: &str) -> Response {
    answer(
        status,
        json!({"error": code, "error_description": description}),
    )
}

/// The bearer token of a request, if it has one (`Bearer` in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Why a request may not use an API.
pub enum Refusal {
    /// No bearer token at all: a plain challenge (RFC 6750, section 3.1).
    Missing,
    /// A token this API does not know.
    Invalid,
    /// No token is configured for this API: it is switched off.
    Disabled,
}

impl Refusal {
    pub fn response(&self) -> Response {
        let (status, challenge, body) = match self {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                "Bearer",
                json!({"error_description": "Missing bearer access token"}),
            ),
            Refusal::Invalid => (
                StatusCode::UNAUTHORIZED,
                "Bearer error=\"invalid_token\", error_description=\"Invalid access token\"",
                json!({"error": "invalid_token", "error_description": "Invalid access token"}),
            ),
            Refusal::Disabled => (
                StatusCode::FORBIDDEN,
                "",
                json!({"error": "access_denied", "error_description": "Web API disabled"}),
            ),
        };
        let mut response = answer(status, body);
        if !challenge.is_empty() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// The answer refusing a request whose bearer token is not one of this
/// API's; `None` when it may go on.
pub fn refusal(tokens: &TokenDigests, headers: &HeaderMap) -> Option<Response> {
    let refused = if tokens.is_disabled() {
        Refusal::Disabled
    } else {
        match bearer(headers) {
            None => Refusal::Missing,
            Some(token) if tokens.accepts(token) => return None,
            Some(_) => Refusal::Invalid,
        }
    };
    Some(refused.response())
}

/// A body that must be one JSON object; the message never quotes the body.
pub fn json_object(body: &Bytes) -> Result<Map<String, Value>, &'static str> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("The request body must be a JSON object"),
        Err(_) => Err("The request body is not valid JSON"),
    }
}

/// The query string as a map (last value wins).
pub fn query(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| form(q.as_bytes())).unwrap_or_default()
}

/// A URL-encoded form (a body or a query string) as a map (last value wins).
pub fn form(encoded: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
