//! The state every request shares: the store, the issuer's keys, the
//! control knobs and the counters, with the hooks the shared serve loop
//! calls (`Emulator`). Below the handlers (`api.rs`, `control.rs`) and the
//! router (`server.rs`), which all use it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trickle_emulator::{lock, Controls, Emulator};

use crate::auth::Issuer;
use crate::reply::error;
use crate::store::Store;

/// Requests to the API (faulted ones included) and token checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request outside `/__sim/`.
    pub total: u64,
    pub requests: Counters,
    /// Requests answered 401 `invalid_token`.
    pub invalid_tokens: u64,
    /// Attempts to fetch the issuer's JWKS (1 once it is cached).
    pub jwks_fetches: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub verify: u64,
    pub users_by_email: u64,
    pub get_user: u64,
    pub mark: u64,
    pub unmark: u64,
}

/// What every request shares.
pub struct AppState {
    pub store: Mutex<Store>,
    pub issuer: Issuer,
    pub write_scope: Option<String>,
    pub base_path: String,
    /// The next this-many API requests are refused as `invalid_token`.
    pub reject_tokens: AtomicU32,
    pub(crate) controls: Controls,
    pub(crate) stats: Mutex<Stats>,
}

impl AppState {
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = lock(&self.stats).clone();
        stats.jwks_fetches = self.issuer.fetches.load(Ordering::Relaxed);
        stats
    }

    /// Which counter a request of the API goes to.
    fn counter<'a>(counters: &'a mut Counters, method: &Method, path: &str) -> Option<&'a mut u64> {
        let rest = path.strip_prefix("/users")?;
        let id_and_more = rest.strip_prefix('/').filter(|r| !r.is_empty());
        match (method.as_str(), rest, id_and_more) {
            ("POST", "/verify", _) => Some(&mut counters.verify),
            ("GET", "", _) => Some(&mut counters.users_by_email),
            ("GET", _, Some(id)) if !id.contains('/') => Some(&mut counters.get_user),
            ("PUT", _, Some(more)) if more.ends_with("/migrated") => Some(&mut counters.mark),
            ("DELETE", _, Some(more)) if more.ends_with("/migrated") => Some(&mut counters.unmark),
            _ => None,
        }
    }
}

impl Emulator for AppState {
    fn name(&self) -> &'static str {
        "trickle legacy-sim"
    }

    fn controls(&self) -> &Controls {
        &self.controls
    }

    fn count(&self, method: &Method, path: &str, _headers: &HeaderMap, _body: Option<&[u8]>) {
        let mut stats = lock(&self.stats);
        stats.total += 1;
        let Some(path) = path.strip_prefix(self.base_path.as_str()) else {
            return;
        };
        if let Some(counter) = AppState::counter(&mut stats.requests, method, path) {
            *counter += 1;
        }
    }

    /// 503 with the contract's error body.
    fn outage(&self, _path: &str) -> Response<Body> {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The user store is temporarily unavailable",
        )
    }

    /// 200 with a proxy's HTML page instead of JSON.
    fn malformed(&self, _path: &str) -> Response<Body> {
        let mut response = Response::new(Body::from(
            "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
        ));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }

    fn stats(&self) -> Value {
        serde_json::to_value(self.snapshot()).expect("plain data")
    }

    fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
        self.issuer.fetches.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_endpoint() {
        let mut counters = Counters::default();
        for (method, path) in [
            (Method::POST, "/users/verify"),
            (Method::GET, "/users"),
            (Method::GET, "/users/u-1"),
            (Method::PUT, "/users/u-1/migrated"),
            (Method::DELETE, "/users/u-1/migrated"),
        ] {
            *AppState::counter(&mut counters, &method, path).expect(path) += 1;
        }
        assert_eq!(
            counters,
            Counters {
                verify: 1,
                users_by_email: 1,
                get_user: 1,
                mark: 1,
                unmark: 1
            }
        );
        assert!(AppState::counter(&mut counters, &Method::GET, "/other").is_none());
    }
}
