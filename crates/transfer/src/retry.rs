//! When to try a request again, and how long to wait first.
//!
//! Worth retrying: no answer at all, 429, and 5xx. The wait is the one the
//! server asked for when it said so (`Retry-After` in seconds or as an
//! HTTP date, or Auth0's `x-ratelimit-reset`, UNIX seconds), else an
//! exponential back-off with jitter (so many clients that failed together
//! do not come back together); never longer than a cap, so a confused or
//! hostile header cannot stall a run for hours.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The back-off before the first retry; it doubles each time.
    pub first_delay: Duration,
    /// The longest back-off.
    pub max_delay: Duration,
    /// The longest single wait, the server's asked-for waits included.
    pub max_wait: Duration,
    /// Tries in all (the first one included) before giving up.
    pub attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_wait: Duration::from_secs(60),
            attempts: 12,
        }
    }
}

/// Whether an answer with this status is worth trying again (the request
/// may succeed later): 429 and every 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

impl RetryPolicy {
    /// The back-off before retry number `retry` (1 for the first): the
    /// exponential delay, capped, with its upper half jittered.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let delay = self
            .first_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
            .min(self.max_wait);
        let half = delay / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The wait before retry number `retry` of a request answered with
    /// `headers` (429, 503, …): what the server asked for, within
    /// [`RetryPolicy::max_wait`], else the back-off.
    pub fn wait_after(&self, headers: &HeaderMap, retry: u32) -> Duration {
        match server_wait(headers, SystemTime::now()) {
            Some(wait) => wait.min(self.max_wait),
            None => self.backoff(retry),
        }
    }

    /// Whether `tries` tries (the first one included) are all there may be.
    pub fn exhausted(&self, tries: u32) -> bool {
        tries >= self.attempts.max(1)
    }
}

/// The wait a server asked for in `headers`, as of `now`: Auth0's
/// `x-ratelimit-reset` (the UNIX second the limit resets), else
/// `Retry-After` as seconds or as an HTTP date. A time already past is no
/// wait. `None` when neither header is there or usable.
pub fn server_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let until = |moment: SystemTime| moment.duration_since(now).unwrap_or_default();
    if let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()) {
        return Some(until(UNIX_EPOCH + Duration::from_secs(reset)));
    }
    let retry_after = header("retry-after")?;
    if let Ok(seconds) = retry_after.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    httpdate::parse_http_date(retry_after).ok().map(until)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_wait(&headers(&[("retry-after", " 7 ")]), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            server_wait(&headers(&[("retry-after", &earlier)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(server_wait(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(server_wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn auth0s_reset_header_comes_first() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let map = headers(&[("x-ratelimit-reset", "1700000003"), ("retry-after", "30")]);
        assert_eq!(server_wait(&map, now), Some(Duration::from_secs(3)));
        let past = headers(&[("x-ratelimit-reset", "1699999990")]);
        assert_eq!(server_wait(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn waits_are_capped_and_back_off_grows_with_jitter() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(5),
            attempts: 4,
        };
        assert_eq!(
            policy.wait_after(&headers(&[("retry-after", "3600")]), 1),
            Duration::from_secs(5)
        );
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.backoff(30);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
        let spread: std::collections::BTreeSet<_> = (0..20).map(|_| policy.backoff(4)).collect();
        assert!(spread.len() > 1, "jittered");
        assert!(!policy.exhausted(3));
        assert!(policy.exhausted(4));
    }

    #[test]
    fn only_no_answer_429_and_5xx_are_retried() {
        assert!(is_retryable_status(429));
        assert!(is_retryable_status(500));
        assert!(is_retryable_status(503));
        assert!(!is_retryable_status(400));
        assert!(!is_retryable_status(401));
        assert!(!is_retryable_status(404));
        assert!(!is_retryable_status(200));
    }
}
