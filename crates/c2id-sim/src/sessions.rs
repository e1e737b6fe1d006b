//! The session store API, `[issuer]/session-store/rest/v2/sessions`:
//! every session as one JSON object keyed by SID, one session (`SID`
//! header, optionally without refreshing it), one subject's (`?subject=`),
//! creation (`SID-Key` recreates an exported session under the SID this
//! server computes), update in place (`PUT`), and logout of one session or
//! of all a subject's.

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
use crate::sweep;

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
/// subject's, the same shape), or the one named by the `SID` header. Reading
/// one session uses it (its last-used time, so its max idle expiry, moves
/// on) unless `?skip_last_used_update=true` (from 15.3).
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    let mut params = query(raw.as_deref());
    if let Some(sid) = header(&headers, "sid") {
        let skip = params.get("skip_last_used_update").map(String::as_str) == Some("true");
        return read_one(&state, sid, skip);
    }
    let body = stream::body(
        state.clone(),
        vec![Part::Sessions(params.remove("subject"))],
    );
    api::no_store(
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .expect("a valid response"),
    )
}

fn read_one(state: &AppState, sid: &str, skip_last_used_update: bool) -> Response {
    let Some(session) = state.store().sessions.get(sid).map(|json| parse(json)) else {
        return not_found();
    };
    if !(skip_last_used_update && state.version.supports_skip_last_used_update()) {
        state.counters().session_last_used_updates += 1;
    }
    answer(StatusCode::OK, session)
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).expect("stored as JSON")
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

/// `PUT` with the `SID` header: replaces that session's object, which
/// must keep its subject; absent `creation_time` and `auth_time` keep their
/// values. 200 with the session as stored; 404 when there is none (an
/// update never creates one: that is `POST` with `SID-Key`).
pub async fn update(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    let Some(sid) = header(&headers, "sid") else {
        return invalid_request("Updating needs the SID header");
    };
    let mut object = match json_object(&body) {
        Ok(object) => object,
        Err(message) => return invalid_request(message),
    };
    if let Err(message) = check_session(&object) {
        return invalid_request(&message);
    }
    let mut store = state.store();
    let Some(stored) = store.sessions.get_mut(sid) else {
        return not_found();
    };
    let Value::Object(old) = parse(stored) else {
        unreachable!("sessions are stored as objects")
    };
    if old.get("sub") != object.get("sub") {
        return invalid_request("A session's subject (sub) cannot change");
    }
    for field in ["creation_time", "auth_time"] {
        if let (None, Some(kept)) = (object.get(field), old.get(field)) {
            object.insert(field.to_owned(), kept.clone());
        }
    }
    let updated = Value::Object(object);
    *stored = updated.to_string().into();
    answer(StatusCode::OK, updated)
}

/// `DELETE` with the `SID` header (log out of one session: 204, or 404) or
/// with `?subject=` (log the subject out everywhere: 204, however many).
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.session_store, &headers) {
        return refused;
    }
    let subject = query(raw.as_deref()).remove("subject");
    let removed = match (header(&headers, "sid"), subject) {
        (Some(sid), None) => state.store().sessions.remove(sid).is_some(),
        (None, Some(subject)) => {
            sweep::remove_sessions_of(&state, &subject);
            true
        }
        (Some(_), Some(_)) => return invalid_request("Give the SID header or a subject, not both"),
        (None, None) => return invalid_request("Deleting needs the SID header or a subject"),
    };
    if !removed {
        return not_found();
    }
    api::no_store(
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::empty())
            .expect("a valid response"),
    )
}
