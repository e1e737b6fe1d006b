//! How far the migration is: users of the source realm, how many carry the
//! migration marker (`app_metadata.trickle_migrated_at`), per day, how many
//! remain, and users in the new connection; then the verdict, which never
//! says "done" without the new tenant's proof (see `verdict.rs`). Counted
//! from search totals (`search.rs`: one request per number, so tenants far
//! too big to page through are counted too) or, exactly, from users-export
//! jobs read as streams (`export.rs`); with the new tenant too, every user
//! of the realm is looked up there by id.

mod export;
mod search;
mod verdict;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::realm::{self, RealmCheck};
use crate::tenant::{Credentials, Tenant, TenantError, WaitNotice};
pub use verdict::{Tone, Verdict, VerdictKind};

const SECONDS_PER_DAY: u64 = 86_400;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u64);

impl Day {
    pub fn today() -> Day {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Day(now.as_secs() / SECONDS_PER_DAY)
    }

    /// The day of an ISO 8601 timestamp (`2026-01-05T12:00:00.000Z`) or date.
    pub fn of(timestamp: &str) -> Option<Day> {
        let text = timestamp.trim();
        let time = if text.len() == 10 {
            humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok()?
        } else {
            humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?
        };
        let seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(Day(seconds / SECONDS_PER_DAY))
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    pub fn minus(self, days: u64) -> Day {
        Day(self.0.saturating_sub(days))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = UNIX_EPOCH + Duration::from_secs(self.0 * SECONDS_PER_DAY);
        let text = humantime::format_rfc3339(time).to_string();
        f.write_str(&text[..10])
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How the numbers were counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `GET /api/v2/users?include_totals=true`: eventually consistent.
    SearchTotals,
    /// A users-export job: every user read, exact at the job's time.
    Export,
}

impl Method {
    pub const fn describe(self) -> &'static str {
        match self {
            Method::SearchTotals => {
                "search totals (GET /api/v2/users, include_totals; eventually consistent)"
            }
            Method::Export => {
                "an export job (POST /api/v2/jobs/users-exports; every user read, exact)"
            }
        }
    }
}

/// When to advise closing the window.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Full days (today excluded) the rate is averaged over.
    pub trend_days: u64,
    /// Users per day; `None`: 0.5% of those remaining, at least 1.
    pub close_below: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayCount {
    pub day: Day,
    pub migrated: u64,
    pub cumulative: u64,
    pub remaining: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewConnection {
    pub connection: String,
    pub users: u64,
    pub method: Method,
}

/// How an export file read: any unreadable line, or no record at all in
/// the old tenant's, makes its count unusable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportRead {
    /// Records (non-blank lines) read.
    pub records: u64,
    /// Records that are not a JSON object (CSV, garbage, longer than 16 MiB).
    pub unreadable: u64,
    /// The first of them: its line and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_unreadable: Option<String>,
}

/// The id-level check (`--exact` with the new tenant): every user of the
/// old realm looked up among the new connection's users by raw id, marked
/// or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Proof {
    /// Users of the realm looked up.
    pub checked: u64,
    pub found: u64,
    pub missing: u64,
    /// Of the missing: carry the marker (stranded).
    pub missing_marked: u64,
    /// Distinct ids of the new connection in the new tenant's export.
    pub new_users_in_connection: u64,
    pub new_export: ExportRead,
}

impl Proof {
    fn tally(&mut self, found: bool, marked: bool) {
        self.checked += 1;
        if found {
            self.found += 1;
        } else {
            self.missing += 1;
            self.missing_marked += u64::from(marked);
        }
    }
}

/// Everything counted, before any verdict.
#[derive(Debug, Clone)]
pub struct Findings {
    pub realm: String,
    pub method: Method,
    pub users_in_realm: u64,
    pub migrated: u64,
    /// Markers per day.
    pub per_day: BTreeMap<Day, u64>,
    /// A search total was exactly 1,000.
    pub totals_may_be_capped: bool,
    /// How the old tenant's export read (`--exact`).
    pub export: Option<ExportRead>,
    pub new_connection: Option<NewConnection>,
    pub proof: Option<Proof>,
    pub realm_check: Option<RealmCheck>,
}

impl Findings {
    /// Counts alone, as the tests and the chart build them.
    pub fn counted(realm: &str, method: Method, users: u64, migrated: u64) -> Findings {
        Findings {
            realm: realm.to_owned(),
            method,
            users_in_realm: users,
            migrated,
            per_day: BTreeMap::new(),
            totals_may_be_capped: false,
            export: None,
            new_connection: None,
            proof: None,
            realm_check: None,
        }
    }
}

/// Everything `status.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub today: Day,
    pub realm: String,
    pub method: Method,
    pub method_description: &'static str,
    pub users_in_realm: u64,
    pub migrated: u64,
    pub remaining: u64,
    /// Marked users whose marker is not a date within the days counted.
    pub undated: u64,
    /// From the first day with a migration (or the last two weeks) to today.
    pub per_day: Vec<DayCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_connection: Option<NewConnection>,
    /// A search total was exactly 1,000: it may be capped there; use `--exact`.
    pub totals_may_be_capped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportRead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Proof>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm_check: Option<RealmCheck>,
    pub verdict: Verdict,
}

/// The cumulative series from the first dated migration (or two weeks
/// back) to today; and the markers not placed on a day.
fn series(
    users: u64,
    migrated: u64,
    counts: &BTreeMap<Day, u64>,
    today: Day,
) -> (Vec<DayCount>, u64) {
    let dated: u64 = counts.range(..=today).map(|(_, n)| n).sum();
    let undated = migrated.saturating_sub(dated);
    let first = counts
        .range(..=today)
        .find(|(_, n)| **n > 0)
        .map(|(d, _)| *d);
    let start = first.unwrap_or(today.minus(13)).min(today.minus(1));
    let mut cumulative = undated;
    let per_day = (start.0..=today.0)
        .map(|n| {
            let day = Day(n);
            let migrated = counts.get(&day).copied().unwrap_or(0);
            cumulative += migrated;
            DayCount {
                day,
                migrated,
                cumulative,
                remaining: users.saturating_sub(cumulative),
            }
        })
        .collect();
    (per_day, undated)
}

/// The rate over the last full days, and the threshold for `left` users.
fn trend(counts: &BTreeMap<Day, u64>, today: Day, policy: Policy, left: u64) -> verdict::Trend {
    let days = policy.trend_days.max(1);
    let window: u64 = (1..=days)
        .map(|back| counts.get(&today.minus(back)).copied().unwrap_or(0))
        .sum();
    let first = counts
        .range(..=today)
        .find(|(_, n)| **n > 0)
        .map(|(d, _)| *d);
    verdict::Trend {
        rate: window as f64 / days as f64,
        threshold: policy
            .close_below
            .unwrap_or_else(|| (left as f64 * 0.005).max(1.0)),
        days,
        since_first: first.map(|first| today.0 - first.0),
    }
}

/// Builds the series and the verdict from what was counted (pure).
pub fn compute(findings: Findings, today: Day, policy: Policy) -> Status {
    let f = findings;
    let remaining = f.users_in_realm.saturating_sub(f.migrated);
    let (per_day, undated) = series(f.users_in_realm, f.migrated, &f.per_day, today);
    let left = f.proof.as_ref().map_or(remaining, |proof| proof.missing);
    let evidence = verdict::Evidence {
        realm: &f.realm,
        users: f.users_in_realm,
        migrated: f.migrated,
        capped: f.totals_may_be_capped,
        export: f.export.as_ref(),
        new: f.new_connection.as_ref(),
        proof: f.proof.as_ref(),
        realm_check: f.realm_check.as_ref(),
        trend: trend(&f.per_day, today, policy, left),
    };
    let (kind, message) = verdict::decide(&evidence);
    let verdict = Verdict {
        kind,
        message,
        exit_code: kind.exit_code(),
        rate_per_day: evidence.trend.rate,
        close_below_per_day: evidence.trend.threshold,
        trend_days: evidence.trend.days,
    };
    Status {
        today,
        method: f.method,
        method_description: f.method.describe(),
        users_in_realm: f.users_in_realm,
        migrated: f.migrated,
        remaining,
        undated,
        per_day,
        totals_may_be_capped: f.totals_may_be_capped,
        verdict,
        realm: f.realm,
        new_connection: f.new_connection,
        export: f.export,
        proof: f.proof,
        realm_check: f.realm_check,
    }
}

/// What `gather` needs.
pub struct Request {
    pub realm: String,
    pub connection: String,
    pub old: Credentials,
    pub new: Option<Credentials>,
    pub method: Method,
    /// Keep the downloaded export here (full profiles: `bulk plan`'s input).
    pub keep_export: Option<PathBuf>,
    /// Keep the new tenant's export here (`bulk plan --exclude-export`).
    pub keep_new_export: Option<PathBuf>,
    /// How far back the per-day search counts go.
    pub max_days: u64,
    /// How long an export job may take before status gives up on it.
    pub export_deadline: Duration,
    pub policy: Policy,
    pub today: Day,
    /// Told of each long wait for a rate limit (a line on stderr).
    pub wait_notice: Option<WaitNotice>,
}

/// Progress text for a person watching (a spinner's message).
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Where `gather` reports: `step` replaces the spinner's text; `notice` is
/// a line that must be seen (a long wait), on stderr whatever the terminal.
pub struct Watch<'a> {
    pub step: Progress<'a>,
    pub notice: Progress<'a>,
}

/// A Management API client and its token.
struct Session {
    tenant: Tenant,
    token: String,
}

async fn session(
    credentials: Credentials,
    notice: Option<WaitNotice>,
) -> Result<Session, TenantError> {
    let mut tenant = Tenant::new(credentials, Duration::from_secs(30))?;
    if let Some(notice) = notice {
        tenant = tenant.with_wait_notice(notice);
    }
    let token = tenant.management_token().await?;
    Ok(Session { tenant, token })
}

/// Counts everything, from the old tenant (and the new one, if given):
/// the realm checked, then counted by search totals or by exports.
pub async fn gather(request: Request, watch: &Watch<'_>) -> Result<Status, TenantError> {
    let old = session(request.old.clone(), request.wait_notice.clone()).await?;
    (watch.step)("checking the realm (a password-realm grant for nobody)");
    let realm_check = realm::check(&old.tenant, &request.realm).await;
    let new = match request.new.clone() {
        Some(credentials) => Some(session(credentials, request.wait_notice.clone()).await?),
        None => None,
    };
    let mut findings = match request.method {
        Method::SearchTotals => by_search(&request, &old, new.as_ref(), watch).await?,
        Method::Export => by_export(&request, &old, new.as_ref(), watch).await?,
    };
    findings.realm_check = Some(realm_check);
    Ok(compute(findings, request.today, request.policy))
}

async fn by_search(
    request: &Request,
    old: &Session,
    new: Option<&Session>,
    watch: &Watch<'_>,
) -> Result<Findings, TenantError> {
    let counts = search::count(
        &old.tenant,
        &old.token,
        &request.realm,
        request.today,
        request.max_days,
        watch.step,
    )
    .await?;
    let mut findings = Findings::counted(
        &request.realm,
        Method::SearchTotals,
        counts.users,
        counts.migrated,
    );
    findings.per_day = counts.per_day;
    findings.totals_may_be_capped = counts.capped;
    if let Some(new) = new {
        (watch.step)("counting the new connection's users (search totals)");
        let q = search::in_connection(&request.connection);
        let users = search::total(&new.tenant, &new.token, &q).await?;
        findings.totals_may_be_capped |= users == search::SEARCH_CAP;
        findings.new_connection = Some(NewConnection {
            connection: request.connection.clone(),
            users,
            method: Method::SearchTotals,
        });
    }
    Ok(findings)
}

/// Both exports at once (each job takes minutes on a real tenant), then
/// read one after the other: the new tenant's ids first, then the old
/// realm's users, each looked up among them.
async fn by_export<'s>(
    request: &Request,
    old: &'s Session,
    new: Option<&'s Session>,
    watch: &Watch<'_>,
) -> Result<Findings, TenantError> {
    let job = |session: &'s Session, label, full, keep| export::ExportJob {
        tenant: &session.tenant,
        token: &session.token,
        label,
        full,
        deadline: request.export_deadline,
        keep,
    };
    let full = new.is_some() || request.keep_export.is_some();
    let old_job = job(old, "old tenant", full, request.keep_export.clone());
    let new_job = new.map(|new| job(new, "new tenant", true, request.keep_new_export.clone()));
    let (old_file, new_file) = tokio::try_join!(export::download(&old_job, watch), async {
        match &new_job {
            Some(job) => export::download(job, watch).await.map(Some),
            None => Ok(None),
        }
    })?;
    (watch.step)("reading the exports");
    let new_ids = match &new_file {
        Some(file) => Some(export::new_ids(file.path(), &request.connection)?),
        None => None,
    };
    let new_ids = new_ids.as_ref().map(|(ids, read)| (ids, read));
    let counts = export::old_counts(old_file.path(), &request.realm, new_ids)?;
    if let Some(path) = &request.keep_export {
        export::keep(old_file, path)?;
    }
    if let (Some(file), Some(path)) = (new_file, &request.keep_new_export) {
        export::keep(file, path)?;
    }
    let mut findings = Findings::counted(
        &request.realm,
        Method::Export,
        counts.users,
        counts.migrated,
    );
    findings.per_day = counts.per_day;
    findings.export = Some(counts.read);
    findings.new_connection = counts.proof.as_ref().map(|proof| NewConnection {
        connection: request.connection.clone(),
        users: proof.new_users_in_connection,
        method: Method::Export,
    });
    findings.proof = counts.proof;
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realm::RealmOutcome;

    fn policy() -> Policy {
        Policy {
            trend_days: 7,
            close_below: Some(5.0),
        }
    }

    fn today() -> Day {
        Day::of("2026-03-01").unwrap()
    }

    /// Counted by search totals: `per_day[i] = (days ago, how many)`.
    fn counted(users: u64, migrated: u64, per_day: &[(u64, u64)]) -> Findings {
        let mut findings = Findings::counted("R", Method::SearchTotals, users, migrated);
        findings.per_day = per_day
            .iter()
            .map(|(back, n)| (today().minus(*back), *n))
            .collect();
        findings
    }

    fn with_new(mut findings: Findings, users: u64) -> Findings {
        findings.new_connection = Some(NewConnection {
            connection: "New".to_owned(),
            users,
            method: Method::SearchTotals,
        });
        findings
    }

    fn with_proof(mut findings: Findings, missing: u64, missing_marked: u64) -> Findings {
        let checked = findings.users_in_realm;
        findings.method = Method::Export;
        findings.export = Some(ExportRead {
            records: checked,
            ..ExportRead::default()
        });
        findings.proof = Some(Proof {
            checked,
            found: checked - missing,
            missing,
            missing_marked,
            new_users_in_connection: checked - missing,
            new_export: ExportRead {
                records: checked - missing,
                ..ExportRead::default()
            },
        });
        with_new(findings, checked - missing)
    }

    fn run(findings: Findings) -> Status {
        compute(findings, today(), policy())
    }

    #[test]
    fn days_read_and_print_as_dates() {
        let day = Day::of("2026-01-05T23:59:59.999Z").unwrap();
        assert_eq!(day.to_string(), "2026-01-05");
        assert_eq!(Day::of("2026-01-05"), Some(day));
        assert_eq!(day.next().to_string(), "2026-01-06");
        assert_eq!(Day::of("not a date"), None);
    }

    #[test]
    fn each_verdict_and_its_exit_code() {
        let all_marked = || counted(50, 50, &[(20, 50)]);
        let capped = {
            let mut findings = counted(1000, 1000, &[(20, 1000)]);
            findings.totals_may_be_capped = true;
            with_new(findings, 1000)
        };
        let unreadable = {
            let mut findings = with_proof(all_marked(), 0, 0);
            findings.export.as_mut().unwrap().unreadable = 1;
            findings
        };
        let unreadable_new = {
            let mut findings = with_proof(all_marked(), 0, 0);
            findings.proof.as_mut().unwrap().new_export.unreadable = 2;
            findings
        };
        let cases: Vec<(Findings, VerdictKind, u8, &str)> = vec![
            (unreadable, VerdictKind::Unknown, 4, "1 unreadable line"),
            (
                unreadable_new,
                VerdictKind::Unknown,
                4,
                "new tenant's export has 2 unreadable lines",
            ),
            (
                with_proof(counted(0, 0, &[]), 0, 0),
                VerdictKind::Unknown,
                4,
                "old tenant's export has no records",
            ),
            (capped, VerdictKind::Unknown, 4, "may be capped"),
            (
                counted(0, 0, &[]),
                VerdictKind::Unknown,
                4,
                "unknown realm or empty",
            ),
            (
                with_new(all_marked(), 40),
                VerdictKind::Stranded,
                5,
                "at least 10 marked users of R are not in New (50 marked, 40 there)",
            ),
            (
                with_proof(all_marked(), 10, 10),
                VerdictKind::Stranded,
                5,
                "10 marked users",
            ),
            (
                with_proof(all_marked(), 0, 0),
                VerdictKind::Done,
                0,
                "decommission",
            ),
            (
                with_proof(counted(50, 45, &[(20, 45)]), 0, 0),
                VerdictKind::Done,
                0,
                "checked by id",
            ),
            (
                with_new(all_marked(), 50),
                VerdictKind::ProbablyDone,
                4,
                "confirm with --exact",
            ),
            (
                with_new(counted(50, 20, &[(20, 20)]), 55),
                VerdictKind::ProbablyDone,
                4,
                "probably done",
            ),
            (all_marked(), VerdictKind::Marked, 4, "--new-domain"),
            (
                counted(10, 0, &[]),
                VerdictKind::NothingMigrated,
                3,
                "nobody migrated yet",
            ),
            (
                counted(100, 20, &[(3, 20)]),
                VerdictKind::TooEarly,
                3,
                "the trend needs 7",
            ),
            (
                counted(1000, 300, &[(20, 100), (5, 100), (1, 100)]),
                VerdictKind::KeepOpen,
                3,
                "700 users left",
            ),
            (
                counted(1000, 300, &[(20, 290), (6, 7), (0, 3)]),
                VerdictKind::ReadyToClose,
                3,
                "ready to close: 700 users left — run bulk",
            ),
            (
                with_proof(counted(50, 30, &[(20, 28), (1, 2)]), 20, 0),
                VerdictKind::ReadyToClose,
                3,
                "20 users left",
            ),
        ];
        for (findings, kind, code, words) in cases {
            let status = run(findings);
            let verdict = &status.verdict;
            assert_eq!(
                (verdict.kind, verdict.exit_code),
                (kind, code),
                "{}",
                verdict.message
            );
            assert!(
                verdict.message.contains(words),
                "{words:?} not in {}",
                verdict.message
            );
            if kind != VerdictKind::Done {
                assert!(
                    !verdict.message.contains("decommission"),
                    "{}",
                    verdict.message
                );
            }
        }
    }

    #[test]
    fn the_empty_realm_verdict_says_what_the_realm_check_found() {
        let mut findings = counted(0, 0, &[]);
        findings.realm_check = Some(RealmCheck {
            outcome: RealmOutcome::Refused,
            detail: "the old tenant has no connection named R".to_owned(),
        });
        let status = run(findings);
        assert!(status.verdict.message.contains("no connection named R"));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["realm_check"]["outcome"], "refused");
        assert_eq!(json["verdict"]["exit_code"], 4);
    }

    #[test]
    fn the_series_runs_from_the_first_migration_to_today() {
        let ready = run(counted(1000, 300, &[(20, 290), (6, 7), (0, 3)]));
        let open = run(counted(1000, 300, &[(20, 100), (5, 100), (1, 100)]));
        assert!((open.verdict.rate_per_day - 200.0 / 7.0).abs() < 1e-9);
        assert_eq!(ready.per_day.len(), 21);
        assert_eq!(ready.per_day[0].cumulative, 290);
        assert_eq!(ready.per_day.last().unwrap().cumulative, 300);
        assert_eq!(ready.per_day.last().unwrap().remaining, 700);
    }

    #[test]
    fn the_default_threshold_follows_the_users_left() {
        let policy = Policy {
            trend_days: 7,
            close_below: None,
        };
        let mut findings = counted(10_000, 2_000, &[(30, 1_990), (2, 10)]);
        findings.method = Method::Export;
        let status = compute(findings, today(), policy);
        assert!((status.verdict.close_below_per_day - 40.0).abs() < 1e-9);
        assert_eq!(status.verdict.kind, VerdictKind::ReadyToClose);
    }

    #[test]
    fn undated_markers_count_but_are_not_placed() {
        let status = run(counted(10, 5, &[(1, 3)]));
        assert_eq!(status.undated, 2);
        assert_eq!(status.per_day.first().unwrap().cumulative, 5);
    }
}
