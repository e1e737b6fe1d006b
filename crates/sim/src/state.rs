//! The state shared by every request: the tenant, the key, the counters,
//! and the shared emulator knobs (faults, rate limit, logging).

use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
pub use trickle_emulator::lock;
use trickle_emulator::{Controls, Origins};

use crate::keys::Keys;
use crate::store::Tenant;

/// Requests to the Auth0 endpoints, faulted ones included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request outside `/__sim/`, whatever its path.
    pub total: u64,
    pub requests: Counters,
}

/// Per endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub token_password_realm: u64,
    pub token_client_credentials: u64,
    pub token_other: u64,
    pub users_by_email: u64,
    pub get_user: u64,
    pub patch_user: u64,
    pub search_users: u64,
    pub jobs: u64,
    pub well_known: u64,
}

pub struct AppState {
    pub tenant: Mutex<Tenant>,
    pub keys: Keys,
    /// How clients reach the tenant: the bound address, the scheme served
    /// (`https` with TLS), `--public-url`.
    pub origins: Origins,
    pub token_lifetime_secs: u64,
    pub job_delay: Duration,
    /// Faults, rate limit (Management API only) and request logging.
    pub controls: Controls,
    pub stats: Mutex<Stats>,
    /// `http(s)://<canonical host>:PORT` when one is configured (custom-domain
    /// rehearsals): then the only Management API audience.
    pub canonical_base: Option<String>,
}

impl AppState {
    /// The tenant's base URL as this request reached it: the scheme served
    /// and its Host header (so `localhost:PORT` and `127.0.0.1:PORT` both
    /// work as the "domain"), or the public URL when one is set. Issuer,
    /// JWKS URL and discovery follow it, as a tenant's own domain does.
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        self.origins.base_for(headers)
    }

    /// The Management API audiences accepted for this request: `/api/v2/`
    /// under the bound address, the address it reached and the public URL.
    pub fn management_audiences(&self, headers: &HeaderMap) -> Vec<String> {
        if let Some(canonical) = &self.canonical_base {
            return vec![format!("{canonical}/api/v2/")];
        }
        self.origins
            .all_for(headers)
            .into_iter()
            .map(|base| format!("{base}/api/v2/"))
            .collect()
    }
}
