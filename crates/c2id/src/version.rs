//! Connect2id server versions: reading them, comparing them, and what each
//! one can import.

use std::fmt;
use std::str::FromStr;

/// `MAJOR.MINOR[.PATCH]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32) -> Version {
        Version {
            major,
            minor,
            patch: 0,
        }
    }
}

/// The oldest target: import of authorisations (`import=true`) and
/// sessions (`SID-Key`) came with 6.6.
pub const MIN_TARGET: Version = Version::new(6, 6);
/// The authorisation store API v3 came with 10.0; v2 before.
pub const AUTHZ_V3: Version = Version::new(10, 0);

impl FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Version, String> {
        let bad = || format!("{text:?} is not a version (MAJOR.MINOR or MAJOR.MINOR.PATCH)");
        let mut parts = text.trim().split('.');
        let mut number = |required: bool| -> Result<u32, String> {
            match parts.next() {
                Some(part) if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => {
                    part.parse().map_err(|_| bad())
                }
                None if !required => Ok(0),
                _ => Err(bad()),
            }
        };
        let version = Version {
            major: number(true)?,
            minor: number(true)?,
            patch: number(false)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// The version a server's splash page (the HTML at its issuer URL) shows
/// in its heading, "Connect2id Server 12.3".
pub fn from_splash_page(html: &str) -> Option<Version> {
    const MARK: &str = "Connect2id Server";
    let mut rest = html;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let candidate = rest.trim_start_matches([' ', '\t', '\n', '\r', 'v']);
        let end = candidate
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(candidate.len());
        let text = candidate[..end].trim_end_matches('.');
        if let Ok(version) = text.parse() {
            return Some(version);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order_numerically() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert_eq!(v("12.3"), Version::new(12, 3));
        assert_eq!(v("6.6.1").patch, 1);
        assert!(v("10.0") > v("9.12"));
        assert!(v("6.6") >= MIN_TARGET && v("6.5.9") < MIN_TARGET);
        assert_eq!(v("12.3").to_string(), "12.3");
        assert_eq!(v("12.3.4").to_string(), "12.3.4");
        for bad in ["", "12", "12.x", "1.2.3.4", "-1.0", "1..2"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_splash_page_heading_gives_the_version() {
        let page = "<html><head><title>Connect2id Server</title></head>\
                    <body><h1>Connect2id Server 12.3.1</h1></body></html>";
        assert_eq!(
            from_splash_page(page),
            Some(Version {
                major: 12,
                minor: 3,
                patch: 1
            })
        );
        assert_eq!(
            from_splash_page("<h1>Connect2id Server v9.5.</h1>"),
            Some(Version::new(9, 5))
        );
        assert_eq!(from_splash_page("<h1>Welcome</h1>"), None);
    }
}
