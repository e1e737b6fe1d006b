//! Where tokens may go: only to the origins the operator gave. Every URL
//! a token or a secret is sent to is the issuer URL given with `--source`
//! / `--target` or below it: the same scheme, host and port, a path under
//! the issuer's, no credentials, query or fragment. An endpoint a server
//! advertises (its discovery document's `registration_endpoint`,
//! `jwks_uri`) is used only when it passes that test; otherwise the
//! preflight refuses, showing it.

use reqwest::Url;

/// An issuer URL as the operator gave it, checked: http(s), a host, no
/// credentials, query or fragment; without a trailing `/`.
pub fn parse_issuer(text: &str) -> Result<Url, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|error| format!("{text:?} is not a URL ({error})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{text:?} is not an http(s) URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{trimmed:?} holds credentials: tokens come from the environment, never from URLs"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{trimmed:?} has a query or fragment: give the issuer URL alone"
        ));
    }
    Ok(url)
}

/// `candidate` (an endpoint a server advertised) when it is on `issuer`'s
/// origin and under its path; otherwise why not.
pub fn under_issuer(issuer: &Url, candidate: &str) -> Result<String, String> {
    let url = Url::parse(candidate.trim())
        .map_err(|_| format!("{candidate:?} is not an absolute URL"))?;
    let same_origin = url.scheme() == issuer.scheme()
        && url.host_str() == issuer.host_str()
        && url.port_or_known_default() == issuer.port_or_known_default();
    if !same_origin {
        return Err(format!(
            "{url} is on another origin than {} (scheme, host and port must be the ones given)",
            origin_of(issuer)
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(format!("{shown} with credentials in it"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{url} has a query or fragment"));
    }
    let base = issuer.path().trim_end_matches('/');
    let path = url.path().trim_end_matches('/');
    if !path.starts_with(&format!("{base}/")) {
        return Err(format!(
            "{url} is not under the issuer's path ({})",
            if base.is_empty() { "/" } else { base }
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether two issuer URLs name the same place: scheme, host, port and
/// path (the host compared as the URL parser writes it, lower case).
pub fn same_place(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path().trim_end_matches('/') == b.path().trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(text: &str) -> Url {
        parse_issuer(text).unwrap()
    }

    #[test]
    fn issuers_are_plain_http_urls() {
        assert_eq!(
            issuer("https://c2id.example.com/c2id/").as_str(),
            "https://c2id.example.com/c2id"
        );
        for bad in [
            "ftp://x/c2id",
            "c2id.example.com",
            "https://u:p@x/c2id",
            "https://x/c2id?a=b",
            "https://x/c2id#f",
        ] {
            assert!(parse_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_must_share_the_origin_and_sit_under_the_issuer() {
        let base = issuer("https://c2id.example.com/c2id");
        assert_eq!(
            under_issuer(&base, "https://C2ID.example.com:443/c2id/clients/").unwrap(),
            "https://c2id.example.com/c2id/clients"
        );
        for bad in [
            "http://c2id.example.com/c2id/clients",
            "https://c2id.example.com:8443/c2id/clients",
            "https://evil.example.com/c2id/clients",
            "https://c2id.example.com/other/clients",
            "https://c2id.example.com/c2id",
            "https://c2id.example.com/c2idx/clients",
            "https://c2id.example.com/c2id/../other/clients",
            "https://c2id.example.com/c2id/%2e%2e/other/clients",
            "https://user@c2id.example.com/c2id/clients",
            "https://c2id.example.com/c2id/clients?x=1",
            "/c2id/clients",
        ] {
            assert!(under_issuer(&base, bad).is_err(), "{bad}");
        }
        let root = issuer("http://127.0.0.1:8080");
        assert!(under_issuer(&root, "http://127.0.0.1:8080/clients").is_ok());
        assert!(under_issuer(&root, "http://localhost:8080/clients").is_err());
    }

    #[test]
    fn the_same_place_is_found_whatever_the_spelling() {
        assert!(same_place(
            &issuer("https://C2ID.example.com:443/c2id/"),
            &issuer("https://c2id.example.com/c2id")
        ));
        assert!(!same_place(
            &issuer("https://c2id.example.com/c2id"),
            &issuer("https://c2id.example.com/c2id2")
        ));
        assert!(!same_place(
            &issuer("http://127.0.0.1:1/c2id"),
            &issuer("http://127.0.0.1:2/c2id")
        ));
    }
}
