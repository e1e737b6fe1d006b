//! A sync's deletions, once the source's listing of a kind was read whole
//! and well-formed: the target's records that the source no longer lists.
//!
//! - Owned: only records this migration's journal holds (it put them on
//!   the target, or found them there as the source's) are deleted; the
//!   others are counted and left alone, unless `--delete-unknown`.
//! - Guarded: when more than `--max-delete-ratio` of the target's records
//!   of the kind would go, none does (unless `--allow-mass-delete`): an
//!   empty listing from a broken source never wipes the target.
//!
//! They are counted from the key digests the target's listing gave when
//! the pass began, merged in one pass with the source's and the
//! journal's (all sorted); the target's listing is read again (keys only)
//! only to delete what was counted, never more. Nothing is journalled for a deletion: deleting is
//! idempotent, and a rerun does not find what is gone.

use tokio::sync::watch;
use trickle_transfer::submit_bounded;

use super::index::Tables;
use super::outcome::delete;
use crate::api::{Budget, Server, ServerError};
use crate::digests::{keep_first, Cursor, DigestLog, DigestTable, Spill};
use crate::listing::{Item, Listing, ListingError};
use crate::model::{
    Deletion, MigrateError, Outcome, PhaseSummary, Problem, ProblemKind, SyncRules,
};
use crate::record::{self, Phase};
use crate::scrub::scrub;

const GONE: &str = "gone from the source (this migration had put it on the target)";
const UNKNOWN: &str =
    "on the target only, never seen on the source by this migration (--delete-unknown)";

/// One kind's deletions: where, under which rules, against what the
/// source listed.
pub(super) struct Prune<'a> {
    pub phase: Phase,
    pub target: &'a Server,
    pub tables: &'a Tables,
    /// The keys the source's stream listed in this pass (besides its index).
    pub streamed: &'a DigestTable,
    pub rules: SyncRules,
    pub dry_run: bool,
    pub concurrency: usize,
    pub spill: &'a Spill,
}

/// What becomes of one of the target's records.
enum Fate {
    Keep,
    Unknown,
    Delete(&'static str),
}

/// The target's records of the kind, as counted.
#[derive(Default)]
struct Counted {
    records: u64,
    unknown: u64,
    to_delete: u64,
}

/// Why a doomed key goes (as its table holds it).
const GONE_CODE: u64 = 0;
const UNKNOWN_CODE: u64 = 1;

impl Prune<'_> {
    fn fate(&self, listed: bool, owned: bool) -> Fate {
        if listed {
            Fate::Keep
        } else if owned {
            Fate::Delete(GONE)
        } else if self.rules.delete_unknown {
            Fate::Delete(UNKNOWN)
        } else {
            Fate::Unknown
        }
    }

    fn io_error(&self, source: std::io::Error) -> MigrateError {
        MigrateError::Io {
            path: self.spill.dir().to_path_buf(),
            source,
        }
    }

    fn listing_error(&self, error: ListingError) -> MigrateError {
        MigrateError::Listing {
            side: "target",
            phase: self.phase,
            error,
        }
    }

    async fn open(&self) -> Result<Listing, MigrateError> {
        let response = self.target.open_listing(self.phase).await?;
        let options = self.target.listing_options();
        Ok(Listing::read(response, record::shape(self.phase), options))
    }

    /// Counts what would be deleted, and notes those keys, in one pass
    /// over the sorted tables (the target's keys, the source's, the
    /// journal's): no lookup per record.
    fn count(&self, target_keys: &mut DigestLog) -> Result<(Counted, DigestTable), MigrateError> {
        let io = |e| self.io_error(e);
        let keys = target_keys.table(self.spill).map_err(io)?;
        let mut source = Cursor::new(&self.tables.source).map_err(io)?;
        let mut streamed = Cursor::new(self.streamed).map_err(io)?;
        let mut done = Cursor::new(&self.tables.done).map_err(io)?;
        let mut doomed = self.spill.builder();
        let mut counted = Counted {
            records: keys.len(),
            ..Counted::default()
        };
        for entry in keys.entries() {
            let (key, _) = entry.map_err(io)?;
            let on_source = source.get(key).map_err(io)?.is_some();
            let listed = streamed.get(key).map_err(io)?.is_some() || on_source;
            let owned = done.get(key).map_err(io)?.is_some();
            match self.fate(listed, owned) {
                Fate::Keep => {}
                Fate::Unknown => counted.unknown += 1,
                Fate::Delete(why) => {
                    counted.to_delete += 1;
                    let code = if why == GONE { GONE_CODE } else { UNKNOWN_CODE };
                    doomed.push(key, code).map_err(io)?;
                }
            }
        }
        Ok((counted, doomed.finish(keep_first).map_err(io)?))
    }
}

/// Counts, then deletes unless the guard refuses (or the run is dry).
/// `Ok(true)` when stopped before the end.
pub(super) async fn prune(
    prune: &Prune<'_>,
    target_keys: &mut DigestLog,
    summary: &mut PhaseSummary,
    outcome: &mut Outcome,
    stop: &watch::Receiver<bool>,
) -> Result<bool, MigrateError> {
    let (counted, doomed) = prune.count(target_keys)?;
    summary.target_records = counted.records;
    summary.unknown = counted.unknown;
    let wanted = counted.to_delete;
    if wanted == 0 {
        return Ok(false);
    }
    let ratio = wanted as f64 / counted.records.max(1) as f64;
    if !prune.rules.allow_mass_delete && ratio > prune.rules.max_delete_ratio {
        summary.deletes_refused = wanted;
        return Ok(false);
    }
    if prune.dry_run {
        summary.deleted = wanted;
        return Ok(false);
    }
    delete_all(prune, &doomed, wanted, summary, outcome, stop).await
}

/// One deletion's end.
struct Gone {
    record: String,
    why: &'static str,
    sid: Option<String>,
    result: Result<Result<(), String>, ServerError>,
}

struct Deleting<'a> {
    phase: Phase,
    left: u64,
    summary: &'a mut PhaseSummary,
    outcome: &'a mut Outcome,
}

/// Reads the target's listing again, deleting (with bounded concurrency)
/// at most `wanted` records that still qualify.
async fn delete_all(
    prune: &Prune<'_>,
    doomed: &DigestTable,
    wanted: u64,
    summary: &mut PhaseSummary,
    outcome: &mut Outcome,
    stop: &watch::Receiver<bool>,
) -> Result<bool, MigrateError> {
    let records = prune.open().await?.into_stream();
    let mut deleting = Deleting {
        phase: prune.phase,
        left: wanted,
        summary,
        outcome,
    };
    let target = prune.target;
    let submitted = submit_bounded(
        &mut deleting,
        records,
        prune.concurrency,
        stop,
        |deleting, item: Result<Item, ListingError>| {
            let item = item.map_err(|e| prune.listing_error(e))?;
            let sid = item.sid.as_deref();
            // Its key's digest first (nothing allocated): most records stay.
            let digest = match record::listed_raw(prune.phase, sid, &item.text) {
                Some((digest, _, _)) => digest,
                None => return Ok(None),
            };
            let why = match (doomed.get(digest), deleting.left) {
                (_, 0) | (Ok(None), _) => return Ok(None),
                (Ok(Some(GONE_CODE)), _) => GONE,
                (Ok(Some(_)), _) => UNKNOWN,
                (Err(error), _) => return Err(prune.io_error(error)),
            };
            let Some(key) = record::listed_key(prune.phase, sid, &item.text) else {
                return Ok(None);
            };
            deleting.left -= 1;
            let record = key.describe(None);
            Ok(Some(async move {
                let mut budget = Budget::default();
                let sid = item.sid;
                let result = delete(target, &key, sid.as_deref(), &mut budget).await;
                Gone {
                    record,
                    why,
                    sid,
                    result,
                }
            }))
        },
        |deleting, gone| deleting.finish(gone),
    )
    .await?;
    Ok(submitted.interrupted)
}

impl Deleting<'_> {
    fn finish(&mut self, gone: Gone) -> Result<(), MigrateError> {
        match gone.result {
            Err(error) => Err(error.into()),
            Ok(Ok(())) => {
                self.summary.deleted += 1;
                self.outcome.deletions.push(Deletion {
                    phase: self.phase,
                    record: gone.record,
                    why: gone.why.to_owned(),
                });
                Ok(())
            }
            Ok(Err(why)) => {
                self.summary.failed += 1;
                let secrets: Vec<&str> = gone.sid.as_deref().into_iter().collect();
                let message = format!("could not be deleted on the target: {why}");
                self.outcome.problems.push(Problem {
                    phase: self.phase,
                    record: gone.record,
                    kind: ProblemKind::Failed,
                    message: scrub(&message, &secrets),
                });
                Ok(())
            }
        }
    }
}
