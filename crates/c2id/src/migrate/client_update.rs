//! `--overwrite` (and a sync's replacements) of a client registration the
//! target holds differently: updated in place (RFC 7592 `PUT`); only what
//! an update cannot change (the secret, whether there is one) is replaced
//! by deleting and registering again, and a refused registration then
//! puts the target's own back. Every deletion is reported.

use serde_json::Value;

use super::outcome::{delete, done, lookup, problem, seen_or_not, Ctx, Finished, Held, How};
use super::post::create;
use crate::api::{Budget, ServerError, Written};
use crate::model::{Deletion, ProblemKind};
use crate::record::{
    self, client_repost_body, client_update_body, differing_members, Key, Phase, Prepared,
};
use crate::scrub::scrub;

/// `--overwrite` of a registration the target holds differently: updated
/// in place when an update can make it the source's, else replaced.
pub(super) async fn overwrite(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    id: &str,
    held: &Value,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let held_secret = held.get("client_secret").and_then(Value::as_str);
    if held_secret == prepared.secret.as_deref() {
        return update(ctx, prepared, id, held, budget).await;
    }
    let reason = "its client_secret (or whether it has one) differs, which an update cannot change";
    Ok(replace(ctx, prepared, id, held, reason, budget).await)
}

/// RFC 7592's update (`PUT /clients/{id}`), tried again after a lost
/// answer (it is idempotent) until the target is seen to hold it.
async fn update(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    id: &str,
    held: &Value,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let compare = prepared.compare_form();
    let body = client_update_body(&compare);
    let mut lost = 0;
    loop {
        let why = match ctx.target.update_client(id, &body, budget).await? {
            Written::Accepted { status, body } => {
                let carried = body.is_some_and(|answer| {
                    differing_members(&compare, &record::normalise(Phase::Clients, answer))
                        .is_empty()
                });
                if carried {
                    return Ok(done(prepared, How::Created));
                }
                return seen_or_not(ctx, prepared, status, budget).await;
            }
            Written::Refused { status: 404, .. } => return create(ctx, prepared, budget).await,
            Written::Refused {
                status: 405 | 501, ..
            } => {
                let reason = "the target does not take RFC 7592 updates";
                return Ok(replace(ctx, prepared, id, held, reason, budget).await);
            }
            Written::Refused { status, message } => {
                let message = format!(
                    "the target refused the update: HTTP {status}: {message}; its registration \
                     is unchanged"
                );
                return Ok(problem(prepared, ProblemKind::Failed, message));
            }
            Written::Uncertain(why) => why,
        };
        lost += 1;
        ctx.target
            .pause_after_loss(Phase::Clients, lost, &why, budget)
            .await?;
        if let Held::Same = lookup(ctx, prepared, budget).await? {
            return Ok(done(prepared, How::Created));
        }
    }
}

/// Deletes the target's registration and registers the source's; when
/// that is refused, registers the target's own again. The deletion is
/// reported either way.
async fn replace(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    id: &str,
    held: &Value,
    reason: &str,
    budget: &mut Budget,
) -> Finished {
    let deletion = Deletion {
        phase: Phase::Clients,
        record: format!("client {id}"),
        why: format!("the target's registration, replaced by the source's (--overwrite: {reason})"),
    };
    match delete(ctx.target, &prepared.key, None, budget).await {
        Err(error) => return Finished::Fatal(error),
        Ok(Err(why)) => {
            let message = format!(
                "its copy on the target could not be deleted to replace it ({why}); left as it is"
            );
            return problem(prepared, ProblemKind::Failed, message);
        }
        Ok(Ok(())) => {}
    }
    let refused = match create(ctx, prepared, budget).await {
        Ok(done @ Finished::Done { .. }) => return done.with_deletion(deletion),
        Ok(Finished::Problem { problem, .. }) => problem.message,
        Ok(other) => return other.with_deletion(deletion),
        Err(error) => error.to_string(),
    };
    let restored = restore(ctx, id, held, budget).await;
    let message = match restored {
        Ok(()) => format!(
            "{refused}; the target's own registration had been deleted to replace it, and was \
             registered again as it was (with a new registration access token and issue time)"
        ),
        Err(why) => format!(
            "{refused}; the target's own registration had been deleted to replace it and could \
             NOT be registered again ({why}): client {id} is gone from the target"
        ),
    };
    let held_secret = held.get("client_secret").and_then(Value::as_str);
    let message = scrub(&message, &held_secret.into_iter().collect::<Vec<_>>());
    problem(prepared, ProblemKind::Failed, message).with_deletion(deletion)
}

/// Registers `held` (the target's registration as it was) again, and
/// checks the target holds it with its secret.
async fn restore(ctx: &Ctx<'_>, id: &str, held: &Value, budget: &mut Budget) -> Result<(), String> {
    let body = client_repost_body(held);
    let written = ctx.target.create(Phase::Clients, &body, None, budget).await;
    if let Ok(Written::Refused { status, message }) = &written {
        return Err(format!("HTTP {status}: {message}"));
    }
    written.map_err(|error| error.to_string())?;
    let key = Key::Client(id.to_owned());
    let now = ctx
        .target
        .get_one(&key, None, budget)
        .await
        .map_err(|error| error.to_string())?;
    let secret = |client: &Value| client.get("client_secret").cloned();
    match now {
        Some(now) if secret(&now) == secret(held) => Ok(()),
        Some(_) => Err("it came back with another secret".to_owned()),
        None => Err("the target does not hold it".to_owned()),
    }
}
