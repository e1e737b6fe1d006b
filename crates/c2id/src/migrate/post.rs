//! Posting a record the target lacks, to the proof: a record counts as
//! migrated only when the target is seen to hold it (its answer carries
//! the record, or a lookup finds it). A post whose answer is lost is
//! looked up before it is sent again; a 2xx without the record is looked
//! up too; clients and sessions check their own answers ([`clients`],
//! [`sessions`]).

use serde_json::Value;

use super::outcome::{done, lookup, problem, seen_or_not, Ctx, Finished, Held, How};
use super::{clients, sessions};
use crate::api::{Budget, ServerError, Written};
use crate::model::ProblemKind;
use crate::record::{self, differing_members, Key, Prepared};

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
