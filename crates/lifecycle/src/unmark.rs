//! `trickle bulk unmark`: lets users whom the old tenant has marked as
//! migrated, but whom the new tenant never stored, log in and migrate.
//!
//! Login cannot tell such a user (Auth0 failed to store them after the
//! script returned, or an older Trickle stranded them) from one deleted in
//! the new tenant on purpose, which is what the marker is for. `bulk plan
//! --exclude-export` can: it lists them in `marked-not-in-new-tenant.jsonl`.
//! This clears their markers on the old tenant, one user at a time, and
//! only the marker the plan saw: a user whose marker has changed since (they
//! logged in and were migrated after all) is left alone, so running it again
//! is harmless.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trickle_core::{
    classify_management_answer, marker_clear, migrated_at, ManagementOutcome, SourceUser,
};
use trickle_transfer::{is_retryable_status, RetryPolicy};

use crate::tenant::{Answer, Tenant, WaitNotice};
use crate::{Credentials, TenantError};

/// A line of the plan's list (`trickle_bulk::MarkedUser`, read back).
#[derive(Debug, Clone, Deserialize)]
struct Listed {
    line: u64,
    /// The old tenant's `user_id` (`auth0|…`).
    user_id: String,
    marked_at: String,
}

/// What to clear.
#[derive(Debug, Clone)]
pub struct UnmarkOptions {
    /// The plan's `marked-not-in-new-tenant.jsonl`.
    pub list: PathBuf,
    /// Read every user, write nothing.
    pub dry_run: bool,
    /// Per request.
    pub timeout: Duration,
    /// Tries of a read that found no answer, a 429 or a 5xx, and rounds of
    /// read-and-clear for a user whose clearing went unanswered.
    pub retry: RetryPolicy,
    /// Told of every long wait (rate limits, retries).
    pub notice: Option<WaitNotice>,
}

impl UnmarkOptions {
    pub fn new(list: PathBuf) -> UnmarkOptions {
        UnmarkOptions {
            list,
            dry_run: false,
            timeout: Duration::from_secs(20),
            retry: RetryPolicy {
                attempts: 6,
                ..RetryPolicy::default()
            },
            notice: None,
        }
    }
}

/// A user whose marker could not be cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmarkFailure {
    /// Of the list file.
    pub line: u64,
    /// The line of the export the plan read.
    pub export_line: u64,
    pub user_id: String,
    pub reason: String,
}

/// What an unmark run did. Every user tried (all of the list unless
/// `stopped`) is counted once in exactly one of `cleared`, `already_clear`, `marked_again`, `not_in_old_tenant`,
/// `failed` (with `--dry-run`, `cleared` counts those it would clear).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnmarkReport {
    pub list: String,
    pub dry_run: bool,
    /// Users in the list.
    pub in_list: u64,
    pub tried: u64,
    pub cleared: u64,
    /// The marker was gone already (cleared by an earlier run).
    pub already_clear: u64,
    /// The marker is not the one the plan saw: the user has been marked
    /// again since (most likely migrated by a login). Left alone.
    pub marked_again: u64,
    /// The old tenant has no such user any more.
    pub not_in_old_tenant: u64,
    pub failed: u64,
    /// The first [`FAILURES_LISTED`] failures.
    pub failures: Vec<UnmarkFailure>,
    /// Why the run stopped before the end of the list, if it did (the
    /// users after the last one counted were not tried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// How many failures a report lists (all are counted).
pub const FAILURES_LISTED: usize = 1_000;

/// Why the run could not go on at all.
#[derive(Debug, thiserror::Error)]
pub enum UnmarkError {
    #[error("cannot read {path}: {source}")]
    List { path: PathBuf, source: io::Error },
    #[error("{path}, line {line}: not a line of `bulk plan`'s list ({reason})")]
    BadLine {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("the old tenant: {0}")]
    Tenant(#[from] TenantError),
    /// 401/403 on a user: the client lacks a scope, for every user alike.
    #[error("the old tenant refused {what} (HTTP {status}): the client needs read:users and update:users")]
    Forbidden { what: &'static str, status: u16 },
}

/// What one user came to.
enum Outcome {
    Cleared,
    AlreadyClear,
    MarkedAgain,
    NotInOldTenant,
    Failed(String),
    /// No answer or 5xx, after every try.
    Unanswered(String),
}

/// After this many users in a row left unanswered, the run stops: the old
/// tenant is down, and trying every other user would only take hours.
pub const UNANSWERED_IN_A_ROW_TO_STOP: u32 = 5;

/// Clears the listed markers; `progress(done, total)` after each user.
/// Reads the whole list first (a bad line stops the run before any
/// write), then settles the users one at a time.
pub async fn unmark(
    credentials: Credentials,
    options: &UnmarkOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<UnmarkReport, UnmarkError> {
    let total = check_list(&options.list)?;
    let mut tenant = Tenant::new(credentials, options.timeout)?;
    if let Some(notice) = &options.notice {
        tenant = tenant.with_wait_notice(notice.clone());
    }
    let mut token = tenant.management_token().await?;
    let mut report = UnmarkReport {
        list: options.list.display().to_string(),
        dry_run: options.dry_run,
        in_list: total,
        ..UnmarkReport::default()
    };
    let list_error = |source| UnmarkError::List {
        path: options.list.clone(),
        source,
    };
    let reader = BufReader::new(File::open(&options.list).map_err(list_error)?);
    let mut unanswered_in_a_row = 0;
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(list_error)?;
        if line.trim().is_empty() {
            continue;
        }
        let listed = parse_line(&options.list, index as u64 + 1, &line)?;
        let outcome = match settle(&tenant, &mut token, &listed, options).await? {
            Settled::User(outcome) => outcome,
            Settled::Stop(why) => {
                report.stopped = Some(why);
                break;
            }
        };
        unanswered_in_a_row = match outcome {
            Outcome::Unanswered(_) => unanswered_in_a_row + 1,
            _ => 0,
        };
        count(&mut report, outcome, index as u64 + 1, &listed);
        progress(report.tried, total);
        if unanswered_in_a_row >= UNANSWERED_IN_A_ROW_TO_STOP && report.tried < total {
            report.stopped = Some(
                "the old tenant stopped answering; run the same command again later (nothing is cleared twice)"
                    .to_owned(),
            );
            break;
        }
    }
    Ok(report)
}

/// What became of one user, or why the run cannot go on.
enum Settled {
    User(Outcome),
    Stop(String),
}

/// One user, the token renewed once if the tenant refuses it: refused
/// again right after its renewal, the run stops (renewing again would only
/// loop on the token endpoint).
async fn settle(
    tenant: &Tenant,
    token: &mut String,
    listed: &Listed,
    options: &UnmarkOptions,
) -> Result<Settled, UnmarkError> {
    let mut renewed = false;
    loop {
        match unmark_one(tenant, token, listed, options).await {
            Ok(outcome) => return Ok(Settled::User(outcome)),
            Err(Refusal::Forbidden { what, status }) => {
                return Err(UnmarkError::Forbidden { what, status })
            }
            Err(Refusal::TokenRefused { .. }) if !renewed => {
                renewed = true;
                *token = tenant.management_token().await?;
            }
            Err(Refusal::TokenRefused { what, detail }) => {
                return Ok(Settled::Stop(format!(
                    "the old tenant refused a Management API token it had just issued ({what}: {detail}), after it was renewed once: \
                     check that the client is authorized for the old tenant's Management API and that --domain is its canonical domain, \
                     then run the same command again (nothing is cleared twice)"
                )))
            }
        }
    }
}

/// Counts one user's outcome in the report.
fn count(report: &mut UnmarkReport, outcome: Outcome, line: u64, listed: &Listed) {
    report.tried += 1;
    match outcome {
        Outcome::Cleared => report.cleared += 1,
        Outcome::AlreadyClear => report.already_clear += 1,
        Outcome::MarkedAgain => report.marked_again += 1,
        Outcome::NotInOldTenant => report.not_in_old_tenant += 1,
        Outcome::Failed(reason) | Outcome::Unanswered(reason) => {
            report.failed += 1;
            if report.failures.len() < FAILURES_LISTED {
                report.failures.push(UnmarkFailure {
                    line,
                    export_line: listed.line,
                    user_id: listed.user_id.clone(),
                    reason,
                });
            }
        }
    }
}

/// Counts the list's users, refusing a line that is not one.
fn check_list(path: &Path) -> Result<u64, UnmarkError> {
    let list_error = |source| UnmarkError::List {
        path: path.to_path_buf(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(list_error)?);
    let mut users = 0;
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(list_error)?;
        if !line.trim().is_empty() {
            parse_line(path, index as u64 + 1, &line)?;
            users += 1;
        }
    }
    Ok(users)
}

fn parse_line(path: &Path, line: u64, text: &str) -> Result<Listed, UnmarkError> {
    let bad = |reason: String| UnmarkError::BadLine {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let listed: Listed = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if listed.user_id.is_empty() || listed.marked_at.is_empty() {
        return Err(bad("an empty user_id or marked_at".to_owned()));
    }
    Ok(listed)
}

/// Why a user's request cannot settle that user alone.
enum Refusal {
    /// 401: the token is expired, or not accepted at all.
    TokenRefused {
        what: &'static str,
        detail: String,
    },
    Forbidden {
        what: &'static str,
        status: u16,
    },
}

/// Reads the user, and clears the marker if it is still the listed one. A
/// clearing whose answer is lost is followed by reading the user again
/// (never a blind second write: the user may have logged in meanwhile).
async fn unmark_one(
    tenant: &Tenant,
    token: &str,
    listed: &Listed,
    options: &UnmarkOptions,
) -> Result<Outcome, Refusal> {
    let path = format!("/api/v2/users/{}", percent_encode(&listed.user_id));
    let clear = serde_json::to_value(marker_clear()).expect("the clearing patch serializes");
    let mut cleared_maybe = false;
    for _round in 0..options.retry.attempts.max(1) {
        let read = read_patiently(tenant, &path, token, options).await;
        let user = match outcome_of(&read, "reading a user")? {
            Some(ManagementOutcome::Ok) => read
                .json()
                .and_then(|body| serde_json::from_value::<SourceUser<Value>>(body).ok()),
            Some(ManagementOutcome::NotFound) => return Ok(Outcome::NotInOldTenant),
            None => return Ok(Outcome::Unanswered(describe("reading the user", &read))),
            Some(_) => return Ok(Outcome::Failed(describe("reading the user", &read))),
        };
        let Some(user) = user else {
            return Ok(Outcome::Failed(
                "the old tenant's answer is not a user".to_owned(),
            ));
        };
        match migrated_at(&user) {
            None if cleared_maybe => return Ok(Outcome::Cleared),
            None => return Ok(Outcome::AlreadyClear),
            Some(at) if at != listed.marked_at => return Ok(Outcome::MarkedAgain),
            Some(_) if options.dry_run => return Ok(Outcome::Cleared),
            Some(_) => {}
        }
        // Tried once: a lost answer is settled by reading the user again.
        let write = tenant
            .management(Method::PATCH, &path, token, Some(&clear))
            .await;
        match outcome_of(&write, "clearing a marker")? {
            Some(ManagementOutcome::Ok) => {
                let body = write
                    .json()
                    .and_then(|body| serde_json::from_value::<SourceUser<Value>>(body).ok());
                match body {
                    Some(user) if migrated_at(&user).is_none() => return Ok(Outcome::Cleared),
                    // A 200 that is no user (or still marked) proves nothing.
                    _ => cleared_maybe = true,
                }
            }
            Some(ManagementOutcome::NotFound) => return Ok(Outcome::NotInOldTenant),
            // Lost on the way: read the user again to learn what happened.
            None => cleared_maybe = true,
            Some(_) => return Ok(Outcome::Failed(describe("clearing the marker", &write))),
        }
    }
    Ok(Outcome::Unanswered(
        "the old tenant did not settle it after several tries (no answer or 5xx)".to_owned(),
    ))
}

/// The core's reading of an answer; `None` when it is worth another try
/// (no answer, 5xx, a 429 past the waits). 401 and 403 end the user's
/// request: a new token, or the whole run.
fn outcome_of(answer: &Answer, what: &'static str) -> Result<Option<ManagementOutcome>, Refusal> {
    let reset = answer.header("x-ratelimit-reset");
    match classify_management_answer(answer.status, reset) {
        ManagementOutcome::Unauthorized => Err(Refusal::TokenRefused {
            what,
            detail: answer_words(answer),
        }),
        ManagementOutcome::Forbidden => Err(Refusal::Forbidden {
            what,
            status: answer.status,
        }),
        ManagementOutcome::Transient | ManagementOutcome::RateLimited { .. } => Ok(None),
        outcome => Ok(Some(outcome)),
    }
}

/// A read tried again, as the retry policy says, while it finds no answer,
/// a 429 past the tenant client's own waits, or a 5xx.
async fn read_patiently(
    tenant: &Tenant,
    path: &str,
    token: &str,
    options: &UnmarkOptions,
) -> Answer {
    let mut tries = 1;
    loop {
        let answer = tenant.management(Method::GET, path, token, None).await;
        let worth_again = answer.status == 0 || is_retryable_status(answer.status);
        if !worth_again || options.retry.exhausted(tries) {
            return answer;
        }
        let wait = options.retry.wait_after(&answer.headers, tries);
        tenant.tell_wait(
            wait,
            &format!("reading a user: try {tries} found no answer"),
        );
        tokio::time::sleep(wait).await;
        tries += 1;
    }
}

/// What an answer that settles nothing says, in a few words.
fn describe(what: &str, answer: &Answer) -> String {
    format!("{what}: {}", answer_words(answer))
}

/// An answer in a few words: `HTTP 401 invalid_token Expired token…`, or
/// why there was none.
fn answer_words(answer: &Answer) -> String {
    if answer.status == 0 {
        return answer
            .transport
            .as_deref()
            .unwrap_or("no answer")
            .to_owned();
    }
    let (code, description) = answer.error();
    let mut text = format!("HTTP {}", answer.status);
    for part in [code, description] {
        if !part.is_empty() {
            text.push(' ');
            text.push_str(&part);
        }
    }
    text
}

/// What `encodeURIComponent` leaves alone, as the scripts build the same path.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_the_scripts_encode_them() {
        assert_eq!(percent_encode("auth0|abc-1.2"), "auth0%7Cabc-1.2");
        assert_eq!(percent_encode("a/b?c#d é"), "a%2Fb%3Fc%23d%20%C3%A9");
    }
}
