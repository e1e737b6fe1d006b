//! What preflight's phases share: the request, the checks as they are
//! recorded, the report, and a few readers of answers. It uses no other
//! part of preflight, so each phase can use it without a circle.

use std::time::Duration;

use serde::Serialize;
use trickle_generator::Config;

use crate::tenant::{Answer, Credentials, Tenant, TenantError, WaitNotice};
use crate::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// Works, but worth a look; does not fail the run.
    Warning,
    Failed,
    /// Could not be checked because an earlier check failed.
    Skipped,
}

impl Outcome {
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "ok",
            Outcome::Warning => "warn",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name (for `--json` consumers).
    pub id: &'static str,
    pub title: String,
    pub outcome: Outcome,
    pub detail: String,
    /// The setting that fixes a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The `x-ratelimit-*` headers of a Management API answer.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimit {
    pub limit: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// The post-login Action the new tenant should run.
pub struct ExpectedAction {
    pub name: String,
    /// Its code, as `trickle generate` renders it.
    pub code: String,
}

/// The new tenant, and what should be deployed there.
pub struct NewTenant {
    pub credentials: Credentials,
    /// `(customScripts key, text)`, as `trickle generate` renders them.
    pub expected: Vec<(String, String)>,
    /// The Action, when the config has one (and is not decommissioned).
    pub action: Option<ExpectedAction>,
}

pub struct Request<'a> {
    pub config: &'a Config,
    pub old: Credentials,
    /// The old tenant's custom domain (the `custom_domain` setting): token
    /// requests go there, as the scripts send them.
    pub custom_domain: Option<String>,
    pub new: Option<NewTenant>,
    /// users-by-email round trips for the latency check (at least 1).
    pub probes: usize,
    /// The longest a rate-limited request is waited out, in all.
    pub max_wait: Duration,
    /// Told of every long wait.
    pub notice: Option<WaitNotice>,
}

impl Request<'_> {
    /// A client for `credentials`, with this run's waits.
    pub(super) fn tenant(&self, credentials: &Credentials) -> Result<Tenant, TenantError> {
        let mut tenant = Tenant::new(credentials.clone(), Duration::from_secs(15))?;
        tenant.max_wait = self.max_wait;
        if let Some(notice) = &self.notice {
            tenant = tenant.with_wait_notice(notice.clone());
        }
        Ok(tenant)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Every timed round trip to the old tenant, in milliseconds.
    pub round_trips_ms: Vec<u64>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Failed)
    }
}

/// A check's result before it is filed: outcome, detail, fix.
pub(super) type Verdict = (Outcome, String, Option<String>);

pub(super) fn passed(detail: impl Into<String>) -> Verdict {
    (Outcome::Passed, detail.into(), None)
}

pub(super) fn failed(detail: impl Into<String>, fix: impl Into<String>) -> Verdict {
    (Outcome::Failed, detail.into(), Some(fix.into()))
}

pub(super) fn skipped(why: impl Into<String>) -> Verdict {
    (Outcome::Skipped, why.into(), None)
}

/// The checks of one tenant, in the order they are reported, each with
/// its title.
pub(super) struct Titles(pub Vec<(&'static str, String)>);

impl Titles {
    pub fn get(&self, id: &str) -> &str {
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map_or("", |(_, title)| title.as_str())
    }
}

/// The checks of one tenant recorded so far, one per id.
#[derive(Default)]
pub(super) struct Checks(Vec<Check>);

impl Checks {
    /// Records `id`'s verdict (a second verdict for an id replaces the
    /// first, in its place).
    pub fn record(&mut self, titles: &Titles, id: &'static str, verdict: Verdict) {
        let (outcome, detail, fix) = verdict;
        let check = Check {
            id,
            title: titles.get(id).to_owned(),
            outcome,
            detail,
            fix,
        };
        match self.0.iter_mut().find(|c| c.id == id) {
            Some(earlier) => *earlier = check,
            None => self.0.push(check),
        }
    }

    pub fn has_failed(&self, id: &str) -> bool {
        self.0
            .iter()
            .any(|c| c.id == id && c.outcome == Outcome::Failed)
    }

    fn recorded(&self, id: &str) -> bool {
        self.0.iter().any(|c| c.id == id)
    }

    /// Every check of `titles` not recorded yet (but those in `except`)
    /// is skipped, saying `why`.
    pub fn skip_unrecorded(&mut self, titles: &Titles, why: &str, except: &[&str]) {
        for (id, _) in &titles.0 {
            if !self.recorded(id) && !except.contains(id) {
                self.record(titles, id, skipped(why));
            }
        }
    }

    /// The checks in the order of `titles`.
    pub fn into_list(mut self, titles: &Titles) -> Vec<Check> {
        let rank = |id: &str| titles.0.iter().position(|(i, _)| *i == id);
        self.0.sort_by_key(|check| rank(check.id));
        self.0
    }
}

/// The new tenant's checks as they go: its client, token and checks.
pub(super) struct NewRun {
    pub tenant: Tenant,
    pub token: String,
    pub titles: Titles,
    pub checks: Checks,
    pub secret: Secret,
}

impl NewRun {
    /// Files a verdict, whatever it quotes of the secret masked.
    pub fn record(&mut self, id: &'static str, verdict: Verdict) {
        let (outcome, detail, fix) = verdict;
        let detail = self.secret.redact(&detail);
        self.checks.record(&self.titles, id, (outcome, detail, fix));
    }

    /// A Management API GET with this run's token.
    pub async fn get(&self, path: &str) -> Answer {
        self.tenant
            .management(reqwest::Method::GET, path, &self.token, None)
            .await
    }
}

pub(super) const APP_GRANTS: &str =
    "Applications → Applications → <the client> → Settings → Advanced Settings → Grant Types";
pub(super) const APP_API: &str =
    "Applications → APIs → Auth0 Management API → Machine To Machine Applications → <the client>";

pub(super) fn ms(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

/// An answer in a few words: `HTTP 403 access_denied: …`, a redirect with
/// where it points, or why there was none.
pub(super) fn http_detail(answer: &Answer) -> String {
    if answer.status == 0 {
        return format!(
            "no answer: {}",
            answer.transport.as_deref().unwrap_or("unknown")
        );
    }
    if (300..400).contains(&answer.status) {
        return format!(
            "HTTP {} redirect to {} (never followed)",
            answer.status,
            answer.header("location").unwrap_or("?")
        );
    }
    let (code, description) = answer.error();
    let mut text = format!("HTTP {}", answer.status);
    if !code.is_empty() {
        text.push_str(&format!(" {code}"));
    }
    if !description.is_empty() {
        text.push_str(&format!(": {description}"));
    }
    text
}

/// A query or path component, percent-encoded.
pub(super) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
