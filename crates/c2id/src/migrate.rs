//! The migration: clients, then authorisations, then sessions, each read
//! from the source as a stream and posted to the target with bounded
//! concurrency; resumable from the journal, never sending a record twice
//! on purpose, never overwriting a different record unless asked.
//!
//! Per phase, per pass:
//! 1. the keys the journal holds as done are loaded (16 bytes each);
//! 2. the target's listing is read into an index of the records it holds
//!    that the journal does not (key → content digest): on a fresh target
//!    that is empty; after a crash it holds the records whose post was cut
//!    mid-flight, so they are found there instead of being sent again;
//! 3. the source's listing is streamed; each record is skipped (done),
//!    journalled as done (the target holds the same content), compared
//!    with the target's copy (the digests differ: a conflict, unless the
//!    target only adds members), or posted.
//!
//! A post whose answer is lost (no answer, 5xx, a body cut off) is looked
//! up on the target before it is sent again. A listing that breaks off is
//! read again from the start, skipping what this pass already settled.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::sync::watch;
use trickle_transfer::submit_bounded;

use crate::api::{Server, ServerError, Written};
use crate::journal::{done_set_of, DoneSet, MigrationJournal, MigrationJournalError, JOURNAL_FILE};
use crate::listing::{self, Item, Listing, Shape};
use crate::preflight::{PreflightReport, Servers};
use crate::record::{
    self, content_digest, differing_members, masked, prepare_authorization, prepare_client,
    prepare_session, scrub, secret_strings, sid_digest, Key, Phase, Prepared,
};
use crate::report::{self, Report};
use crate::verify::{verify, VerifyReport};

/// Problems kept to list (the counts go on past it).
pub const MAX_LISTED: usize = 10_000;
/// Times a broken listing is read again before the run gives up.
const LISTING_PASSES: u32 = 12;

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
    /// Count each source listing first (a bar with an ETA).
    pub count_first: bool,
}

/// What the run is doing, for display.
#[derive(Debug)]
pub enum Event<'a> {
    /// A phase starts (again, after a broken listing: `pass` > 1). `total`
    /// is the source's count when counted first; `done` is how many the
    /// journal holds already.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhaseSummary {
    pub phase: Option<Phase>,
    /// Records in the source's listing.
    pub source_records: u64,
    /// Done by an earlier run (the journal).
    pub already_done: u64,
    /// Posted (in a dry run: would be).
    pub created: u64,
    /// Found on the target with the same content: not sent.
    pub present: u64,
    /// Replaced on the target (`--overwrite`; in a dry run: would be).
    pub overwritten: u64,
    pub conflicts: u64,
    pub failed: u64,
    /// Not read: the phase stopped first.
    pub interrupted: bool,
}

impl PhaseSummary {
    pub fn migrated(&self) -> u64 {
        self.already_done + self.created + self.present + self.overwritten
    }
}

/// Why a record is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The target holds a different record under the same key.
    Conflict,
    /// The target refused it, or it cannot be migrated as it is.
    Failed,
}

/// A record that was not migrated, and why (never its content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub phase: Phase,
    pub record: String,
    pub kind: ProblemKind,
    pub message: String,
}

/// Why the migration could not go on (the journal keeps what was done).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Journal(#[from] MigrationJournalError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("{0}")]
    Listing(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MigrateError {
    /// The operator's setup is at fault (exit 2): a journal in use or of
    /// other servers, a token refused.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            MigrateError::Journal(
                MigrationJournalError::Locked { .. } | MigrationJournalError::OtherServers { .. }
            ) | MigrateError::Server(
                ServerError::TokenRefused { .. } | ServerError::ApiDisabled { .. }
            )
        )
    }
}

/// The run's result.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub dry_run: bool,
    pub phases: Vec<PhaseSummary>,
    /// The first [`MAX_LISTED`] problems.
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    /// Clients whose export holds a registration access token: the target
    /// issues new ones.
    pub clients_with_registration_token: BTreeSet<String>,
    /// Dry run: one record per phase as it would be posted, secrets masked.
    pub samples: Vec<(Phase, Value)>,
    /// A phase that had to stop (a SID mismatch), and why.
    pub aborted: Option<String>,
    pub interrupted: bool,
    pub verify: Option<VerifyReport>,
    /// Where `report.json` was written.
    pub report: Option<PathBuf>,
}

impl Outcome {
    /// Everything migrated (and, when verified, found matching).
    pub fn is_clean(&self) -> bool {
        self.problems_total == 0
            && self.aborted.is_none()
            && !self.interrupted
            && self.verify.as_ref().is_none_or(|v| v.is_clean())
    }
}

/// Runs (or resumes) the migration the preflight cleared. Setting `stop`
/// ends it at the next record (requests in flight are finished).
pub async fn migrate(
    servers: &Servers,
    preflight: &PreflightReport,
    options: &MigrateOptions,
    events: &mut dyn FnMut(Event),
    stop: watch::Receiver<bool>,
) -> Result<Outcome, MigrateError> {
    let mut journal = if options.dry_run {
        None
    } else {
        Some(MigrationJournal::open(
            &options.journal_dir,
            &servers.source.issuer,
            &servers.target.issuer,
        )?)
    };
    let mut outcome = Outcome {
        dry_run: options.dry_run,
        ..Outcome::default()
    };
    for &phase in &options.phases {
        if *stop.borrow() {
            outcome.interrupted = true;
            break;
        }
        let result = run_phase(
            phase,
            servers,
            options,
            journal.as_mut(),
            &mut outcome,
            events,
            &stop,
        )
        .await;
        let summary = match result {
            Ok(summary) => summary,
            Err(error) => {
                // Keep what was done before giving up (a rerun would find
                // it on the target anyway, at the cost of a comparison).
                if let Some(journal) = journal.as_mut() {
                    let _ = journal.flush();
                }
                return Err(error);
            }
        };
        let interrupted = summary.interrupted;
        outcome.phases.push(summary);
        if interrupted {
            outcome.interrupted = true;
            break;
        }
        if outcome.aborted.is_some() {
            break;
        }
    }
    if let Some(journal) = journal.as_mut() {
        journal.flush().map_err(|source| MigrateError::Io {
            path: journal.path().to_path_buf(),
            source,
        })?;
    }
    if options.verify && !options.dry_run && !outcome.interrupted {
        outcome.verify = Some(verify(servers, options, events, &stop).await?);
        if outcome.verify.as_ref().is_some_and(|v| v.interrupted) {
            outcome.interrupted = true;
        }
    }
    if !options.dry_run {
        let path = options.journal_dir.join(report::REPORT_FILE);
        report::write(&path, &Report::new(servers, preflight, &outcome)).map_err(|source| {
            MigrateError::Io {
                path: path.clone(),
                source,
            }
        })?;
        outcome.report = Some(path);
    }
    Ok(outcome)
}

/// What a finished request says about its record.
enum Finished {
    /// The target holds it now.
    Done {
        key: Key,
        how: How,
    },
    Problem {
        key_digest: u128,
        problem: Problem,
    },
    /// The target made another SID for the session: its keys differ.
    SidMismatch {
        key_digest: u128,
        problem: Problem,
    },
    /// The target cannot be used any more.
    Fatal(ServerError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Created,
    Present,
    Overwritten,
}

/// Why a pass stopped short.
enum PassError {
    /// The source's listing broke off: read it again.
    Listing(String),
    /// The target computes other SIDs: the phase stops.
    SidMismatch,
    Fatal(MigrateError),
}

/// One phase's state, shared by the starts and the finishes of its
/// requests.
struct PhaseRun<'a, 'e> {
    phase: Phase,
    journal: Option<&'a mut MigrationJournal>,
    done: DoneSet,
    /// Target records the journal does not hold: index key → content digest.
    index: HashMap<u128, u64>,
    /// Records this run listed as problems (skipped when a listing is read again).
    settled: HashSet<u128>,
    summary: PhaseSummary,
    outcome: &'a mut Outcome,
    events: &'a mut (dyn FnMut(Event) + 'e),
    seen: u64,
}

impl PhaseRun<'_, '_> {
    fn problem(&mut self, key_digest: u128, problem: Problem) {
        match problem.kind {
            ProblemKind::Conflict => self.summary.conflicts += 1,
            ProblemKind::Failed => self.summary.failed += 1,
        }
        self.settled.insert(key_digest);
        self.outcome.problems_total += 1;
        if self.outcome.problems.len() < MAX_LISTED {
            self.outcome.problems.push(problem);
        }
    }

    fn done(&mut self, key: &Key, how: How) -> Result<(), PassError> {
        match how {
            How::Created => self.summary.created += 1,
            How::Present => self.summary.present += 1,
            How::Overwritten => self.summary.overwritten += 1,
        }
        if let Some(journal) = self.journal.as_deref_mut() {
            journal.done(key).map_err(|source| {
                PassError::Fatal(MigrateError::Io {
                    path: journal.path().to_path_buf(),
                    source,
                })
            })?;
        }
        Ok(())
    }
}

async fn run_phase(
    phase: Phase,
    servers: &Servers,
    options: &MigrateOptions,
    mut journal: Option<&mut MigrationJournal>,
    outcome: &mut Outcome,
    events: &mut dyn FnMut(Event),
    stop: &watch::Receiver<bool>,
) -> Result<PhaseSummary, MigrateError> {
    let total = if options.count_first {
        Some(count_listing(&servers.source, phase).await?)
    } else {
        None
    };
    let problems_before = (outcome.problems.len(), outcome.problems_total);
    let mut settled = HashSet::new();
    let mut pass = 0;
    loop {
        pass += 1;
        let done = match journal.as_deref_mut() {
            Some(journal) => journal.done_set(phase)?,
            None => done_set_of(&options.journal_dir.join(JOURNAL_FILE), phase)?,
        };
        if options.dry_run {
            // A dry run keeps no record of what it settled: a pass counts all.
            settled.clear();
            outcome.problems.truncate(problems_before.0);
            outcome.problems_total = problems_before.1;
        }
        events(Event::PhaseStart {
            phase,
            verifying: false,
            pass,
            total,
            done: done.len() as u64,
        });
        let index = match target_index(&servers.target, phase, &done).await {
            Ok(index) => index,
            Err(PassError::Listing(why)) if pass < LISTING_PASSES => {
                let message = format!("the target's listing broke off ({why}); reading it again");
                events(Event::Note {
                    phase,
                    message: &message,
                });
                continue;
            }
            Err(PassError::Listing(why)) => return Err(MigrateError::Listing(why)),
            Err(PassError::Fatal(error)) => return Err(error),
            Err(PassError::SidMismatch) => unreachable!("reading makes no SID"),
        };
        let mut run = PhaseRun {
            phase,
            journal: journal.as_deref_mut(),
            done,
            index,
            settled: std::mem::take(&mut settled),
            summary: PhaseSummary {
                phase: Some(phase),
                ..PhaseSummary::default()
            },
            outcome: &mut *outcome,
            events: &mut *events,
            seen: 0,
        };
        let result = source_pass(&mut run, servers, options, stop).await;
        let PhaseRun {
            summary,
            settled: kept,
            ..
        } = run;
        settled = kept;
        match result {
            Ok(interrupted) => {
                let mut summary = summary;
                summary.interrupted = interrupted;
                if let Some(journal) = journal.as_deref_mut() {
                    journal.flush().map_err(|source| MigrateError::Io {
                        path: journal.path().to_path_buf(),
                        source,
                    })?;
                }
                events(Event::PhaseEnd {
                    phase,
                    verifying: false,
                });
                return Ok(summary);
            }
            Err(PassError::Listing(why)) if pass < LISTING_PASSES => {
                let message = format!(
                    "the source's listing broke off ({why}); reading it again, skipping what is done"
                );
                events(Event::Note {
                    phase,
                    message: &message,
                });
            }
            Err(PassError::Listing(why)) => {
                return Err(MigrateError::Listing(format!(
                    "the source's {phase} listing broke off {LISTING_PASSES} times: {why}"
                )))
            }
            Err(PassError::SidMismatch) => {
                outcome.aborted = Some(
                    "the target computes other SIDs than the source for the same SID keys: \
                     its JWK set (the secret keys behind the SIDs' HMAC) differs from the \
                     source's. Sessions were not migrated; give the target the source's exact \
                     JWK set and run again"
                        .to_owned(),
                );
                let mut summary = summary;
                summary.interrupted = false;
                events(Event::PhaseEnd {
                    phase,
                    verifying: false,
                });
                return Ok(summary);
            }
            Err(PassError::Fatal(error)) => return Err(error),
        }
    }
}

async fn count_listing(source: &Server, phase: Phase) -> Result<u64, MigrateError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let response = source.open_listing(phase).await?;
        match listing::count(response, shape(phase)).await {
            Ok(n) => return Ok(n),
            Err(_) if tries < LISTING_PASSES => continue,
            Err(why) => return Err(MigrateError::Listing(why)),
        }
    }
}

pub(crate) fn shape(phase: Phase) -> Shape {
    match phase {
        Phase::Sessions => Shape::ObjectBySid,
        _ => Shape::Array,
    }
}

/// The key a record has in a listing's index: sessions by their full SID.
fn index_key(key: &Key, sid: Option<&str>) -> u128 {
    match (key, sid) {
        (Key::Session(_), Some(sid)) => sid_digest(sid),
        _ => key.digest(),
    }
}

/// A listing record made ready, or why it cannot be.
enum Read {
    Ready(Box<Prepared>),
    /// It cannot be migrated: listed as failed under this name.
    Unusable {
        key_digest: u128,
        record: String,
        message: String,
    },
}

fn prepare(phase: Phase, item: Item, position: u64) -> Read {
    let unusable = |message: String| Read::Unusable {
        key_digest: Key::Client(format!("\u{0}unusable record #{position}")).digest(),
        record: format!("{} record #{position} of the listing", phase.name()),
        message,
    };
    match phase {
        Phase::Clients => match prepare_client(item.record) {
            Ok((_, Ok(prepared))) => Read::Ready(Box::new(prepared)),
            Ok((id, Err(why))) => Read::Unusable {
                key_digest: Key::Client(id.clone()).digest(),
                record: Key::Client(id).describe(None),
                message: why.to_string(),
            },
            Err(why) => unusable(why),
        },
        Phase::Authorizations => match prepare_authorization(item.record) {
            Ok(prepared) => Read::Ready(Box::new(prepared)),
            Err(why) => unusable(why),
        },
        Phase::Sessions => match prepare_session(item.sid.unwrap_or_default(), item.record) {
            Ok(prepared) => Read::Ready(Box::new(prepared)),
            Err(why) => unusable(why),
        },
    }
}

/// Reads the target's listing of `phase` into an index of the records the
/// journal does not hold as done.
async fn target_index(
    target: &Server,
    phase: Phase,
    done: &DoneSet,
) -> Result<HashMap<u128, u64>, PassError> {
    let response = target
        .open_listing(phase)
        .await
        .map_err(|e| PassError::Fatal(e.into()))?;
    let mut listing = Listing::read(response, shape(phase));
    let mut index = HashMap::new();
    while let Some(item) = listing.next().await {
        let item = item.map_err(PassError::Listing)?;
        let sid = item.sid.clone();
        let Some((key, compare)) = key_and_form(phase, item) else {
            continue;
        };
        if done.contains(&key) {
            continue;
        }
        index.insert(index_key(&key, sid.as_deref()), content_digest(&compare));
    }
    Ok(index)
}

/// A listing record's key and the form it is compared in (`None` for a
/// record without a usable key).
pub(crate) fn key_and_form(phase: Phase, item: Item) -> Option<(Key, Value)> {
    match phase {
        Phase::Clients => {
            let id = item.record.get("client_id")?.as_str()?.to_owned();
            Some((Key::Client(id), record::normalise_client(item.record)))
        }
        Phase::Authorizations => {
            let prepared = prepare_authorization(item.record).ok()?;
            Some((prepared.key, prepared.compare))
        }
        Phase::Sessions => {
            let prepared = prepare_session(item.sid?, item.record).ok()?;
            Some((prepared.key, prepared.compare))
        }
    }
}

/// One read of the source's listing, posting what the target lacks.
/// `Ok(true)` when stopped before the end.
async fn source_pass(
    run: &mut PhaseRun<'_, '_>,
    servers: &Servers,
    options: &MigrateOptions,
    stop: &watch::Receiver<bool>,
) -> Result<bool, PassError> {
    let phase = run.phase;
    let response = servers
        .source
        .open_listing(phase)
        .await
        .map_err(|e| PassError::Fatal(e.into()))?;
    let records = Listing::read(response, shape(phase)).into_stream();
    let target = &servers.target;
    let dry_run = options.dry_run;
    let overwrite = options.overwrite;
    let submitted = submit_bounded(
        run,
        records,
        options.concurrency,
        stop,
        |run, item| {
            let item = item.map_err(PassError::Listing)?;
            run.seen += 1;
            run.summary.source_records += 1;
            (run.events)(Event::Progress {
                phase,
                seen: run.seen,
            });
            let prepared = match prepare(phase, item, run.seen) {
                Read::Ready(prepared) => prepared,
                Read::Unusable {
                    key_digest,
                    record,
                    message,
                } => {
                    if !run.settled.contains(&key_digest) {
                        let problem = Problem {
                            phase,
                            record,
                            kind: ProblemKind::Failed,
                            message,
                        };
                        run.problem(key_digest, problem);
                    }
                    return Ok(None);
                }
            };
            if let (true, Key::Client(id)) = (prepared.had_registration_token, &prepared.key) {
                run.outcome
                    .clients_with_registration_token
                    .insert(id.clone());
            }
            if run.done.contains(&prepared.key) {
                run.summary.already_done += 1;
                return Ok(None);
            }
            if run.settled.contains(&prepared.key.digest()) {
                return Ok(None);
            }
            if dry_run && !run.outcome.samples.iter().any(|(p, _)| *p == phase) {
                run.outcome
                    .samples
                    .push((phase, masked(phase, &prepared.body)));
            }
            let job = match run
                .index
                .get(&index_key(&prepared.key, prepared.sid.as_deref()))
            {
                None => Job::Create,
                Some(&digest) if digest == content_digest(&prepared.compare) => {
                    run.done(&prepared.key, How::Present)?;
                    return Ok(None);
                }
                Some(_) => Job::Compare,
            };
            Ok(Some(settle(target, job, prepared, dry_run, overwrite)))
        },
        |run, finished| match finished {
            Finished::Done { key, how } => run.done(&key, how),
            Finished::Problem {
                key_digest,
                problem,
            } => {
                run.problem(key_digest, problem);
                Ok(())
            }
            Finished::SidMismatch {
                key_digest,
                problem,
            } => {
                run.problem(key_digest, problem);
                Err(PassError::SidMismatch)
            }
            Finished::Fatal(error) => Err(PassError::Fatal(error.into())),
        },
    )
    .await?;
    Ok(submitted.interrupted)
}

/// What a record needs from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// The target lacks it.
    Create,
    /// The target holds a record under its key whose digest differs.
    Compare,
}

/// Does what `job` says for one record and says how it ended.
async fn settle(
    target: &Server,
    job: Job,
    prepared: Box<Prepared>,
    dry_run: bool,
    overwrite: bool,
) -> Finished {
    let result = match job {
        Job::Create if dry_run => Ok(Finished::Done {
            key: prepared.key.clone(),
            how: How::Created,
        }),
        Job::Create => create(target, &prepared).await,
        Job::Compare => compare_then(target, &prepared, dry_run, overwrite).await,
    };
    result.unwrap_or_else(Finished::Fatal)
}

fn problem(prepared: &Prepared, kind: ProblemKind, message: String) -> Finished {
    let phase = prepared.key.phase();
    let mut secrets = secret_strings(phase, &prepared.body);
    // A server may echo the SID it was given.
    secrets.extend(prepared.sid.iter().cloned());
    Finished::Problem {
        key_digest: prepared.key.digest(),
        problem: Problem {
            phase,
            record: prepared.describe(),
            kind,
            message: scrub(&message, &secrets),
        },
    }
}

/// The target holds another record under this key: the same but for
/// members it adds is done; otherwise a conflict, or replaced when asked.
async fn compare_then(
    target: &Server,
    prepared: &Prepared,
    dry_run: bool,
    overwrite: bool,
) -> Result<Finished, ServerError> {
    let held = target
        .get_one(&prepared.key, prepared.sid.as_deref())
        .await?;
    let Some(held) = held else {
        // Gone since the index was read.
        if dry_run {
            return Ok(Finished::Done {
                key: prepared.key.clone(),
                how: How::Created,
            });
        }
        return create(target, prepared).await;
    };
    let differing = differing_members(
        &prepared.compare,
        &record::normalise(prepared.key.phase(), held),
    );
    if differing.is_empty() {
        return Ok(Finished::Done {
            key: prepared.key.clone(),
            how: How::Present,
        });
    }
    if !overwrite {
        return Ok(problem(
            prepared,
            ProblemKind::Conflict,
            format!(
                "the target holds a different record under this key (members that differ: {}); \
                 left as it is (--overwrite replaces it)",
                differing.join(", ")
            ),
        ));
    }
    if dry_run {
        return Ok(Finished::Done {
            key: prepared.key.clone(),
            how: How::Overwritten,
        });
    }
    if let Key::Client(_) = prepared.key {
        // A registration cannot be posted over an existing one: delete it first.
        if let Err(why) = delete(target, &prepared.key, None).await? {
            return Ok(problem(
                prepared,
                ProblemKind::Failed,
                format!("the target's copy could not be deleted to replace it: {why}"),
            ));
        }
    }
    Ok(match create(target, prepared).await? {
        Finished::Done { key, .. } => Finished::Done {
            key,
            how: How::Overwritten,
        },
        other => other,
    })
}

/// Posts a record the target lacks. A post whose answer is lost is looked
/// up before it is sent again.
async fn create(target: &Server, prepared: &Prepared) -> Result<Finished, ServerError> {
    let phase = prepared.key.phase();
    let sid_key = match &prepared.key {
        Key::Session(key) => Some(key.as_str()),
        _ => None,
    };
    let mut lost = 0u32;
    loop {
        let written = target.create(phase, &prepared.body, sid_key).await?;
        let why = match written {
            Written::Accepted(answer) => return check_answer(target, prepared, answer).await,
            Written::Refused { status, message } => {
                if lost > 0 {
                    // An earlier try may have landed (a client is then "already registered").
                    if let Some(done) = found_as_sent(target, prepared).await? {
                        return Ok(done);
                    }
                }
                return Ok(problem(
                    prepared,
                    ProblemKind::Failed,
                    format!("the target refused it: HTTP {status}: {message}"),
                ));
            }
            Written::Uncertain(why) => why,
        };
        lost += 1;
        if target_retry_exhausted(target, lost) {
            return Ok(problem(
                prepared,
                ProblemKind::Failed,
                format!("no usable answer from the target after {lost} tries: {why}"),
            ));
        }
        tokio::time::sleep(target_backoff(target, lost)).await;
        match target
            .get_one(&prepared.key, prepared.sid.as_deref())
            .await?
        {
            None => continue,
            Some(held) => {
                let held = record::normalise(phase, held);
                if differing_members(&prepared.compare, &held).is_empty() {
                    return Ok(Finished::Done {
                        key: prepared.key.clone(),
                        how: How::Created,
                    });
                }
                if phase != Phase::Clients {
                    // Posting again replaces it with ours.
                    continue;
                }
                return Ok(problem(
                    prepared,
                    ProblemKind::Conflict,
                    "after a lost answer the target holds a different registration under this \
                     client_id; left as it is (--overwrite replaces it)"
                        .to_owned(),
                ));
            }
        }
    }
}

/// Deletes a record (deleting is idempotent: a lost answer is simply
/// tried again, and "not found" is as good as deleted). `Err(why)` when the
/// target refused.
async fn delete(
    target: &Server,
    key: &Key,
    sid: Option<&str>,
) -> Result<Result<(), String>, ServerError> {
    let mut lost = 0u32;
    loop {
        let why = match target.delete(key, sid).await? {
            Written::Accepted(_) | Written::Refused { status: 404, .. } => return Ok(Ok(())),
            Written::Refused { status, message } => {
                return Ok(Err(format!("HTTP {status}: {message}")))
            }
            Written::Uncertain(why) => why,
        };
        lost += 1;
        if target_retry_exhausted(target, lost) {
            return Ok(Err(format!("no usable answer after {lost} tries: {why}")));
        }
        tokio::time::sleep(target_backoff(target, lost)).await;
    }
}

fn target_retry_exhausted(target: &Server, tries: u32) -> bool {
    target.retry_policy().exhausted(tries)
}

fn target_backoff(target: &Server, tries: u32) -> std::time::Duration {
    target.retry_policy().backoff(tries)
}

/// After a refusal that may follow a landed try: the record as sent, if
/// the target holds it.
async fn found_as_sent(
    target: &Server,
    prepared: &Prepared,
) -> Result<Option<Finished>, ServerError> {
    let held = target
        .get_one(&prepared.key, prepared.sid.as_deref())
        .await?;
    Ok(held
        .map(|held| record::normalise(prepared.key.phase(), held))
        .filter(|held| differing_members(&prepared.compare, held).is_empty())
        .map(|_| Finished::Done {
            key: prepared.key.clone(),
            how: How::Created,
        }))
}

/// The target accepted a record: checks it kept what matters (the client
/// id and secret; the session's SID).
async fn check_answer(
    target: &Server,
    prepared: &Prepared,
    answer: Option<Value>,
) -> Result<Finished, ServerError> {
    let done = Finished::Done {
        key: prepared.key.clone(),
        how: How::Created,
    };
    match &prepared.key {
        Key::Client(id) => {
            let Some(answer) = answer else {
                return Ok(done);
            };
            let given_id = answer.get("client_id").and_then(Value::as_str);
            if let Some(given) = given_id.filter(|given| given != id) {
                return Ok(problem(
                    prepared,
                    ProblemKind::Failed,
                    format!(
                        "the target registered it under another client_id, {given}: it ignores \
                         preferred_client_id (a server older than 2.5, or not the master token); \
                         delete {given} on the target"
                    ),
                ));
            }
            let given_secret = answer.get("client_secret").and_then(Value::as_str);
            if let (Some(sent), Some(given)) = (&prepared.secret, given_secret) {
                if sent != given {
                    return Ok(problem(
                        prepared,
                        ProblemKind::Failed,
                        "the target gave it another client_secret than the exported one: its \
                         clients would fail to authenticate (does the target's secret codec \
                         take preferred_client_secret?)"
                            .to_owned(),
                    ));
                }
            }
            Ok(done)
        }
        Key::Session(_) => {
            let expected = prepared.sid.as_deref().unwrap_or_default();
            let given = answer
                .as_ref()
                .and_then(|a| a.get("sid"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let matches = match &given {
                Some(given) => given == expected,
                // No SID in the answer: look for the session under the source's.
                None => target
                    .get_one(&prepared.key, Some(expected))
                    .await?
                    .is_some(),
            };
            if matches {
                return Ok(done);
            }
            if let Some(given) = &given {
                // Stored under a SID nobody holds: take it back out.
                let _ = delete(target, &prepared.key, Some(given)).await;
            }
            let Finished::Problem {
                key_digest,
                problem,
            } = problem(
                prepared,
                ProblemKind::Failed,
                "the target stored it under another SID than the source's: the two servers' \
                 JWK sets differ (the SID's HMAC is made with them); its users would have to \
                 log in again"
                    .to_owned(),
            )
            else {
                unreachable!("problem() makes a problem")
            };
            Ok(Finished::SidMismatch {
                key_digest,
                problem,
            })
        }
        Key::Authorization { .. } => Ok(done),
    }
}

/// The journal folder's report path.
pub fn report_path(journal_dir: &Path) -> PathBuf {
    journal_dir.join(report::REPORT_FILE)
}
