//! A fixed one-second request window.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the UNIX epoch (the rate limit's windows).
pub fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// At most `rps` requests per UNIX second; `reset` is the next second.
pub struct RateLimiter {
    pub rps: u32,
    window: u64,
    used: u32,
}

/// The outcome for one request, for whatever headers the emulated API sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateVerdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// The UNIX second the window resets.
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
}
