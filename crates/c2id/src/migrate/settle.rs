//! One record's requests, from the post to the proof: a record counts as
//! migrated only when the target is seen to hold it (its answer carries
//! the record, or a lookup finds it). A post whose answer is lost is
//! looked up before it is sent again; a 2xx without the record is looked
//! up too. Whatever one record's requests meet fails that record, not the
//! run, unless no other record could fare better (a refused token, a
//! server that cannot be talked to).

use serde_json::Value;

use super::index::Tables;
use super::{clients, sessions};
use crate::api::{Budget, Server, ServerError, Written};
use crate::listing::Hold;
use crate::model::{Deletion, Problem, ProblemKind};
use crate::record::{self, differing_members, Key, Prepared};
use crate::scrub::scrub;

/// What every request of a pass shares.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub target: &'a Server,
    pub tables: &'a Tables,
    pub dry_run: bool,
    pub overwrite: bool,
}

/// What a record needs from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Job {
    /// The target lacked it when the pass began.
    Create,
    /// The target held a record under its key whose digest differs.
    Compare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Created,
    Present,
    Overwritten,
}

/// What a finished request says about its record.
pub(super) enum Finished {
    /// The target is seen to hold it.
    Done {
        key: Key,
        how: How,
        deleted: Option<Deletion>,
    },
    Problem {
        key_digest: u128,
        problem: Problem,
        /// The target gave no usable answer (counted: a target that went
        /// away ends the run).
        unreachable: Option<ServerError>,
        deleted: Option<Deletion>,
    },
    /// Sessions: the target made another SID (worded once the phase's
    /// counts are known).
    SidMismatch {
        key_digest: u128,
        record: String,
        deleted: Option<Deletion>,
    },
    /// No other record could fare better.
    Fatal(ServerError),
}

impl Finished {
    /// The same, with a deletion to report.
    pub fn with_deletion(self, deletion: Deletion) -> Finished {
        match self {
            Finished::Done { key, how, .. } => Finished::Done {
                key,
                how,
                deleted: Some(deletion),
            },
            Finished::Problem {
                key_digest,
                problem,
                unreachable,
                ..
            } => Finished::Problem {
                key_digest,
                problem,
                unreachable,
                deleted: Some(deletion),
            },
            Finished::SidMismatch {
                key_digest, record, ..
            } => Finished::SidMismatch {
                key_digest,
                record,
                deleted: Some(deletion),
            },
            fatal => fatal,
        }
    }
}

/// Does what `job` says for one record and says how it ended. `_hold`
/// keeps the record's share of the listing's byte budget until then.
pub(super) async fn settle(
    ctx: Ctx<'_>,
    job: Job,
    prepared: Box<Prepared>,
    _hold: Hold,
) -> Finished {
    let mut budget = Budget::default();
    let result = match job {
        Job::Create if ctx.dry_run => Ok(done(&prepared, How::Created)),
        Job::Create => create(&ctx, &prepared, &mut budget).await,
        Job::Compare => compare_then(&ctx, &prepared, &mut budget).await,
    };
    result.unwrap_or_else(|error| failed_by(&prepared, error))
}

pub(super) fn done(prepared: &Prepared, how: How) -> Finished {
    Finished::Done {
        key: prepared.key.clone(),
        how,
        deleted: None,
    }
}

/// A record that is not migrated, its message scrubbed of what it holds.
pub(super) fn problem(prepared: &Prepared, kind: ProblemKind, message: String) -> Finished {
    let secrets = prepared.secrets();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    Finished::Problem {
        key_digest: prepared.key.digest(),
        problem: Problem {
            phase: prepared.key.phase(),
            record: prepared.describe(),
            kind,
            message: scrub(&message, &secrets),
        },
        unreachable: None,
        deleted: None,
    }
}

/// A request that failed: the record's problem, or the run's end.
pub(super) fn failed_by(prepared: &Prepared, error: ServerError) -> Finished {
    if error.ends_the_run() {
        return Finished::Fatal(error);
    }
    let unreachable = matches!(error, ServerError::Unreachable { .. }).then(|| error.clone());
    match problem(prepared, ProblemKind::Failed, error.to_string()) {
        Finished::Problem {
            key_digest,
            problem,
            deleted,
            ..
        } => Finished::Problem {
            key_digest,
            problem,
            unreachable,
            deleted,
        },
        other => other,
    }
}

/// What the target holds under a record's key.
pub(super) enum Held {
    Same,
    Absent,
    /// Another record: the members that differ.
    Different(Vec<String>),
}

/// Looks the record up on the target and compares it.
pub(super) async fn lookup(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    budget: &mut Budget,
) -> Result<Held, ServerError> {
    let held = ctx
        .target
        .get_one(&prepared.key, prepared.sid.as_deref(), budget)
        .await?;
    Ok(match held {
        None => Held::Absent,
        Some(held) => {
            let held = record::normalise(prepared.key.phase(), held);
            let differing = differing_members(&prepared.compare_form(), &held);
            if differing.is_empty() {
                Held::Same
            } else {
                Held::Different(differing)
            }
        }
    })
}

/// Posts a record the target lacks. A post whose answer is lost is looked
/// up before it is sent again.
pub(super) async fn create(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let body = &prepared.body;
    let phase = prepared.key.phase();
    let sid_key = match &prepared.key {
        Key::Session(key) => Some(key.as_str()),
        _ => None,
    };
    let mut lost = 0u32;
    loop {
        let why = match ctx.target.create(phase, body, sid_key, budget).await? {
            Written::Accepted { status, body } => {
                return accepted(ctx, prepared, status, body, budget).await
            }
            Written::Refused { status, message } => {
                // An earlier try may have landed (a client is then "already registered").
                if lost > 0 {
                    if let Held::Same = lookup(ctx, prepared, budget).await? {
                        return Ok(done(prepared, How::Created));
                    }
                }
                let message = format!("the target refused it: HTTP {status}: {message}");
                return Ok(problem(prepared, ProblemKind::Failed, message));
            }
            Written::Uncertain(why) => why,
        };
        lost += 1;
        ctx.target
            .pause_after_loss(phase, lost, &why, budget)
            .await?;
        match lookup(ctx, prepared, budget).await? {
            Held::Same => return Ok(done(prepared, How::Created)),
            Held::Absent => continue,
            // Posting again replaces an authorisation or a session with ours.
            Held::Different(_) if phase != record::Phase::Clients => continue,
            Held::Different(_) => {
                let message = "after a lost answer the target holds a different registration \
                               under this client_id; left as it is (--overwrite replaces it)";
                return Ok(problem(prepared, ProblemKind::Conflict, message.to_owned()));
            }
        }
    }
}

/// The target took a record (2xx): done when its answer carries it, else
/// when a lookup finds it.
async fn accepted(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    status: u16,
    answer: Option<Value>,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    match &prepared.key {
        Key::Client(id) => clients::accepted(ctx, prepared, id, status, answer, budget).await,
        Key::Session(_) => sessions::accepted(ctx, prepared, status, answer, budget).await,
        Key::Authorization { sub, cid } => {
            // The same content (its digest first: the common case costs no
            // second reading of the record), or more members than ours.
            let carried = answer.as_ref().is_some_and(|answer| {
                answer.get("sub").and_then(Value::as_str) == Some(sub)
                    && answer.get("cid").and_then(Value::as_str) == Some(cid)
                    && (record::content_digest(answer) == prepared.content
                        || differing_members(&prepared.compare_form(), answer).is_empty())
            });
            if carried {
                return Ok(done(prepared, How::Created));
            }
            seen_or_not(ctx, prepared, status, budget).await
        }
    }
}

/// After a 2xx without the record: done only when the target is seen to
/// hold it.
pub(super) async fn seen_or_not(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    status: u16,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    Ok(match lookup(ctx, prepared, budget).await? {
        Held::Same => done(prepared, How::Created),
        Held::Absent => problem(
            prepared,
            ProblemKind::Failed,
            format!(
                "the target answered HTTP {status} without the record, and does not hold it \
                 (looked up): not counted as migrated"
            ),
        ),
        Held::Different(differing) => problem(
            prepared,
            ProblemKind::Failed,
            format!(
                "the target answered HTTP {status} without the record, and holds another one \
                 under its key (members that differ: {}): not counted as migrated",
                differing.join(", ")
            ),
        ),
    })
}

/// The target holds another record under this key: the same but for
/// members it adds is done; otherwise a conflict, or replaced when asked.
async fn compare_then(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let held = ctx
        .target
        .get_one(&prepared.key, prepared.sid.as_deref(), budget)
        .await?;
    let Some(held) = held else {
        // Gone since the index was read.
        if ctx.dry_run {
            return Ok(done(prepared, How::Created));
        }
        return create(ctx, prepared, budget).await;
    };
    let compared = record::normalise(prepared.key.phase(), held.clone());
    let differing = differing_members(&prepared.compare_form(), &compared);
    if differing.is_empty() {
        return Ok(done(prepared, How::Present));
    }
    if !ctx.overwrite {
        let message = format!(
            "the target holds a different record under this key (members that differ: {}); \
             left as it is (--overwrite replaces it)",
            differing.join(", ")
        );
        return Ok(problem(prepared, ProblemKind::Conflict, message));
    }
    if ctx.dry_run {
        return Ok(done(prepared, How::Overwritten));
    }
    let replaced = match &prepared.key {
        Key::Client(id) => clients::overwrite(ctx, prepared, id, &held, budget).await?,
        // Posting an authorisation or a session replaces the one there.
        _ => create(ctx, prepared, budget).await?,
    };
    Ok(match replaced {
        Finished::Done {
            key,
            how: How::Created,
            deleted,
        } => Finished::Done {
            key,
            how: How::Overwritten,
            deleted,
        },
        other => other,
    })
}

/// Deletes a record (deleting is idempotent: a lost answer is tried
/// again, and "not found" is as good as deleted). `Err(why)` when it
/// could not be.
pub(super) async fn delete(
    target: &Server,
    key: &Key,
    sid: Option<&str>,
    budget: &mut Budget,
) -> Result<Result<(), String>, ServerError> {
    let mut lost = 0u32;
    loop {
        let why = match target.delete(key, sid, budget).await {
            Err(error) if error.ends_the_run() => return Err(error),
            Err(error) => return Ok(Err(error.to_string())),
            Ok(Written::Accepted { .. } | Written::Refused { status: 404, .. }) => {
                return Ok(Ok(()))
            }
            Ok(Written::Refused { status, message }) => {
                return Ok(Err(format!("HTTP {status}: {message}")))
            }
            Ok(Written::Uncertain(why)) => why,
        };
        lost += 1;
        if let Err(error) = target
            .pause_after_loss(key.phase(), lost, &why, budget)
            .await
        {
            return Ok(Err(error.to_string()));
        }
    }
}
