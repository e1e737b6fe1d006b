//! Sessions' own case: a session must come back under the source's SID
//! (a target with the same keys recomputes its HMAC). An answer naming
//! another SID is not trusted: the session is looked up under the
//! source's SID, and a copy under another SID is deleted only when it is
//! provably the one this request made (the same SID key, absent from the
//! target when the pass began, holding this session). Nothing else is
//! ever deleted, and nothing deleted is journalled as done.

use serde_json::Value;

use super::outcome::{delete, done, lookup, problem, Ctx, Finished, Held, How};
use crate::api::{Budget, ServerError};
use crate::model::{Deletion, ProblemKind};
use crate::record::{differing_members, sid_digest, Key, Phase, Prepared};

/// The target took a session (2xx): done when the answer names the
/// source's SID, or a lookup finds it there.
pub(super) async fn accepted(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    status: u16,
    answer: Option<Value>,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let expected = prepared.sid.as_deref().unwrap_or_default();
    let given = answer
        .as_ref()
        .and_then(|a| a.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if given.as_deref() == Some(expected) {
        return Ok(done(prepared, How::Created));
    }
    match lookup(ctx, prepared, budget).await? {
        Held::Same => return Ok(done(prepared, How::Created)),
        Held::Different(differing) => {
            let message = format!(
                "the target answered HTTP {status} naming another SID, and holds another session \
                 under this one's SID (members that differ: {}): not counted as migrated",
                differing.join(", ")
            );
            return Ok(problem(prepared, ProblemKind::Failed, message));
        }
        Held::Absent => {}
    }
    match given {
        Some(given) => stray(ctx, prepared, &given, budget).await,
        None => {
            let message = format!(
                "the target answered HTTP {status} without a SID, and does not hold the session \
                 under the source's SID (looked up): not counted as migrated"
            );
            Ok(problem(prepared, ProblemKind::Failed, message))
        }
    }
}

/// The target answered with another SID and does not hold the session
/// under the source's: the copy under `given` is taken back out only when
/// this request provably made it.
async fn stray(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    given: &str,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let Key::Session(key) = &prepared.key else {
        return Ok(problem(
            prepared,
            ProblemKind::Failed,
            "not a session".to_owned(),
        ));
    };
    let same_key = given.rsplit_once('.').is_some_and(|(k, _)| k == key);
    let new_on_target = ctx.tables.on_target(sid_digest(given)).is_none();
    let left = |why: &str| {
        let message = format!(
            "the target answered with {why}, and does not hold this session under the source's \
             SID: nothing was deleted; not counted as migrated"
        );
        Ok(problem(prepared, ProblemKind::Failed, message))
    };
    if !same_key || !new_on_target {
        return left("the SID of another session");
    }
    let held = ctx
        .target
        .get_one(&prepared.key, Some(given), budget)
        .await?;
    let ours =
        held.is_some_and(|held| differing_members(&prepared.compare_form(), &held).is_empty());
    if !ours {
        return left("a SID of this session's key that does not hold it");
    }
    Ok(
        match delete(ctx.target, &prepared.key, Some(given), budget).await? {
            Ok(()) => Finished::SidMismatch {
                key_digest: prepared.key.digest(),
                record: prepared.describe(),
                deleted: Some(Deletion {
                    phase: Phase::Sessions,
                    record: prepared.describe(),
                    why: "stored by the target under a SID of its own making (another HMAC of the \
                      same key)"
                        .to_owned(),
                }),
            },
            Err(why) => {
                let message = format!(
                "the target stored it under another SID than the source's, and that copy could \
                 not be deleted ({why}): delete it on the target (its subject's sessions)"
            );
                problem(prepared, ProblemKind::Failed, message)
            }
        },
    )
}
