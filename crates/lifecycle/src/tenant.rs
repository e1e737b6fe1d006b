//! HTTP to a tenant, as the scripts do it: the domain checked by the core,
//! redirects never followed (they would carry the secret or the token
//! elsewhere), token requests to the custom domain when there is one, every
//! answer timed, 429 waited out within a bound and each long wait told.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::Client;
use serde_json::{json, Value};
use trickle_core::{
    base_url, classify_management_answer, parse_ratelimit_reset, ManagementOutcome,
};
use trickle_transfer::ClientOptions;

use crate::Secret;

/// A tenant and the client Trickle uses there.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// `https://tenant.auth0.com` (plain http only for loopback).
    pub domain: String,
    pub client_id: String,
    pub secret: Secret,
}

/// Why a tenant could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Domain(&'static str),
    #[error("cannot reach {0}")]
    Unreachable(String),
    /// The tenant refused the request (status, Auth0's error code, its text).
    #[error("{what}: HTTP {status} {code}{}", if .description.is_empty() { String::new() } else { format!(" ({})", .description) })]
    Refused {
        what: String,
        status: u16,
        code: String,
        description: String,
    },
    #[error("{0}")]
    Unexpected(String),
}

/// One answer (status 0: no answer; `transport` says why).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub elapsed: Duration,
    pub transport: Option<String>,
}

impl Answer {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Auth0's error code and text, from either API's error shape.
    pub fn error(&self) -> (String, String) {
        let body = self.json().unwrap_or(Value::Null);
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let code = text("error")
            .filter(|_| body.get("statusCode").is_none())
            .or_else(|| text("errorCode"))
            .or_else(|| text("error"))
            .unwrap_or_default();
        let description = text("error_description")
            .or_else(|| text("message"))
            .unwrap_or_default();
        (code, description)
    }
}

/// Told, in a line for the operator, of every wait of a second or more.
#[derive(Clone)]
pub struct WaitNotice(Arc<dyn Fn(&str) + Send + Sync>);

impl WaitNotice {
    pub fn new(tell: impl Fn(&str) + Send + Sync + 'static) -> WaitNotice {
        WaitNotice(Arc::new(tell))
    }

    pub fn tell(&self, line: &str) {
        (self.0)(line)
    }
}

impl fmt::Debug for WaitNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WaitNotice")
    }
}

/// A wait at least this long is told (a line on stderr).
pub const LONG_WAIT: Duration = Duration::from_secs(1);

pub struct Tenant {
    http: Client,
    /// The canonical origin: the Management API, and its audience.
    pub base: String,
    /// Where token requests go: the custom domain's origin, else `base`.
    pub token_base: String,
    pub credentials: Credentials,
    /// The longest a rate-limited request is waited out, in all.
    pub max_wait: Duration,
    notice: Option<WaitNotice>,
}

impl Tenant {
    pub fn new(credentials: Credentials, timeout: Duration) -> Result<Tenant, TenantError> {
        let base = base_url(&credentials.domain)
            .map_err(|e| TenantError::Domain(e.message()))?
            .to_owned();
        let http = trickle_transfer::http_client(&ClientOptions::with_timeout(timeout))
            .map_err(|e| TenantError::Unexpected(e.to_string()))?;
        Ok(Tenant {
            http,
            token_base: base.clone(),
            base,
            credentials,
            max_wait: Duration::from_secs(30),
            notice: None,
        })
    }

    /// Token requests go to `custom_domain` (checked as the scripts check
    /// it), as the scripts send them when the setting is there; the
    /// Management API and its audience stay on the canonical domain.
    pub fn set_token_origin(&mut self, custom_domain: &str) -> Result<(), TenantError> {
        self.token_base = base_url(custom_domain)
            .map_err(|e| TenantError::Domain(e.message()))?
            .to_owned();
        Ok(())
    }

    /// `GET token_base + path` with no credentials (the custom domain's
    /// discovery document).
    pub async fn get_public_token_origin(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.token_base)))
            .await
    }

    /// Long waits are told to `notice`.
    pub fn with_wait_notice(mut self, notice: WaitNotice) -> Tenant {
        self.notice = Some(notice);
        self
    }

    /// Tells of a wait, when it is a long one.
    pub fn tell_wait(&self, wait: Duration, why: &str) {
        if let (Some(notice), true) = (&self.notice, wait >= LONG_WAIT) {
            notice.tell(&format!("{why}: waiting {:.1} s", wait.as_secs_f64()));
        }
    }

    fn redact(&self, text: &str) -> String {
        self.credentials.secret.redact(text)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                match response.text().await {
                    Ok(body) => Answer {
                        status,
                        headers,
                        body,
                        elapsed: started.elapsed(),
                        transport: None,
                    },
                    Err(error) => Answer {
                        status: 0,
                        headers,
                        body: String::new(),
                        elapsed: started.elapsed(),
                        transport: Some(format!("the answer was cut off ({})", describe(&error))),
                    },
                }
            }
            Err(error) => Answer {
                status: 0,
                headers: HeaderMap::new(),
                body: String::new(),
                elapsed: started.elapsed(),
                transport: Some(describe(&error)),
            },
        }
    }

    /// `GET base + path` with no credentials.
    pub async fn get_public(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// `POST /oauth/token` (on the custom domain, when there is one) with
    /// the client's id and secret added to `fields`.
    pub async fn token_request(&self, mut fields: Value) -> Answer {
        fields["client_id"] = json!(self.credentials.client_id);
        fields["client_secret"] = json!(self.credentials.secret.expose());
        self.send(
            self.http
                .post(format!("{}/oauth/token", self.token_base))
                .json(&fields),
        )
        .await
    }

    /// The Management API audience of this tenant.
    pub fn audience(&self) -> String {
        format!("{}/api/v2/", self.base)
    }

    /// A client-credentials token for the Management API, or why not.
    pub async fn management_token(&self) -> Result<String, TenantError> {
        let answer = self
            .token_request(json!({"grant_type": "client_credentials", "audience": self.audience()}))
            .await;
        let token = answer.json().and_then(|b| {
            b.get("access_token")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        match (classify_management_answer(answer.status, None), token) {
            (ManagementOutcome::Ok, Some(token)) => Ok(token),
            _ if answer.status == 0 => Err(TenantError::Unreachable(format!(
                "{}/oauth/token: {}",
                self.token_base,
                answer.transport.as_deref().unwrap_or("no answer")
            ))),
            _ => Err(self.refusal("the Management API token", &answer)),
        }
    }

    /// A TenantError for an answer that is not what was wanted.
    pub fn refusal(&self, what: &str, answer: &Answer) -> TenantError {
        if answer.status == 0 {
            return TenantError::Unreachable(format!(
                "{} ({what}): {}",
                self.base,
                answer.transport.as_deref().unwrap_or("no answer")
            ));
        }
        if (300..400).contains(&answer.status) {
            return TenantError::Unexpected(format!(
                "{what}: HTTP {} redirect to {} (never followed: the domain must be the tenant's own)",
                answer.status,
                self.redact(answer.header("location").unwrap_or("?"))
            ));
        }
        let (code, description) = answer.error();
        TenantError::Refused {
            what: what.to_owned(),
            status: answer.status,
            code: self.redact(&code),
            description: self.redact(&description),
        }
    }

    /// A Management API call with a bearer token; a 429 is waited out (as
    /// long as `x-ratelimit-reset` says, at most `max_wait` in all), each
    /// long wait told. A 429 still is what comes back after that.
    pub async fn management(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Answer {
        let mut waited = Duration::ZERO;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = self.send(request).await;
            if answer.status != 429 || waited >= self.max_wait {
                return answer;
            }
            let wait = rate_limit_wait(&answer.headers).min(self.max_wait - waited);
            waited += wait;
            self.tell_wait(
                wait,
                &format!(
                    "{} {path} answered 429 (rate limit; {} s of at most {} s)",
                    method,
                    waited.as_secs(),
                    self.max_wait.as_secs()
                ),
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Downloads a pre-signed link (an export's `location`) with no
    /// credentials: the Management API token must never go to another host.
    pub async fn download(&self, url: &str) -> Result<reqwest::Response, TenantError> {
        let secure = url.starts_with("https://");
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| url.starts_with(prefix));
        if !secure && !loopback {
            return Err(TenantError::Unexpected(
                "the export's location is not an https:// link".to_owned(),
            ));
        }
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .map_err(|e| {
                TenantError::Unreachable(format!("the export's location: {}", describe(&e)))
            })?;
        if !response.status().is_success() {
            return Err(TenantError::Unexpected(format!(
                "downloading the export answered HTTP {}",
                response.status().as_u16()
            )));
        }
        Ok(response)
    }
}

/// How long a 429 asks to wait: until `x-ratelimit-reset`, 0.2 s to 10 s.
fn rate_limit_wait(headers: &HeaderMap) -> Duration {
    let reset = parse_ratelimit_reset(
        headers
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok()),
    );
    let wait = match reset {
        Some(reset) => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Duration::from_secs(u64::from(reset)).saturating_sub(now)
        }
        None => Duration::from_secs(1),
    };
    wait.clamp(Duration::from_millis(200), Duration::from_secs(10))
}

/// A transport error in a few words (reqwest's chain, without URLs' queries).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection refused or failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    if let Some(cause) = source.take() {
        text.push_str(&format!(": {cause}"));
    }
    text
}
