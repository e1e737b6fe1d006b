use core::fmt;

/// Why the `domain` setting cannot be used as the old tenant's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainError {
    Missing,
    /// Neither `https://` nor `http://` in front.
    NoScheme,
    /// `http://` to anything but this machine would send secrets in clear.
    PlainHttpNotLoopback,
    /// A path, query, fragment or user part after the host.
    NotAnOrigin,
    BadHost,
    BadPort,
    /// A path segment that is empty, `.`/`..`, or has characters beyond
    /// the unreserved ones (and `%`); or a query, fragment or user part.
    BadPath,
}

impl DomainError {
    pub const fn message(self) -> &'static str {
        match self {
            DomainError::Missing => "configuration.domain is not set",
            DomainError::NoScheme => {
                "configuration.domain must start with https:// (e.g. https://old-tenant.auth0.com)"
            }
            DomainError::PlainHttpNotLoopback => {
                "configuration.domain may use http:// only for localhost or 127.0.0.1"
            }
            DomainError::NotAnOrigin => {
                "configuration.domain must be scheme and host only, with no path or query"
            }
            DomainError::BadHost => "configuration.domain has an invalid host name",
            DomainError::BadPort => "configuration.domain has an invalid port",
            DomainError::BadPath => {
                "configuration.domain may have a path (letters, digits, - . _ ~ %), but no query, fragment or user part"
            }
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl core::error::Error for DomainError {}

/// The old tenant's base URL (`scheme://host[:port]`, no trailing slash)
/// from the `domain` setting. `https://` always; `http://` only for loopback
/// hosts, so local rehearsals work and nothing else goes out unencrypted.
pub fn base_url(domain: &str) -> Result<&str, DomainError> {
    if domain.is_empty() {
        return Err(DomainError::Missing);
    }
    let (secure, authority) = if let Some(rest) = domain.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = domain.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(DomainError::NoScheme);
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains(['/', '?', '#', '@', '\\']) {
        return Err(DomainError::NotAnOrigin);
    }
    let (host, port) = split_port(authority)?;
    if !valid_host(host) {
        return Err(DomainError::BadHost);
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::BadPort);
        }
    }
    if !secure && !is_loopback(host) {
        return Err(DomainError::PlainHttpNotLoopback);
    }
    Ok(domain.strip_suffix('/').unwrap_or(domain))
}

/// The legacy API's base URL (`scheme://host[:port][/path]`, no trailing
/// slash): the origin as strict as [`base_url`]'s (https, or http for
/// loopback only), then a path of plain segments.
pub fn api_base_url(url: &str) -> Result<&str, DomainError> {
    let url = url.strip_suffix('/').unwrap_or(url);
    // `https:`, ``, the authority; then the path's segments.
    let mut parts = url.split('/');
    let origin_len: usize = parts.by_ref().take(3).map(|part| part.len() + 1).sum();
    let origin = url.get(..origin_len.saturating_sub(1)).unwrap_or(url);
    base_url(origin).map_err(|error| match error {
        DomainError::NotAnOrigin => DomainError::BadPath,
        other => other,
    })?;
    if parts.all(valid_path_segment) {
        Ok(url)
    } else {
        Err(DomainError::BadPath)
    }
}

/// Letters, digits, `-._~%`; not empty, not only dots (`.`, `..`).
fn valid_path_segment(segment: &str) -> bool {
    segment
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%'))
        && segment.bytes().any(|b| b != b'.')
}

fn split_port(authority: &str) -> Result<(&str, Option<&str>), DomainError> {
    if authority.starts_with('[') {
        // split_inclusive, not indexing: no panic path reaches the WASM.
        let mut parts = authority.split_inclusive(']');
        let host = parts
            .next()
            .filter(|host| host.ends_with(']'))
            .ok_or(DomainError::BadHost)?;
        return match parts.next() {
            None => Ok((host, None)),
            Some(rest) => rest
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or(DomainError::BadPort),
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "[::1]" {
        return true;
    }
    let mut octets = host.split('.');
    octets.next() == Some("127")
        && octets.clone().count() == 3
        && octets.all(|octet| {
            !octet.is_empty() && octet.len() <= 3 && octet.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_hosts_are_accepted_and_a_trailing_slash_dropped() {
        assert_eq!(
            base_url("https://old-tenant.auth0.com"),
            Ok("https://old-tenant.auth0.com")
        );
        assert_eq!(
            base_url("https://old-tenant.eu.auth0.com/"),
            Ok("https://old-tenant.eu.auth0.com")
        );
        assert_eq!(
            base_url("https://login.example.com:8443"),
            Ok("https://login.example.com:8443")
        );
    }

    #[test]
    fn plain_http_only_for_loopback() {
        assert_eq!(
            base_url("http://127.0.0.1:4010"),
            Ok("http://127.0.0.1:4010")
        );
        assert_eq!(
            base_url("http://localhost:4010/"),
            Ok("http://localhost:4010")
        );
        assert_eq!(base_url("http://[::1]:4010"), Ok("http://[::1]:4010"));
        for remote in [
            "http://old-tenant.auth0.com",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.com",
            "http://localhost.evil.com",
        ] {
            assert!(base_url(remote).is_err(), "{remote}");
        }
        assert_eq!(
            base_url("http://old-tenant.auth0.com"),
            Err(DomainError::PlainHttpNotLoopback)
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        assert_eq!(base_url(""), Err(DomainError::Missing));
        assert_eq!(base_url("old-tenant.auth0.com"), Err(DomainError::NoScheme));
        assert_eq!(
            base_url("ftp://old-tenant.auth0.com"),
            Err(DomainError::NoScheme)
        );
        assert_eq!(
            base_url("https://old-tenant.auth0.com/api"),
            Err(DomainError::NotAnOrigin)
        );
        assert_eq!(
            base_url("https://user@old-tenant.auth0.com"),
            Err(DomainError::NotAnOrigin)
        );
        assert_eq!(
            base_url("https://old-tenant.auth0.com?x=1"),
            Err(DomainError::NotAnOrigin)
        );
        assert_eq!(base_url("https://"), Err(DomainError::BadHost));
        assert_eq!(base_url("https://bad_host.com"), Err(DomainError::BadHost));
        assert_eq!(base_url("https://a..b"), Err(DomainError::BadHost));
        assert_eq!(
            base_url("https://old.auth0.com:"),
            Err(DomainError::BadPort)
        );
        assert_eq!(
            base_url("https://old.auth0.com:44x"),
            Err(DomainError::BadPort)
        );
        assert_eq!(base_url("https://[::1"), Err(DomainError::BadHost));
    }

    #[test]
    fn an_api_url_may_have_a_path_but_its_origin_is_as_strict() {
        for (url, expected) in [
            ("https://legacy.example.com", "https://legacy.example.com"),
            (
                "https://legacy.example.com/auth0-migration/",
                "https://legacy.example.com/auth0-migration",
            ),
            (
                "https://legacy.example.com:8443/v1/users_api",
                "https://legacy.example.com:8443/v1/users_api",
            ),
            ("http://127.0.0.1:4010/api", "http://127.0.0.1:4010/api"),
        ] {
            assert_eq!(api_base_url(url), Ok(expected), "{url}");
        }
        for (url, error) in [
            ("", DomainError::Missing),
            ("legacy.example.com/api", DomainError::NoScheme),
            (
                "http://legacy.example.com/api",
                DomainError::PlainHttpNotLoopback,
            ),
            (
                "http://127.0.0.1.evil.com/api",
                DomainError::PlainHttpNotLoopback,
            ),
            ("https://user@legacy.example.com/api", DomainError::BadPath),
            ("https://legacy.example.com?x=1", DomainError::BadPath),
            ("https://legacy.example.com/api?x=1", DomainError::BadPath),
            ("https://legacy.example.com/api#top", DomainError::BadPath),
            ("https://legacy.example.com//api", DomainError::BadPath),
            ("https://legacy.example.com/a/../b", DomainError::BadPath),
            ("https://legacy.example.com/a b", DomainError::BadPath),
            ("https://legacy.example.com/a\\b", DomainError::BadPath),
            ("https://bad_host/api", DomainError::BadHost),
            ("https:///api", DomainError::BadHost),
        ] {
            assert_eq!(api_base_url(url), Err(error), "{url}");
        }
    }
}
