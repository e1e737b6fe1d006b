//! The authorisation store API, `[issuer]/authz-store/rest/v3/authorizations`
//! (and `…/v2/…`, the same here): long-lived authorisations keyed by
//! subject and client, listed, read, added (`import=true` keeps them as
//! given) and deleted.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use trickle_emulator::unix_seconds;

use crate::api::{self, answer, error, form, json_object, query, refusal};
use crate::state::AppState;
use crate::store::AuthzFilter;
use crate::store::{authorization_key, AuthzKey};
use crate::stream::{self, Part};
use crate::sweep;
use crate::tokens::random_token;

fn invalid_request(description: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "No long-lived authorisation for this subject and client",
    )
}

/// `GET`: all (a JSON array), `?subject=` or `?client=` (arrays), or both
/// (the one authorisation, or 404).
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.authz_store, &headers) {
        return refused;
    }
    let params = query(raw.as_deref());
    let filter = match (params.get("subject"), params.get("client")) {
        (Some(sub), Some(cid)) => {
            let key: AuthzKey = (sub.as_str().into(), cid.as_str().into());
            return match state.store().authorizations.get(&key) {
                Some(json) => answer(
                    StatusCode::OK,
                    serde_json::from_str(json).expect("stored as JSON"),
                ),
                None => not_found(),
            };
        }
        (Some(sub), None) => AuthzFilter::Subject(sub.clone()),
        (None, Some(cid)) => AuthzFilter::Client(cid.clone()),
        (None, None) => AuthzFilter::All,
    };
    let body = stream::body(state.clone(), vec![Part::Authorizations(filter)]);
    api::no_store(
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .expect("a valid response"),
    )
}

/// `POST`: adds or replaces the authorisation of its subject and client.
/// `?import=true` (from 6.6) stores it exactly as given and answers it;
/// otherwise it is issued anew (`iat` now, `iss` this server) and the
/// answer is an authorisation code, or tokens with `?return=tokens`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.authz_store, &headers) {
        return refused;
    }
    let params = query(raw.as_deref());
    let mut object = match json_object(&body) {
        Ok(object) => object,
        Err(message) => return invalid_request(message),
    };
    let key = match authorization_key(&object) {
        Ok(key) => key,
        Err(message) => return invalid_request(&message),
    };
    let import =
        state.version.supports_import() && params.get("import").map(String::as_str) == Some("true");
    if !import {
        object.insert("iat".to_owned(), Value::from(unix_seconds()));
        object.insert("iss".to_owned(), Value::from(state.issuer.as_str()));
    }
    let stored = Value::Object(object);
    {
        let mut store = state.store();
        if !store.clients.contains_key(&key.1) {
            return invalid_request("The client (cid) is not registered");
        }
        store.authorizations.insert(key, stored.to_string().into());
    }
    if import {
        return answer(StatusCode::OK, stored);
    }
    let mut rng = fastrand::Rng::new();
    if params.get("return").map(String::as_str) == Some("tokens") {
        let scope: Vec<&str> = stored["scp"]
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        answer(
            StatusCode::OK,
            json!({
                "access_token": &*random_token(&mut rng),
                "token_type": "Bearer",
                "expires_in": 600,
                "refresh_token": &*random_token(&mut rng),
                "scope": scope.join(" "),
            }),
        )
    } else {
        answer(StatusCode::OK, json!({"code": &*random_token(&mut rng)}))
    }
}

/// `DELETE ?subject=&client=`: 204, or 404 when there is none.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.authz_store, &headers) {
        return refused;
    }
    let params = query(raw.as_deref());
    let (Some(sub), Some(cid)) = (params.get("subject"), params.get("client")) else {
        return invalid_request("Deleting needs both subject and client");
    };
    let key: AuthzKey = (sub.as_str().into(), cid.as_str().into());
    match state.store().authorizations.remove(&key) {
        Some(_) => api::no_store(
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Body::empty())
                .expect("a valid response"),
        ),
        None => not_found(),
    }
}

/// `POST …/revocation` with a form of `subject`, `client_id` or both:
/// removes the matching long-lived authorisations (consent withdrawn);
/// 200 with the removed ones as a JSON array in key order (`[]` when none
/// matched), or 204 with `?quiet=true` (from 12.17).
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Some(refused) = refusal(&state.tokens.authz_store, &headers) {
        return refused;
    }
    let quiet = state.version.supports_quiet_revocation()
        && query(raw.as_deref()).get("quiet").map(String::as_str) == Some("true");
    let params = form(&body);
    let given = |name: &str| params.get(name).filter(|value| !value.is_empty());
    let filter = match (given("subject"), given("client_id")) {
        (Some(sub), Some(cid)) => Err((sub.as_str().into(), cid.as_str().into())),
        (Some(sub), None) => Ok(AuthzFilter::Subject(sub.clone())),
        (None, Some(cid)) => Ok(AuthzFilter::Client(cid.clone())),
        (None, None) => return invalid_request("Revocation needs a subject, a client_id or both"),
    };
    let mut removed = Vec::new();
    match filter {
        Err(pair) => removed.extend(state.store().authorizations.remove::<AuthzKey>(&pair)),
        Ok(filter) => {
            sweep::remove_authorizations(&state, &filter, |_, json| {
                if !quiet {
                    removed.push(json)
                }
            });
        }
    }
    let response = Response::builder();
    let response = if quiet {
        response.status(StatusCode::NO_CONTENT).body(Body::empty())
    } else {
        response
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=utf-8")
            .body(stream::array_of(removed))
    };
    api::no_store(response.expect("a valid response"))
}
