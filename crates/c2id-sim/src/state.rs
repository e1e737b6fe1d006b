//! The running server's shared state: what it is (version, issuer, keys,
//! tokens), what it holds (the store) and what it counted. Every handler
//! reads it; only the server module builds it.

use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use trickle_emulator::{lock, Controls};

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
    pub authz_v2_list: u64,
    pub authz_v2_create: u64,
    pub authz_v2_delete: u64,
    pub sessions_list: u64,
    pub session_create: u64,
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
    /// Faults, rate limit and request logging (`trickle-emulator`'s).
    pub controls: Controls,
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
    pub controls: Controls,
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
            controls: parts.controls,
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
