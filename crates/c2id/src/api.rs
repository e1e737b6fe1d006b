//! One Connect2id server's web APIs, as far as a migration needs them:
//! discovery (OpenID provider metadata, public JWK set, the version on the
//! splash page), a cheap check of each API token, the three listings, and
//! one record at a time (read, create, delete).
//!
//! Reads are retried on no answer, 429 and 5xx (with the server's
//! `Retry-After`, else back-off with jitter). A write is tried once per
//! call, apart from 429s and connection failures before anything was sent:
//! a write whose answer was lost may or may not have happened, and the
//! caller looks the record up before sending it again.
//!
//! Tokens go only into `Authorization` headers; no error message holds a
//! token, a secret, a record or a SID.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::Value;
use trickle_transfer::{describe_transport_error, ClientOptions, RetryPolicy};

use crate::record::{Key, Phase};
use crate::version::{self, Version};

/// The bearer token of each web API (the real server has one per API).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiTokens {
    pub clients: Option<String>,
    pub authorizations: Option<String>,
    pub sessions: Option<String>,
}

impl ApiTokens {
    /// One token for every API.
    pub fn all(token: &str) -> ApiTokens {
        ApiTokens {
            clients: Some(token.to_owned()),
            authorizations: Some(token.to_owned()),
            sessions: Some(token.to_owned()),
        }
    }

    pub fn get(&self, phase: Phase) -> Option<&str> {
        match phase {
            Phase::Clients => self.clients.as_deref(),
            Phase::Authorizations => self.authorizations.as_deref(),
            Phase::Sessions => self.sessions.as_deref(),
        }
    }
}

impl fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |t: &Option<String>| if t.is_some() { "(set)" } else { "(unset)" };
        f.debug_struct("ApiTokens")
            .field("clients", &shown(&self.clients))
            .field("authorizations", &shown(&self.authorizations))
            .field("sessions", &shown(&self.sessions))
            .finish()
    }
}

/// The name of each web API, as the operator knows it.
pub fn api_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Clients => "client registration",
        Phase::Authorizations => "authorisation store",
        Phase::Sessions => "session store",
    }
}

/// Why a server cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    #[error("the {side} server ({url}) gives no usable answer: {why}")]
    Unreachable {
        side: &'static str,
        url: String,
        why: String,
    },
    #[error("the {side} server refuses the {api} API token (HTTP {status}): check the token")]
    TokenRefused {
        side: &'static str,
        api: &'static str,
        status: u16,
    },
    #[error(
        "the {side} server's {api} API is switched off (HTTP 403: no token configured for it)"
    )]
    ApiDisabled {
        side: &'static str,
        api: &'static str,
    },
    #[error("the {side} server: {message}")]
    Unexpected { side: &'static str, message: String },
}

/// What became of one write.
#[derive(Debug)]
pub enum Written {
    /// 2xx; the body, when it was JSON.
    Accepted(Option<Value>),
    /// A 4xx other than 401/429, with the server's error.
    Refused { status: u16, message: String },
    /// Sent, but no usable answer (none, 5xx, a broken or unreadable
    /// body): the write may or may not have happened.
    Uncertain(String),
}

/// Which authorisation store API a migration uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthzApi {
    V2,
    V3,
}

impl AuthzApi {
    /// v3 from server 10.0, v2 before.
    pub fn for_version(version: Version) -> AuthzApi {
        if version >= version::AUTHZ_V3 {
            AuthzApi::V3
        } else {
            AuthzApi::V2
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            AuthzApi::V2 => "/authz-store/rest/v2/authorizations",
            AuthzApi::V3 => "/authz-store/rest/v3/authorizations",
        }
    }
}

/// Timeouts, retries and trust for talking to a server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// A whole request and answer (one record).
    pub request_timeout: Duration,
    /// The longest silence while reading a listing.
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
    /// Connections kept open per server.
    pub connections: usize,
    /// Certificate authorities trusted besides the public ones (a server
    /// behind a private CA, or an emulator's `--tls`).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl HttpOptions {
    /// Trusts the certificate authorities of a PEM file too; an error says
    /// why the text is not that.
    pub fn trust_pem(&mut self, pem: &[u8]) -> Result<(), String> {
        let certificates = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|error| format!("not PEM certificates ({error})"))?;
        if certificates.is_empty() {
            return Err("no certificate in it".to_owned());
        }
        self.extra_roots.extend(certificates);
        Ok(())
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            connections: 64,
            extra_roots: Vec::new(),
        }
    }
}

/// 429s waited out for one request before giving up (they are the server
/// pacing us, not failures).
const MAX_RATE_LIMITED: u32 = 200;
/// How often a splash page without a version is read before it counts as
/// switched off.
const SPLASH_READS: u32 = 5;

/// A Connect2id server.
pub struct Server {
    /// "source" or "target", for messages.
    pub side: &'static str,
    pub issuer: String,
    pub registration_endpoint: String,
    pub jwks_uri: String,
    authz_api: AuthzApi,
    http: Client,
    listing: Client,
    tokens: ApiTokens,
    retry: RetryPolicy,
}

/// One try: an answer, or none.
enum Attempt {
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// `sent`: the request may have reached the server.
    NoAnswer { sent: bool, why: String },
    /// The server's TLS certificate is not trusted: no retry can help.
    Untrusted { why: String },
}

impl Server {
    /// Reads the server's OpenID provider metadata at
    /// `[issuer]/.well-known/openid-configuration`.
    pub async fn discover(
        side: &'static str,
        issuer: &str,
        tokens: ApiTokens,
        options: HttpOptions,
    ) -> Result<Server, ServerError> {
        let issuer = issuer.trim().trim_end_matches('/').to_owned();
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(ServerError::Unexpected {
                side,
                message: format!("{issuer:?} is not an http(s) URL"),
            });
        }
        let build = |timeout: Option<Duration>, read: Option<Duration>| {
            let client_options = ClientOptions {
                timeout,
                connect_timeout: Duration::from_secs(10),
                read_timeout: read,
                extra_roots: options.extra_roots.clone(),
                idle_per_host: Some(options.connections.max(1)),
            };
            trickle_transfer::http_client(&client_options).map_err(|error| {
                ServerError::Unexpected {
                    side,
                    message: error.to_string(),
                }
            })
        };
        let mut server = Server {
            side,
            registration_endpoint: format!("{issuer}/clients"),
            jwks_uri: format!("{issuer}/jwks.json"),
            issuer,
            authz_api: AuthzApi::V3,
            http: build(Some(options.request_timeout), None)?,
            listing: build(None, Some(options.read_timeout))?,
            tokens,
            retry: options.retry,
        };
        let url = format!("{}/.well-known/openid-configuration", server.issuer);
        let (status, body) = server.read(|| server.http.get(&url), None, is_json).await?;
        if !status.is_success() {
            return Err(server.unexpected(format!(
                "{url} answers HTTP {}: is {} the issuer URL?",
                status.as_u16(),
                server.issuer
            )));
        }
        let metadata: Value = serde_json::from_slice(&body).expect("checked as JSON");
        let text = |name: &str| {
            metadata
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if let Some(endpoint) = text("registration_endpoint") {
            server.registration_endpoint = endpoint.trim_end_matches('/').to_owned();
        }
        if let Some(uri) = text("jwks_uri") {
            server.jwks_uri = uri;
        }
        Ok(server)
    }

    pub fn set_authz_api(&mut self, api: AuthzApi) {
        self.authz_api = api;
    }

    pub fn authz_api(&self) -> AuthzApi {
        self.authz_api
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn unexpected(&self, message: String) -> ServerError {
        ServerError::Unexpected {
            side: self.side,
            message,
        }
    }

    /// The version in the heading of the splash page at the issuer URL, if
    /// the page is there and shows one.
    /// A page without the version is read again a few times before the
    /// answer is "none": a proxy's error page or a cut answer is not a
    /// splash page switched off.
    pub async fn splash_version(&self) -> Result<Option<Version>, ServerError> {
        for _ in 0..SPLASH_READS {
            let (status, body) = self
                .read(|| self.http.get(&self.issuer), None, |_| true)
                .await?;
            if status.is_success() {
                if let Some(version) = version::from_splash_page(&String::from_utf8_lossy(&body)) {
                    return Ok(Some(version));
                }
            }
        }
        Ok(None)
    }

    /// The public JWK set.
    pub async fn jwks(&self) -> Result<Value, ServerError> {
        let (status, body) = self
            .read(|| self.http.get(&self.jwks_uri), None, is_json)
            .await?;
        if !status.is_success() {
            return Err(self.unexpected(format!(
                "its JWK set ({}) answers HTTP {}",
                self.jwks_uri,
                status.as_u16()
            )));
        }
        Ok(serde_json::from_slice(&body).expect("checked as JSON"))
    }

    /// Whether `phase`'s API takes its token: a read of a record that does
    /// not exist (404 with a good token, 401 with a bad one).
    pub async fn check_token(&self, phase: Phase) -> Result<(), ServerError> {
        let probe = "trickle-token-check";
        let (status, body) = match phase {
            Phase::Clients => {
                let url = format!("{}/{probe}", self.registration_endpoint);
                self.read(
                    || self.authorised(phase, self.http.get(&url)),
                    Some(phase),
                    |_| true,
                )
                .await?
            }
            Phase::Authorizations => {
                let url = self.authz_url();
                self.read(
                    || {
                        self.authorised(
                            phase,
                            self.http
                                .get(&url)
                                .query(&[("subject", probe), ("client", probe)]),
                        )
                    },
                    Some(phase),
                    |_| true,
                )
                .await?
            }
            Phase::Sessions => {
                let url = self.sessions_url();
                self.read(
                    || {
                        self.authorised(
                            phase,
                            self.http.get(&url).header("SID", format!("{probe}.probe")),
                        )
                    },
                    Some(phase),
                    |_| true,
                )
                .await?
            }
        };
        match status.as_u16() {
            200..=299 | 400 | 404 => Ok(()),
            status => Err(self.unexpected(format!(
                "the {} API answers a token check with HTTP {status}: {}",
                api_name(phase),
                error_text(&body)
            ))),
        }
    }

    fn authz_url(&self) -> String {
        format!("{}{}", self.issuer, self.authz_api.path())
    }

    fn sessions_url(&self) -> String {
        format!("{}/session-store/rest/v2/sessions", self.issuer)
    }

    fn authorised(&self, phase: Phase, request: RequestBuilder) -> RequestBuilder {
        match self.tokens.get(phase) {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Opens `phase`'s listing; its body is still to be read.
    pub async fn open_listing(&self, phase: Phase) -> Result<reqwest::Response, ServerError> {
        let url = match phase {
            Phase::Clients => self.registration_endpoint.clone(),
            Phase::Authorizations => self.authz_url(),
            Phase::Sessions => self.sessions_url(),
        };
        let mut tries = 0;
        let mut rate_limited = 0;
        loop {
            let request = self.authorised(phase, self.listing.get(&url));
            let why = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return Ok(response);
                    }
                    let headers = response.headers().clone();
                    let body = response.bytes().await.unwrap_or_default();
                    self.refusal(status, Some(phase))?;
                    if status == StatusCode::TOO_MANY_REQUESTS && rate_limited < MAX_RATE_LIMITED {
                        rate_limited += 1;
                        tokio::time::sleep(self.retry.wait_after(&headers, rate_limited)).await;
                        continue;
                    }
                    if !status.is_server_error() {
                        return Err(self.unexpected(format!(
                            "its {} listing answers HTTP {}: {}",
                            api_name(phase),
                            status.as_u16(),
                            error_text(&body)
                        )));
                    }
                    tries += 1;
                    if self.retry.exhausted(tries) {
                        return Err(self.unreachable(
                            &url,
                            format!("HTTP {} after {tries} tries", status.as_u16()),
                        ));
                    }
                    tokio::time::sleep(self.retry.wait_after(&headers, tries)).await;
                    continue;
                }
                Err(error) => describe_transport_error(&error, "no answer"),
            };
            tries += 1;
            if self.retry.exhausted(tries) {
                return Err(self.unreachable(&url, format!("{why} ({tries} tries)")));
            }
            tokio::time::sleep(self.retry.backoff(tries)).await;
        }
    }

    /// One record from the target's API, `None` when it has none. Sessions
    /// are read by their full `sid`.
    pub async fn get_one(
        &self,
        key: &Key,
        sid: Option<&str>,
    ) -> Result<Option<Value>, ServerError> {
        let phase = key.phase();
        let usable = is_json;
        let (status, body) = match key {
            Key::Client(id) => {
                let url = format!("{}/{}", self.registration_endpoint, path_segment(id));
                self.read(
                    || self.authorised(phase, self.http.get(&url)),
                    Some(phase),
                    usable,
                )
                .await?
            }
            Key::Authorization { sub, cid } => {
                let url = self.authz_url();
                self.read(
                    || {
                        self.authorised(
                            phase,
                            self.http
                                .get(&url)
                                .query(&[("subject", sub.as_str()), ("client", cid.as_str())]),
                        )
                    },
                    Some(phase),
                    usable,
                )
                .await?
            }
            Key::Session(_) => {
                let url = self.sessions_url();
                let sid = sid.unwrap_or_default().to_owned();
                self.read(
                    || self.authorised(phase, self.http.get(&url).header("SID", sid.as_str())),
                    Some(phase),
                    usable,
                )
                .await?
            }
        };
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let value: Value = serde_json::from_slice(&body).expect("checked as JSON");
                Ok(Some(value))
            }
            status => Err(self.unexpected(format!(
                "reading one record of its {} API answers HTTP {}: {}",
                api_name(phase),
                status.as_u16(),
                error_text(&body)
            ))),
        }
    }

    /// Creates (or, for authorisations and sessions, replaces) a record.
    /// `sid_key` is the `SID-Key` of a session.
    pub async fn create(
        &self,
        phase: Phase,
        body: &Value,
        sid_key: Option<&str>,
    ) -> Result<Written, ServerError> {
        let payload = serde_json::to_vec(body).expect("JSON values serialise");
        let url = match phase {
            Phase::Clients => self.registration_endpoint.clone(),
            Phase::Authorizations => format!("{}?import=true", self.authz_url()),
            Phase::Sessions => self.sessions_url(),
        };
        self.write(phase, &url, || {
            let request = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(payload.clone());
            match sid_key {
                Some(key) => request.header("SID-Key", key),
                None => request,
            }
        })
        .await
    }

    /// Deletes a client (by id) or a session (by full SID).
    pub async fn delete(&self, key: &Key, sid: Option<&str>) -> Result<Written, ServerError> {
        let phase = key.phase();
        match key {
            Key::Client(id) => {
                let url = format!("{}/{}", self.registration_endpoint, path_segment(id));
                self.write(phase, &url, || self.http.delete(&url)).await
            }
            Key::Session(_) => {
                let url = self.sessions_url();
                let sid = sid.unwrap_or_default();
                self.write(phase, &url, || self.http.delete(&url).header("SID", sid))
                    .await
            }
            Key::Authorization { sub, cid } => {
                let url = self.authz_url();
                self.write(phase, &url, || {
                    self.http
                        .delete(&url)
                        .query(&[("subject", sub.as_str()), ("client", cid.as_str())])
                })
                .await
            }
        }
    }

    /// A write, tried once; 429s and failures to connect (nothing sent)
    /// are waited out and tried again.
    async fn write(
        &self,
        phase: Phase,
        url: &str,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Written, ServerError> {
        let mut unsent = 0;
        let mut rate_limited = 0;
        loop {
            match self.attempt(self.authorised(phase, make())).await {
                Attempt::NoAnswer { sent: false, why } => {
                    unsent += 1;
                    if self.retry.exhausted(unsent) {
                        return Err(self.unreachable(url, format!("{why} ({unsent} tries)")));
                    }
                    tokio::time::sleep(self.retry.backoff(unsent)).await;
                }
                Attempt::NoAnswer { sent: true, why } => return Ok(Written::Uncertain(why)),
                Attempt::Untrusted { why } => return Err(self.unreachable(url, why)),
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => {
                    self.refusal(status, Some(phase))?;
                    if status == StatusCode::TOO_MANY_REQUESTS && rate_limited < MAX_RATE_LIMITED {
                        rate_limited += 1;
                        tokio::time::sleep(self.retry.wait_after(&headers, rate_limited)).await;
                        continue;
                    }
                    return Ok(if status.is_success() {
                        if body.iter().all(u8::is_ascii_whitespace) {
                            Written::Accepted(None)
                        } else {
                            match serde_json::from_slice::<Value>(&body) {
                                Ok(value) => Written::Accepted(Some(value)),
                                Err(_) => Written::Uncertain(format!(
                                    "HTTP {} with a body that is not JSON",
                                    status.as_u16()
                                )),
                            }
                        }
                    } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                        Written::Uncertain(format!(
                            "HTTP {}: {}",
                            status.as_u16(),
                            error_text(&body)
                        ))
                    } else {
                        Written::Refused {
                            status: status.as_u16(),
                            message: error_text(&body),
                        }
                    });
                }
            }
        }
    }

    /// A read, tried until it gets a usable answer: anything but 429 and
    /// 5xx, and a 2xx whose body `usable` accepts.
    async fn read(
        &self,
        make: impl Fn() -> RequestBuilder,
        phase: Option<Phase>,
        usable: impl Fn(&Bytes) -> bool,
    ) -> Result<(StatusCode, Bytes), ServerError> {
        let mut tries = 0;
        let mut rate_limited = 0;
        loop {
            let request = make();
            let url = request
                .try_clone()
                .and_then(|r| r.build().ok())
                .map(|r| without_query(r.url()))
                .unwrap_or_default();
            let (why, wait_hint) = match self.attempt(request).await {
                Attempt::Untrusted { why } => return Err(self.unreachable(&url, why)),
                Attempt::NoAnswer { why, .. } => (why, None),
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => {
                    self.refusal(status, phase)?;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        if rate_limited < MAX_RATE_LIMITED {
                            rate_limited += 1;
                            tokio::time::sleep(self.retry.wait_after(&headers, rate_limited)).await;
                            continue;
                        }
                        (format!("still HTTP 429 after {rate_limited} waits"), None)
                    } else if status.is_server_error() {
                        (format!("HTTP {}", status.as_u16()), Some(headers))
                    } else if status.is_success() && !usable(&body) {
                        (
                            format!("HTTP {} with an unusable body", status.as_u16()),
                            None,
                        )
                    } else {
                        return Ok((status, body));
                    }
                }
            };
            tries += 1;
            if self.retry.exhausted(tries) {
                return Err(self.unreachable(&url, format!("{why} ({tries} tries)")));
            }
            let wait = match wait_hint {
                Some(headers) => self.retry.wait_after(&headers, tries),
                None => self.retry.backoff(tries),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// 401 and 403 end everything: the token is wrong, or the API is off.
    fn refusal(&self, status: StatusCode, phase: Option<Phase>) -> Result<(), ServerError> {
        let Some(phase) = phase else { return Ok(()) };
        match status {
            StatusCode::UNAUTHORIZED => Err(ServerError::TokenRefused {
                side: self.side,
                api: api_name(phase),
                status: 401,
            }),
            StatusCode::FORBIDDEN => Err(ServerError::ApiDisabled {
                side: self.side,
                api: api_name(phase),
            }),
            _ => Ok(()),
        }
    }

    async fn attempt(&self, request: RequestBuilder) -> Attempt {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if is_untrusted_certificate(&error) => {
                return Attempt::Untrusted {
                    why: format!(
                        "its TLS certificate is not trusted ({}): trust its certificate authority (--ca-file)",
                        describe_transport_error(&error, "no answer")
                    ),
                }
            }
            Err(error) => {
                return Attempt::NoAnswer {
                    sent: !error.is_connect(),
                    why: describe_transport_error(&error, "no answer"),
                }
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => Attempt::Answer {
                status,
                headers,
                body,
            },
            Err(error) => Attempt::NoAnswer {
                sent: true,
                why: format!(
                    "HTTP {} whose body broke off ({})",
                    status.as_u16(),
                    describe_transport_error(&error, "no answer")
                ),
            },
        }
    }

    fn unreachable(&self, url: &str, why: String) -> ServerError {
        ServerError::Unreachable {
            side: self.side,
            url: url.to_owned(),
            why,
        }
    }
}

fn is_json(body: &Bytes) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// A URL for messages: no query (it can name subjects).
fn without_query(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// A client id as one path segment.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The server's error (`error_description`, else `error`, else the start
/// of the body).
pub fn error_text(body: &[u8]) -> String {
    if let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) {
        let error = members.get("error").and_then(Value::as_str);
        let description = members.get("error_description").and_then(Value::as_str);
        match (error, description) {
            (Some(error), Some(description)) => return format!("{error}: {description}"),
            (Some(text), None) | (None, Some(text)) => return text.to_owned(),
            (None, None) => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(no body)".to_owned(),
        None => text.to_owned(),
    }
}

/// A transport failure, without the URL (its query can name subjects).
/// Whether the request failed because the server's certificate was
/// refused: rustls's error, somewhere in the chain (hyper wraps it in
/// `io::Error`s inside `io::Error`s, whose `source` skips them).
fn is_untrusted_certificate(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(mut inner) = source {
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        source = inner.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_show_in_debug_output() {
        let tokens = ApiTokens::all("sup3rs3cr3tT0k3n");
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("sup3rs3cr3t"), "{shown}");
        assert!(shown.contains("(set)"));
    }

    #[test]
    fn client_ids_are_escaped_as_one_path_segment() {
        assert_eq!(path_segment("web-app_1.x~"), "web-app_1.x~");
        assert_eq!(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn errors_are_read_from_oauth_bodies() {
        assert_eq!(
            error_text(br#"{"error":"invalid_client_metadata","error_description":"Bad URI"}"#),
            "invalid_client_metadata: Bad URI"
        );
        assert_eq!(
            error_text(br#"{"error":"invalid_request"}"#),
            "invalid_request"
        );
        assert_eq!(error_text(b""), "(no body)");
        assert_eq!(error_text(&[b'x'; 400]).chars().count(), 161);
    }

    #[test]
    fn the_authz_api_follows_the_version() {
        assert_eq!(AuthzApi::for_version(Version::new(9, 5)), AuthzApi::V2);
        assert_eq!(AuthzApi::for_version(Version::new(10, 0)), AuthzApi::V3);
    }
}
