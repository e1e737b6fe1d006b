//! What a migration is asked to do, what it tells while it runs, and what
//! it found: the types the phases, verification, the report and the CLI
//! share (so none of those modules imports another for them).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::api::ServerError;
use crate::journal::MigrationJournalError;
use crate::listing::ListingError;
use crate::record::Phase;

/// Problems, mismatches and deletions kept to list (the counts go on past
/// it): what `report.json` lists.
pub const MAX_LISTED: usize = 10_000;
/// Names of clients with a registration access token kept to list.
pub const MAX_NAMED: usize = 1_000;

/// What to do, given the servers.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The phases to run (preflight may have narrowed them).
    pub phases: Vec<Phase>,
    /// Where the journal and `report.json` live.
    pub journal_dir: PathBuf,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Read both sides, write nothing.
    pub dry_run: bool,
    /// Afterwards, read the target again and compare it with the source.
    pub verify: bool,
    /// Replace target records that differ from the source's.
    pub overwrite: bool,
    /// Digests an index keeps in memory before it spills to disk.
    pub memory_bound: usize,
    /// `--sync`: make the target equal to the source (content decides,
    /// not the journal), deletions included, under these rules.
    pub sync: Option<SyncRules>,
}

/// `--max-delete-ratio`'s default: a pass deletes at most a tenth of a
/// kind on the target unless told otherwise.
pub const DEFAULT_MAX_DELETE_RATIO: f64 = 0.1;

/// What a sync may delete on the target. Deletes are owned (only what
/// this migration's journal holds, unless `delete_unknown`) and guarded
/// (only after a whole, well-formed source listing, and at most
/// `max_delete_ratio` of a kind unless `allow_mass_delete`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncRules {
    pub delete_unknown: bool,
    pub max_delete_ratio: f64,
    pub allow_mass_delete: bool,
}

impl Default for SyncRules {
    fn default() -> Self {
        SyncRules {
            delete_unknown: false,
            max_delete_ratio: DEFAULT_MAX_DELETE_RATIO,
            allow_mass_delete: false,
        }
    }
}

/// What the run is doing, for display.
#[derive(Debug)]
pub enum Event<'a> {
    /// A phase starts (again, after a broken listing: `pass` > 1). `total`
    /// is the source's count; `done` is how many the journal holds already.
    PhaseStart {
        phase: Phase,
        verifying: bool,
        pass: u32,
        total: Option<u64>,
        done: u64,
    },
    /// `seen` source records read so far in this pass.
    Progress {
        phase: Phase,
        seen: u64,
    },
    /// Something worth a line (never a record's content).
    Note {
        phase: Phase,
        message: &'a str,
    },
    PhaseEnd {
        phase: Phase,
        verifying: bool,
    },
}

/// What happened to one phase's records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhaseSummary {
    pub phase: Option<Phase>,
    /// Records in the source's listing.
    pub source_records: u64,
    /// Done by an earlier run (the journal).
    pub already_done: u64,
    /// Posted and seen on the target (in a dry run: would be posted).
    pub created: u64,
    /// Found on the target with the same content: not sent.
    pub present: u64,
    /// Replaced on the target (`--overwrite`; in a dry run: would be).
    pub overwritten: u64,
    pub conflicts: u64,
    pub failed: u64,
    /// Not read to the end: the run stopped first.
    pub interrupted: bool,
    /// Sync: deleted on the target, gone from the source (in a dry run:
    /// would be).
    pub deleted: u64,
    /// Sync: on the target only and never migrated by this journal: left
    /// alone (`--delete-unknown` deletes them).
    pub unknown: u64,
    /// Sync: deletions the guard refused (more than `--max-delete-ratio`
    /// of the target's records of this kind): nothing was deleted.
    pub deletes_refused: u64,
    /// Sync: the target's records of this kind when deletions were counted.
    pub target_records: u64,
}

impl PhaseSummary {
    pub fn migrated(&self) -> u64 {
        self.already_done + self.created + self.present + self.overwritten
    }

    /// Sync: the writes this phase made (or, dry, would make).
    pub fn changes(&self) -> u64 {
        self.created + self.overwritten + self.deleted
    }
}

/// Why a record is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The target holds a different record under the same key.
    Conflict,
    /// The target refused it, or it cannot be migrated as it is.
    Failed,
}

/// A record that was not migrated, and why (never its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub phase: Phase,
    pub record: String,
    pub kind: ProblemKind,
    pub message: String,
}

/// A record this run deleted on the target, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub phase: Phase,
    pub record: String,
    pub why: String,
}

/// The first [`MAX_LISTED`] of something, and how many there were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed<T> {
    pub listed: Vec<T>,
    pub total: u64,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            listed: Vec::new(),
            total: 0,
        }
    }
}

/// The listed ones, as a slice.
impl<T> std::ops::Deref for Listed<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.listed
    }
}

impl<T> Listed<T> {
    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(item);
        }
    }

    /// Whether every one is listed.
    pub fn complete(&self) -> bool {
        self.listed.len() as u64 == self.total
    }
}

/// Why the run stopped before its end, as the report and screen tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub message: String,
    /// What to do about it.
    pub advice: String,
    /// The operator's setup is at fault (exit 2), not the data.
    #[serde(skip)]
    pub setup: bool,
}

/// The run's result.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub dry_run: bool,
    pub phases: Vec<PhaseSummary>,
    pub problems: Listed<Problem>,
    /// What this run deleted on the target (strays it made, replaced
    /// registrations).
    pub deletions: Listed<Deletion>,
    /// Clients whose export holds a registration access token (the first
    /// [`MAX_NAMED`], sorted): the target issues new ones.
    pub clients_with_registration_token: BTreeSet<String>,
    pub clients_with_registration_token_total: u64,
    /// Dry run: one record per phase as it would be posted, secrets masked.
    pub samples: Vec<(Phase, Value)>,
    /// A phase that had to stop (SIDs that cannot match), and why.
    pub aborted: Option<String>,
    pub interrupted: bool,
    /// A phase could not go on; the phases after it did not run.
    pub failure: Option<Failure>,
    pub verify: Option<VerifyReport>,
    /// Where `report.json` was written.
    pub report: Option<PathBuf>,
    /// Sync: this pass, and when its source read began.
    pub pass: Option<SyncPass>,
}

/// One sync pass's place in a `--watch`, for the screen and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncPass {
    /// From 1.
    pub number: u32,
    /// When it began reading the source (UNIX seconds): the target holds
    /// the source as of then, or later.
    pub source_read_at: u64,
    pub duration_ms: u64,
}

impl Outcome {
    /// Everything migrated (and, when verified, found matching).
    pub fn is_clean(&self) -> bool {
        self.problems.total == 0
            && self.phases.iter().all(|p| p.deletes_refused == 0)
            && self.aborted.is_none()
            && self.failure.is_none()
            && !self.interrupted
            && self.verify.as_ref().is_none_or(|v| v.is_clean())
    }
}

/// How one phase compares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyPhase {
    pub phase: Option<Phase>,
    pub source_records: u64,
    pub matching: u64,
    pub missing: u64,
    pub differing: u64,
    /// Could not be compared (a read that failed, a record too big).
    pub unknown: u64,
}

/// A record whose target copy is missing or differs (never its content:
/// only the names of the members that differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub phase: Phase,
    pub record: String,
    pub problem: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub phases: Vec<VerifyPhase>,
    pub mismatches: Listed<Mismatch>,
    pub interrupted: bool,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.mismatches.total == 0 && !self.interrupted
    }
}

/// Why the migration could not go on (the journal keeps what was done).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Journal(#[from] MigrationJournalError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("the {side}'s {phase} listing: {error}")]
    Listing {
        side: &'static str,
        phase: Phase,
        error: ListingError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MigrateError {
    /// The operator's setup is at fault (exit 2): a journal in use,
    /// damaged, of other servers or not writable; a token refused; a
    /// server that cannot be talked to as given.
    pub fn is_setup(&self) -> bool {
        match self {
            MigrateError::Journal(_) | MigrateError::Io { .. } => true,
            MigrateError::Server(error) => error.is_setup(),
            MigrateError::Listing { .. } => false,
        }
    }

    /// What to do about it.
    pub fn advice(&self, journal_dir: &std::path::Path) -> String {
        let resume = format!(
            "the journal in {} keeps what was done: run the same command again to resume",
            journal_dir.display()
        );
        match self {
            MigrateError::Journal(error) => error.advice(),
            MigrateError::Io { path, .. } => format!(
                "{} cannot be written: make it writable or free some space (or give another \
                 --journal folder), then run the same command again",
                path.display()
            ),
            MigrateError::Server(error) if error.is_setup() => {
                "fix what is named above, then run the same command again (the journal keeps \
                 what was done)"
                    .to_owned()
            }
            MigrateError::Listing {
                error: ListingError::NotAListing(_),
                side,
                ..
            } => format!(
                "the {side} answers something else than its listing: check that its issuer \
                 URL reaches the server's API (not a login page or a proxy); {resume}"
            ),
            _ => resume,
        }
    }

    pub fn failure(&self, journal_dir: &std::path::Path) -> Failure {
        Failure {
            message: self.to_string(),
            advice: self.advice(journal_dir),
            setup: self.is_setup(),
        }
    }
}
