//! What every record's requests share, below the kinds' own cases: the
//! pass's context, how a record ended ([`Finished`]), and the requests
//! that need no kind's knowledge (a lookup compared, a 2xx without the
//! record looked up, a delete tried until it is known).

use super::index::Tables;
use crate::api::{Budget, Server, ServerError, Written};
use crate::model::{Deletion, Problem, ProblemKind};
use serde_json::Value;

use crate::record::{self, differing_both_ways, differing_members, Key, Prepared};
use crate::scrub::scrub;

/// What every request of a pass shares.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub target: &'a Server,
    pub tables: &'a Tables,
    pub dry_run: bool,
    pub overwrite: bool,
    /// A sync: records compared exactly (a member the source dropped
    /// differs), sessions replaced by the session store's update.
    pub exact: bool,
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

impl Ctx<'_> {
    /// The members by which the target's record differs from the source's:
    /// a copy lets the target hold more (defaults a newer server adds); a
    /// sync does not.
    pub fn differing(&self, source: &Value, target: &Value) -> Vec<String> {
        if self.exact {
            differing_both_ways(source, target)
        } else {
            differing_members(source, target)
        }
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
            let differing = ctx.differing(&prepared.compare_form(), &held);
            if differing.is_empty() {
                Held::Same
            } else {
                Held::Different(differing)
            }
        }
    })
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
