//! The running server's shared state: what it is (version, issuer, keys,
//! tokens), what it holds (the store) and what it counted. Every handler
//! reads it; only the server module builds it.

use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use trickle_emulator::{lock, Controls};

use crate::churn::Churn;
use crate::keys::KeySet;
use crate::store::Store;
use crate::tokens::ApiTokens;
use crate::version::Version;

/// Requests to the emulated APIs, faulted ones included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request outside `/__sim/`, whatever its path.
    pub total: u64,
    pub requests: Counters,
    /// One-session reads that refreshed the session's last-used time (its
    /// max idle expiry): every `GET` with `SID`, but those with
    /// `skip_last_used_update=true` from 15.3. A migration's reads of the
    /// source should leave this at 0.
    pub session_last_used_updates: u64,
}

/// Per endpoint and method.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub clients_list: u64,
    pub client_register: u64,
    pub client_read: u64,
    pub client_update: u64,
    pub client_delete: u64,
    pub authz_v3_list: u64,
    pub authz_v3_create: u64,
    pub authz_v3_delete: u64,
    /// `POST …/v3/revocation`.
    pub authz_v3_revoke: u64,
    pub authz_v2_list: u64,
    pub authz_v2_create: u64,
    pub authz_v2_delete: u64,
    pub authz_v2_revoke: u64,
    /// `GET` of every session or of one subject's (no `SID` header).
    pub sessions_list: u64,
    /// `GET` of one session (`SID` header).
    pub session_read: u64,
    pub session_create: u64,
    /// `PUT` of one session (`SID` header).
    pub session_update: u64,
    /// `DELETE` of one session (`SID`) or of a subject's (`?subject=`).
    pub session_delete: u64,
    /// The splash page, the OpenID provider metadata and the JWK set.
    pub discovery: u64,
}

pub struct AppState {
    pub version: Version,
    /// `http(s)://127.0.0.1:PORT` (or the public URL) plus the context
    /// path: fixed, as a Connect2id server's configured issuer is.
    pub issuer: String,
    pub context_path: String,
    pub keys: KeySet,
    pub tokens: ApiTokens,
    /// A client update issues a new registration access token (the real
    /// server's `op.reg.refreshAccessTokenOnUpdate`).
    pub rotate_registration_token: bool,
    /// Faults, rate limit and request logging (`trickle-emulator`'s).
    pub controls: Controls,
    /// Live churn: its rates, seed and counters.
    pub churn: Churn,
    store: Mutex<Store>,
    stats: Mutex<Stats>,
}

/// What an [`AppState`] is made of, besides its empty counters.
pub struct Parts {
    pub version: Version,
    pub issuer: String,
    pub context_path: String,
    pub keys: KeySet,
    pub tokens: ApiTokens,
    pub rotate_registration_token: bool,
    pub controls: Controls,
    pub churn: Churn,
    pub store: Store,
}

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        AppState {
            version: parts.version,
            issuer: parts.issuer,
            context_path: parts.context_path,
            keys: parts.keys,
            tokens: parts.tokens,
            rotate_registration_token: parts.rotate_registration_token,
            controls: parts.controls,
            churn: parts.churn,
            store: Mutex::new(parts.store),
            stats: Mutex::new(Stats::default()),
        }
    }

    /// The records, locked: hold the guard briefly (listings take it once
    /// per chunk).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The request counters, locked.
    pub fn counters(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }
}
