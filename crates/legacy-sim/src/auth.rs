//! The bearer token every API request carries, checked as the contract
//! says: RS256 against the issuer's JWKS (fetched on first need, then
//! kept), `iss` the issuer, `aud` containing the API's identifier, `exp` in
//! the future (no leeway), `sub` ending in `@clients`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use trickle_transfer::{http_client, ClientOptions};

/// How long fetching the JWKS may take.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JWKS read (Auth0's holds two or three keys).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The claims the API reads after the checks.
#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub scope: Option<String>,
}

impl Claims {
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|scope| scope.split_whitespace().any(|s| s == wanted))
    }
}

/// Why a request's token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// 401 `invalid_token`.
    #[error("{0}")]
    Invalid(String),
    /// 503: the issuer's keys could not be had, so no token can be checked.
    #[error("cannot fetch the issuer's JWKS ({0})")]
    Unavailable(String),
}

/// The token issuer and what it takes to check its tokens.
pub struct Issuer {
    /// `https://tenant/` (with the slash, as Auth0 writes `iss`).
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    client: reqwest::Client,
    keys: Mutex<Option<Arc<JwkSet>>>,
    /// Fetch attempts, for the stats.
    pub fetches: AtomicU64,
}

impl Issuer {
    /// `issuer` gets a trailing `/` if it has none; `ca`: PEM of an extra
    /// certificate authority to trust (an emulator's `--tls`).
    pub fn new(issuer: &str, audience: &str, ca: Option<&[u8]>) -> Result<Issuer, String> {
        let issuer = if issuer.ends_with('/') {
            issuer.to_owned()
        } else {
            format!("{issuer}/")
        };
        let url = reqwest::Url::parse(&issuer).map_err(|e| format!("--issuer {issuer:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "--issuer {issuer:?}: an http(s) URL with a host is needed"
            ));
        }
        if audience.is_empty() {
            return Err("--audience must not be empty".to_owned());
        }
        let mut options = ClientOptions::with_timeout(JWKS_TIMEOUT);
        if let Some(pem) = ca {
            let root =
                reqwest::Certificate::from_pem(pem).map_err(|e| format!("--issuer-ca: {e}"))?;
            options.extra_roots.push(root);
        }
        let client = http_client(&options).map_err(|e| e.to_string())?;
        Ok(Issuer {
            jwks_url: format!("{issuer}.well-known/jwks.json"),
            issuer,
            audience: audience.to_owned(),
            client,
            keys: Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// The request's token, checked; its claims.
    pub async fn check(&self, headers: &HeaderMap) -> Result<Claims, TokenError> {
        let token = bearer(headers).ok_or_else(|| invalid("no bearer token"))?;
        let header = decode_header(token).map_err(|e| invalid(&format!("not a JWT ({e})")))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("the token is not signed with RS256"));
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the token names no key (kid)"))?;
        let keys = self.keys().await?;
        let jwk = keys
            .find(&kid)
            .ok_or_else(|| invalid("the token's key (kid) is not in the issuer's JWKS"))?;
        let key =
            DecodingKey::from_jwk(jwk).map_err(|e| invalid(&format!("unusable JWKS key ({e})")))?;
        let claims = decode::<Claims>(token, &key, &self.validation())
            .map_err(|e| invalid(&format!("the token is not valid for this API ({e})")))?
            .claims;
        if !claims.sub.ends_with("@clients") {
            return Err(invalid(
                "not a client-credentials token (sub must end with @clients)",
            ));
        }
        Ok(claims)
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        validation
    }

    /// The JWKS, fetched once (a failed fetch is tried again next time).
    async fn keys(&self) -> Result<Arc<JwkSet>, TokenError> {
        let mut cached = self.keys.lock().await;
        if let Some(keys) = cached.as_ref() {
            return Ok(keys.clone());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let unavailable =
            |e: &dyn std::fmt::Display| TokenError::Unavailable(format!("{}: {e}", self.jwks_url));
        let response = self
            .client
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&response.status()));
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(unavailable(&"the JWKS is too large"));
            }
            body.extend_from_slice(&chunk);
        }
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        let keys = Arc::new(keys);
        *cached = Some(keys.clone());
        Ok(keys)
    }
}

fn invalid(message: &str) -> TokenError {
    TokenError::Invalid(message.to_owned())
}

/// `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_issuer_gets_its_slash_and_the_jwks_its_place() {
        let issuer = Issuer::new("http://127.0.0.1:9", "https://legacy.example/api", None).unwrap();
        assert_eq!(issuer.issuer, "http://127.0.0.1:9/");
        assert_eq!(issuer.jwks_url, "http://127.0.0.1:9/.well-known/jwks.json");
        assert!(Issuer::new("127.0.0.1:9", "x", None).is_err());
        assert!(Issuer::new("http://127.0.0.1:9/", "", None).is_err());
    }

    #[test]
    fn only_a_bearer_token_is_read() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  abc "),
        );
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }
}
