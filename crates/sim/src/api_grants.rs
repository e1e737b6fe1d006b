//! Custom APIs as the seed declares them (identifier, token lifetime, the
//! clients granted tokens), with the seed's checks of them. The store keeps
//! them; `apis.rs` issues their tokens.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::model::SeedClient;

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
