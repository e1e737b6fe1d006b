//! Client registrations' own answers. A registration must keep its id
//! and secret: a target that makes up its own id leaves a stray with a
//! live secret, which is deleted, but only when it is the one this
//! request made (unknown to both listings and the journal, and holding
//! this registration). Updating and replacing one is [`super::client_update`]'s.

use serde_json::Value;

use super::outcome::{delete, done, lookup, problem, seen_or_not, Ctx, Finished, Held, How};
use crate::api::{Budget, ServerError};
use crate::model::{Deletion, ProblemKind};
use crate::record::{self, differing_members, Key, Phase, Prepared};

/// The target registered a client (2xx): done when the answer carries its
/// id (with the secret sent, when it shows one), or a lookup finds it.
pub(super) async fn accepted(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    id: &str,
    status: u16,
    answer: Option<Value>,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let member = |name: &str| {
        answer
            .as_ref()
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let given_id = member("client_id");
    if given_id.as_deref() == Some(id) {
        return Ok(secret_kept(prepared, member("client_secret")));
    }
    match lookup(ctx, prepared, budget).await? {
        Held::Same => return Ok(done(prepared, How::Created)),
        Held::Different(differing) => {
            let message = format!(
                "the target answered HTTP {status} without this registration, and holds another \
                 one under its client_id (members that differ: {})",
                differing.join(", ")
            );
            return Ok(problem(prepared, ProblemKind::Failed, message));
        }
        Held::Absent => {}
    }
    match given_id {
        Some(given) => stray(ctx, prepared, id, &given, budget).await,
        None => seen_or_not(ctx, prepared, status, budget).await,
    }
}

fn secret_kept(prepared: &Prepared, given: Option<String>) -> Finished {
    match (&prepared.secret, given) {
        (Some(sent), Some(given)) if *sent != given => problem(
            prepared,
            ProblemKind::Failed,
            "the target gave it another client_secret than the exported one: its clients would \
             fail to authenticate (does the target's secret codec take preferred_client_secret?)"
                .to_owned(),
        ),
        _ => done(prepared, How::Created),
    }
}

/// The target answered with another client id and does not hold this
/// one: it made a registration of its own, which is deleted when it is
/// provably the one this request made.
async fn stray(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
    id: &str,
    given: &str,
    budget: &mut Budget,
) -> Result<Finished, ServerError> {
    let key = Key::Client(given.to_owned());
    let left = |why: &str| {
        let message = format!(
            "the target answered with client_id {given} and does not hold {id}: {given} {why}, \
             so it was left alone (does the target ignore preferred_client_id?)"
        );
        Ok(problem(prepared, ProblemKind::Failed, message))
    };
    if !ctx.tables.unknown_to_both(&key, key.digest()) {
        return left("is a registration the target had, or one the source lists");
    }
    let held = ctx.target.get_one(&key, None, budget).await?;
    if !held.is_some_and(|held| same_metadata(prepared, held)) {
        return left("does not hold this registration's metadata");
    }
    let ignored = format!(
        "the target ignores preferred_client_id (a server older than 2.5, or a token other than \
         the master token?): it registered this client as {given}"
    );
    Ok(match delete(ctx.target, &key, None, budget).await? {
        Ok(()) => {
            let message = format!("{ignored}, which was deleted again");
            problem(prepared, ProblemKind::Failed, message).with_deletion(Deletion {
                phase: Phase::Clients,
                record: format!("client {given}"),
                why: format!(
                    "registered by the target under an id of its own for client {id} (it ignores \
                     preferred_client_id)"
                ),
            })
        }
        Err(why) => {
            let message = format!(
                "{ignored}, which could not be deleted ({why}): delete {given} on the target, \
                 it holds a live secret"
            );
            problem(prepared, ProblemKind::Failed, message)
        }
    })
}

/// Whether a registration holds `prepared`'s metadata (its id and secret
/// aside: a target that makes its own makes both).
fn same_metadata(prepared: &Prepared, held: Value) -> bool {
    let without_credentials = |value: Value| match value {
        Value::Object(mut members) => {
            members.remove("client_id");
            members.remove("client_secret");
            Value::Object(members)
        }
        other => other,
    };
    let ours = without_credentials(prepared.compare_form());
    let theirs = without_credentials(record::normalise(Phase::Clients, held));
    differing_members(&ours, &theirs).is_empty()
}
