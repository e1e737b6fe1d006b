//! Counting exactly, from users-export jobs: each job started, waited for
//! up to a deadline (with a line on stderr while it waits), downloaded to a
//! file (the token never goes to the download link), then read record by
//! record through `trickle-bulk`'s reader, as `bulk plan` reads: a record
//! is capped at 16 MiB and never held whole beyond that, and a line that
//! is not a JSON object is counted as unreadable, never passed over.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method as HttpMethod;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;
use trickle_bulk::input::{self, Record};
use trickle_bulk::{IdSet, InputFormat};
use trickle_core::{raw_user_id, SourceUser, MARKER_KEY};

use super::search::urlencode;
use super::{Day, ExportRead, Proof, Watch};
use crate::tenant::{Tenant, TenantError};

/// The longest pause between two looks at a job.
const MAX_POLL_PAUSE: Duration = Duration::from_secs(10);
/// A job still unfinished after this long (or half its deadline) gets a
/// line on stderr, and another every [`NOTICE_EVERY`].
const NOTICE_AFTER: Duration = Duration::from_secs(5);
const NOTICE_EVERY: Duration = Duration::from_secs(30);

/// One export to make.
pub(super) struct ExportJob<'a> {
    pub tenant: &'a Tenant,
    pub token: &'a str,
    /// "old tenant" or "new tenant", for messages.
    pub label: &'static str,
    /// Full profiles (what `bulk plan` reads and the id check needs), or
    /// only the fields counting needs.
    pub full: bool,
    pub deadline: Duration,
    /// Keep the file here (else a temporary file, removed when dropped).
    pub keep: Option<PathBuf>,
}

/// The request body: the export's default fields (full profiles), or only
/// those counting reads, flat (`export_as`).
fn body(full: bool) -> Value {
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

/// Starts the job, waits for it, downloads its file.
pub(super) async fn download(
    job: &ExportJob<'_>,
    watch: &Watch<'_>,
) -> Result<tempfile::NamedTempFile, TenantError> {
    (watch.step)(&format!("starting a users-export job on the {}", job.label));
    let created = job
        .tenant
        .management(
            HttpMethod::POST,
            "/api/v2/jobs/users-exports",
            job.token,
            Some(&body(job.full)),
        )
        .await;
    let id = created
        .json()
        .and_then(|j| j.get("id").and_then(Value::as_str).map(str::to_owned))
        .filter(|_| (200..300).contains(&created.status));
    let Some(id) = id else {
        return Err(job.tenant.refusal("the users-export job", &created));
    };
    let location = wait(job, &id, watch).await?;
    (watch.step)(&format!("downloading the {}'s export", job.label));
    fetch(job, &location).await
}

/// What one look at the job says.
enum JobState {
    Completed(String),
    Waiting(String),
}

async fn look(job: &ExportJob<'_>, id: &str) -> Result<JobState, TenantError> {
    let path = format!("/api/v2/jobs/{}", urlencode(id));
    let answer = job
        .tenant
        .management(HttpMethod::GET, &path, job.token, None)
        .await;
    let body = answer.json().unwrap_or(Value::Null);
    let unexpected = |what: String| Err(TenantError::Unexpected(what));
    match (answer.status, body.get("status").and_then(Value::as_str)) {
        (200, Some("completed")) => match body.get("location").and_then(Value::as_str) {
            Some(location) => Ok(JobState::Completed(location.to_owned())),
            None => unexpected(format!(
                "the {}'s export job {id} completed without a location",
                job.label
            )),
        },
        (200, Some("failed")) => unexpected(format!("the {}'s export job {id} failed", job.label)),
        (200, Some(state)) => Ok(JobState::Waiting(state.to_owned())),
        (status, _) if status >= 500 || status == 0 => {
            Ok(JobState::Waiting("not answered".to_owned()))
        }
        _ => Err(job.tenant.refusal("the export job", &answer)),
    }
}

/// Whole seconds, as "15m" or "2s".
fn shown(duration: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(duration.as_secs()))
}

/// Looks at the job until it is completed (its download link) or the
/// deadline passes (an error naming the job).
async fn wait(job: &ExportJob<'_>, id: &str, watch: &Watch<'_>) -> Result<String, TenantError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut next_notice = NOTICE_AFTER.min(job.deadline / 2);
    loop {
        let state = match look(job, id).await? {
            JobState::Completed(location) => return Ok(location),
            JobState::Waiting(state) => state,
        };
        let waited = started.elapsed();
        if waited >= job.deadline {
            return Err(TenantError::Unexpected(format!(
                "the {}'s export job {id} is still {state} after {}: Auth0 has not finished it. \
                 Run status again later, or allow longer with --export-deadline",
                job.label,
                shown(waited)
            )));
        }
        if waited >= next_notice {
            (watch.notice)(&format!(
                "waiting for the {}'s export job {id} ({state}; {} so far, at most {}: --export-deadline)",
                job.label,
                shown(waited),
                shown(job.deadline)
            ));
            next_notice = waited + NOTICE_EVERY;
        }
        (watch.step)(&format!("the {}'s export job {id}: {state}", job.label));
        tokio::time::sleep(pause.min(job.deadline - waited)).await;
        pause = (pause * 2).min(MAX_POLL_PAUSE);
    }
}

/// Streams the file at `location` to disk, beside `keep` when given.
async fn fetch(
    job: &ExportJob<'_>,
    location: &str,
) -> Result<tempfile::NamedTempFile, TenantError> {
    let cannot =
        |e: std::io::Error| TenantError::Unexpected(format!("cannot write the export: {e}"));
    let mut response = job.tenant.download(location).await?;
    let mut file = match &job.keep {
        Some(path) => tempfile::Builder::new()
            .prefix(".trickle-export-")
            .tempfile_in(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
            )
            .map_err(cannot)?,
        None => tempfile::NamedTempFile::new().map_err(cannot)?,
    };
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TenantError::Unreachable(format!("the export download was cut off: {e}")))?
    {
        file.write_all(&chunk).map_err(cannot)?;
    }
    file.flush().map_err(cannot)?;
    Ok(file)
}

/// Moves a downloaded export to where `--keep-export` asked.
pub(super) fn keep(file: tempfile::NamedTempFile, path: &Path) -> Result<(), TenantError> {
    file.persist(path).map(drop).map_err(|e| {
        TenantError::Unexpected(format!("cannot keep the export at {}: {e}", path.display()))
    })
}

/// A JSON value kept only when it is a string; anything else (a number, a
/// million-element array) is skipped unread, so it costs no memory.
#[derive(Debug, Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

/// Of the metadata, only the marker (`trickle_migrated_at`, `MARKER_KEY`).
#[derive(Debug, Deserialize)]
struct MarkerOnly {
    #[serde(default)]
    trickle_migrated_at: Text,
}

/// The flat fields a projected export has (`export_as`), and the dotted
/// key a CSV-minded export may use.
#[derive(Debug, Deserialize)]
struct Flat {
    #[serde(default)]
    connection: Text,
    #[serde(default)]
    trickle_migrated_at: Text,
    #[serde(default, rename = "app_metadata.trickle_migrated_at")]
    dotted_marker: Text,
}

/// What status reads of one export record: the core's `SourceUser` with
/// the metadata cut down to the marker, and the flat fields. Every other
/// value is skipped unread, so a record costs no more than its own bytes.
#[derive(Debug)]
pub(super) struct Exported {
    user: SourceUser<MarkerOnly>,
    flat: Flat,
}

impl Exported {
    fn parse(bytes: &[u8]) -> Result<Exported, String> {
        // One record is one line: serde's "line 1" says nothing.
        let why = |e: serde_json::Error| {
            format!(
                "not a user: {}",
                e.to_string().replace(" at line 1 column ", " at column ")
            )
        };
        if bytes.first() != Some(&b'{') {
            return Err("not a JSON object".to_owned());
        }
        Ok(Exported {
            user: serde_json::from_slice(bytes).map_err(why)?,
            flat: serde_json::from_slice(bytes).map_err(why)?,
        })
    }

    /// In `connection`: the flat field when there is one, else an identity.
    fn is_in(&self, connection: &str) -> bool {
        match &self.flat.connection.0 {
            Some(flat) => flat == connection,
            None => self.user.identity_in(connection).is_some(),
        }
    }

    /// The migration marker, if set and not empty.
    fn marker(&self) -> Option<&str> {
        let in_metadata = self
            .user
            .app_metadata
            .as_ref()
            .and_then(|m| m.trickle_migrated_at.0.as_deref());
        [
            self.flat.trickle_migrated_at.0.as_deref(),
            in_metadata,
            self.flat.dotted_marker.0.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find(|marker| !marker.is_empty())
    }

    /// The raw id in `connection` (the id the import and the scripts give
    /// the user), by the core's one reading; with `require_identity`, none
    /// for a user whose identities leave that connection out.
    fn raw_id(&self, connection: &str, require_identity: bool) -> Option<&str> {
        let elsewhere =
            !self.user.identities.is_empty() && self.user.identity_in(connection).is_none();
        if require_identity && elsewhere {
            return None;
        }
        raw_user_id(&self.user, connection)
    }
}

/// Calls `each` with every record of the export that reads as a user;
/// counts the others.
fn each_record(
    path: &Path,
    label: &str,
    mut each: impl FnMut(&Exported),
) -> Result<ExportRead, TenantError> {
    let unreadable = |e: std::io::Error| {
        TenantError::Unexpected(format!("the {label}'s export is unreadable: {e}"))
    };
    let mut export = input::open(path, InputFormat::Json).map_err(unreadable)?;
    let mut read = ExportRead::default();
    while let Some((line, record)) = export.next_record().map_err(unreadable)? {
        read.records += 1;
        let parsed = match record {
            Record::Json(bytes) => Exported::parse(bytes),
            Record::Object(_) => Err("not NDJSON (a CSV row)".to_owned()),
            Record::Unreadable(why) => Err(why),
        };
        match parsed {
            Ok(user) => each(&user),
            Err(why) => {
                read.unreadable += 1;
                read.first_unreadable
                    .get_or_insert_with(|| format!("line {line}: {why}"));
            }
        }
    }
    Ok(read)
}

/// The new tenant's users of `connection`, by raw id.
pub(super) fn new_ids(path: &Path, connection: &str) -> Result<(IdSet, ExportRead), TenantError> {
    let mut ids = IdSet::new();
    let read = each_record(path, "new tenant", |user| {
        if let Some(id) = user.raw_id(connection, true) {
            ids.insert(id);
        }
    })?;
    Ok((ids, read))
}

/// What the old tenant's export says of the realm.
pub(super) struct OldCounts {
    pub users: u64,
    pub migrated: u64,
    pub per_day: BTreeMap<Day, u64>,
    pub read: ExportRead,
    /// With the new tenant's ids: who of the realm is there.
    pub proof: Option<Proof>,
}

/// Counts the realm's users and markers; with `new`, looks each user up
/// among the new tenant's ids.
pub(super) fn old_counts(
    path: &Path,
    realm: &str,
    new: Option<(&IdSet, &ExportRead)>,
) -> Result<OldCounts, TenantError> {
    let (mut users, mut migrated, mut per_day) = (0u64, 0u64, BTreeMap::new());
    let mut proof = new.map(|(ids, read)| Proof {
        new_export: read.clone(),
        new_users_in_connection: ids.len() as u64,
        ..Proof::default()
    });
    let read = each_record(path, "old tenant", |user| {
        if !user.is_in(realm) {
            return;
        }
        users += 1;
        let marker = user.marker();
        if let Some(marker) = marker {
            migrated += 1;
            if let Some(day) = Day::of(marker) {
                *per_day.entry(day).or_insert(0) += 1;
            }
        }
        if let (Some(proof), Some((ids, _))) = (&mut proof, new) {
            let found = user.raw_id(realm, false).is_some_and(|id| ids.contains(id));
            proof.tally(found, marker.is_some());
        }
    })?;
    Ok(OldCounts {
        users,
        migrated,
        per_day,
        read,
        proof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Exported {
        Exported::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_marker_key_is_the_cores() {
        assert_eq!(MARKER_KEY, "trickle_migrated_at");
    }

    #[test]
    fn export_records_of_either_shape() {
        let flat = parse(
            json!({"user_id": "auth0|1", "connection": "R", MARKER_KEY: "2026-01-01T00:00:00Z"}),
        );
        assert!(flat.is_in("R") && !flat.is_in("S"));
        assert_eq!(flat.marker(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(flat.raw_id("R", false), Some("1"));
        let full = parse(
            json!({"identities": [{"connection": "R"}], "app_metadata": {MARKER_KEY: "x", "n": [1, 2]}}),
        );
        assert!(full.is_in("R"));
        assert_eq!(full.marker(), Some("x"));
        let other =
            parse(json!({"identities": [{"connection": "S"}], "app_metadata": {MARKER_KEY: ""}}));
        assert!(!other.is_in("R"));
        assert_eq!(other.marker(), None);
        let dotted = parse(json!({"connection": "R", "app_metadata.trickle_migrated_at": "y"}));
        assert_eq!(dotted.marker(), Some("y"));
        let odd = parse(
            json!({"connection": 5, "trickle_migrated_at": {"a": [1]}, "identities": [{"connection": "R"}]}),
        );
        assert!(
            odd.is_in("R"),
            "a flat field that is no text is no connection"
        );
        assert_eq!(odd.marker(), None);
    }

    #[test]
    fn raw_ids_come_from_the_identity_in_the_connection() {
        let linked = parse(json!({"user_id": "google-oauth2|9", "identities": [
            {"provider": "google-oauth2", "connection": "google", "user_id": "9"},
            {"provider": "auth0", "connection": "New", "user_id": "abc"}]}));
        assert_eq!(linked.raw_id("New", true), Some("abc"));
        assert_eq!(linked.raw_id("Other", true), None);
        let flat = parse(json!({"user_id": "auth0|abc", "connection": "R"}));
        assert_eq!(flat.raw_id("R", false), Some("abc"));
    }

    #[test]
    fn lines_that_are_not_users_are_counted_not_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        let lines = "{\"user_id\":\"auth0|1\"}\n\nuser_id,connection\n[1]\n{\"email\": 5}\n";
        std::fs::write(&path, lines).unwrap();
        let mut seen = 0;
        let read = each_record(&path, "old tenant", |_| seen += 1).unwrap();
        assert_eq!((seen, read.records, read.unreadable), (1, 4, 3));
        assert!(
            read.first_unreadable
                .as_deref()
                .unwrap()
                .starts_with("line 3: not a JSON object"),
            "{read:?}"
        );
    }
}
