//! `/__sim/users` (the rest of the `/__sim/` control API is the shared one
//! of `trickle-emulator`: never faulted, never rate-limited), and the
//! discovery documents.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::reply::json;
use crate::state::{lock, AppState};

/// Every stored user, as the Management API shows them, no token needed.
pub async fn users(State(state): State<Arc<AppState>>) -> Response {
    let users: Vec<Value> = lock(&state.tenant)
        .users()
        .iter()
        .map(|u| u.to_json())
        .collect();
    json(StatusCode::OK, Value::Array(users))
}

/// `/.well-known/openid-configuration`, for the base URL the request
/// reached. Only the endpoints served here are advertised: a client that
/// discovers an `/authorize` or `/userinfo` would try it and fail.
pub async fn openid_configuration(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let base = state.base_for(&headers);
    json(
        StatusCode::OK,
        json!({
            "issuer": format!("{base}/"),
            "token_endpoint": format!("{base}/oauth/token"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["code", "token", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["client_credentials", "password", "http://auth0.com/oauth/grant-type/password-realm"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "iat", "iss", "name", "nickname", "picture", "sub", "updated_at"],
        }),
    )
}

/// `/.well-known/jwks.json`.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json(StatusCode::OK, state.keys.jwks())
}
