//! The client registration endpoint, `[issuer]/clients`: RFC 7591
//! registration (with Connect2id's `preferred_client_id` and
//! `preferred_client_secret`), RFC 7592 read / update / delete, and the
//! listing of every client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use trickle_emulator::unix_seconds;

use crate::api::{self, answer, bearer, error, json_object, refusal, Refusal};
use crate::state::AppState;
use crate::store::{client_metadata, is_client_id, needs_secret, Client, MetadataError, Store};
use crate::stream::{self, Part};
use crate::tokens::random_token;

fn metadata_error(refused: MetadataError) -> Response {
    error(StatusCode::BAD_REQUEST, refused.error, &refused.description)
}

fn bad_metadata(description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
        description,
    )
}

/// `GET /clients`: every registration, secrets included (master token).
pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&state.tokens.client_registration, &headers) {
        return refused;
    }
    let body = stream::body(state.clone(), vec![Part::Clients]);
    api::no_store(
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .expect("a valid response"),
    )
}

/// `POST /clients`: registers a client; 201 with its full registration.
pub async fn register(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.client_registration, &headers) {
        return refused;
    }
    let mut request = match json_object(&body) {
        Ok(object) => object,
        Err(message) => return bad_metadata(message),
    };
    let (preferred_id, preferred_secret) = if state.version.supports_preferred_credentials() {
        (
            request.remove("preferred_client_id"),
            request.remove("preferred_client_secret"),
        )
    } else {
        (None, None)
    };
    let metadata = match client_metadata(&request) {
        Ok(metadata) => metadata,
        Err(refused) => return metadata_error(refused),
    };
    let preferred_id = match preferred_id {
        None => None,
        Some(Value::String(id)) if is_client_id(&id) => Some(id),
        Some(_) => return bad_metadata(
            "preferred_client_id must be 1 to 255 printable characters without / ? # % or spaces",
        ),
    };
    let preferred_secret = match preferred_secret {
        None => None,
        Some(Value::String(secret)) if !secret.is_empty() => Some(secret),
        Some(_) => return bad_metadata("preferred_client_secret must be a non-empty string"),
    };
    let with_secret = needs_secret(&metadata);
    if preferred_secret.is_some() && !with_secret {
        return bad_metadata(
            "preferred_client_secret is set, but the token_endpoint_auth_method uses no secret",
        );
    }
    let mut rng = fastrand::Rng::new();
    let mut store = state.store();
    let id: Box<str> = match preferred_id {
        Some(id) if store.clients.contains_key(id.as_str()) => {
            return bad_metadata("The preferred_client_id is already registered");
        }
        Some(id) => id.into(),
        None => loop {
            let id: String = (0..13)
                .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz234567"[rng.usize(..32)]))
                .collect();
            if !store.clients.contains_key(id.as_str()) {
                break id.into();
            }
        },
    };
    let secret = with_secret.then(|| {
        preferred_secret
            .map(String::into_boxed_str)
            .unwrap_or_else(|| random_token(&mut rng))
    });
    let client = Client {
        secret,
        issued_at: unix_seconds(),
        registration_token: random_token(&mut rng),
        metadata: Value::Object(metadata).to_string().into(),
    };
    let shown = Store::client_json(&id, &client, &state.issuer);
    store.clients.insert(id, client);
    answer(StatusCode::CREATED, shown)
}

/// RFC 7592: the master token, or the client's own registration access
/// token; `None` when the request may go on.
fn client_refusal(state: &AppState, headers: &HeaderMap, id: &str) -> Option<Response> {
    let Some(token) = bearer(headers) else {
        return Some(Refusal::Missing.response());
    };
    let own = || {
        state
            .store()
            .clients
            .get(id)
            .is_some_and(|client| *client.registration_token == *token)
    };
    if state.tokens.client_registration.accepts(token) || own() {
        None
    } else {
        Some(Refusal::Invalid.response())
    }
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_client",
        "No client registered with this client_id",
    )
}

/// `GET /clients/{id}`.
pub async fn read(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = client_refusal(&state, &headers, &id) {
        return refused;
    }
    match state.store().clients.get(id.as_str()) {
        Some(client) => answer(
            StatusCode::OK,
            Store::client_json(&id, client, &state.issuer),
        ),
        None => not_found(),
    }
}

/// `PUT /clients/{id}`: replaces the metadata (RFC 7592: the body holds
/// every field to keep, and the client's `client_id`); the credentials and
/// issue time stay, the registration access token too unless the server
/// rotates it on update.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = client_refusal(&state, &headers, &id) {
        return refused;
    }
    let request: Map<String, Value> = match json_object(&body) {
        Ok(object) => object,
        Err(message) => return bad_metadata(message),
    };
    if request
        .get("client_id")
        .is_some_and(|given| given.as_str() != Some(id.as_str()))
    {
        return bad_metadata("The client_id in the body does not match the URL");
    }
    let metadata = match client_metadata(&request) {
        Ok(metadata) => metadata,
        Err(refused) => return metadata_error(refused),
    };
    let mut store = state.store();
    let Some(client) = store.clients.get_mut(id.as_str()) else {
        return not_found();
    };
    if !request.contains_key("client_id") {
        return bad_metadata("The body must hold the client's client_id (RFC 7592)");
    }
    if let Some(given) = request.get("client_secret") {
        if given.as_str() != client.secret.as_deref() {
            return bad_metadata("The client_secret in the body does not match");
        }
    }
    if needs_secret(&metadata) != client.secret.is_some() {
        return bad_metadata(
            "The token_endpoint_auth_method cannot change between secret and no secret",
        );
    }
    client.metadata = Value::Object(metadata).to_string().into();
    if state.rotate_registration_token {
        client.registration_token = random_token(&mut fastrand::Rng::new());
    }
    answer(
        StatusCode::OK,
        Store::client_json(&id, client, &state.issuer),
    )
}

/// `DELETE /clients/{id}`: 204.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = client_refusal(&state, &headers, &id) {
        return refused;
    }
    match state.store().clients.remove(id.as_str()) {
        Some(_) => api::no_store(
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(axum::body::Body::empty())
                .expect("a valid response"),
        ),
        None => not_found(),
    }
}
