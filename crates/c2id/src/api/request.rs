//! One request to a server, tried as often as it is worth trying and no
//! longer than its wait budget allows.
//!
//! - Reads are retried on no answer, 429 and 5xx (the server's
//!   `Retry-After`, else back-off with jitter). A write is tried once,
//!   apart from 429s and failures to connect (nothing was sent): a write
//!   whose answer was lost may or may not have happened, and the caller
//!   looks the record up before sending it again.
//! - Every wait of one record's requests comes out of one [`Budget`]
//!   (`HttpOptions::max_wait`); a wait of `notice_waits_over` or longer is
//!   announced (`HttpOptions::on_wait`).
//! - What cannot change on a retry fails at once, naming its cause: a
//!   certificate not trusted, TLS spoken to a plain port or plain HTTP to
//!   a TLS one, a request that cannot be sent (a header HTTP does not
//!   allow), an HTML page or other non-JSON where JSON was asked for, an
//!   answer over the size limit.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use trickle_transfer::describe_transport_error;

use super::{api_name, Server, ServerError, WaitNotice, Written};
use crate::record::Phase;
use crate::scrub::scrub;

/// What one record's requests have waited so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    spent: Duration,
}

impl Budget {
    pub fn spent(&self) -> Duration {
        self.spent
    }
}

/// One request, as it is sent again on each try.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'static str, &'a str)],
    pub body: Option<&'a Bytes>,
    /// The body is a form (`application/x-www-form-urlencoded`), not JSON.
    pub form: bool,
    /// The API whose token goes with it (none for discovery).
    pub phase: Option<Phase>,
}

impl<'a> Call<'a> {
    pub fn get(url: &'a str, phase: Option<Phase>) -> Call<'a> {
        Call {
            method: Method::GET,
            url,
            query: &[],
            headers: &[],
            body: None,
            form: false,
            phase,
        }
    }
}

/// One try: an answer, or none.
pub(crate) enum Attempt {
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// `sent`: the request may have reached the server.
    NoAnswer { sent: bool, why: String },
    /// Trying again cannot help.
    Failed(ServerError),
}

/// Bodies of answers read at most (a listing is streamed, not read so).
const MIN_ANSWER_BYTES: usize = 1 << 20;

impl Server {
    fn build(&self, call: &Call, streamed: bool) -> RequestBuilder {
        let client = if streamed { &self.listing } else { &self.http };
        let mut request = client.request(call.method.clone(), call.url);
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        for (name, value) in call.headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = call.body {
            let kind = if call.form {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            request = request.header("content-type", kind).body(body.clone());
        }
        match call.phase.and_then(|phase| self.tokens.get(phase)) {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `call` once and reads its answer (up to the size limit).
    pub(crate) async fn attempt(&self, call: &Call<'_>) -> Attempt {
        let response = match self.build(call, false).send().await {
            Ok(response) => response,
            Err(error) => return self.transport_failure(call.url, &error),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.options.max_record_bytes.max(MIN_ANSWER_BYTES) + 64 * 1024;
        match read_capped(response, limit).await {
            Ok(body) => Attempt::Answer {
                status,
                headers,
                body,
            },
            Err(Capped::TooBig) => Attempt::Failed(self.unusable(
                call.url,
                format!("HTTP {} with an answer over {limit} bytes", status.as_u16()),
            )),
            Err(Capped::Broken(error)) => Attempt::NoAnswer {
                sent: true,
                why: format!(
                    "HTTP {} whose body broke off ({})",
                    status.as_u16(),
                    describe_transport_error(&error, "no answer")
                ),
            },
        }
    }

    /// A request that got no HTTP answer: worth trying again, or not.
    pub(crate) fn transport_failure(&self, url: &str, error: &reqwest::Error) -> Attempt {
        if let Some(failed) = self.permanent_transport_failure(url, error) {
            return Attempt::Failed(failed);
        }
        Attempt::NoAnswer {
            sent: !error.is_connect(),
            why: describe_transport_error(error, "no answer"),
        }
    }

    fn permanent_transport_failure(
        &self,
        url: &str,
        error: &reqwest::Error,
    ) -> Option<ServerError> {
        if error.is_builder() {
            return Some(self.unusable(
                url,
                "the request cannot be sent: a header would hold characters HTTP does not allow"
                    .to_owned(),
            ));
        }
        let https = url.starts_with("https://");
        let why = match super::transport_cause(error) {
            super::Cause::Untrusted => format!(
                "its TLS certificate is not trusted ({}): trust its certificate authority (--ca-file)",
                describe_transport_error(error, "no answer")
            ),
            super::Cause::NotTls if https => format!(
                "it does not speak TLS on this port ({}): is it http://?",
                describe_transport_error(error, "no answer")
            ),
            super::Cause::NotHttp if !https => format!(
                "it does not answer plain HTTP on this port ({}): is it https://?",
                describe_transport_error(error, "no answer")
            ),
            _ => return None,
        };
        Some(ServerError::Protocol {
            side: self.side,
            url: url.to_owned(),
            why,
        })
    }

    /// A read, tried until it gets a usable answer: anything but 429 and
    /// 5xx; a 2xx whose body `json` says must be JSON is.
    pub(crate) async fn read(
        &self,
        call: &Call<'_>,
        json: bool,
        budget: &mut Budget,
    ) -> Result<(StatusCode, Bytes), ServerError> {
        let mut tries = 0;
        let mut limited = 0;
        loop {
            let (why, headers) = match self.attempt(call).await {
                Attempt::Failed(error) => return Err(error),
                Attempt::NoAnswer { why, .. } => (why, None),
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => {
                    self.refusal(status, call.phase)?;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        limited += 1;
                        self.rate_limited(call.url, &headers, limited, budget)
                            .await?;
                        continue;
                    }
                    if !status.is_server_error() {
                        if status.is_success() && json && !is_json(&body) {
                            return Err(self.not_json(call.url, status, &headers));
                        }
                        return Ok((status, body));
                    }
                    (format!("HTTP {}", status.as_u16()), Some(headers))
                }
            };
            tries += 1;
            self.pause(call.url, tries, &why, headers.as_ref(), budget)
                .await?;
        }
    }

    /// A write, tried once; 429s and failures to connect (nothing sent)
    /// are waited out and tried again.
    pub(crate) async fn write(
        &self,
        call: &Call<'_>,
        budget: &mut Budget,
    ) -> Result<Written, ServerError> {
        let mut unsent = 0;
        let mut limited = 0;
        loop {
            let (status, headers, body) = match self.attempt(call).await {
                Attempt::NoAnswer { sent: false, why } => {
                    unsent += 1;
                    self.pause(call.url, unsent, &why, None, budget).await?;
                    continue;
                }
                Attempt::NoAnswer { sent: true, why } => return Ok(Written::Uncertain(why)),
                Attempt::Failed(error) => return Err(error),
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => (status, headers, body),
            };
            self.refusal(status, call.phase)?;
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
                self.rate_limited(call.url, &headers, limited, budget)
                    .await?;
                continue;
            }
            return Ok(self.written(status, &body));
        }
    }

    fn written(&self, status: StatusCode, body: &Bytes) -> Written {
        let code = status.as_u16();
        if status.is_success() {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Written::Accepted {
                    status: code,
                    body: None,
                };
            }
            return match serde_json::from_slice::<Value>(body) {
                Ok(value) => Written::Accepted {
                    status: code,
                    body: Some(value),
                },
                Err(_) => Written::Uncertain(format!("HTTP {code} with a body that is not JSON")),
            };
        }
        let message = self.server_text(body);
        if status.is_server_error() {
            Written::Uncertain(format!("HTTP {code}: {message}"))
        } else {
            Written::Refused {
                status: code,
                message,
            }
        }
    }

    /// The `n`th 429 of a request: waits as the server asks (else backs
    /// off), within the budget. 429s are the server pacing us: they are
    /// not counted as failed tries.
    pub(crate) async fn rate_limited(
        &self,
        url: &str,
        headers: &HeaderMap,
        n: u32,
        budget: &mut Budget,
    ) -> Result<(), ServerError> {
        let wait = self.options.retry.wait_after(headers, n);
        self.wait(url, wait, "HTTP 429 (rate limited)", budget)
            .await
    }

    /// Before retry number `tries` (of a failure described by `why`): the
    /// back-off (or the server's `Retry-After`), unless the tries or the
    /// budget are spent.
    pub(crate) async fn pause(
        &self,
        url: &str,
        tries: u32,
        why: &str,
        headers: Option<&HeaderMap>,
        budget: &mut Budget,
    ) -> Result<(), ServerError> {
        if self.options.retry.exhausted(tries) {
            return Err(self.unreachable(url, format!("{why} ({tries} tries)")));
        }
        let wait = match headers {
            Some(headers) => self.options.retry.wait_after(headers, tries),
            None => self.options.retry.backoff(tries),
        };
        self.wait(url, wait, why, budget).await
    }

    /// Waits `wait` (at most what is left of the budget), announcing a
    /// long wait; gives up when the budget is spent.
    async fn wait(
        &self,
        url: &str,
        wait: Duration,
        why: &str,
        budget: &mut Budget,
    ) -> Result<(), ServerError> {
        let left = self.options.max_wait.saturating_sub(budget.spent);
        if left.is_zero() {
            return Err(self.unreachable(
                url,
                format!(
                    "{why}: gave up after waiting {} s in all (--max-wait)",
                    budget.spent.as_secs()
                ),
            ));
        }
        let wait = wait.min(left);
        if wait >= self.options.notice_waits_over {
            if let Some(on_wait) = &self.options.on_wait {
                on_wait(&WaitNotice {
                    side: self.side,
                    url: url.to_owned(),
                    wait,
                    why: why.to_owned(),
                });
            }
        }
        tokio::time::sleep(wait).await;
        budget.spent += wait;
        Ok(())
    }

    /// 401 and 403 end everything: the token is wrong, or the API is off.
    pub(crate) fn refusal(
        &self,
        status: StatusCode,
        phase: Option<Phase>,
    ) -> Result<(), ServerError> {
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

    pub(crate) fn not_json(
        &self,
        url: &str,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> ServerError {
        let kind = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type");
        let what = if kind.contains("html") {
            "an HTML page"
        } else {
            "a body"
        };
        self.unusable(
            url,
            format!(
                "HTTP {} with {what} that is not JSON ({kind}): is this the API, or a login \
                 page or proxy in front of it?",
                status.as_u16()
            ),
        )
    }

    /// A server's text (an error body) for a message: its `error` and
    /// `error_description`, or the start of the body, scrubbed.
    pub(crate) fn server_text(&self, body: &[u8]) -> String {
        let tokens = self.tokens.all_set();
        scrub(&error_text(body), &tokens)
    }

    pub(crate) fn unreachable(&self, url: &str, why: String) -> ServerError {
        ServerError::Unreachable {
            side: self.side,
            url: url.to_owned(),
            why,
        }
    }

    pub(crate) fn unusable(&self, url: &str, why: String) -> ServerError {
        ServerError::Unusable {
            side: self.side,
            url: url.to_owned(),
            why,
        }
    }
}

enum Capped {
    TooBig,
    Broken(reqwest::Error),
}

/// A body, read whole unless it is longer than `limit`.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Bytes, Capped> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooBig);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Broken)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

pub(crate) fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// The server's error (`error_description`, else `error`, else the start
/// of the body), unscrubbed: [`Server::server_text`] scrubs it.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
