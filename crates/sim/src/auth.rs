//! The Management API's bearer-token check: signature, expiry, audience
//! (as the request reached the tenant) and scopes. Every Management API
//! handler calls it first.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::reply::{api_error, unauthorized};
use crate::state::AppState;

#[derive(Deserialize)]
struct ManagementClaims {
    #[serde(default)]
    scope: String,
}

/// Checks the bearer token (signature, expiry, audience) and that it has
/// one of `any_of`'s scopes.
pub fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    any_of: &[&str],
) -> Result<(), Box<Response>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Box::new(unauthorized("Missing authentication")));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(Box::new(unauthorized(
            "Bad HTTP authentication header format",
        )));
    };
    let claims: ManagementClaims = state
        .keys
        .verify(token, &state.management_audiences(headers))
        .map_err(|problem| Box::new(unauthorized(problem.message())))?;
    if claims
        .scope
        .split_whitespace()
        .any(|granted| any_of.contains(&granted))
    {
        Ok(())
    } else {
        Err(Box::new(api_error(
            StatusCode::FORBIDDEN,
            &format!("Insufficient scope, expected any of: {}", any_of.join(",")),
            Some("insufficient_scope"),
        )))
    }
}
