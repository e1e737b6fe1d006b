//! Custom APIs (Auth0 "resource servers") of the tenant, so it can play the
//! NEW tenant of a migration from a legacy user store: the scripts get a
//! client-credentials token whose audience is the legacy API's identifier,
//! signed with the tenant's one RS256 key (the JWKS is the same).
//!
//! Seed entry: `"apis": [{"identifier": "https://legacy.example/api",
//! "token_lifetime": 86400, "client_grants": [{"client_id": "m2m",
//! "scope": ["read:users"]}]}]`. A client may get a token for an API only
//! through a client grant, as in Auth0.

use std::collections::{HashMap, HashSet};

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::clock::unix_seconds;
use crate::reply::{json, oauth_error};
use crate::seed::SeedClient;
use crate::state::{lock, AppState};
use crate::store::Client;

/// Auth0's default access token lifetime for an API (24 hours).
pub const DEFAULT_API_TOKEN_LIFETIME: u64 = 86_400;
/// Auth0's cap on an API's token lifetime (30 days).
const MAX_API_TOKEN_LIFETIME: u64 = 2_592_000;

/// A custom API, by its identifier (the `audience` of its tokens).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApi {
    pub identifier: String,
    /// Shown nowhere; for people reading the seed.
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds an access token for this API lives.
    #[serde(default = "default_lifetime")]
    pub token_lifetime: u64,
    /// The clients that may get tokens for it (client credentials).
    #[serde(default)]
    pub client_grants: Vec<SeedClientGrant>,
}

/// One client's grant to an API, with the scopes it may ask for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedClientGrant {
    pub client_id: String,
    #[serde(default)]
    pub scope: Vec<String>,
}

fn default_lifetime() -> u64 {
    DEFAULT_API_TOKEN_LIFETIME
}

/// The seed's problems with its APIs, one line each.
pub fn problems(apis: &[SeedApi], clients: &[SeedClient]) -> Vec<String> {
    let clients: HashMap<&str, &SeedClient> =
        clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let mut seen = HashSet::new();
    let mut problems = Vec::new();
    for (index, api) in apis.iter().enumerate() {
        let who = format!("apis[{index}] ({})", api.identifier);
        if api.identifier.trim().is_empty() {
            problems.push(format!("apis[{index}]: identifier must not be empty"));
        } else if !seen.insert(api.identifier.as_str()) {
            problems.push(format!("{who}: duplicate identifier"));
        }
        if !(1..=MAX_API_TOKEN_LIFETIME).contains(&api.token_lifetime) {
            problems.push(format!(
                "{who}: token_lifetime must be between 1 and {MAX_API_TOKEN_LIFETIME} seconds"
            ));
        }
        let mut granted = HashSet::new();
        for grant in &api.client_grants {
            let id = grant.client_id.as_str();
            match clients.get(id) {
                None => problems.push(format!("{who}: client_grants names unknown client {id:?}")),
                Some(client) if !client.grant_types.iter().any(|g| g == "client_credentials") => {
                    problems.push(format!(
                        "{who}: client {id:?} has no client_credentials grant type, so it can never get a token"
                    ))
                }
                Some(_) => {}
            }
            if !granted.insert(id) {
                problems.push(format!("{who}: client {id:?} is granted twice"));
            }
        }
    }
    problems
}

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
fn scope_for(requested: Option<&String>, granted: &[String]) -> Result<String, String> {
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
