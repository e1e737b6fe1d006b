//! The knobs every emulator has, changeable at run time through the
//! `/__sim/` routes: faults, the rate limit, request logging; and the
//! middleware helper that applies the rate limit; [`lock`], for every
//! emulator's mutexes.

use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::faults::Faults;
use crate::rate::{unix_seconds, RateLimiter, RateVerdict};

/// Locks, ignoring poisoning (a panicking handler must not wedge the emulator).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The knobs every emulator has, changeable at run time.
pub struct Controls {
    faults: Mutex<Faults>,
    rate: Mutex<RateLimiter>,
    log_requests: bool,
}

impl Controls {
    /// Refuses invalid faults.
    pub fn new(faults: Faults, rate_limit: u32, log_requests: bool) -> Result<Controls, String> {
        faults.validate()?;
        Ok(Controls {
            faults: Mutex::new(faults),
            rate: Mutex::new(RateLimiter::new(rate_limit)),
            log_requests,
        })
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the faults, unless they are invalid.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *lock(&self.faults) = faults;
        Ok(())
    }

    /// Requests per second; 0 is off.
    pub fn rate_limit(&self) -> u32 {
        lock(&self.rate).rps
    }

    /// Starts a fresh window at `rps` (0 turns the limit off).
    pub fn set_rate_limit(&self, rps: u32) {
        lock(&self.rate).set(rps);
    }

    /// Counts one rate-limited request at `now`; `None` when the limit is off.
    pub fn take_rate(&self, now: u64) -> Option<RateVerdict> {
        lock(&self.rate).take(now)
    }

    pub fn log_requests(&self) -> bool {
        self.log_requests
    }
}

/// The body of an emulator's rate-limit middleware: past the limit the
/// request is answered by `refuse` before anything else; every answer
/// (refusals included) passes through `annotate` for the API's headers.
/// With the limit off, neither is called.
pub async fn rate_limit(
    controls: &Controls,
    request: Request,
    next: Next,
    refuse: impl FnOnce(&RateVerdict) -> Response,
    annotate: impl FnOnce(&RateVerdict, &mut Response),
) -> Response {
    let Some(verdict) = controls.take_rate(unix_seconds()) else {
        return next.run(request).await;
    };
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        refuse(&verdict)
    };
    annotate(&verdict, &mut response);
    response
}

/// An `annotate` for [`rate_limit`]: a refusal says when to come back in
/// `Retry-After` (seconds until the window resets, at least 1); an answer
/// within the limit carries nothing.
pub fn retry_after(verdict: &RateVerdict, response: &mut Response) {
    if !verdict.allowed {
        let wait = verdict.reset.saturating_sub(unix_seconds()).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
}
