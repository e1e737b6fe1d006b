//! How far the migration is: users of the source realm, how many carry the
//! migration marker (`app_metadata.trickle_migrated_at`), per day, how many
//! remain, and users in the new connection; then the verdict. Counted from
//! search totals (one request per number: works on tenants far too big to
//! page through, whose searches stop at 1,000 results) or, exactly, from a
//! users-export job read as a stream.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method as HttpMethod;
use serde::Serialize;
use serde_json::{json, Value};
use trickle_core::MARKER_KEY;

use crate::tenant::{Credentials, Tenant, TenantError};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Nobody is left: decommission.
    Done,
    /// Nobody migrated yet.
    NothingMigrated,
    /// Fewer days since the first migration than the trend needs.
    TooEarly,
    KeepOpen,
    ReadyToClose,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub message: String,
    /// Users migrated per day over the last `trend_days` full days.
    pub rate_per_day: f64,
    /// Closing is advised below this rate.
    pub close_below_per_day: f64,
    pub trend_days: u64,
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
    pub verdict: Verdict,
}

/// Builds the series and the verdict from the counts (pure).
#[allow(clippy::too_many_arguments)]
pub fn compute(
    realm: &str,
    method: Method,
    users_in_realm: u64,
    migrated: u64,
    counts: &BTreeMap<Day, u64>,
    today: Day,
    policy: Policy,
    totals_may_be_capped: bool,
) -> Status {
    let remaining = users_in_realm.saturating_sub(migrated);
    let dated: u64 = counts
        .iter()
        .filter(|(d, _)| **d <= today)
        .map(|(_, n)| n)
        .sum();
    let undated = migrated.saturating_sub(dated);
    let first = counts
        .iter()
        .find(|(d, n)| **n > 0 && **d <= today)
        .map(|(d, _)| *d);
    let start = first.unwrap_or(today.minus(13)).min(today.minus(1));
    let mut cumulative = undated;
    let mut per_day = Vec::new();
    let mut day = start;
    while day <= today {
        let migrated_that_day = counts.get(&day).copied().unwrap_or(0);
        cumulative += migrated_that_day;
        per_day.push(DayCount {
            day,
            migrated: migrated_that_day,
            cumulative,
            remaining: users_in_realm.saturating_sub(cumulative),
        });
        day = day.next();
    }
    let trend = policy.trend_days.max(1);
    let window: u64 = (1..=trend)
        .map(|back| counts.get(&today.minus(back)).copied().unwrap_or(0))
        .sum();
    let rate = window as f64 / trend as f64;
    let threshold = policy
        .close_below
        .unwrap_or_else(|| (remaining as f64 * 0.005).max(1.0));
    let (kind, message) = if remaining == 0 && users_in_realm > 0 {
        (
            VerdictKind::Done,
            format!("done: all {users_in_realm} users of {realm} are migrated — decommission (trickle generate --decommission)"),
        )
    } else if users_in_realm == 0 {
        (
            VerdictKind::Done,
            format!("done: {realm} has no users — nothing to migrate"),
        )
    } else if migrated == 0 {
        (
            VerdictKind::NothingMigrated,
            format!("keep the window open: nobody migrated yet, {remaining} users left (are the scripts deployed, with mark_migrated = true?)"),
        )
    } else if first.is_none_or(|f| f > today.minus(trend)) {
        let since = first.map_or(0, |f| today.0 - f.0);
        (
            VerdictKind::TooEarly,
            format!("keep the window open: the first migration was {since} day(s) ago, the trend needs {trend} full days; {remaining} users left"),
        )
    } else if rate < threshold {
        (
            VerdictKind::ReadyToClose,
            format!("ready to close: {remaining} users left — run bulk ({rate:.1}/day over the last {trend} days, under {threshold:.1}/day)"),
        )
    } else {
        (
            VerdictKind::KeepOpen,
            format!("keep the window open: {rate:.1}/day over the last {trend} days (close below {threshold:.1}/day); {remaining} users left"),
        )
    };
    Status {
        today,
        realm: realm.to_owned(),
        method,
        method_description: method.describe(),
        users_in_realm,
        migrated,
        remaining,
        undated,
        per_day,
        new_connection: None,
        totals_may_be_capped,
        verdict: Verdict {
            kind,
            message,
            rate_per_day: rate,
            close_below_per_day: threshold,
            trend_days: trend,
        },
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
    /// How far back the per-day search counts go.
    pub max_days: u64,
    pub policy: Policy,
    pub today: Day,
}

/// Progress lines for a person watching.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

fn lucene_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `total` of a search (one result fetched).
async fn search_total(tenant: &Tenant, token: &str, q: &str) -> Result<u64, TenantError> {
    let path = format!(
        "/api/v2/users?q={}&search_engine=v3&include_totals=true&page=0&per_page=1&fields=user_id",
        urlencode(q)
    );
    let answer = tenant.management(HttpMethod::GET, &path, token, None).await;
    let total = answer
        .json()
        .and_then(|b| b.get("total").and_then(Value::as_u64));
    match (answer.status, total) {
        (200, Some(total)) => Ok(total),
        _ => Err(tenant.refusal("a user search", &answer)),
    }
}

/// Counts everything, from the old tenant (and the new one, if given).
pub async fn gather(request: Request, progress: Progress<'_>) -> Result<Status, TenantError> {
    let old = Tenant::new(request.old.clone(), Duration::from_secs(30))?;
    let token = old.management_token().await?;
    let in_realm = format!("identities.connection:{}", lucene_quote(&request.realm));
    let (users, migrated, counts, capped) = match request.method {
        Method::SearchTotals => {
            progress("counting the realm's users (search totals)");
            let users = search_total(&old, &token, &in_realm).await?;
            let migrated = search_total(
                &old,
                &token,
                &format!("{in_realm} AND _exists_:app_metadata.{MARKER_KEY}"),
            )
            .await?;
            // Markers dated up to today: the walk back stops once all are
            // found (a marker in the future, or not a date, never makes it
            // walk to --max-days).
            let due = search_total(
                &old,
                &token,
                &format!(
                    "{in_realm} AND app_metadata.{MARKER_KEY}:[* TO {}}}",
                    request.today.next()
                ),
            )
            .await?;
            let mut counts = BTreeMap::new();
            let mut dated = 0;
            let mut capped = users == 1000 || migrated == 1000;
            let mut day = request.today;
            let mut looked = 0;
            while dated < due && looked < request.max_days {
                progress(&format!(
                    "migrations on {day} ({dated} of {migrated} dated so far)"
                ));
                let q = format!(
                    "{in_realm} AND app_metadata.{MARKER_KEY}:[{day} TO {}}}",
                    day.next()
                );
                let n = search_total(&old, &token, &q).await?;
                capped |= n == 1000;
                if n > 0 {
                    counts.insert(day, n);
                }
                dated += n;
                looked += 1;
                day = day.minus(1);
            }
            (users, migrated, counts, capped)
        }
        Method::Export => {
            let (users, migrated, counts) = export_counts(&old, &token, &request, progress).await?;
            (users, migrated, counts, false)
        }
    };
    let mut status = compute(
        &request.realm,
        request.method,
        users,
        migrated,
        &counts,
        request.today,
        request.policy,
        capped,
    );
    if let Some(new) = request.new {
        progress("counting the new connection's users (search totals)");
        let tenant = Tenant::new(new, Duration::from_secs(30))?;
        let token = tenant.management_token().await?;
        let users = search_total(
            &tenant,
            &token,
            &format!(
                "identities.connection:{}",
                lucene_quote(&request.connection)
            ),
        )
        .await?;
        status.totals_may_be_capped |= users == 1000;
        status.new_connection = Some(NewConnection {
            connection: request.connection.clone(),
            users,
            method: Method::SearchTotals,
        });
    }
    Ok(status)
}

/// The fields status reads, flat (`export_as`); with `keep_export`, the
/// export's default fields instead (full profiles, for `bulk plan`).
fn export_body(full: bool) -> Value {
    if full {
        json!({"format": "json"})
    } else {
        json!({"format": "json", "fields": [
            {"name": "user_id"},
            {"name": "identities[0].connection", "export_as": "connection"},
            {"name": format!("app_metadata.{MARKER_KEY}"), "export_as": MARKER_KEY},
        ]})
    }
}

/// Whether an export record is in the realm, and its marker.
fn read_record(record: &Value, realm: &str) -> (bool, Option<String>) {
    let in_realm = match record.get("connection").and_then(Value::as_str) {
        Some(connection) => connection == realm,
        None => record
            .get("identities")
            .and_then(Value::as_array)
            .is_some_and(|ids| {
                ids.iter()
                    .any(|i| i.get("connection").and_then(Value::as_str) == Some(realm))
            }),
    };
    let marker = record
        .get(MARKER_KEY)
        .or_else(|| record.get("app_metadata").and_then(|m| m.get(MARKER_KEY)))
        .or_else(|| record.get(format!("app_metadata.{MARKER_KEY}")))
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    (in_realm, marker)
}

async fn export_counts(
    tenant: &Tenant,
    token: &str,
    request: &Request,
    progress: Progress<'_>,
) -> Result<(u64, u64, BTreeMap<Day, u64>), TenantError> {
    progress("starting a users-export job");
    let body = export_body(request.keep_export.is_some());
    let created = tenant
        .management(
            HttpMethod::POST,
            "/api/v2/jobs/users-exports",
            token,
            Some(&body),
        )
        .await;
    let id = created
        .json()
        .and_then(|j| j.get("id").and_then(Value::as_str).map(str::to_owned));
    let Some(id) = id.filter(|_| (200..300).contains(&created.status)) else {
        return Err(tenant.refusal("the users-export job", &created));
    };
    let mut wait = Duration::from_millis(100);
    let location = loop {
        let answer = tenant
            .management(
                HttpMethod::GET,
                &format!("/api/v2/jobs/{}", urlencode(&id)),
                token,
                None,
            )
            .await;
        let job = answer.json().unwrap_or(Value::Null);
        match (answer.status, job.get("status").and_then(Value::as_str)) {
            (200, Some("completed")) => match job.get("location").and_then(Value::as_str) {
                Some(location) => break location.to_owned(),
                None => {
                    return Err(TenantError::Unexpected(format!(
                        "export job {id} completed without a location"
                    )))
                }
            },
            (200, Some("failed")) => {
                return Err(TenantError::Unexpected(format!("export job {id} failed")))
            }
            (200, Some(state)) => progress(&format!("export job {id}: {state}")),
            (status, _) if status >= 500 || status == 0 => {
                progress(&format!("export job {id}: no answer, asking again"))
            }
            _ => return Err(tenant.refusal("the export job", &answer)),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    };
    progress("downloading the export");
    let mut response = tenant.download(&location).await?;
    let mut file = match &request.keep_export {
        Some(path) => tempfile::Builder::new()
            .prefix(".trickle-export-")
            .tempfile_in(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new(".")),
            )
            .map_err(|e| TenantError::Unexpected(format!("cannot write the export: {e}")))?,
        None => tempfile::NamedTempFile::new()
            .map_err(|e| TenantError::Unexpected(format!("cannot write the export: {e}")))?,
    };
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TenantError::Unreachable(format!("the export download was cut off: {e}")))?
    {
        file.write_all(&chunk)
            .map_err(|e| TenantError::Unexpected(format!("cannot write the export: {e}")))?;
    }
    file.flush()
        .map_err(|e| TenantError::Unexpected(e.to_string()))?;
    progress("reading the export");
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(
        file.reopen()
            .map_err(|e| TenantError::Unexpected(e.to_string()))?,
    ));
    let (mut users, mut migrated, mut counts) = (0u64, 0u64, BTreeMap::new());
    for line in reader.lines() {
        let line =
            line.map_err(|e| TenantError::Unexpected(format!("the export is unreadable: {e}")))?;
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (in_realm, marker) = read_record(&record, &request.realm);
        if !in_realm {
            continue;
        }
        users += 1;
        if let Some(marker) = marker {
            migrated += 1;
            if let Some(day) = Day::of(&marker) {
                *counts.entry(day).or_insert(0) += 1;
            }
        }
    }
    if let Some(path) = &request.keep_export {
        file.persist(path).map_err(|e| {
            TenantError::Unexpected(format!("cannot keep the export at {}: {e}", path.display()))
        })?;
    }
    Ok((users, migrated, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            trend_days: 7,
            close_below: Some(5.0),
        }
    }

    fn counts(today: Day, per_day: &[(u64, u64)]) -> BTreeMap<Day, u64> {
        per_day
            .iter()
            .map(|(back, n)| (today.minus(*back), *n))
            .collect()
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
    fn each_verdict_from_its_numbers() {
        let today = Day::of("2026-03-01").unwrap();
        let run = |users, migrated, per_day: &[(u64, u64)]| {
            compute(
                "R",
                Method::SearchTotals,
                users,
                migrated,
                &counts(today, per_day),
                today,
                policy(),
                false,
            )
        };
        assert_eq!(run(10, 10, &[(20, 10)]).verdict.kind, VerdictKind::Done);
        assert_eq!(run(0, 0, &[]).verdict.kind, VerdictKind::Done);
        assert_eq!(run(10, 0, &[]).verdict.kind, VerdictKind::NothingMigrated);
        assert_eq!(run(100, 20, &[(3, 20)]).verdict.kind, VerdictKind::TooEarly);
        let open = run(1000, 300, &[(20, 100), (5, 100), (1, 100)]);
        assert_eq!(open.verdict.kind, VerdictKind::KeepOpen);
        assert!((open.verdict.rate_per_day - 200.0 / 7.0).abs() < 1e-9);
        let ready = run(1000, 300, &[(20, 290), (6, 7), (0, 3)]);
        assert_eq!(
            ready.verdict.kind,
            VerdictKind::ReadyToClose,
            "{}",
            ready.verdict.message
        );
        assert!(
            ready
                .verdict
                .message
                .starts_with("ready to close: 700 users left — run bulk"),
            "{}",
            ready.verdict.message
        );
        // The series: from the first day to today, cumulative and remaining.
        assert_eq!(ready.per_day.len(), 21);
        assert_eq!(ready.per_day[0].cumulative, 290);
        assert_eq!(ready.per_day.last().unwrap().cumulative, 300);
        assert_eq!(ready.per_day.last().unwrap().remaining, 700);
    }

    #[test]
    fn the_default_threshold_follows_the_users_left() {
        let today = Day::of("2026-03-01").unwrap();
        let policy = Policy {
            trend_days: 7,
            close_below: None,
        };
        let status = compute(
            "R",
            Method::Export,
            10_000,
            2_000,
            &counts(today, &[(30, 1_990), (2, 10)]),
            today,
            policy,
            false,
        );
        assert!((status.verdict.close_below_per_day - 40.0).abs() < 1e-9);
        assert_eq!(status.verdict.kind, VerdictKind::ReadyToClose);
    }

    #[test]
    fn undated_markers_count_but_are_not_placed() {
        let today = Day::of("2026-03-01").unwrap();
        let status = compute(
            "R",
            Method::Export,
            10,
            5,
            &counts(today, &[(1, 3)]),
            today,
            policy(),
            false,
        );
        assert_eq!(status.undated, 2);
        assert_eq!(status.per_day.first().unwrap().cumulative, 5);
    }

    #[test]
    fn export_records_of_either_shape() {
        let flat =
            json!({"user_id": "auth0|1", "connection": "R", MARKER_KEY: "2026-01-01T00:00:00Z"});
        assert_eq!(
            read_record(&flat, "R"),
            (true, Some("2026-01-01T00:00:00Z".to_owned()))
        );
        let full = json!({"identities": [{"connection": "R"}], "app_metadata": {MARKER_KEY: "x"}});
        assert_eq!(read_record(&full, "R"), (true, Some("x".to_owned())));
        let other = json!({"identities": [{"connection": "S"}], "app_metadata": {MARKER_KEY: ""}});
        assert_eq!(read_record(&other, "R"), (false, None));
    }
}
