//! The session store API, `[issuer]/session-store/rest/v2/sessions`:
//! every session as one JSON object keyed by SID, one session (`SID`
//! header), one subject's (`?subject=`), creation (`SID-Key` recreates an
//! exported session under the SID this server computes) and deletion.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use trickle_emulator::unix_seconds;

use crate::api::{self, answer, error, json_object, query, refusal};
use crate::keys::{is_sid_key, new_sid_key};
use crate::state::AppState;
use crate::store::check_session;
use crate::stream::{self, Part};

fn invalid_request(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "No such session")
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `GET`: all sessions (an object keyed by SID), `?subject=` (that
/// subject's, the same shape), or the one named by the `SID` header.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    if let Some(sid) = header(&headers, "sid") {
        return match state.store().sessions.get(sid) {
            Some(json) => answer(
                StatusCode::OK,
                serde_json::from_str(json).expect("stored as JSON"),
            ),
            None => not_found(),
        };
    }
    let subject = query(raw.as_deref()).remove("subject");
    let body = stream::body(state.clone(), vec![Part::Sessions(subject)]);
    api::no_store(
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .expect("a valid response"),
    )
}

/// `POST`: stores a session; 201 `{"sid": …}`. With `SID-Key` (from 6.6)
/// the SID is that key plus this server's HMAC of it (a session already
/// there is replaced); without it, a new key. Absent `creation_time` and
/// `auth_time` become now.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    let mut object = match json_object(&body) {
        Ok(object) => object,
        Err(message) => return invalid_request(message),
    };
    if let Err(message) = check_session(&object) {
        return invalid_request(&message);
    }
    let given_key = header(&headers, "sid-key").filter(|_| state.version.supports_import());
    let key = match given_key {
        Some(key) if is_sid_key(key) => key.to_owned(),
        Some(_) => return invalid_request("SID-Key must be 1 to 256 base64url characters"),
        None => new_sid_key(&mut fastrand::Rng::new()),
    };
    let now = unix_seconds();
    for field in ["creation_time", "auth_time"] {
        object.entry(field).or_insert_with(|| Value::from(now));
    }
    let sid = state.keys.sid(&key);
    state.store().sessions.insert(
        sid.as_str().into(),
        Value::Object(object).to_string().into(),
    );
    answer(StatusCode::CREATED, json!({ "sid": sid }))
}

/// `DELETE` with the `SID` header: 204, or 404.
pub async fn delete(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    let Some(sid) = header(&headers, "sid") else {
        return invalid_request("Deleting needs the SID header");
    };
    match state.store().sessions.remove(sid) {
        Some(_) => api::no_store(
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Body::empty())
                .expect("a valid response"),
        ),
        None => not_found(),
    }
}
