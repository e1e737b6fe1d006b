//! The emulated server version, and what it decides: which APIs and
//! import features exist.

use std::fmt;

/// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, shown as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    text: String,
    parts: (u32, u32, u32),
}

impl Version {
    pub fn parse(text: &str) -> Result<Version, String> {
        let numbers: Vec<Option<u32>> = text.split('.').map(|p| p.parse().ok()).collect();
        let parts = match numbers.as_slice() {
            [Some(major), Some(minor)] => (*major, *minor, 0),
            [Some(major), Some(minor), Some(patch)] => (*major, *minor, *patch),
            _ => {
                return Err(format!(
                    "version must be MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. \"12.3\" (got {text:?})"
                ))
            }
        };
        Ok(Version {
            text: text.to_owned(),
            parts,
        })
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.parts.0, self.parts.1) >= (major, minor)
    }

    /// `/authz-store/rest/v3` (from 10.0; v2 stays available beside it).
    pub fn has_authz_store_v3(&self) -> bool {
        self.at_least(10, 0)
    }

    /// `import=true` for authorisations and `SID-Key` for sessions (from 6.6).
    pub fn supports_import(&self) -> bool {
        self.at_least(6, 6)
    }

    /// `preferred_client_id` / `preferred_client_secret` (from 2.5).
    pub fn supports_preferred_credentials(&self) -> bool {
        self.at_least(2, 5)
    }

    /// `?quiet=true` on a revocation: 204 instead of the removed
    /// authorisations (from 12.17).
    pub fn supports_quiet_revocation(&self) -> bool {
        self.at_least(12, 17)
    }

    /// `?skip_last_used_update=true` on a one-session read (from 15.3).
    pub fn supports_skip_last_used_update(&self) -> bool {
        self.at_least(15, 3)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_gate_features() {
        let v = |t| Version::parse(t).expect("valid");
        assert!(v("10.0").has_authz_store_v3());
        assert!(v("12.3.1").has_authz_store_v3());
        assert!(!v("9.5").has_authz_store_v3());
        assert!(!v("9.10").has_authz_store_v3());
        assert!(v("6.6").supports_import() && !v("6.5").supports_import());
        assert!(v("2.5").supports_preferred_credentials());
        assert!(!v("2.4").supports_preferred_credentials());
        assert!(v("12.17").supports_quiet_revocation());
        assert!(!v("12.16.9").supports_quiet_revocation());
        assert!(v("15.3").supports_skip_last_used_update());
        assert!(v("16.0").supports_skip_last_used_update());
        assert!(!v("15.2").supports_skip_last_used_update());
        assert_eq!(v("12.3").to_string(), "12.3");
        for bad in ["12", "12.x", "", "1.2.3.4", "v12.3"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }
}
