//! The migration: clients, then authorisations, then sessions, each read
//! from the source as a stream and posted to the target with bounded
//! concurrency; resumable from the journal, never sending a record twice
//! on purpose, never overwriting a different record unless asked, and
//! counting a record migrated only once the target is seen to hold it.
//!
//! Per phase, per pass ([`index`]):
//! 1. the keys the journal holds as done are read into a digest table;
//! 2. at once, the source's listing is indexed (key → content digest: its
//!    size, and the keys it lists more than once, which are never posted)
//!    and the target's (the records the journal does not hold: after a
//!    crash, those whose post was cut mid-flight, found instead of sent
//!    again);
//! 3. the source's listing is streamed ([`pass`]); each record is skipped
//!    (done, or a duplicate), journalled as done (the target holds the
//!    same content), compared with the target's copy, or posted
//!    ([`settle`], [`clients`], [`sessions`]).
//!
//! Every table is bounded in memory and spills to disk past
//! [`MigrateOptions::memory_bound`] entries. A listing that breaks off is
//! read again from the start, skipping what this pass already settled; a
//! listing that is not one fails the phase at once. Whatever happens once
//! the phases have started, `report.json` is written.

mod client_update;
mod clients;
mod index;
mod outcome;
mod pass;
mod post;
mod prune;
mod session_update;
mod sessions;
mod settle;

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use crate::digests::{DigestLog, Spill};
use crate::journal::MigrationJournal;
use crate::model::{Event, Failure, MigrateError, MigrateOptions, Outcome, PhaseSummary, SyncPass};
use crate::preflight::{PreflightReport, Servers};
use crate::record::Phase;
use crate::report::{self, Report};
use crate::verify::verify;

pub use crate::digests::DEFAULT_BOUND as DEFAULT_MEMORY_BOUND;

/// Times a broken listing is read again before the run gives up.
const LISTING_PASSES: u32 = 12;

/// Runs (or resumes) the migration the preflight cleared. Setting `stop`
/// ends it at the next record (requests in flight are finished).
///
/// `Err` only when the journal cannot be used (nothing was done); once
/// the phases start, what stops them is in [`Outcome::failure`], and
/// `report.json` is written (but for a dry run).
pub async fn migrate(
    servers: &Servers,
    preflight: &PreflightReport,
    options: &MigrateOptions,
    events: &mut dyn FnMut(Event),
    stop: watch::Receiver<bool>,
) -> Result<Outcome, MigrateError> {
    let pass = options.sync.map(|_| 1);
    migrate_pass(servers, preflight, options, events, stop, pass).await
}

/// [`migrate()`]; a sync's pass (`pass`: its number) is timed and named
/// in `report.json`.
pub(crate) async fn migrate_pass(
    servers: &Servers,
    preflight: &PreflightReport,
    options: &MigrateOptions,
    events: &mut dyn FnMut(Event),
    stop: watch::Receiver<bool>,
    pass: Option<u32>,
) -> Result<Outcome, MigrateError> {
    let began = (std::time::Instant::now(), unix_now());
    let mut journal = if options.dry_run {
        None
    } else {
        Some(MigrationJournal::open(
            &options.journal_dir,
            &servers.source.issuer,
            &servers.target.issuer,
        )?)
    };
    let spill_dir = spill_dir(options)?;
    let spill = Spill::new(spill_dir.path(), options.memory_bound);
    let mut outcome = Outcome {
        dry_run: options.dry_run,
        ..Outcome::default()
    };
    let mut run = Run {
        servers,
        options,
        journal: journal.as_mut(),
        spill: &spill,
        events,
        stop: &stop,
    };
    run.phases(&mut outcome).await;
    run.flush(&mut outcome);
    if options.verify && !options.dry_run && !outcome.interrupted && outcome.failure.is_none() {
        match verify(servers, options, &spill, run.events, &stop).await {
            Ok(report) => {
                outcome.interrupted |= report.interrupted;
                outcome.verify = Some(report);
            }
            Err(error) => outcome.failure = Some(error.failure(&options.journal_dir)),
        }
    }
    outcome.pass = pass.map(|number| SyncPass {
        number,
        source_read_at: began.1,
        duration_ms: began.0.elapsed().as_millis() as u64,
    });
    if !options.dry_run {
        write_report(servers, preflight, options, &mut outcome);
    }
    Ok(outcome)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where tables spill: beside the journal (a disk the operator chose), or
/// for a dry run, which writes nothing there, the system's temporary folder.
fn spill_dir(options: &MigrateOptions) -> Result<tempfile::TempDir, MigrateError> {
    let made = if options.dry_run {
        tempfile::Builder::new().prefix("trickle-spill-").tempdir()
    } else {
        tempfile::Builder::new()
            .prefix(".spill-")
            .tempdir_in(&options.journal_dir)
    };
    made.map_err(|source| MigrateError::Io {
        path: options.journal_dir.clone(),
        source,
    })
}

/// What every phase of one run shares.
struct Run<'a, 'e> {
    servers: &'a Servers,
    options: &'a MigrateOptions,
    journal: Option<&'a mut MigrationJournal>,
    spill: &'a Spill,
    events: &'a mut (dyn FnMut(Event) + 'e),
    stop: &'a watch::Receiver<bool>,
}

impl Run<'_, '_> {
    async fn phases(&mut self, outcome: &mut Outcome) {
        for &phase in &self.options.phases {
            if *self.stop.borrow() {
                outcome.interrupted = true;
                return;
            }
            let (summary, error) = self.phase(phase, outcome).await;
            let interrupted = summary.interrupted;
            outcome.phases.push(summary);
            if let Some(error) = error {
                outcome.failure = Some(error.failure(&self.options.journal_dir));
                return;
            }
            if interrupted {
                outcome.interrupted = true;
                return;
            }
            if outcome.aborted.is_some() {
                return;
            }
        }
    }

    /// One phase, read again from the start when a listing breaks off.
    async fn phase(
        &mut self,
        phase: Phase,
        outcome: &mut Outcome,
    ) -> (PhaseSummary, Option<MigrateError>) {
        let empty = PhaseSummary {
            phase: Some(phase),
            ..PhaseSummary::default()
        };
        let mut settled = match DigestLog::new(self.spill) {
            Ok(log) => log,
            Err(source) => return (empty, Some(self.spill_error(source))),
        };
        let listed_before = (outcome.problems.clone(), outcome.deletions.clone());
        let mut pass = 0;
        loop {
            pass += 1;
            if self.options.dry_run {
                // A dry run keeps no record of what it settled: a pass counts all.
                (outcome.problems, outcome.deletions) = listed_before.clone();
                settled = match DigestLog::new(self.spill) {
                    Ok(log) => log,
                    Err(source) => return (empty, Some(self.spill_error(source))),
                };
            }
            let result = pass::run(self, phase, pass, &mut settled, outcome).await;
            match result {
                pass::Ended::Done(summary) => {
                    self.flush(outcome);
                    (self.events)(Event::PhaseEnd {
                        phase,
                        verifying: false,
                    });
                    return (summary, None);
                }
                pass::Ended::Again(error) if pass < LISTING_PASSES => {
                    let message = format!("{error}; reading it again, skipping what is done");
                    (self.events)(Event::Note {
                        phase,
                        message: &message,
                    });
                }
                pass::Ended::Again(error) => return (empty, Some(error)),
                pass::Ended::Failed(summary, error) => {
                    self.flush(outcome);
                    return (summary, Some(error));
                }
            }
        }
    }

    fn spill_error(&self, source: std::io::Error) -> MigrateError {
        MigrateError::Io {
            path: self.spill.dir().to_path_buf(),
            source,
        }
    }

    /// Makes what was journalled durable; a failure to do so is the run's.
    fn flush(&mut self, outcome: &mut Outcome) {
        let Some(journal) = self.journal.as_deref_mut() else {
            return;
        };
        if let Err(source) = journal.flush() {
            let error = MigrateError::Io {
                path: journal.path().to_path_buf(),
                source,
            };
            outcome
                .failure
                .get_or_insert_with(|| error.failure(&self.options.journal_dir));
        }
    }
}

fn write_report(
    servers: &Servers,
    preflight: &PreflightReport,
    options: &MigrateOptions,
    outcome: &mut Outcome,
) {
    let path = report_path(&options.journal_dir);
    match report::write(&path, &Report::new(servers, preflight, outcome)) {
        Ok(()) => outcome.report = Some(path),
        Err(source) => {
            let error = MigrateError::Io { path, source };
            outcome.failure.get_or_insert(Failure {
                message: format!("report.json could not be written: {error}"),
                advice: error.advice(&options.journal_dir),
                setup: true,
            });
        }
    }
}

/// The journal folder's report path.
pub fn report_path(journal_dir: &Path) -> PathBuf {
    journal_dir.join(report::REPORT_FILE)
}
