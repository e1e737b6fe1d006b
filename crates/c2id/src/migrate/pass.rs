//! One read of the source's listing: each record decided (done before,
//! reported before, listed twice, already on the target, to compare, to
//! post), the requests run with bounded concurrency, and what they come
//! back with counted, journalled and listed.
//!
//! A copy reads the source twice (its keys first, in [`Tables`], to know
//! the keys listed twice before anything is written). A sync reads it
//! once: each record whose bytes the target holds the same is settled at
//! once, the others are kept (up to [`DEFERRED_BYTES_PER_ENTRY`] bytes per
//! entry of the memory bound) and decided once the whole listing, so
//! every key listed twice, is known; past that bound, the source is read
//! a second time as a copy reads it.

use tokio::sync::watch;
use trickle_transfer::submit_bounded;

use super::index::Tables;
use super::outcome::{Ctx, Finished, How, Job};
use super::prune::{self, Prune};
use super::settle;
use super::Run;
use crate::api::ServerError;
use crate::digests::{always_duplicate, DigestLog, Spill, UNKNOWN};
use crate::journal::MigrationJournal;
use crate::listing::{Hold, Item, Listing, ListingError, Text};
use crate::masking::masked;
use crate::model::{
    Deletion, Event, MigrateError, MigrateOptions, Outcome, PhaseSummary, Problem, ProblemKind,
    MAX_NAMED,
};
use crate::preflight::Servers;
use crate::record::{self, Key, Phase, Prepared, Read};

/// Records in a row that got no usable answer from the target before the
/// run stops (the target is down: every other record would wait as long).
const UNREACHABLE_IN_A_ROW: u32 = 32;
/// SID mismatches, with no session having kept its SID, before the
/// sessions phase stops (the keys differ: every other one would too).
const SID_MISMATCHES_TO_STOP: u64 = 5;
/// The changed records' text a sync keeps from its one read of the
/// source, in bytes per entry of the memory bound (by default 8 MiB);
/// past it, they are read again instead.
const DEFERRED_BYTES_PER_ENTRY: usize = 64;

/// How a pass ended.
pub(super) enum Ended {
    Done(PhaseSummary),
    /// A listing broke off: read it again.
    Again(MigrateError),
    /// The phase cannot go on.
    Failed(PhaseSummary, MigrateError),
}

/// Why a pass stopped short.
enum Stop {
    Listing(ListingError),
    /// Sessions: the target makes other SIDs (the message says why).
    SidAbort(String),
    Fatal(MigrateError),
}

/// One pass's running state, shared by the starts and the finishes of its
/// requests.
struct PhaseRun<'a, 'e> {
    phase: Phase,
    journal: Option<&'a mut MigrationJournal>,
    settled: &'a mut DigestLog,
    /// The keys of the source's records this pass streamed (a sync
    /// deletes nothing they name).
    streamed: &'a mut DigestLog,
    spill_dir: &'a std::path::Path,
    summary: PhaseSummary,
    outcome: &'a mut Outcome,
    events: &'a mut (dyn FnMut(Event) + 'e),
    seen: u64,
    unreachable_in_a_row: u32,
    sid_mismatches: u64,
    /// Where this pass's SID mismatches sit in the listed problems (their
    /// wording is settled when the phase's counts are known).
    sid_problems: Vec<usize>,
    /// A sync's kept records: their keys were noted when they were read.
    noted: bool,
}

/// Reads the tables, then streams the source through the target; a sync
/// then deletes what the source no longer lists ([`prune`]).
pub(super) async fn run(
    run: &mut Run<'_, '_>,
    phase: Phase,
    pass: u32,
    settled: &mut DigestLog,
    outcome: &mut Outcome,
) -> Ended {
    let servers = run.servers;
    let empty = PhaseSummary {
        phase: Some(phase),
        ..PhaseSummary::default()
    };
    let tables = Tables::read(
        phase,
        &servers.source,
        &servers.target,
        run.options,
        run.journal.as_deref_mut(),
        settled,
        run.spill,
    )
    .await;
    let (mut tables, mut streamed) = match (tables, DigestLog::new(run.spill)) {
        (Ok(tables), Ok(log)) => (tables, log),
        (Err(error), _) => return listing_ended(empty, error),
        (_, Err(source)) => return Ended::Failed(empty, run.spill_error(source)),
    };
    (run.events)(Event::PhaseStart {
        phase,
        verifying: false,
        pass,
        total: tables.source_records,
        done: tables.done.len(),
    });
    if phase == Phase::Clients {
        outcome.clients_with_registration_token_total = 0;
    }
    let target_keys = tables.target_keys.take();
    let (result, summary) = stream_pass(run, &mut tables, settled, &mut streamed, outcome).await;
    let mut summary = match ended(phase, result, summary, outcome) {
        Next::GoOn(summary) => summary,
        Next::End(ended) => return ended,
    };
    let (Some(rules), Some(mut target_keys)) = (run.options.sync, target_keys) else {
        return Ended::Done(summary);
    };
    if summary.interrupted {
        return Ended::Done(summary);
    }
    let streamed = match streamed.table(run.spill) {
        Ok(table) => table,
        Err(source) => return Ended::Failed(summary, run.spill_error(source)),
    };
    let prune = Prune {
        phase,
        target: &servers.target,
        tables: &tables,
        streamed: &streamed,
        rules,
        dry_run: run.options.dry_run,
        concurrency: run.options.concurrency,
        spill: run.spill,
    };
    match prune::prune(&prune, &mut target_keys, &mut summary, outcome, run.stop).await {
        Ok(interrupted) => {
            summary.interrupted = interrupted;
            Ended::Done(summary)
        }
        Err(error) => listing_ended(summary, error),
    }
}

/// What a pass's reads share, besides its running state.
#[derive(Clone, Copy)]
struct Reading<'a> {
    servers: &'a Servers,
    options: &'a MigrateOptions,
    spill: &'a Spill,
    stop: &'a watch::Receiver<bool>,
}

/// What every request of a pass shares.
fn ctx<'a>(run: Reading<'a>, tables: &'a Tables) -> Ctx<'a> {
    Ctx {
        target: &run.servers.target,
        tables,
        dry_run: run.options.dry_run,
        overwrite: run.options.overwrite || run.options.sync.is_some(),
        exact: run.options.sync.is_some(),
    }
}

/// The source's listing streamed through the target, with the state of
/// one pass.
async fn stream_pass(
    run: &mut Run<'_, '_>,
    tables: &mut Tables,
    settled: &mut DigestLog,
    streamed: &mut DigestLog,
    outcome: &mut Outcome,
) -> (Result<bool, Stop>, PhaseSummary) {
    let phase = tables.phase;
    let mut state = PhaseRun {
        phase,
        journal: run.journal.as_deref_mut(),
        settled,
        streamed,
        spill_dir: run.spill.dir(),
        summary: PhaseSummary {
            phase: Some(phase),
            ..PhaseSummary::default()
        },
        outcome,
        events: &mut *run.events,
        seen: 0,
        unreachable_in_a_row: 0,
        sid_mismatches: 0,
        sid_problems: Vec::new(),
        noted: false,
    };
    let reading = Reading {
        servers: run.servers,
        options: run.options,
        spill: run.spill,
        stop: run.stop,
    };
    let result = match run.options.sync {
        None => stream(&mut state, &ctx(reading, tables), reading).await,
        Some(_) => sync_stream(&mut state, tables, reading).await,
    };
    state.word_sid_mismatches();
    (result, state.summary)
}

/// A sync's one read of the source ([`scan`]), then its kept records
/// decided, or past the bound the source streamed again.
async fn sync_stream(
    state: &mut PhaseRun<'_, '_>,
    tables: &mut Tables,
    run: Reading<'_>,
) -> Result<bool, Stop> {
    let kept = match scan(state, tables, run).await? {
        Scanned::Interrupted => return Ok(true),
        Scanned::Whole(kept) => kept,
    };
    let io = |source| {
        Stop::Fatal(MigrateError::Io {
            path: run.spill.dir().to_path_buf(),
            source,
        })
    };
    // Every key the source listed, those listed twice marked.
    tables.source = state
        .streamed
        .table_with(run.spill, always_duplicate)
        .map_err(io)?;
    *state.streamed = DigestLog::new(run.spill).map_err(io)?;
    let ctx = ctx(run, tables);
    let Some(kept) = kept else {
        (
            state.seen,
            state.summary.source_records,
            state.summary.present,
        ) = (0, 0, 0);
        return stream(state, &ctx, run).await;
    };
    state.noted = true;
    let submitted = submit_bounded(
        state,
        futures_util::stream::iter(kept),
        run.options.concurrency,
        run.stop,
        |state, item| state.settle_item(ctx, item),
        |state, finished| state.finish(finished),
    )
    .await?;
    Ok(submitted.interrupted)
}

/// How a sync's read of the source ended.
enum Scanned {
    Interrupted,
    /// Read whole: the records to decide, unless there were too many to keep.
    Whole(Option<Vec<Item>>),
}

/// A sync's read of the source: every record's key noted, those the
/// target holds the same settled, the others kept (without their share
/// of the listing's budget) while they fit in [`DEFERRED_BYTES_PER_ENTRY`]
/// bytes per entry of the memory bound.
async fn scan(
    state: &mut PhaseRun<'_, '_>,
    tables: &Tables,
    run: Reading<'_>,
) -> Result<Scanned, Stop> {
    let (phase, source) = (state.phase, &run.servers.source);
    let response = source
        .open_listing(phase)
        .await
        .map_err(|e| Stop::Fatal(e.into()))?;
    let mut listing = Listing::read(response, record::shape(phase), source.listing_options());
    let (mut kept, mut bytes) = (Some(Vec::new()), 0);
    let most = run
        .options
        .memory_bound
        .saturating_mul(DEFERRED_BYTES_PER_ENTRY);
    while let Some(item) = listing.next().await {
        if *run.stop.borrow() {
            return Ok(Scanned::Interrupted);
        }
        let item = item.map_err(Stop::Listing)?;
        state.count_seen();
        if state.unchanged_bytes(true, tables, item.sid.as_deref(), &item.text)? {
            continue;
        }
        let sid = item.sid.as_deref();
        state.note_streamed(record::prepared_key_digest(
            phase,
            sid,
            item.position,
            &item.text,
        ))?;
        bytes += match &item.text {
            Text::Whole(text) => text.len(),
            Text::TooBig { .. } => 64,
        } + sid.map_or(0, str::len);
        kept = kept.filter(|_| bytes <= most).map(|mut kept| {
            kept.push(Item {
                hold: Hold::none(),
                ..item
            });
            kept
        });
    }
    Ok(Scanned::Whole(kept))
}

/// After the stream: on (a sync's deletions come only after a whole
/// read), or the pass's end.
enum Next {
    GoOn(PhaseSummary),
    End(Ended),
}

/// How a stream ended.
fn ended(
    phase: Phase,
    result: Result<bool, Stop>,
    mut summary: PhaseSummary,
    outcome: &mut Outcome,
) -> Next {
    match result {
        Ok(interrupted) => {
            summary.interrupted = interrupted;
            Next::GoOn(summary)
        }
        Err(Stop::Listing(error)) => Next::End(listing_ended(
            summary,
            MigrateError::Listing {
                side: "source",
                phase,
                error,
            },
        )),
        Err(Stop::SidAbort(message)) => {
            outcome.aborted = Some(message);
            Next::End(Ended::Done(summary))
        }
        Err(Stop::Fatal(error)) => Next::End(Ended::Failed(summary, error)),
    }
}

/// A listing error: read again when that may help, else the phase fails.
fn listing_ended(summary: PhaseSummary, error: MigrateError) -> Ended {
    match &error {
        MigrateError::Listing { error: e, .. } if e.may_pass() => Ended::Again(error),
        _ => Ended::Failed(summary, error),
    }
}

/// The source's listing, each record started and finished.
async fn stream(
    state: &mut PhaseRun<'_, '_>,
    ctx: &Ctx<'_>,
    run: Reading<'_>,
) -> Result<bool, Stop> {
    let (phase, source, concurrency, stop) = (
        state.phase,
        &run.servers.source,
        run.options.concurrency,
        run.stop,
    );
    let response = source
        .open_listing(phase)
        .await
        .map_err(|e| Stop::Fatal(e.into()))?;
    let options = source.listing_options();
    let records = Listing::read(response, record::shape(phase), options).into_stream();
    let submitted = submit_bounded(
        state,
        records,
        concurrency,
        stop,
        |state, item| {
            let item = item.map_err(Stop::Listing)?;
            state.start(*ctx, item)
        },
        |state, finished| state.finish(finished),
    )
    .await?;
    Ok(submitted.interrupted)
}

impl PhaseRun<'_, '_> {
    /// Decides what one listed record needs; the request, when it needs one.
    #[allow(clippy::type_complexity)]
    fn start<'c>(
        &mut self,
        ctx: Ctx<'c>,
        item: Item,
    ) -> Result<Option<impl std::future::Future<Output = Finished> + 'c>, Stop> {
        self.count_seen();
        if self.unchanged_bytes(ctx.exact, ctx.tables, item.sid.as_deref(), &item.text)? {
            return Ok(None);
        }
        self.settle_item(ctx, item)
    }

    fn count_seen(&mut self) {
        self.seen += 1;
        self.summary.source_records += 1;
        (self.events)(Event::Progress {
            phase: self.phase,
            seen: self.seen,
        });
    }

    /// A record whose bytes the target does not hold the same, made ready
    /// and decided; the request, when it needs one.
    #[allow(clippy::type_complexity)]
    fn settle_item<'c>(
        &mut self,
        ctx: Ctx<'c>,
        item: Item,
    ) -> Result<Option<impl std::future::Future<Output = Finished> + 'c>, Stop> {
        let Item {
            sid,
            position,
            text,
            hold,
        } = item;
        let prepared = match record::prepare(self.phase, sid, position, text) {
            Read::Ready(prepared) => prepared,
            Read::Unusable {
                key_digest,
                record,
                message,
            } => {
                self.note_read(key_digest)?;
                self.problem_once(&ctx, key_digest, record, message);
                return Ok(None);
            }
        };
        self.note_read(prepared.key.digest())?;
        let job = self.decide(&ctx, &prepared)?;
        // Only a registration this run posts gets a new token from the
        // target: one already there (a rerun, a sync) keeps its own.
        if job == Some(Job::Create) {
            self.note_registration_token(&prepared);
        }
        let Some(job) = job else {
            return Ok(None);
        };
        Ok(Some(settle::settle(ctx, job, prepared, hold)))
    }

    /// Notes a key as listed, unless a sync's read noted it already.
    fn note_read(&mut self, key_digest: u128) -> Result<(), Stop> {
        if self.noted {
            return Ok(());
        }
        self.note_streamed(key_digest)
    }

    /// A sync's authorisation or session whose bytes the target holds
    /// the same: unchanged, settled without reading it further (most
    /// records of most passes), with one lookup.
    fn unchanged_bytes(
        &mut self,
        exact: bool,
        tables: &Tables,
        sid: Option<&str>,
        text: &Text,
    ) -> Result<bool, Stop> {
        if !exact || self.phase == Phase::Clients {
            return Ok(false);
        }
        let Some((key_digest, index_key, digest)) = record::listed_raw(self.phase, sid, text)
        else {
            return Ok(false);
        };
        let same = digest != UNKNOWN && tables.on_target(index_key) == Some(digest);
        // Not a key listed twice's check: nothing is written here, and a
        // copy with other bytes goes the whole way and is reported.
        if !same || tables.is_settled(key_digest) {
            return Ok(false);
        }
        // Not journalled (no lookup of the journal's keys either): what
        // the journal does not hold is only ever left alone, never deleted.
        self.note_streamed(key_digest)?;
        self.summary.present += 1;
        Ok(true)
    }

    /// Notes that the source lists this key (what a sync keeps).
    fn note_streamed(&mut self, key_digest: u128) -> Result<(), Stop> {
        let path = self.spill_dir;
        self.streamed.push(key_digest).map_err(|source| {
            Stop::Fatal(MigrateError::Io {
                path: path.to_path_buf(),
                source,
            })
        })
    }

    /// Skips, notes as done, or says which request a record needs. A copy
    /// skips what the journal holds; a sync compares everything (content
    /// decides, not the journal).
    fn decide(&mut self, ctx: &Ctx, prepared: &Prepared) -> Result<Option<Job>, Stop> {
        let tables = ctx.tables;
        if !ctx.exact && tables.is_done(&prepared.key) {
            self.summary.already_done += 1;
            return Ok(None);
        }
        if tables.listed_twice(&prepared.key) {
            let message = "the source lists this key more than once (whatever each copy holds): \
                           which copy is the record cannot be told, so none is migrated"
                .to_owned();
            let digest = prepared.key.digest();
            self.problem_once(ctx, digest, prepared.describe(), message);
            return Ok(None);
        }
        if tables.is_settled(prepared.key.digest()) {
            return Ok(None);
        }
        if ctx.dry_run && !self.outcome.samples.iter().any(|(p, _)| *p == self.phase) {
            let body = serde_json::from_slice(&prepared.body).unwrap_or_default();
            self.outcome
                .samples
                .push((self.phase, masked(self.phase, &body)));
        }
        let index_key = record::index_key(&prepared.key, prepared.sid.as_deref());
        Ok(match tables.on_target(index_key) {
            None => Some(Job::Create),
            // Journalled once: a sync's every pass does not add it again.
            Some(content) if content == prepared.content && tables.is_done(&prepared.key) => {
                self.summary.present += 1;
                None
            }
            Some(content) if content == prepared.content => {
                self.done(&prepared.key, How::Present)
                    .map_err(Stop::Fatal)?;
                None
            }
            Some(_) => Some(Job::Compare),
        })
    }

    /// What a finished request says about its record.
    fn finish(&mut self, finished: Finished) -> Result<(), Stop> {
        match finished {
            Finished::Done { key, how, deleted } => {
                self.unreachable_in_a_row = 0;
                self.deleted(deleted);
                self.done(&key, how).map_err(Stop::Fatal)
            }
            Finished::Problem {
                key_digest,
                problem,
                unreachable,
                deleted,
            } => {
                self.deleted(deleted);
                self.record_problem(key_digest, problem);
                self.count_unreachable(unreachable)
            }
            Finished::SidMismatch {
                key_digest,
                record,
                deleted,
            } => {
                self.deleted(deleted);
                self.sid_mismatch(key_digest, record)
            }
            Finished::Fatal(error) => Err(Stop::Fatal(error.into())),
        }
    }

    fn count_unreachable(&mut self, unreachable: Option<ServerError>) -> Result<(), Stop> {
        let Some(error) = unreachable else {
            self.unreachable_in_a_row = 0;
            return Ok(());
        };
        self.unreachable_in_a_row += 1;
        if self.unreachable_in_a_row < UNREACHABLE_IN_A_ROW {
            return Ok(());
        }
        let why = format!(
            "{UNREACHABLE_IN_A_ROW} records in a row got no usable answer from the target; the \
             last: {error}"
        );
        Err(Stop::Fatal(MigrateError::Server(ServerError::Unexpected {
            side: "target",
            message: why,
        })))
    }

    fn sid_mismatch(&mut self, key_digest: u128, record: String) -> Result<(), Stop> {
        self.sid_mismatches += 1;
        if self.outcome.problems.listed.len() < crate::model::MAX_LISTED {
            self.sid_problems.push(self.outcome.problems.listed.len());
        }
        let problem = Problem {
            phase: self.phase,
            record,
            kind: ProblemKind::Failed,
            message: String::new(),
        };
        self.record_problem(key_digest, problem);
        let kept = self.summary.migrated();
        if kept == 0 && self.sid_mismatches >= SID_MISMATCHES_TO_STOP {
            return Err(Stop::SidAbort(format!(
                "the target stored each of the first {} sessions tried under another SID than \
                 the source's, and none kept its SID: its JWK set's secret keys (behind the SIDs' \
                 HMAC) differ from the source's. The sessions phase stopped; give the target the \
                 source's exact JWK set and run again",
                self.sid_mismatches
            )));
        }
        Ok(())
    }

    /// The SID mismatches' wording, once it is known whether other
    /// sessions kept their SIDs.
    fn word_sid_mismatches(&mut self) {
        let kept = self.summary.migrated();
        let message = if kept > 0 {
            format!(
                "the target stored it under another SID than the source's, while {kept} other \
                 session{} kept {}: this SID is not the HMAC the shared keys make of its key \
                 (made by another server, or with keys rotated since?); the target's copy was \
                 taken back out, and its users would log in again",
                if kept == 1 { "" } else { "s" },
                if kept == 1 { "its SID" } else { "theirs" }
            )
        } else {
            "the target stored it under another SID than the source's, and no session kept its \
             SID: the two servers' JWK sets (the secret keys behind the SIDs' HMAC) likely differ; \
             the target's copy was taken back out"
                .to_owned()
        };
        for &at in &self.sid_problems {
            if let Some(problem) = self.outcome.problems.listed.get_mut(at) {
                problem.message = message.clone();
            }
        }
    }

    fn note_registration_token(&mut self, prepared: &Prepared) {
        let (true, Key::Client(id)) = (prepared.had_registration_token, &prepared.key) else {
            return;
        };
        self.outcome.clients_with_registration_token_total += 1;
        let named = &mut self.outcome.clients_with_registration_token;
        if named.len() < MAX_NAMED {
            named.insert(id.clone());
        }
    }

    fn deleted(&mut self, deletion: Option<Deletion>) {
        if let Some(deletion) = deletion {
            self.outcome.deletions.push(deletion);
        }
    }

    /// A record that fails here, unless an earlier pass of this run
    /// reported it already.
    fn problem_once(&mut self, ctx: &Ctx, key_digest: u128, record: String, message: String) {
        if ctx.tables.is_settled(key_digest) {
            return;
        }
        let problem = Problem {
            phase: self.phase,
            record,
            kind: ProblemKind::Failed,
            message,
        };
        self.record_problem(key_digest, problem);
    }

    fn record_problem(&mut self, key_digest: u128, problem: Problem) {
        match problem.kind {
            ProblemKind::Conflict => self.summary.conflicts += 1,
            ProblemKind::Failed => self.summary.failed += 1,
        }
        // Remembered for a later pass of this run (a listing read again).
        let _ = self.settled.push(key_digest);
        self.outcome.problems.push(problem);
    }

    /// Counts and journals a record the target is seen to hold.
    fn done(&mut self, key: &Key, how: How) -> Result<(), MigrateError> {
        match how {
            How::Created => self.summary.created += 1,
            How::Present => self.summary.present += 1,
            How::Overwritten => self.summary.overwritten += 1,
        }
        let Some(journal) = self.journal.as_deref_mut() else {
            return Ok(());
        };
        journal.done(key).map_err(|source| MigrateError::Io {
            path: journal.path().to_path_buf(),
            source,
        })
    }
}
