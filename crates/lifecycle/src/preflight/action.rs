//! The post-login Action on the new tenant (with `mark_migrated =
//! "action"` the only thing that marks users): it exists for post-login,
//! it is deployed, the deployed code is what `trickle generate` makes (by
//! SHA-256), and it is bound to the post-login trigger. Read through the
//! Management API's Actions endpoints (`read:actions`).

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{
    failed, http_detail, passed, skipped, urlencode, ExpectedAction, NewRun, Verdict,
};
use crate::drift::compare_scripts;

const TRIGGER: &str = "post-login";

/// The Action's checks, in the order they are reported.
pub(super) const IDS: [&str; 4] = ["action", "action_deployed", "action_code", "action_bound"];

pub(super) fn titles(name: &str) -> [(&'static str, String); 4] {
    [
        (
            "action",
            format!("new tenant: post-login Action {name} exists"),
        ),
        (
            "action_deployed",
            "new tenant: the Action is deployed".to_owned(),
        ),
        (
            "action_code",
            "new tenant: the deployed Action is what trickle generate makes".to_owned(),
        ),
        (
            "action_bound",
            "new tenant: the Action is bound to the post-login trigger".to_owned(),
        ),
    ]
}

/// Runs the Action's checks.
pub(super) async fn check(run: &mut NewRun, expected: &ExpectedAction) {
    let action = match find(run, &expected.name).await {
        Ok(action) => action,
        Err(verdict) => {
            run.record("action", verdict);
            for id in &IDS[1..] {
                run.record(id, skipped("no such Action"));
            }
            return;
        }
    };
    let id = action["id"].as_str().unwrap_or_default().to_owned();
    run.record("action", passed(format!("{} ({id})", expected.name)));
    run.record("action_deployed", deployed_verdict(&action));
    run.record("action_code", code_verdict(&action, expected));
    let verdict = bound_verdict(run, &id, &expected.name).await;
    run.record("action_bound", verdict);
}

/// The Action named `name` that supports post-login, or why not.
async fn find(run: &NewRun, name: &str) -> Result<Value, Verdict> {
    let path = format!(
        "/api/v2/actions/actions?actionName={}&triggerId={TRIGGER}",
        urlencode(name)
    );
    let answer = run.get(&path).await;
    let Some(list) = answer.json().filter(|_| answer.status == 200) else {
        return Err(failed(
            http_detail(&answer),
            "grant read:actions to the new tenant's client",
        ));
    };
    let named: Vec<&Value> = list["actions"]
        .as_array()
        .map(|all| all.iter().filter(|a| a["name"] == name).collect())
        .unwrap_or_default();
    let for_post_login = named.iter().find(|action| {
        action["supported_triggers"]
            .as_array()
            .is_some_and(|triggers| triggers.iter().any(|t| t["id"] == TRIGGER))
    });
    match (for_post_login, named.first()) {
        (Some(action), _) => Ok((*action).clone()),
        (None, Some(_)) => Err(failed(
            format!("{name} exists, but not for the {TRIGGER} trigger"),
            format!("deploy actions/{name}.json as trickle generate wrote it (supported_triggers: {TRIGGER})"),
        )),
        (None, None) => Err(failed(
            format!("no {TRIGGER} Action named {name}"),
            format!("deploy the actions/ folder trickle generate wrote with deploy-cli, or create {name} in Actions → Library from actions/{name}/code.js"),
        )),
    }
}

/// Deployed: a deployed version exists; a newer draft is worth a warning
/// (what runs is the deployed version).
fn deployed_verdict(action: &Value) -> Verdict {
    let fix = "deploy it: Actions → Library → the Action → Deploy (deploy-cli deploys it with `deployed: true`)";
    let Some(version) = action["deployed_version"].as_object() else {
        return failed("never deployed: nothing runs at login", fix);
    };
    let number = version
        .get("number")
        .map_or("?".to_owned(), Value::to_string);
    if action["all_changes_deployed"] == true {
        passed(format!("deployed version {number}, no undeployed changes"))
    } else {
        (
            super::model::Outcome::Warning,
            format!("deployed version {number}; the draft has changes not deployed (the deployed version is what runs)"),
            Some(fix.to_owned()),
        )
    }
}

/// The deployed code against the generated code, by SHA-256 (with where
/// they first differ).
fn code_verdict(action: &Value, expected: &ExpectedAction) -> Verdict {
    let Some(deployed) = action["deployed_version"]["code"].as_str() else {
        return skipped("not deployed");
    };
    let (deployed_hash, generated_hash) = (sha256(deployed), sha256(&expected.code));
    if deployed_hash == generated_hash {
        return passed(format!(
            "sha256 {deployed_hash}, identical to what trickle generate makes"
        ));
    }
    let drift = compare_scripts(Some(deployed), &expected.code);
    failed(
        format!(
            "deployed sha256 {deployed_hash}, generated sha256 {generated_hash}: {}",
            drift.summary(env!("CARGO_PKG_VERSION"))
        ),
        format!(
            "deploy actions/{}/code.js as trickle generate wrote it from this config (edit the config, not the Action)",
            expected.name
        ),
    )
}

/// Bound to post-login: among the trigger's bindings (by id, or by name).
async fn bound_verdict(run: &NewRun, id: &str, name: &str) -> Verdict {
    let answer = run
        .get(&format!("/api/v2/actions/triggers/{TRIGGER}/bindings"))
        .await;
    let Some(list) = answer.json().filter(|_| answer.status == 200) else {
        return failed(
            http_detail(&answer),
            "grant read:actions to the new tenant's client",
        );
    };
    let bindings = list["bindings"].as_array().cloned().unwrap_or_default();
    let position = bindings.iter().position(|binding| {
        let action = &binding["action"];
        (!id.is_empty() && action["id"] == id) || action["name"] == name
    });
    match position {
        Some(at) => passed(format!(
            "bound to {TRIGGER}, {} of {} in the flow",
            at + 1,
            bindings.len()
        )),
        None => failed(
            format!("not bound to {TRIGGER}: it never runs, so no user is marked"),
            format!("Actions → Triggers → {TRIGGER}: add {name} to the flow (or list it in action.post_login_flow and deploy triggers/triggers.json)"),
        ),
    }
}

/// The first 16 hex digits of the SHA-256 of `text`.
fn sha256(text: &str) -> String {
    let digest = format!("{:x}", Sha256::digest(text.as_bytes()));
    digest[..16].to_owned()
}
