//! One Connect2id server's web APIs, as far as a migration needs them:
//! discovery (OpenID provider metadata, public JWK set, the version on the
//! splash page), a cheap check of each API token, the three listings, and
//! one record at a time (read, create, update, delete).
//!
//! Tokens go only into `Authorization` headers, and only to the issuer's
//! origin: an endpoint the discovery document names elsewhere is refused
//! ([`crate::origin`]). No error message holds a token, a secret, a record
//! or a SID: every server text goes through [`crate::scrub`]. How often a
//! request is tried and how long it may wait is [`request`]'s.

mod request;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::Value;
use trickle_transfer::{ClientOptions, RetryPolicy};

pub use request::{error_text, Budget};
use request::{Attempt, Call};

use crate::listing::ListingOptions;
use crate::origin;
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

    /// Every token set, to scrub from texts.
    pub(crate) fn all_set(&self) -> Vec<&str> {
        Phase::ALL.iter().filter_map(|p| self.get(*p)).collect()
    }

    /// The APIs whose token is no bearer token (RFC 6750: letters, digits
    /// and `-._~+/`, then `=`s): it could not be sent in a header.
    pub fn unusable(&self) -> Vec<Phase> {
        Phase::ALL
            .into_iter()
            .filter(|phase| self.get(*phase).is_some_and(|t| !is_bearer_token(t)))
            .collect()
    }
}

/// RFC 6750's `b64token`.
pub fn is_bearer_token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
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

/// Why a server (or one request to it) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    #[error("the {side} server ({url}) gives no usable answer: {why}")]
    Unreachable {
        side: &'static str,
        url: String,
        why: String,
    },
    /// An answer that another try would not change.
    #[error("the {side} server ({url}): {why}")]
    Unusable {
        side: &'static str,
        url: String,
        why: String,
    },
    /// The server cannot be talked to at all as given (TLS trust, the
    /// wrong scheme for its port).
    #[error("the {side} server ({url}) cannot be used: {why}")]
    Protocol {
        side: &'static str,
        url: String,
        why: String,
    },
    #[error(
        "the {side} server's discovery document names its {member} {why}: trickle sends tokens \
         and secrets only to the origin and path given with --{side}; give the URL the server \
         advertises, or fix the server's configuration"
    )]
    OffOrigin {
        side: &'static str,
        member: &'static str,
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

impl ServerError {
    /// Whether no other record could fare better: the run must stop.
    pub fn ends_the_run(&self) -> bool {
        matches!(
            self,
            ServerError::Protocol { .. }
                | ServerError::OffOrigin { .. }
                | ServerError::TokenRefused { .. }
                | ServerError::ApiDisabled { .. }
        )
    }

    /// The operator's setup is at fault (exit 2).
    pub fn is_setup(&self) -> bool {
        self.ends_the_run()
    }
}

/// What became of one write.
#[derive(Debug)]
pub enum Written {
    /// 2xx; the body, when there was one (JSON).
    Accepted { status: u16, body: Option<Value> },
    /// A 4xx other than 401/403/429, with the server's error (scrubbed of
    /// tokens; the caller scrubs the record's secrets).
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

    /// Where consent is withdrawn (an authorisation removed).
    pub fn revocation_path(self) -> &'static str {
        match self {
            AuthzApi::V2 => "/authz-store/rest/v2/revocation",
            AuthzApi::V3 => "/authz-store/rest/v3/revocation",
        }
    }
}

/// A long wait about to start, for the operator to see.
#[derive(Debug, Clone)]
pub struct WaitNotice {
    pub side: &'static str,
    pub url: String,
    pub wait: Duration,
    pub why: String,
}

/// Told of every wait of [`HttpOptions::notice_waits_over`] or more.
pub type OnWait = Arc<dyn Fn(&WaitNotice) + Send + Sync>;

/// Timeouts, retries, limits and trust for talking to a server.
#[derive(Clone)]
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
    /// All the waiting one record's requests may do (429s, back-off).
    pub max_wait: Duration,
    /// Waits this long or longer are announced through `on_wait`.
    pub notice_waits_over: Duration,
    pub on_wait: Option<OnWait>,
    /// How long a listing may go without a new record.
    pub stall_timeout: Duration,
    /// Records (and one-record answers) longer than this are not read.
    pub max_record_bytes: usize,
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("retry", &self.retry)
            .field("connections", &self.connections)
            .field("max_wait", &self.max_wait)
            .field("stall_timeout", &self.stall_timeout)
            .field("max_record_bytes", &self.max_record_bytes)
            .finish_non_exhaustive()
    }
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

    pub fn listing_options(&self) -> ListingOptions {
        ListingOptions::new(self.max_record_bytes, self.stall_timeout)
    }
}

/// The default `--max-record-bytes`: 1 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            connections: 64,
            extra_roots: Vec::new(),
            max_wait: Duration::from_secs(300),
            notice_waits_over: Duration::from_secs(10),
            on_wait: None,
            stall_timeout: Duration::from_secs(120),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// How often a splash page without a version is read before it counts as
/// switched off.
const SPLASH_READS: u32 = 5;

/// A Connect2id server.
pub struct Server {
    /// "source" or "target", for messages.
    pub side: &'static str,
    /// The issuer URL as given (checked), without a trailing `/`.
    pub issuer: String,
    issuer_url: Url,
    pub registration_endpoint: String,
    pub jwks_uri: String,
    authz_api: AuthzApi,
    http: Client,
    listing: Client,
    tokens: ApiTokens,
    options: HttpOptions,
}

impl Server {
    /// Checks the issuer URL and reads the server's OpenID provider
    /// metadata at `[issuer]/.well-known/openid-configuration`; the
    /// endpoints it names are used only under the issuer's origin and path.
    pub async fn discover(
        side: &'static str,
        issuer: &str,
        tokens: ApiTokens,
        options: HttpOptions,
    ) -> Result<Server, ServerError> {
        let issuer_url = origin::parse_issuer(issuer)
            .map_err(|message| ServerError::Unexpected { side, message })?;
        let issuer = issuer_url.as_str().trim_end_matches('/').to_owned();
        let mut server = Server {
            side,
            registration_endpoint: format!("{issuer}/clients"),
            jwks_uri: format!("{issuer}/jwks.json"),
            issuer,
            issuer_url,
            authz_api: AuthzApi::V3,
            http: client(side, &options, Some(options.request_timeout), None)?,
            listing: client(side, &options, None, Some(options.read_timeout))?,
            tokens,
            options,
        };
        let metadata = server.metadata().await?;
        for (member, slot) in [
            ("registration_endpoint", &mut server.registration_endpoint),
            ("jwks_uri", &mut server.jwks_uri),
        ] {
            let Some(advertised) = metadata.get(member).and_then(Value::as_str) else {
                continue;
            };
            *slot = origin::under_issuer(&server.issuer_url, advertised)
                .map_err(|why| ServerError::OffOrigin { side, member, why })?;
        }
        Ok(server)
    }

    async fn metadata(&self) -> Result<Value, ServerError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let (status, body) = self
            .read(&Call::get(&url, None), true, &mut Budget::default())
            .await?;
        if !status.is_success() {
            return Err(self.unexpected(format!(
                "{url} answers HTTP {}: is {} the issuer URL?",
                status.as_u16(),
                self.issuer
            )));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub fn set_authz_api(&mut self, api: AuthzApi) {
        self.authz_api = api;
    }

    pub fn authz_api(&self) -> AuthzApi {
        self.authz_api
    }

    /// Whether a token for `phase`'s API was given.
    pub fn has_token(&self, phase: Phase) -> bool {
        self.tokens.get(phase).is_some()
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.options.retry
    }

    pub fn listing_options(&self) -> ListingOptions {
        self.options.listing_options()
    }

    /// The issuer as parsed (for comparing two servers' URLs).
    pub fn issuer_url(&self) -> &Url {
        &self.issuer_url
    }

    fn unexpected(&self, message: String) -> ServerError {
        ServerError::Unexpected {
            side: self.side,
            message,
        }
    }

    /// The version in the heading of the splash page at the issuer URL, if
    /// the page is there and shows one. A page without the version is read
    /// again a few times before the answer is "none": a proxy's error page
    /// or a cut answer is not a splash page switched off.
    pub async fn splash_version(&self) -> Result<Option<Version>, ServerError> {
        for _ in 0..SPLASH_READS {
            let call = Call::get(&self.issuer, None);
            let (status, body) = self.read(&call, false, &mut Budget::default()).await?;
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
        let call = Call::get(&self.jwks_uri, None);
        let (status, body) = self.read(&call, true, &mut Budget::default()).await?;
        if !status.is_success() {
            return Err(self.unexpected(format!(
                "its JWK set ({}) answers HTTP {}",
                self.jwks_uri,
                status.as_u16()
            )));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Whether `phase`'s API takes its token: a read of a record that does
    /// not exist (404 with a good token, 401 with a bad one).
    pub async fn check_token(&self, phase: Phase) -> Result<(), ServerError> {
        let probe = "trickle-token-check";
        let url = self.one_url(&Key::Client(probe.to_owned()), phase);
        let query = [("subject", probe), ("client", probe)];
        let sid = format!("{probe}.probe");
        let headers = [("SID", sid.as_str())];
        let call = Call {
            query: if phase == Phase::Authorizations {
                &query
            } else {
                &[]
            },
            headers: if phase == Phase::Sessions {
                &headers
            } else {
                &[]
            },
            ..Call::get(&url, Some(phase))
        };
        let (status, body) = self.read(&call, false, &mut Budget::default()).await?;
        match status.as_u16() {
            200..=299 | 400 | 404 => Ok(()),
            status => Err(self.unexpected(format!(
                "the {} API answers a token check with HTTP {status}: {}",
                api_name(phase),
                self.server_text(&body)
            ))),
        }
    }

    fn authz_url(&self) -> String {
        format!("{}{}", self.issuer, self.authz_api.path())
    }

    fn sessions_url(&self) -> String {
        format!("{}/session-store/rest/v2/sessions", self.issuer)
    }

    /// Where `phase`'s records are listed (and created).
    pub fn listing_url(&self, phase: Phase) -> String {
        match phase {
            Phase::Clients => self.registration_endpoint.clone(),
            Phase::Authorizations => self.authz_url(),
            Phase::Sessions => self.sessions_url(),
        }
    }

    /// Where one record of `phase` is read, updated and deleted (a client
    /// by its id in the path; the others by query or header).
    fn one_url(&self, key: &Key, phase: Phase) -> String {
        match (phase, key) {
            (Phase::Clients, Key::Client(id)) => {
                format!("{}/{}", self.registration_endpoint, path_segment(id))
            }
            _ => self.listing_url(phase),
        }
    }

    /// Opens `phase`'s listing; its body is still to be read.
    pub async fn open_listing(&self, phase: Phase) -> Result<reqwest::Response, ServerError> {
        let url = self.listing_url(phase);
        let call = Call::get(&url, Some(phase));
        let mut budget = Budget::default();
        let (mut tries, mut limited) = (0, 0);
        loop {
            let response = match self.build_listing(&call).send().await {
                Ok(response) => response,
                Err(error) => match self.transport_failure(&url, &error) {
                    Attempt::Failed(error) => return Err(error),
                    Attempt::NoAnswer { why, .. } => {
                        tries += 1;
                        self.pause(&url, tries, &why, None, &mut budget).await?;
                        continue;
                    }
                    Attempt::Answer { .. } => unreachable!("no answer"),
                },
            };
            let status = response.status();
            let headers = response.headers().clone();
            if status.is_success() {
                let html = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|kind| kind.contains("html"));
                if html {
                    return Err(self.not_json(&url, status, &headers));
                }
                return Ok(response);
            }
            let body = response.bytes().await.unwrap_or_default();
            self.refusal(status, Some(phase))?;
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
                self.rate_limited(&url, &headers, limited, &mut budget)
                    .await?;
                continue;
            }
            if !status.is_server_error() {
                return Err(self.unusable(
                    &url,
                    format!(
                        "its {} listing answers HTTP {}: {}",
                        api_name(phase),
                        status.as_u16(),
                        self.server_text(&body)
                    ),
                ));
            }
            tries += 1;
            let why = format!("HTTP {}", status.as_u16());
            self.pause(&url, tries, &why, Some(&headers), &mut budget)
                .await?;
        }
    }

    /// One record from the server's API, `None` when it has none.
    /// Sessions are read by their full `sid`, and marked as not used
    /// (`skip_last_used_update`), so a read keeps nothing alive.
    pub async fn get_one(
        &self,
        key: &Key,
        sid: Option<&str>,
        budget: &mut Budget,
    ) -> Result<Option<Value>, ServerError> {
        let phase = key.phase();
        let url = self.one_url(key, phase);
        let (query, headers) = naming(key, sid, true);
        let call = Call {
            query: &query,
            headers: &headers,
            ..Call::get(&url, Some(phase))
        };
        let (status, body) = self.read(&call, true, budget).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => Ok(serde_json::from_slice(&body).ok()),
            status => Err(self.unusable(
                &url,
                format!(
                    "reading one record of its {} API answers HTTP {}: {}",
                    api_name(phase),
                    status.as_u16(),
                    self.server_text(&body)
                ),
            )),
        }
    }

    /// Creates (or, for authorisations and sessions, replaces) a record.
    /// `sid_key` is the `SID-Key` of a session.
    pub async fn create(
        &self,
        phase: Phase,
        body: &Bytes,
        sid_key: Option<&str>,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let url = self.listing_url(phase);
        let headers: Vec<(&'static str, &str)> =
            sid_key.map(|k| ("SID-Key", k)).into_iter().collect();
        let query: &[(&str, &str)] = match phase {
            Phase::Authorizations => &[("import", "true")],
            _ => &[],
        };
        let call = Call {
            method: Method::POST,
            query,
            headers: &headers,
            body: Some(body),
            ..Call::get(&url, Some(phase))
        };
        self.write(&call, budget).await
    }

    /// Replaces a client registration's metadata (RFC 7592).
    pub async fn update_client(
        &self,
        id: &str,
        body: &Bytes,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let url = self.one_url(&Key::Client(id.to_owned()), Phase::Clients);
        let call = Call {
            method: Method::PUT,
            body: Some(body),
            ..Call::get(&url, Some(Phase::Clients))
        };
        self.write(&call, budget).await
    }

    /// Replaces a session's object under its SID (the session store's
    /// update: `PUT` with the `SID` header; 404 when it has none).
    pub async fn update_session(
        &self,
        sid: &str,
        body: &Bytes,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let url = self.sessions_url();
        let headers = [("SID", sid)];
        let call = Call {
            method: Method::PUT,
            headers: &headers,
            body: Some(body),
            ..Call::get(&url, Some(Phase::Sessions))
        };
        self.write(&call, budget).await
    }

    /// Deletes a client (by id) or a session (by full SID: a logout), or
    /// revokes an authorisation (by subject and client, as consent
    /// withdrawn is: `POST …/revocation`, quietly where the server can).
    pub async fn delete(
        &self,
        key: &Key,
        sid: Option<&str>,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let phase = key.phase();
        if let Key::Authorization { sub, cid } = key {
            return self.revoke(sub, cid, budget).await;
        }
        let url = self.one_url(key, phase);
        let (query, headers) = naming(key, sid, false);
        let call = Call {
            method: Method::DELETE,
            query: &query,
            headers: &headers,
            ..Call::get(&url, Some(phase))
        };
        self.write(&call, budget).await
    }

    /// Where authorisations are revoked.
    pub fn revocation_url(&self) -> String {
        format!("{}{}", self.issuer, self.authz_api.revocation_path())
    }

    /// Revokes one authorisation: a form of `subject` and `client_id`;
    /// `quiet=true` asks for 204 (from 12.17; older servers answer the
    /// removed authorisation, which is read and dropped, never shown).
    async fn revoke(
        &self,
        sub: &str,
        cid: &str,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let url = self.revocation_url();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("subject", sub)
            .append_pair("client_id", cid)
            .finish();
        let body = Bytes::from(form);
        let call = Call {
            method: Method::POST,
            query: &[("quiet", "true")],
            body: Some(&body),
            form: true,
            ..Call::get(&url, Some(Phase::Authorizations))
        };
        match self.write(&call, budget).await? {
            Written::Accepted { status, .. } => Ok(Written::Accepted { status, body: None }),
            other => Ok(other),
        }
    }

    fn build_listing(&self, call: &Call) -> reqwest::RequestBuilder {
        let request = self.listing.get(call.url);
        match call.phase.and_then(|phase| self.tokens.get(phase)) {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Waits out a lost answer before looking a record up again.
    pub async fn pause_after_loss(
        &self,
        phase: Phase,
        tries: u32,
        why: &str,
        budget: &mut Budget,
    ) -> Result<(), ServerError> {
        self.pause(&self.listing_url(phase), tries, why, None, budget)
            .await
    }
}

type Query<'a> = Vec<(&'a str, &'a str)>;
type Headers<'a> = Vec<(&'static str, &'a str)>;

/// How a request names one record beyond its URL: an authorisation by
/// query, a session by its `SID` header (a read also asks the server not
/// to count it as the session being used).
fn naming<'a>(key: &'a Key, sid: Option<&'a str>, read: bool) -> (Query<'a>, Headers<'a>) {
    match key {
        Key::Client(_) => (Vec::new(), Vec::new()),
        Key::Authorization { sub, cid } => (
            vec![("subject", sub.as_str()), ("client", cid.as_str())],
            Vec::new(),
        ),
        Key::Session(_) => {
            let query = if read {
                vec![("skip_last_used_update", "true")]
            } else {
                Vec::new()
            };
            (query, vec![("SID", sid.unwrap_or_default())])
        }
    }
}

fn client(
    side: &'static str,
    options: &HttpOptions,
    timeout: Option<Duration>,
    read: Option<Duration>,
) -> Result<Client, ServerError> {
    let client_options = ClientOptions {
        timeout,
        connect_timeout: Duration::from_secs(10),
        read_timeout: read,
        extra_roots: options.extra_roots.clone(),
        idle_per_host: Some(options.connections.max(1)),
    };
    trickle_transfer::http_client(&client_options).map_err(|error| ServerError::Unexpected {
        side,
        message: error.to_string(),
    })
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

/// What kind of transport failure a request met.
enum Cause {
    /// The server's certificate was refused.
    Untrusted,
    /// A TLS handshake met something that is not TLS.
    NotTls,
    /// An HTTP answer that does not parse as HTTP (TLS bytes, say).
    NotHttp,
    Other,
}

/// rustls's or hyper's error, somewhere in the chain (hyper wraps errors
/// in `io::Error`s inside `io::Error`s, whose `source` skips them).
fn transport_cause(error: &reqwest::Error) -> Cause {
    let mut source = std::error::Error::source(error);
    while let Some(mut inner) = source {
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                    Cause::Untrusted
                }
                _ => Cause::NotTls,
            };
        }
        if let Some(hyper) = inner.downcast_ref::<hyper::Error>() {
            if hyper.is_parse() {
                return Cause::NotHttp;
            }
        }
        source = inner.source();
    }
    Cause::Other
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
    fn only_bearer_tokens_can_be_sent() {
        assert!(is_bearer_token("c2idSimClientRegistrationToken0123456789"));
        assert!(is_bearer_token("a-b.c_d~e+f/g=="));
        for bad in ["", "===", "a b", "a\nb", "tok\r\nX: 1", "é"] {
            assert!(!is_bearer_token(bad), "{bad:?}");
        }
        let mut tokens = ApiTokens::all("good0123");
        tokens.sessions = Some("bad\ntoken".into());
        assert_eq!(tokens.unusable(), [Phase::Sessions]);
    }

    #[test]
    fn client_ids_are_escaped_as_one_path_segment() {
        assert_eq!(path_segment("web-app_1.x~"), "web-app_1.x~");
        assert_eq!(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn the_authz_api_follows_the_version() {
        assert_eq!(AuthzApi::for_version(Version::new(9, 5)), AuthzApi::V2);
        assert_eq!(AuthzApi::for_version(Version::new(10, 0)), AuthzApi::V3);
    }
}
