//! The cut-over sync (`--sync`): a copy made while the source churns, then
//! a pass that makes the target equal to the source (revoked consents,
//! logged-out sessions and deleted clients gone; edits and additions
//! there), a second pass that writes nothing, owned and guarded deletes,
//! and a dry run that counts without writing. Against two emulators, the
//! source with live churn.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use trickle_c2id::{Outcome, Phase, PhaseSummary, SyncRules};
use trickle_c2id_sim::{ChurnBatch, ChurnRates, Faults, Generate};

fn sync(max_delete_ratio: f64) -> Option<SyncRules> {
    Some(SyncRules {
        max_delete_ratio,
        ..SyncRules::default()
    })
}

fn phase(outcome: &Outcome, phase: Phase) -> PhaseSummary {
    outcome
        .phases
        .iter()
        .find(|p| p.phase == Some(phase))
        .cloned()
        .unwrap_or_else(|| panic!("no {phase} in {:?}", outcome.phases))
}

/// A source of 40 clients and `n` authorisations and sessions, an empty
/// target, and the source copied to the target.
async fn copied(n: usize) -> Pair {
    let pair = Pair::generated(generated_source(40, n), Generate::default().seed().unwrap()).await;
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    pair
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_after_a_copy_made_during_churn_leaves_the_target_equal_to_the_source() {
    let pair = Pair::generated(
        generated_source(40, 300),
        Generate::default().seed().unwrap(),
    )
    .await;
    pair.source
        .set_churn(ChurnRates {
            revoke_authz: 20.0,
            edit_authz: 20.0,
            logout: 20.0,
            edit_sessions: 20.0,
            edit_clients: 5.0,
            delete_clients: 1.0,
            add: 30.0,
        })
        .unwrap();
    let started = Instant::now();
    let copy = pair.migrate(&pair.options()).await.unwrap();
    // Churn for at least a second of the copy, whatever its speed.
    if let Some(left) = Duration::from_secs(1).checked_sub(started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    pair.source.set_churn(ChurnRates::default()).unwrap();
    let churned = pair.source.churn().done;
    assert!(
        churned.revoked_authz > 0 && churned.logged_out > 0,
        "{churned:?}"
    );
    assert!(copy.failure.is_none(), "{:?}", copy.failure);

    let mut run = pair.options();
    run.sync = sync(0.5);
    run.verify = true;
    let pass = pair.migrate(&run).await.unwrap();
    assert!(pass.is_clean(), "{pass:?}");
    assert_eq!(pass.pass.map(|p| p.number), Some(1));
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    let deleted: u64 = pass.phases.iter().map(|p| p.deleted).sum();
    assert!(
        deleted > 0,
        "revoked and logged out on the target too: {pass:?}"
    );

    let writes = count_writes(&pair.target);
    let again = pair.migrate(&run).await.unwrap();
    assert!(again.is_clean(), "{again:?}");
    assert_eq!(
        count_writes(&pair.target),
        writes,
        "a second pass writes nothing"
    );
    for summary in &again.phases {
        assert_eq!(summary.changes(), 0, "{summary:?}");
        assert_eq!(summary.present, summary.source_records, "{summary:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_change_is_applied_once_with_the_apis_own_requests() {
    let pair = copied(200).await;
    pair.source.apply_churn(&ChurnBatch {
        revoke_authz: 5,
        edit_authz: 5,
        logout: 5,
        edit_sessions: 5,
        edit_clients: 2,
        add: 9,
        ..ChurnBatch::default()
    });
    let before = pair.target.stats().requests;
    let mut run = pair.options();
    run.sync = sync(0.1);
    let pass = pair.migrate(&run).await.unwrap();
    assert!(pass.is_clean(), "{pass:?}");
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    let r = pair.target.stats().requests;
    let made = |after: u64, before: u64| after - before;
    assert_eq!(
        (
            made(r.client_register, before.client_register),
            made(r.client_update, before.client_update)
        ),
        (3, 2)
    );
    assert_eq!(
        (
            made(r.authz_v3_create, before.authz_v3_create),
            made(r.authz_v3_revoke, before.authz_v3_revoke)
        ),
        (3 + 5, 5)
    );
    assert_eq!(
        (
            made(r.session_create, before.session_create),
            made(r.session_update, before.session_update),
            made(r.session_delete, before.session_delete)
        ),
        (3, 5, 5)
    );
    assert_eq!(pair.source.stats().session_last_used_updates, 0);
    let sessions = phase(&pass, Phase::Sessions);
    assert_eq!(
        (sessions.created, sessions.overwritten, sessions.deleted),
        (3, 5, 5)
    );
    assert_eq!(pass.deletions.total, 10, "every deletion listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_source_listing_deletes_nothing_past_the_ratio_unless_mass_deletes_are_allowed() {
    let pair = copied(100).await;
    let authz = pair.target.state().authorizations.len() as u64;
    // Every authorisation gone from the source: its listing is `[]`.
    pair.source.apply_churn(&ChurnBatch {
        revoke_authz: 1_000,
        ..ChurnBatch::default()
    });
    assert!(pair.source.state().authorizations.is_empty());
    let mut run = pair.options();
    run.phases = vec![Phase::Authorizations];
    run.sync = sync(0.1);
    let writes = count_writes(&pair.target);
    let refused = pair.migrate(&run).await.unwrap();
    assert_eq!(count_writes(&pair.target), writes, "nothing deleted");
    assert!(!refused.is_clean(), "a refusal is not clean");
    let summary = phase(&refused, Phase::Authorizations);
    assert_eq!((summary.deletes_refused, summary.deleted), (authz, 0));
    assert_eq!(summary.target_records, authz);
    assert_eq!(pair.target.state().authorizations.len() as u64, authz);

    run.sync = Some(SyncRules {
        allow_mass_delete: true,
        ..SyncRules::default()
    });
    let allowed = pair.migrate(&run).await.unwrap();
    assert!(allowed.is_clean(), "{allowed:?}");
    assert_eq!(phase(&allowed, Phase::Authorizations).deleted, authz);
    assert!(pair.target.state().authorizations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_source_listing_deletes_nothing() {
    let pair = copied(100).await;
    pair.source.apply_churn(&ChurnBatch {
        logout: 3,
        ..ChurnBatch::default()
    });
    let mut run = pair.options();
    run.phases = vec![Phase::Sessions];
    run.sync = sync(0.5);
    let writes = count_writes(&pair.target);
    // Every read of the source's sessions breaks off (after preflight).
    let (_tx, stop) = tokio::sync::watch::channel(false);
    let cut = pair
        .migrate_after_preflight(&run, stop, || {
            let faults = Faults {
                truncate_ratio: 1.0,
                only: Some("GET /c2id/session-store/".to_owned()),
                ..Faults::default()
            };
            pair.source.set_faults(faults).unwrap();
        })
        .await
        .unwrap();
    assert!(cut.failure.is_some(), "{cut:?}");
    assert_eq!(count_writes(&pair.target), writes, "nothing written");
    assert_eq!(pair.target.state().sessions.len(), 100);

    pair.source.set_faults(Faults::default()).unwrap();
    let whole = pair.migrate(&run).await.unwrap();
    assert!(whole.is_clean(), "{whole:?}");
    assert_eq!(phase(&whole, Phase::Sessions).deleted, 3);
    assert_migrated(
        &pair.source.state(),
        &pair.target.state(),
        &[Phase::Sessions],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_only_records_survive_unless_delete_unknown_is_given() {
    let source = source_seed_json("12.3");
    let mut target = empty_target_json("12.3", None);
    target["clients"] = serde_json::json!([{"client_id": "target-only", "token_endpoint_auth_method": "none",
        "redirect_uris": ["https://t.example.com/cb"]}]);
    target["sessions"] = serde_json::json!({"targetOnlySessionKey0123": {"sub": "carol"}});
    let pair = Pair::start(seed(&source), seed(&target)).await;
    let copy = pair.migrate(&pair.options()).await.unwrap();
    assert!(copy.is_clean(), "{copy:?}");
    let mut run = pair.options();
    run.sync = sync(0.5);
    let writes = count_writes(&pair.target);
    let kept = pair.migrate(&run).await.unwrap();
    assert!(kept.is_clean(), "{kept:?}");
    assert_eq!(count_writes(&pair.target), writes);
    assert_eq!(phase(&kept, Phase::Clients).unknown, 1);
    assert_eq!(phase(&kept, Phase::Sessions).unknown, 1);
    let state = pair.target.state();
    assert!(state
        .clients
        .iter()
        .any(|c| c["client_id"] == "target-only"));
    assert_eq!(state.sessions.len(), 3);

    run.sync = Some(SyncRules {
        delete_unknown: true,
        max_delete_ratio: 0.5,
        ..SyncRules::default()
    });
    let deleted = pair.migrate(&run).await.unwrap();
    assert!(deleted.is_clean(), "{deleted:?}");
    assert_eq!(phase(&deleted, Phase::Clients).deleted, 1);
    assert_eq!(phase(&deleted, Phase::Sessions).deleted, 1);
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_counts_each_kinds_changes_and_writes_nothing() {
    let pair = copied(200).await;
    pair.source.apply_churn(&ChurnBatch {
        revoke_authz: 4,
        edit_authz: 3,
        logout: 2,
        edit_sessions: 6,
        add: 6,
        ..ChurnBatch::default()
    });
    let mut run = pair.options();
    run.sync = sync(0.1);
    run.dry_run = true;
    let writes = count_writes(&pair.target);
    let dry = pair.migrate(&run).await.unwrap();
    assert!(dry.is_clean(), "{dry:?}");
    assert_eq!(
        count_writes(&pair.target),
        writes,
        "a dry run writes nothing"
    );
    let authz = phase(&dry, Phase::Authorizations);
    assert_eq!((authz.created, authz.overwritten, authz.deleted), (2, 3, 4));
    assert_eq!(authz.present, 200 - 4 - 3);
    let sessions = phase(&dry, Phase::Sessions);
    assert_eq!(
        (sessions.created, sessions.overwritten, sessions.deleted),
        (2, 6, 2)
    );
    assert_eq!(phase(&dry, Phase::Clients).created, 2);
}

/// How often the source was asked for each kind's listing.
fn source_listings(pair: &Pair) -> [u64; 3] {
    let r = pair.source.stats().requests;
    [r.clients_list, r.authz_v3_list, r.sessions_list]
}

/// A clean pass, and the listings it asked the source for (the
/// preflight's reads included: the sameness probes' clients, the token
/// check's GET).
async fn counted_pass(pair: &Pair, run: &Run) -> (Outcome, [u64; 3]) {
    let before = source_listings(pair);
    let outcome = pair.migrate(run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    let after = source_listings(pair);
    (outcome, [0, 1, 2].map(|i| after[i] - before[i]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_reads_the_source_once_or_twice_past_what_it_keeps_with_the_same_end() {
    let pair = copied(400).await;
    let mut run = pair.options();
    run.sync = sync(0.5);
    // A few changes: kept from the one read, decided once it is whole.
    pair.source.apply_churn(&ChurnBatch {
        edit_authz: 5,
        logout: 5,
        add: 3,
        ..ChurnBatch::default()
    });
    let (_, few) = counted_pass(&pair, &run).await;
    assert_eq!(few[2], 1, "the sessions listing read once");
    // More changed text than a pass keeps (64 bytes per entry of the
    // memory bound: 64 KB here): the source is read again to apply them.
    pair.source.apply_churn(&ChurnBatch {
        edit_authz: 3000,
        edit_sessions: 3000,
        ..ChurnBatch::default()
    });
    let (outcome, many) = counted_pass(&pair, &run).await;
    let authz = phase(&outcome, Phase::Authorizations);
    assert_eq!(
        [0, 1, 2].map(|i| many[i] - few[i]),
        [0, 1, 1],
        "read again: {authz:?}"
    );
    assert_eq!(
        authz.source_records, 401,
        "400, and the one added: {authz:?}"
    );
    assert_eq!(authz.overwritten + authz.present, 401, "{authz:?}");
    assert!(authz.overwritten > 300, "{authz:?}");
    let (again, none) = counted_pass(&pair, &run).await;
    assert_eq!(none, few, "nothing changed: one read of each");
    for summary in &again.phases {
        assert_eq!(summary.changes(), 0, "{summary:?}");
        assert_eq!(summary.present, summary.source_records, "{summary:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_source_lists_twice_is_reported_and_left_as_it_is_by_a_pass() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let twice = Arc::new(AtomicBool::new(false));
    let on = twice.clone();
    // Once on: the second authorisation listed again, with another scope.
    let source_rule = rule(move |request| {
        let listing = request.is("GET", "/authorizations")
            && request.query.is_none()
            && on.load(Ordering::SeqCst);
        if !listing {
            return Action::Forward;
        }
        Action::Rewrite(Box::new(|reply| {
            let mut listing = reply.body_json();
            let mut twin = listing[1].clone();
            twin["scp"] = serde_json::json!(["openid", "twice"]);
            listing.as_array_mut().unwrap().push(twin);
            Reply::json(reply.status, &listing)
        }))
    });
    let example = tokens([
        trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN,
        trickle_c2id_sim::AUTHZ_STORE_TOKEN,
        trickle_c2id_sim::SESSION_STORE_TOKEN,
    ]);
    let pair = Pair::fronted(
        generated_source(10, 50),
        Generate::default().seed().unwrap(),
        Some(source_rule),
        None,
        example.clone(),
        example,
    )
    .await;
    assert!(pair.migrate(&pair.options()).await.unwrap().is_clean());
    twice.store(true, Ordering::SeqCst);
    let held = pair.target.state().authorizations;
    let writes = count_writes(&pair.target);
    let mut run = pair.options();
    run.sync = sync(0.5);
    for _ in 0..2 {
        let pass = pair.migrate(&run).await.unwrap();
        assert_eq!(pass.problems.listed.len(), 1, "{:?}", pass.problems);
        let problem = &pass.problems.listed[0];
        assert!(problem.message.contains("more than once"), "{problem:?}");
        let authz = phase(&pass, Phase::Authorizations);
        assert_eq!((authz.failed, authz.deleted, authz.present), (1, 0, 50));
        assert_eq!(count_writes(&pair.target), writes, "nothing written");
        assert_eq!(pair.target.state().authorizations, held);
    }
}
