//! Custom APIs (Auth0 "resource servers") of the tenant, so it can play the
//! NEW tenant of a migration from a legacy user store: the scripts get a
//! client-credentials token whose audience is the legacy API's identifier,
//! signed with the tenant's one RS256 key (the JWKS is the same).
//!
//! Seed entry (`api_grants.rs`): `"apis": [{"identifier": "https://legacy.example/api",
//! "token_lifetime": 86400, "client_grants": [{"client_id": "m2m",
//! "scope": ["read:users"]}]}]`. A client may get a token for an API only
//! through a client grant, as in Auth0.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::clock::unix_seconds;
use crate::reply::{json, oauth_error};
use crate::state::{lock, AppState};
use crate::store::Client;

/// A client-credentials request for `audience`: `None` when the audience
/// is no custom API of the tenant (the caller goes on with the Management
/// API), else the answer.
pub fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    audience: &str,
    fields: &HashMap<String, String>,
) -> Option<Response> {
    let (lifetime, granted) = {
        let tenant = lock(&state.tenant);
        let api = tenant.apis.iter().find(|api| api.identifier == audience)?;
        let grant = api
            .client_grants
            .iter()
            .find(|grant| grant.client_id == client.client_id);
        (api.token_lifetime, grant.map(|grant| grant.scope.clone()))
    };
    let Some(granted) = granted else {
        return Some(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!(
                "Client is not authorized to access \"{audience}\". \
                 You need to create a \"client-grant\" associated to this API."
            ),
        ));
    };
    let scope = match scope_for(fields.get("scope"), &granted) {
        Ok(scope) => scope,
        Err(missing) => {
            return Some(oauth_error(
                StatusCode::FORBIDDEN,
                "access_denied",
                &format!("Client has not been granted scopes: {missing}"),
            ))
        }
    };
    Some(issue(state, headers, client, audience, lifetime, &scope))
}

/// The scopes a token gets: those asked for (all of them granted), or
/// every granted one when none are asked for; `Err` names the others.
pub fn scope_for(requested: Option<&String>, granted: &[String]) -> Result<String, String> {
    let requested: Vec<&str> = requested
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return Ok(granted.join(" "));
    }
    let missing: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|s| !granted.iter().any(|g| g == s))
        .collect();
    if missing.is_empty() {
        Ok(requested.join(" "))
    } else {
        Err(missing.join(", "))
    }
}

fn issue(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    audience: &str,
    lifetime: u64,
    scope: &str,
) -> Response {
    let now = unix_seconds();
    let mut claims = Map::new();
    for (key, value) in [
        ("iss", json!(format!("{}/", state.base_for(headers)))),
        ("sub", json!(format!("{}@clients", client.client_id))),
        ("aud", json!(audience)),
        ("iat", json!(now)),
        ("exp", json!(now + lifetime)),
        ("gty", json!("client-credentials")),
        ("azp", json!(client.client_id)),
    ] {
        claims.insert(key.to_owned(), value);
    }
    let mut body = json!({
        "access_token": "",
        "expires_in": lifetime,
        "token_type": "Bearer",
    });
    if !scope.is_empty() {
        claims.insert("scope".to_owned(), json!(scope));
        body["scope"] = json!(scope);
    }
    body["access_token"] = Value::String(state.keys.sign(&Value::Object(claims)));
    json(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_those_asked_for_within_the_grant() {
        let granted = vec!["read:users".to_owned(), "update:users".to_owned()];
        assert_eq!(
            scope_for(None, &granted),
            Ok("read:users update:users".to_owned())
        );
        let asked = "read:users".to_owned();
        assert_eq!(
            scope_for(Some(&asked), &granted),
            Ok("read:users".to_owned())
        );
        let too_much = "read:users delete:users".to_owned();
        assert_eq!(
            scope_for(Some(&too_much), &granted),
            Err("delete:users".to_owned())
        );
        assert_eq!(scope_for(None, &[]), Ok(String::new()));
    }
}
