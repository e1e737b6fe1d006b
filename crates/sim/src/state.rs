//! The state shared by every request: the tenant, the key, and the
//! emulator's own knobs (faults, rate limit, counters).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;
use crate::store::Tenant;

/// Locks, ignoring poisoning (a panicking handler must not wedge the emulator).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Faults injected into every Auth0 endpoint (never into `/__sim/`), or
/// only into the requests `only` selects.
/// Each ratio is a probability from 0.0 (never) to 1.0 (every request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Wait this long before answering (or dropping).
    pub latency_ms: u64,
    /// Answer 503 with an Auth0-like error body.
    pub error_ratio: f64,
    /// Close the connection without any HTTP answer.
    pub drop_ratio: f64,
    /// Answer 200 with a body that is not JSON.
    pub malformed_ratio: f64,
    /// Send the real status and Content-Length, then only part of the body, then close.
    pub truncate_ratio: f64,
    /// Fault only these requests: `"METHOD /path-prefix"` or `"/path-prefix"`
    /// (e.g. `"PATCH /api/v2/users/"`); absent, every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
}

impl Faults {
    /// Ratios within 0..=1, latency at most ten minutes.
    pub fn validate(&self) -> Result<(), String> {
        for (name, ratio) in [
            ("error_ratio", self.error_ratio),
            ("drop_ratio", self.drop_ratio),
            ("malformed_ratio", self.malformed_ratio),
            ("truncate_ratio", self.truncate_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!("{name} must be between 0.0 and 1.0 (got {ratio})"));
            }
        }
        if let Some(only) = &self.only {
            let path = only.rsplit(' ').next().unwrap_or("");
            if !path.starts_with('/') || only.split(' ').count() > 2 {
                return Err(format!(
                    "only must be \"METHOD /path-prefix\" or \"/path-prefix\" (got {only:?})"
                ));
            }
        }
        if self.latency_ms > 600_000 {
            return Err(format!(
                "latency_ms must be at most 600000 (got {})",
                self.latency_ms
            ));
        }
        Ok(())
    }
}

impl Faults {
    /// Whether these faults apply to a request.
    pub fn applies_to(&self, method: &str, path: &str) -> bool {
        match self.only.as_deref() {
            None => true,
            Some(only) => match only.split_once(' ') {
                Some((m, prefix)) => m.eq_ignore_ascii_case(method) && path.starts_with(prefix),
                None => path.starts_with(only),
            },
        }
    }
}

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

/// A fixed one-second window: at most `rps` Management API requests per
/// UNIX second; `reset` is the next second.
pub struct RateLimiter {
    pub rps: u32,
    window: u64,
    used: u32,
}

/// The outcome for one request, for the `x-ratelimit-*` headers.
pub struct RateVerdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
}

impl RateLimiter {
    pub fn new(rps: u32) -> RateLimiter {
        RateLimiter {
            rps,
            window: 0,
            used: 0,
        }
    }

    pub fn set(&mut self, rps: u32) {
        *self = RateLimiter::new(rps);
    }

    /// Counts one request at `now` (UNIX seconds); `None` when the limit is off.
    pub fn take(&mut self, now: u64) -> Option<RateVerdict> {
        if self.rps == 0 {
            return None;
        }
        if now != self.window {
            self.window = now;
            self.used = 0;
        }
        let allowed = self.used < self.rps;
        if allowed {
            self.used += 1;
        }
        Some(RateVerdict {
            allowed,
            limit: self.rps,
            remaining: self.rps - self.used,
            reset: now + 1,
        })
    }
}

pub struct AppState {
    pub tenant: Mutex<Tenant>,
    pub keys: Keys,
    /// `http://127.0.0.1:PORT`, as bound.
    pub bound_base: String,
    pub token_lifetime_secs: u64,
    pub job_delay: Duration,
    pub log_requests: bool,
    pub faults: Mutex<Faults>,
    pub rate: Mutex<RateLimiter>,
    pub stats: Mutex<Stats>,
}

impl AppState {
    /// The tenant's base URL as this request reached it (its Host header),
    /// so `localhost:PORT` and `127.0.0.1:PORT` both work as the "domain".
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) if !host.is_empty() => format!("http://{host}"),
            _ => self.bound_base.clone(),
        }
    }

    /// The Management API audiences accepted for this request.
    pub fn management_audiences(&self, headers: &HeaderMap) -> Vec<String> {
        let mut audiences = vec![format!("{}/api/v2/", self.bound_base)];
        let via_host = format!("{}/api/v2/", self.base_for(headers));
        if via_host != audiences[0] {
            audiences.push(via_host);
        }
        audiences
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_counts_per_second() {
        let mut limiter = RateLimiter::new(2);
        let first = limiter.take(100).expect("on");
        assert!(first.allowed);
        assert_eq!((first.limit, first.remaining, first.reset), (2, 1, 101));
        assert!(limiter.take(100).expect("on").allowed);
        let third = limiter.take(100).expect("on");
        assert!(!third.allowed);
        assert_eq!(third.remaining, 0);
        assert!(limiter.take(101).expect("on").allowed);
        limiter.set(0);
        assert!(limiter.take(101).is_none());
    }

    #[test]
    fn faults_are_validated() {
        assert!(Faults::default().validate().is_ok());
        let bad = Faults {
            drop_ratio: 1.5,
            ..Faults::default()
        };
        assert!(bad.validate().unwrap_err().contains("drop_ratio"));
        let nan = Faults {
            error_ratio: f64::NAN,
            ..Faults::default()
        };
        assert!(nan.validate().is_err());
        let scoped = Faults {
            only: Some("PATCH /api/v2/users/".to_owned()),
            ..Faults::default()
        };
        assert!(scoped.validate().is_ok());
        assert!(scoped.applies_to("PATCH", "/api/v2/users/auth0%7C1"));
        assert!(!scoped.applies_to("GET", "/api/v2/users/auth0%7C1"));
        assert!(!scoped.applies_to("PATCH", "/oauth/token"));
        let by_path = Faults {
            only: Some("/oauth/token".to_owned()),
            ..Faults::default()
        };
        assert!(by_path.applies_to("POST", "/oauth/token"));
        assert!(!by_path.applies_to("GET", "/api/v2/users"));
        for bad in ["PATCH", "PATCH users", "A B /c"] {
            let faults = Faults {
                only: Some(bad.to_owned()),
                ..Faults::default()
            };
            assert!(faults.validate().is_err(), "{bad}");
        }
    }
}
