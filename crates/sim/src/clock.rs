//! Wall-clock helpers: UNIX seconds and the ISO 8601 timestamps Auth0
//! writes (`2024-05-01T12:34:56.789Z`).

use std::time::SystemTime;

/// Seconds since the UNIX epoch (the rate limit's clock too).
pub use trickle_emulator::unix_seconds;

/// Now, as Auth0 formats timestamps (UTC, milliseconds, `Z`).
pub fn now_iso() -> String {
    iso_from(SystemTime::now())
}

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_from(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn iso_from_millis(millis: u64) -> String {
        iso_from(UNIX_EPOCH + Duration::from_millis(millis))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_from_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_from_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            iso_from_millis(1_714_566_896_789),
            "2024-05-01T12:34:56.789Z"
        );
    }
}
