//! The new tenant's Management API, as far as import jobs need it: a
//! client-credentials token, job creation, job status, job errors, and
//! users by email (to learn whether a lost job ran: Auth0 cannot list
//! jobs). Every call honours 429 and `x-ratelimit-reset`.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use trickle_transfer::{describe_transport_error, ClientOptions, RetryPolicy, SecretForms};

use super::journal::JobSummary;

/// How long to wait after a 429, from its headers: what the tenant asked
/// for (`x-ratelimit-reset`, UNIX seconds, else `retry-after`, seconds or
/// an HTTP date), else `fallback`; never less than 200 ms nor more than
/// `cap`.
pub fn rate_limit_wait(headers: &HeaderMap, fallback: Duration, cap: Duration) -> Duration {
    let wait = trickle_transfer::server_wait(headers, SystemTime::now()).unwrap_or(fallback);
    wait.clamp(
        Duration::from_millis(200),
        cap.max(Duration::from_millis(200)),
    )
}

/// Why the API cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The tenant refused the client's credentials or grant.
    #[error("the tenant refused the client credentials: {0}")]
    Credentials(String),
    /// The token endpoint answered with a redirect (never followed: it
    /// would carry the client secret to wherever it points).
    #[error("{0}")]
    Redirected(String),
    /// Could not get an answer after retrying.
    #[error("{0}")]
    Unreachable(String),
}

/// What became of an upload.
#[derive(Debug)]
pub enum Submitted {
    /// Auth0 created the job.
    Created(String),
    /// 429: no job was created; try again after the wait.
    RateLimited(Duration),
    /// Refused with an error answer: no job was created.
    Refused(String),
    /// The upload may or may not have created a job.
    Uncertain(String),
}

/// What a job is doing.
#[derive(Debug)]
pub enum Polled {
    Running,
    Completed(JobSummary),
    Failed(String),
    NotFound,
    RateLimited(Duration),
    /// No usable answer this time.
    Transient(String),
}

/// Whether the tenant holds a user, by `GET /api/v2/users-by-email`.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A database user with that email and that raw `user_id`.
    Present,
    Absent,
    /// The tenant will not answer this client (401, 403: `read:users`).
    Refused(String),
    /// No usable answer after retrying.
    Unavailable(String),
}

#[derive(Deserialize)]
struct FoundUser {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    identities: Vec<FoundIdentity>,
}

#[derive(Deserialize)]
struct FoundIdentity {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    user_id: Option<Value>,
}

/// Whether a users-by-email answer holds the user an import file line
/// makes: same email (any case), and a database identity (`auth0`) whose id
/// is the line's raw `user_id` (any, when the line has none). A social user
/// with the same email is someone else.
fn holds(answer: &str, email: &str, raw_user_id: Option<&str>) -> Option<bool> {
    let users: Vec<FoundUser> = serde_json::from_str(answer).ok()?;
    Some(users.iter().any(|user| {
        user.email
            .as_deref()
            .is_some_and(|found| found.eq_ignore_ascii_case(email))
            && user.identities.iter().any(|identity| {
                identity.provider.as_deref() == Some("auth0")
                    && match (raw_user_id, &identity.user_id) {
                        (None, _) => true,
                        (Some(raw), Some(Value::String(id))) => id == raw,
                        (Some(raw), Some(Value::Number(id))) => id.to_string() == raw,
                        (Some(_), _) => false,
                    }
            })
    }))
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct JobAnswer {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    summary: Option<JobSummary>,
}

/// The connection to the tenant.
pub struct Api {
    http: Client,
    base: String,
    client_id: String,
    client_secret: String,
    /// The secret's forms, masked in every message quoting an answer.
    masks: SecretForms,
    token: Option<(String, Instant)>,
    /// The longest single wait for a rate limit.
    pub max_wait: Duration,
}

const CONNECT_RETRIES: u32 = 5;

/// Back-off between tries: 0.5 s, 1 s, 2 s, … up to 30 s, jittered.
const RETRY: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(30),
    max_wait: Duration::from_secs(60),
    attempts: CONNECT_RETRIES + 1,
};

fn backoff(retry: u32) -> Duration {
    RETRY.backoff(retry)
}

impl Api {
    pub fn new(
        base: &str,
        client_id: &str,
        client_secret: &str,
        timeout: Duration,
    ) -> Result<Api, ApiError> {
        let http = trickle_transfer::http_client(&ClientOptions::with_timeout(timeout))
            .map_err(|error| ApiError::Unreachable(error.to_string()))?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            masks: SecretForms::new(client_secret),
            token: None,
            max_wait: Duration::from_secs(60),
        })
    }

    /// A Management API token, fetched with client credentials and reused
    /// until a minute before it expires. A 429, a 5xx or no answer is tried
    /// again at most [`CONNECT_RETRIES`] times each; anything else ends it.
    pub async fn token(&mut self) -> Result<String, ApiError> {
        if let Some((token, until)) = &self.token {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let body = serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "audience": format!("{}/api/v2/", self.base),
        });
        let (mut failures, mut rate_limited) = (0, 0);
        loop {
            let answer = self
                .http
                .post(format!("{}/oauth/token", self.base))
                .json(&body)
                .send()
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(error) => {
                    self.back_off(&mut failures, || {
                        format!(
                            "cannot reach {}: {}",
                            self.base,
                            describe_transport_error(&error, "request failed")
                        )
                    })
                    .await?;
                    continue;
                }
            };
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                rate_limited += 1;
                if rate_limited > CONNECT_RETRIES {
                    return Err(ApiError::Unreachable(format!(
                        "the token endpoint of {} still answers HTTP 429 (rate limit) after {rate_limited} tries: run the same command again later",
                        self.base
                    )));
                }
                let wait = rate_limit_wait(response.headers(), backoff(1), self.max_wait);
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                self.back_off(&mut failures, || {
                    format!("the token endpoint answers HTTP {status}")
                })
                .await?;
                continue;
            }
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            return self.keep_token(status, &headers, &text);
        }
    }

    /// The token endpoint's final answer: the token (kept for reuse), or
    /// why there is none.
    fn keep_token(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        text: &str,
    ) -> Result<String, ApiError> {
        if status.is_redirection() {
            return Err(ApiError::Redirected(format!(
                "{}/oauth/token answered {}: --domain must be the tenant's own domain (a redirect would carry the client secret elsewhere)",
                self.base,
                self.describe(status, headers, text)
            )));
        }
        if !status.is_success() {
            return Err(ApiError::Credentials(self.describe(status, headers, text)));
        }
        let answer: TokenAnswer = serde_json::from_str(text).map_err(|_| {
            ApiError::Credentials("the token answer has no access_token".to_owned())
        })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        self.token = Some((answer.access_token.clone(), until));
        Ok(answer.access_token)
    }

    /// An answer that is not what was asked, in a few words: a redirect
    /// names where it pointed (never followed), anything else Auth0's
    /// message; whatever the server echoed of the secret is masked.
    fn describe(&self, status: StatusCode, headers: &HeaderMap, text: &str) -> String {
        let said = if status.is_redirection() {
            let location = headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            format!(
                "HTTP {} redirect to {location} (never followed)",
                status.as_u16()
            )
        } else {
            format!("HTTP {}: {}", status.as_u16(), error_message(text))
        };
        self.masks.mask(&said)
    }

    /// Uploads one import file. Connection failures (nothing was sent) are
    /// retried here; any answer or failure after sending is reported.
    #[allow(clippy::too_many_arguments)]
    pub async fn submit(
        &mut self,
        file_name: &str,
        data: &[u8],
        connection_id: &str,
        upsert: bool,
        send_completion_email: bool,
        external_id: &str,
    ) -> Result<Submitted, ApiError> {
        let mut refreshed = false;
        let mut failures = 0;
        loop {
            let token = self.token().await?;
            let users = Part::bytes(data.to_vec())
                .file_name(file_name.to_owned())
                .mime_str("application/json")
                .expect("a valid mime type");
            let form = Form::new()
                .part("users", users)
                .text("connection_id", connection_id.to_owned())
                .text("upsert", upsert.to_string())
                .text("external_id", external_id.to_owned())
                .text("send_completion_email", send_completion_email.to_string());
            let answer = self
                .http
                .post(format!("{}/api/v2/jobs/users-imports", self.base))
                .bearer_auth(&token)
                .multipart(form)
                .send()
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(error) if error.is_connect() => {
                    self.back_off(&mut failures, || {
                        format!(
                            "cannot reach {}: {}",
                            self.base,
                            describe_transport_error(&error, "request failed")
                        )
                    })
                    .await?;
                    continue;
                }
                Err(error) => {
                    return Ok(Submitted::Uncertain(describe_transport_error(
                        &error,
                        "request failed",
                    )))
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            return Ok(match status {
                StatusCode::TOO_MANY_REQUESTS => {
                    Submitted::RateLimited(rate_limit_wait(&headers, backoff(2), self.max_wait))
                }
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    self.token = None;
                    continue;
                }
                status if status.is_success() => job_created(status, &text),
                status if status.is_server_error() => {
                    Submitted::Uncertain(self.describe(status, &headers, &text))
                }
                status => Submitted::Refused(self.describe(status, &headers, &text)),
            });
        }
    }

    /// `GET /api/v2/jobs/{id}`.
    pub async fn poll(&mut self, job_id: &str) -> Result<Polled, ApiError> {
        let (status, headers, text) = match self.get(&format!("/api/v2/jobs/{job_id}"), &[]).await?
        {
            Ok(answer) => answer,
            Err(message) => return Ok(Polled::Transient(message)),
        };
        Ok(match status {
            StatusCode::TOO_MANY_REQUESTS => {
                Polled::RateLimited(rate_limit_wait(&headers, backoff(2), self.max_wait))
            }
            StatusCode::NOT_FOUND => Polled::NotFound,
            status if status.is_success() => match serde_json::from_str::<JobAnswer>(&text) {
                Ok(job) => match job.status.as_deref() {
                    Some("completed") => Polled::Completed(job.summary.unwrap_or_default()),
                    Some("failed") | Some("expired") | Some("cancelled") => {
                        Polled::Failed(format!("the job {}", job.status.unwrap_or_default()))
                    }
                    Some(_) => Polled::Running,
                    None => Polled::Transient("a job answer without status".to_owned()),
                },
                Err(_) => Polled::Transient("a job answer that is not JSON".to_owned()),
            },
            status => Polled::Transient(self.describe(status, &headers, &text)),
        })
    }

    /// `GET /api/v2/jobs/{id}/errors`: the failed users (an empty list when
    /// there are none). `Err(message)` when no usable answer came (a 429
    /// is waited out at most [`CONNECT_RETRIES`] times).
    pub async fn job_errors(&mut self, job_id: &str) -> Result<Result<Value, String>, ApiError> {
        let mut rate_limited = 0;
        loop {
            let (status, headers, text) = match self
                .get(&format!("/api/v2/jobs/{job_id}/errors"), &[])
                .await?
            {
                Ok(answer) => answer,
                Err(message) => return Ok(Err(message)),
            };
            return Ok(match status {
                StatusCode::TOO_MANY_REQUESTS if rate_limited < CONNECT_RETRIES => {
                    rate_limited += 1;
                    tokio::time::sleep(rate_limit_wait(&headers, backoff(2), self.max_wait)).await;
                    continue;
                }
                StatusCode::NO_CONTENT => Ok(Value::Array(Vec::new())),
                status if status.is_success() => {
                    if text.trim().is_empty() {
                        Ok(Value::Array(Vec::new()))
                    } else {
                        serde_json::from_str(&text)
                            .map_err(|_| "an errors answer that is not JSON".to_owned())
                    }
                }
                status => Err(self.describe(status, &headers, &text)),
            });
        }
    }

    /// Whether the tenant holds the user of an import file line (`email`
    /// as the plan wrote it, lower-cased; `raw_user_id` without `auth0|`).
    /// Needs `read:users`. Rate limits are waited out, transport failures
    /// and 5xx retried, each at most [`CONNECT_RETRIES`] times.
    pub async fn find_user(
        &mut self,
        email: &str,
        raw_user_id: Option<&str>,
    ) -> Result<Lookup, ApiError> {
        let (mut failures, mut rate_limited) = (0, 0);
        loop {
            let answer = self
                .get("/api/v2/users-by-email", &[("email", email)])
                .await?;
            let problem = match answer {
                Err(message) => message,
                Ok((status, headers, text)) => match status {
                    StatusCode::TOO_MANY_REQUESTS if rate_limited < CONNECT_RETRIES => {
                        rate_limited += 1;
                        let wait = rate_limit_wait(&headers, backoff(1), self.max_wait);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        return Ok(Lookup::Refused(self.describe(status, &headers, &text)))
                    }
                    status if status.is_success() => match holds(&text, email, raw_user_id) {
                        Some(true) => return Ok(Lookup::Present),
                        Some(false) => return Ok(Lookup::Absent),
                        None => "a users-by-email answer that is not a list of users".to_owned(),
                    },
                    status if status.is_server_error() => self.describe(status, &headers, &text),
                    status => {
                        return Ok(Lookup::Unavailable(self.describe(status, &headers, &text)))
                    }
                },
            };
            if self
                .back_off(&mut failures, || problem.clone())
                .await
                .is_err()
            {
                return Ok(Lookup::Unavailable(problem));
            }
        }
    }

    /// Counts one more failure to get an answer, then waits before the next
    /// try, or gives up as unreachable (`why`) after [`CONNECT_RETRIES`].
    async fn back_off(
        &self,
        failures: &mut u32,
        why: impl FnOnce() -> String,
    ) -> Result<(), ApiError> {
        *failures += 1;
        if *failures > CONNECT_RETRIES {
            return Err(ApiError::Unreachable(why()));
        }
        tokio::time::sleep(backoff(*failures).min(self.max_wait)).await;
        Ok(())
    }

    /// A GET with the token (renewed once on 401). The inner `Err` is a
    /// transport failure worth trying again later.
    async fn get(
        &mut self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Result<(StatusCode, HeaderMap, String), String>, ApiError> {
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let answer = self
                .http
                .get(format!("{}{path}", self.base))
                .query(query)
                .bearer_auth(&token)
                .send()
                .await;
            let response = match answer {
                Ok(response) => response,
                Err(error) => return Ok(Err(describe_transport_error(&error, "request failed"))),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.token = None;
                continue;
            }
            let headers = response.headers().clone();
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) => return Ok(Err(describe_transport_error(&error, "request failed"))),
            };
            return Ok(Ok((status, headers, text)));
        }
    }
}

/// A successful upload's answer: the job it made, or (no id) uncertain.
fn job_created(status: StatusCode, text: &str) -> Submitted {
    match serde_json::from_str::<JobAnswer>(text)
        .ok()
        .and_then(|job| job.id)
    {
        Some(id) if !id.is_empty() => Submitted::Created(id),
        _ => Submitted::Uncertain(format!("HTTP {} without a job id", status.as_u16())),
    }
}

/// The message of an Auth0 error body (`message`, `error_description`,
/// `error`), else the start of the body.
fn error_message(text: &str) -> String {
    if let Ok(Value::Object(body)) = serde_json::from_str::<Value>(text) {
        for key in ["message", "error_description", "error"] {
            if let Some(Value::String(message)) = body.get(key) {
                return message.clone();
            }
        }
    }
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(no body)".to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn waits_follow_the_reset_header_within_bounds() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now + 3).to_string()).unwrap(),
        );
        let wait = rate_limit_wait(&headers, Duration::from_secs(1), Duration::from_secs(60));
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        let capped = rate_limit_wait(&headers, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(capped, Duration::from_secs(1));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now - 5).to_string()).unwrap(),
        );
        let past = rate_limit_wait(&headers, Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(past, Duration::from_millis(200));
        let mut retry_after = HeaderMap::new();
        retry_after.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(
            rate_limit_wait(
                &retry_after,
                Duration::from_secs(1),
                Duration::from_secs(60)
            ),
            Duration::from_secs(2)
        );
        assert_eq!(
            rate_limit_wait(
                &HeaderMap::new(),
                Duration::from_secs(1),
                Duration::from_secs(60)
            ),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_user_is_held_only_with_the_same_email_and_database_id() {
        let answer = serde_json::json!([
            {"email": "a@x.com", "user_id": "google-oauth2|9",
             "identities": [{"provider": "google-oauth2", "user_id": "9"}]},
            {"email": "A@x.com", "user_id": "auth0|abc",
             "identities": [{"provider": "auth0", "connection": "New", "user_id": "abc"}]}
        ])
        .to_string();
        assert_eq!(holds(&answer, "a@x.com", Some("abc")), Some(true));
        assert_eq!(holds(&answer, "a@x.com", None), Some(true));
        assert_eq!(holds(&answer, "a@x.com", Some("abd")), Some(false));
        assert_eq!(holds(&answer, "b@x.com", Some("abc")), Some(false));
        assert_eq!(holds(&answer, "a@x.com", Some("9")), Some(false), "social");
        assert_eq!(holds("[]", "a@x.com", Some("abc")), Some(false));
        assert_eq!(holds("<html>", "a@x.com", Some("abc")), None);
    }

    #[test]
    fn error_messages_are_read_from_auth0_bodies() {
        assert_eq!(
            error_message(r#"{"statusCode":413,"message":"too big"}"#),
            "too big"
        );
        assert_eq!(
            error_message(r#"{"error":"access_denied","error_description":"no"}"#),
            "no"
        );
        assert_eq!(error_message(""), "(no body)");
        assert_eq!(error_message(&"x".repeat(300)).chars().count(), 201);
    }
}
