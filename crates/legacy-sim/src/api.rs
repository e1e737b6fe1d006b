//! The contract's five endpoints (see `docs/legacy-api.openapi.yaml`).
//! The bearer token was checked before any of them runs (`server.rs`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use trickle_emulator::{json, lock};

use crate::auth::Claims;
use crate::hashes;
use crate::reply::error;
use crate::state::AppState;
use crate::store::{parse_time, User};

fn invalid_request(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn user_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "user_not_found",
        "No user has this id or name",
    )
}

fn with_user(status: StatusCode, user: &User) -> Response {
    json(status, json!({"user": user.to_json()}))
}

/// A JSON object body with these string members, or why not.
fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8], shape: &str) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("the body must be {shape} ({e})"))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /users/verify`.
pub async fn verify(State(state): State<Arc<AppState>>, bytes: Bytes) -> Response {
    let credentials: Credentials = match body(&bytes, r#"{"username": "…", "password": "…"}"#) {
        Ok(credentials) => credentials,
        Err(why) => return invalid_request(&why),
    };
    let found: Vec<User> = lock(&state.store)
        .by_login_name(&credentials.username)
        .into_iter()
        .cloned()
        .collect();
    let user = match found.as_slice() {
        [] => return user_not_found(),
        [user] => user.clone(),
        _ => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "More than one user has this name: the store's uniqueness is broken",
            )
        }
    };
    // bcrypt and argon2 are slow on purpose: off the async threads.
    let stored = user.password.clone();
    let right = tokio::task::spawn_blocking(move || {
        stored.is_some_and(|stored| hashes::verify(&stored, &credentials.password))
    })
    .await
    .unwrap_or(false);
    if !right {
        return error(
            StatusCode::FORBIDDEN,
            "invalid_credentials",
            "Wrong username or password",
        );
    }
    if user.blocked {
        return error(StatusCode::LOCKED, "user_blocked", "The user is blocked");
    }
    with_user(StatusCode::OK, &user)
}

#[derive(Deserialize)]
pub struct EmailQuery {
    email: Option<String>,
}

/// `GET /users?email=…`.
pub async fn by_email(
    State(state): State<Arc<AppState>>,
    Query(query): Query<EmailQuery>,
) -> Response {
    let Some(email) = query.email.filter(|e| !e.is_empty()) else {
        return invalid_request("the email query parameter is required");
    };
    let users: Vec<Value> = lock(&state.store)
        .by_email(&email)
        .into_iter()
        .map(User::to_json)
        .collect();
    json(StatusCode::OK, json!({"users": users}))
}

/// `GET /users/{id}`.
pub async fn by_id(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match lock(&state.store).by_id(&id) {
        Some(user) => with_user(StatusCode::OK, user),
        None => user_not_found(),
    }
}

/// The 403 for a token that may not write, if it may not.
fn refused_write(state: &AppState, claims: &Claims) -> Option<Response> {
    let scope = state.write_scope.as_ref()?;
    (!claims.has_scope(scope)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("The token may not write: it lacks the scope {scope}"),
        )
    })
}

#[derive(Deserialize)]
struct Mark {
    migrated_at: String,
}

/// `PUT /users/{id}/migrated`: idempotent for the same instant.
pub async fn mark(
    State(state): State<Arc<AppState>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Some(response) = refused_write(&state, &claims) {
        return response;
    }
    let mark: Mark = match body(&bytes, r#"{"migrated_at": "<RFC 3339>"}"#) {
        Ok(mark) => mark,
        Err(why) => return invalid_request(&why),
    };
    let Ok(at) = parse_time(&mark.migrated_at) else {
        return invalid_request("migrated_at must be an RFC 3339 time");
    };
    let mut store = lock(&state.store);
    let Some(user) = store.by_id_mut(&id) else {
        return user_not_found();
    };
    match user.migrated_at.as_deref().map(parse_time) {
        Some(Ok(current)) if current != at => json(
            StatusCode::CONFLICT,
            json!({"error": "already_migrated", "error_description": "The user was marked migrated at another time",
                   "user": user.to_json()}),
        ),
        Some(Ok(_)) => with_user(StatusCode::OK, user),
        _ => {
            user.migrated_at = Some(mark.migrated_at);
            with_user(StatusCode::OK, user)
        }
    }
}

#[derive(Deserialize)]
struct Unmark {
    expected_migrated_at: String,
}

/// `DELETE /users/{id}/migrated`: only the marker the caller saw.
pub async fn unmark(
    State(state): State<Arc<AppState>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    if let Some(response) = refused_write(&state, &claims) {
        return response;
    }
    let unmark: Unmark = match body(&bytes, r#"{"expected_migrated_at": "<RFC 3339>"}"#) {
        Ok(unmark) => unmark,
        Err(why) => return invalid_request(&why),
    };
    let Ok(expected) = parse_time(&unmark.expected_migrated_at) else {
        return invalid_request("expected_migrated_at must be an RFC 3339 time");
    };
    let mut store = lock(&state.store);
    let Some(user) = store.by_id_mut(&id) else {
        return user_not_found();
    };
    match user.migrated_at.as_deref().map(parse_time) {
        Some(Ok(current)) if current == expected => {
            user.migrated_at = None;
            with_user(StatusCode::OK, user)
        }
        _ => json(
            StatusCode::CONFLICT,
            json!({"error": "marker_changed", "error_description": "The marker is not the one expected: left alone",
                   "user": user.to_json()}),
        ),
    }
}
