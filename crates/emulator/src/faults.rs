//! Injected faults: what goes wrong, how often, and for which requests.

use serde::{Deserialize, Serialize};

/// Faults injected into every emulated endpoint (never into the control
/// API), or only into the requests `only` selects.
/// Each ratio is a probability from 0.0 (never) to 1.0 (every request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Wait this long before answering (or dropping).
    pub latency_ms: u64,
    /// Answer 503 with the emulated API's error body.
    pub error_ratio: f64,
    /// Close the connection without any HTTP answer.
    pub drop_ratio: f64,
    /// Answer 200 with a body that is not JSON.
    pub malformed_ratio: f64,
    /// Send the real status and headers, then only part of the body, then close.
    pub truncate_ratio: f64,
    /// Fault only these requests: `"METHOD /path-prefix"` or `"/path-prefix"`
    /// (e.g. `"PATCH /api/v2/users/"`); absent, every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
}

impl Faults {
    /// Ratios within 0..=1, latency at most ten minutes, `only` well formed.
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let slow = Faults {
            latency_ms: 600_001,
            ..Faults::default()
        };
        assert!(slow.validate().unwrap_err().contains("latency_ms"));
        for bad in ["PATCH", "PATCH users", "A B /c"] {
            let faults = Faults {
                only: Some(bad.to_owned()),
                ..Faults::default()
            };
            assert!(faults.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_selects_by_method_and_path_prefix() {
        let scoped = Faults {
            only: Some("PATCH /api/v2/users/".to_owned()),
            ..Faults::default()
        };
        assert!(scoped.validate().is_ok());
        assert!(scoped.applies_to("PATCH", "/api/v2/users/auth0%7C1"));
        assert!(scoped.applies_to("patch", "/api/v2/users/auth0%7C1"));
        assert!(!scoped.applies_to("GET", "/api/v2/users/auth0%7C1"));
        assert!(!scoped.applies_to("PATCH", "/oauth/token"));
        let by_path = Faults {
            only: Some("/oauth/token".to_owned()),
            ..Faults::default()
        };
        assert!(by_path.applies_to("POST", "/oauth/token"));
        assert!(!by_path.applies_to("GET", "/api/v2/users"));
        assert!(Faults::default().applies_to("GET", "/anything"));
    }
}
