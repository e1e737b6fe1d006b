//! A sync's replacement of a session the target holds differently: the
//! session store's update (`PUT` with its `SID` header), which keeps the
//! SID and so the user's login; a session gone from the target since the
//! pass began is posted again under its `SID-Key`. Tried again after a
//! lost answer (an update is idempotent) until the target is seen to hold
//! it.

use super::outcome::{done, lookup, problem, seen_or_not, Ctx, Finished, Held, How};
use super::post::create;
use crate::api::{Budget, ServerError, Written};
use crate::model::ProblemKind;
use crate::record::{Phase, Prepared};

pub(super) async fn update(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let sid = prepared.sid.as_deref().unwrap_or_default();
    let compare = prepared.compare_form();
    let mut lost = 0;
    loop {
        let written = ctx
            .target
            .update_session(sid, &prepared.body, budget)
            .await?;
        let why = match written {
            Written::Accepted { status, body } => {
                let carried =
                    body.is_some_and(|answer| ctx.differing(&compare, &answer).is_empty());
                if carried {
                    return Ok(done(prepared, How::Created));
                }
                return seen_or_not(ctx, prepared, status, budget).await;
            }
            Written::Refused { status: 404, .. } => return create(ctx, prepared, budget).await,
            Written::Refused { status, message } => {
                let message = format!(
                    "the target refused the update: HTTP {status}: {message}; its session is \
                     unchanged"
                );
                return Ok(problem(prepared, ProblemKind::Failed, message));
            }
            Written::Uncertain(why) => why,
        };
        lost += 1;
        ctx.target
            .pause_after_loss(Phase::Sessions, lost, &why, budget)
            .await?;
        if let Held::Same = lookup(ctx, prepared, budget).await? {
            return Ok(done(prepared, How::Created));
        }
    }
}
