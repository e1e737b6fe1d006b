//! What the server shows about itself: the splash page at the issuer URL
//! (with the server version in its heading), the OpenID provider metadata
//! and the public JWK set.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// `GET [issuer]`: an HTML page whose heading is `Connect2id Server VERSION`.
pub async fn splash(State(state): State<Arc<AppState>>) -> Response {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Connect2id \
         Server</title></head>\n<body>\n<h1>Connect2id Server {version}</h1>\n<p>Emulated by \
         trickle c2id sim: test data only. Issuer: {issuer}</p>\n</body>\n</html>\n",
        version = state.version,
        issuer = state.issuer,
    );
    let mut response = (StatusCode::OK, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `GET [issuer]/.well-known/openid-configuration`. Only the endpoints
/// served here are advertised (no authorisation or token endpoint: the
/// emulator serves the web APIs a migration uses, not the OpenID flows).
pub async fn openid_configuration(State(state): State<Arc<AppState>>) -> Response {
    let issuer = &state.issuer;
    trickle_emulator::json(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "registration_endpoint": format!("{issuer}/clients"),
            "jwks_uri": format!("{issuer}/jwks.json"),
            "response_types_supported": ["code", "id_token", "code id_token"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
            "scopes_supported": ["openid", "email", "profile", "offline_access"],
        }),
    )
}

/// `GET [issuer]/jwks.json`: the public keys only.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    trickle_emulator::json(StatusCode::OK, state.keys.public().clone())
}
