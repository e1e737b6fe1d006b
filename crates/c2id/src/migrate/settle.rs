//! One record's requests, as the pass decided them: posted when the
//! target lacked it ([`post`]), else compared with the target's copy and,
//! when asked, replaced ([`client_update`] for registrations). Whatever
//! one record's requests meet fails that record, not the run, unless no
//! other record could fare better (a refused token, a server that cannot
//! be talked to).

use super::outcome::{done, failed_by, problem, Ctx, Finished, How, Job};
use super::post::create;
use super::{client_update, session_update};
use crate::api::{Budget, ServerError};
use crate::listing::Hold;
use crate::model::ProblemKind;
use crate::record::{self, Key, Prepared};

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
    let differing = ctx.differing(&prepared.compare_form(), &compared);
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
        Key::Client(id) => client_update::overwrite(ctx, prepared, id, &held, budget).await?,
        // A sync updates a session in place, as the session store's API does.
        Key::Session(_) if ctx.exact => session_update::update(ctx, prepared, budget).await?,
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
