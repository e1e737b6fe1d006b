//! Where clients reach an emulator: the scheme it serves (`https` with
//! TLS), the host they asked for, or a public URL it is told (behind a
//! proxy), so the URLs it hands out (issuer, JWKS, audiences) are the ones
//! clients use.

use std::net::SocketAddr;

use axum::http::uri::Authority;
use axum::http::{header, HeaderMap};

/// The base URLs (scheme, host, port; no trailing slash) of an emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origins {
    scheme: &'static str,
    bound: String,
    public: Option<String>,
}

impl Origins {
    /// `tls`: the emulator serves HTTPS. `public_url`: the origin clients
    /// use instead (see [`parse_public_url`]).
    pub fn new(tls: bool, bound: SocketAddr, public_url: Option<&str>) -> Result<Origins, String> {
        let scheme = if tls { "https" } else { "http" };
        let public = public_url.map(parse_public_url).transpose()?;
        Ok(Origins {
            scheme,
            bound: format!("{scheme}://{bound}"),
            public,
        })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The bound address: `https://127.0.0.1:PORT`.
    pub fn bound(&self) -> &str {
        &self.bound
    }

    /// The public URL, when one was given.
    pub fn public(&self) -> Option<&str> {
        self.public.as_deref()
    }

    /// Where this request says it was sent: the public URL when there is
    /// one; else the served scheme and the request's `Host` (so
    /// `localhost:PORT` and `127.0.0.1:PORT` both work); else the bound
    /// address.
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        if let Some(public) = &self.public {
            return public.clone();
        }
        match host(headers) {
            Some(host) => format!("{}://{host}", self.scheme),
            None => self.bound.clone(),
        }
    }

    /// Every base URL this request may rightly name (the bound address, the
    /// one it reached, the public URL), without repeats.
    pub fn all_for(&self, headers: &HeaderMap) -> Vec<String> {
        let mut all = vec![self.bound.clone()];
        let via_host = host(headers).map(|host| format!("{}://{host}", self.scheme));
        for base in via_host.into_iter().chain(self.public.clone()) {
            if !all.contains(&base) {
                all.push(base);
            }
        }
        all
    }
}

/// A `Host` header that is a plain authority (`host[:port]`), never one
/// carrying a path or credentials.
fn host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority: Authority = host.parse().ok()?;
    (!host.is_empty() && !authority.as_str().contains('@')).then_some(host)
}

/// `--public-url`: `http(s)://host[:port]` with nothing after (a trailing
/// `/` is dropped, a default port too), as the emulator's clients reach it
/// through a proxy.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let refuse = |why: &str| Err(format!("--public-url {text:?}: {why}"));
    let url = match url::Url::parse(text) {
        Ok(url) => url,
        Err(error) => return refuse(&error.to_string()),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("the scheme must be https:// or http://");
    }
    if url.host().is_none() {
        return refuse("a host is needed");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("no user or password belongs in it");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return refuse("scheme, host and port only: no path, query or fragment");
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        headers
    }

    #[test]
    fn the_base_follows_the_scheme_served_and_the_host_asked_for() {
        let bound: SocketAddr = "127.0.0.1:4443".parse().unwrap();
        let tls = Origins::new(true, bound, None).unwrap();
        assert_eq!(tls.bound(), "https://127.0.0.1:4443");
        assert_eq!(
            tls.base_for(&with_host("localhost:4443")),
            "https://localhost:4443"
        );
        assert_eq!(tls.base_for(&HeaderMap::new()), "https://127.0.0.1:4443");
        assert_eq!(
            tls.all_for(&with_host("localhost:4443")),
            ["https://127.0.0.1:4443", "https://localhost:4443"]
        );
        let plain = Origins::new(false, bound, None).unwrap();
        assert_eq!(
            plain.base_for(&with_host("127.0.0.1:4443")),
            "http://127.0.0.1:4443"
        );
        // A Host that is not an authority is not believed.
        assert_eq!(
            plain.base_for(&with_host("evil.example/path")),
            "http://127.0.0.1:4443"
        );
        assert_eq!(
            plain.base_for(&with_host("user@evil.example")),
            "http://127.0.0.1:4443"
        );
    }

    #[test]
    fn a_public_url_wins_over_the_host() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let behind = Origins::new(false, bound, Some("https://tenant.example.test/")).unwrap();
        assert_eq!(
            behind.base_for(&with_host("127.0.0.1:8080")),
            "https://tenant.example.test"
        );
        assert_eq!(
            behind.all_for(&with_host("127.0.0.1:8080")),
            ["http://127.0.0.1:8080", "https://tenant.example.test"]
        );
    }

    #[test]
    fn public_urls_are_origins_only() {
        assert_eq!(
            parse_public_url("https://Tenant.Example.test:443").unwrap(),
            "https://tenant.example.test"
        );
        assert_eq!(
            parse_public_url("http://localhost:8443/").unwrap(),
            "http://localhost:8443"
        );
        for bad in [
            "tenant.example.test",
            "ftp://tenant.example.test",
            "https://tenant.example.test/auth",
            "https://tenant.example.test/?x=1",
            "https://user:pw@tenant.example.test",
            "https://",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}
