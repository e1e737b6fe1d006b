//! The migration, source emulator → target emulator, over real HTTP: the
//! phases, `--only`, dry runs, verification, keys and versions, conflicts,
//! hidden secrets, every fault mode, and resuming.

use crate::common;

use common::*;
use serde_json::{json, Value};
use tokio::sync::watch;
use trickle_c2id::{Phase, ProblemKind};
use trickle_c2id_sim::{Faults, Generate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_phases_land_on_the_target_as_the_guide_says() {
    let pair = Pair::start(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
    )
    .await;
    let mut run = pair.options();
    run.verify = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    let counts: Vec<u64> = outcome.phases.iter().map(|p| p.created).collect();
    assert_eq!(counts, [3, 3, 2]);
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    // Every client kept its id and secret; new registration access tokens.
    let target = pair.target.state();
    let webapp = target
        .clients
        .iter()
        .find(|c| c["client_id"] == "webapp")
        .unwrap();
    assert_eq!(
        webapp["client_secret"],
        "webappSecretNotReal0123456789abcdef"
    );
    assert_ne!(
        webapp["registration_access_token"],
        "webappRatNotReal0123456789abcdef"
    );
    for client in &target.clients {
        let issued = client["client_id_issued_at"].as_u64().unwrap();
        assert!(issued > 1_700_000_000, "the target issued it anew");
    }
    assert_eq!(
        outcome
            .clients_with_registration_token
            .iter()
            .collect::<Vec<_>>(),
        ["m2m", "spa", "webapp"]
    );
    let verify = outcome.verify.as_ref().unwrap();
    assert_eq!(verify.phases.iter().map(|p| p.matching).sum::<u64>(), 8);
    // The guide's calls: v3 with import=true, SID-Key.
    let stats = pair.target.stats().requests;
    assert_eq!(stats.authz_v3_create, 3);
    assert_eq!(stats.authz_v2_create, 0);
    assert_eq!(stats.session_create, 2);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.report.unwrap()).unwrap()).unwrap();
    assert_eq!(report["clean"], true);
    assert_eq!(report["verify"]["mismatches_total"], 0);
    assert_eq!(
        report["clients_with_registration_access_token"],
        json!(["m2m", "spa", "webapp"])
    );

    // A second run finds everything done and sends nothing.
    let writes = count_writes(&pair.target);
    let again = pair.migrate(&pair.options()).await.unwrap();
    assert!(again.is_clean());
    assert_eq!(
        again
            .phases
            .iter()
            .map(|p| p.already_done)
            .collect::<Vec<_>>(),
        [3, 3, 2]
    );
    assert_eq!(count_writes(&pair.target), writes);
    // Nothing registered, so no registration access token issued anew.
    assert_eq!(again.clients_with_registration_token_total, 0);
    assert!(again.clients_with_registration_token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_phases_asked_for_run() {
    let pair = Pair::start(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
    )
    .await;
    let mut run = pair.options();
    run.phases = vec![Phase::Sessions, Phase::Clients];
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    assert_eq!(
        outcome
            .phases
            .iter()
            .map(|p| p.phase.unwrap())
            .collect::<Vec<_>>(),
        [Phase::Clients, Phase::Sessions],
        "in the guide's order"
    );
    let target = pair.target.state();
    assert_migrated(
        &pair.source.state(),
        &target,
        &[Phase::Clients, Phase::Sessions],
    );
    assert!(target.authorizations.is_empty());
    // Then the rest.
    run.phases = vec![Phase::Authorizations];
    assert!(pair.migrate(&run).await.unwrap().is_clean());
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reads_both_sides_and_writes_nothing() {
    let source = seed(&source_seed_json("12.3"));
    let mut target = empty_target_json("12.3", None);
    // One client already there, the same; one there and different.
    let existing = source_seed_json("12.3")["clients"][1].clone();
    let mut different = source_seed_json("12.3")["clients"][2].clone();
    different["client_secret"] = json!("anotherSecretOnTheTarget0123456789");
    target["clients"] = json!([as_imported(&existing), as_imported(&different)]);
    let pair = Pair::start(source, seed(&target)).await;
    let before = pair.target.state();
    let mut run = pair.options();
    run.dry_run = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert_eq!(count_writes(&pair.target), 0);
    assert_eq!(pair.target.state(), before);
    assert!(!run.journal_dir.exists(), "no journal, no report");
    let clients = &outcome.phases[0];
    assert_eq!(
        (
            clients.source_records,
            clients.created,
            clients.present,
            clients.conflicts
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(outcome.phases[1].created, 3);
    assert_eq!(outcome.phases[2].created, 2);
    assert_eq!(outcome.problems.len(), 1);
    assert_eq!(outcome.problems[0].kind, ProblemKind::Conflict);
    assert!(
        outcome.problems[0].message.contains("client_secret"),
        "{:?}",
        outcome.problems
    );
    // One sample per phase, as it would be posted, secrets masked.
    assert_eq!(outcome.samples.len(), 3);
    let samples = serde_json::to_string(&outcome.samples).unwrap();
    for secret in seed_secrets(&pair.source.state()) {
        assert!(!samples.contains(&secret), "{secret} in {samples}");
    }
    let client_sample = &outcome.samples[0].1;
    assert!(
        client_sample.get("preferred_client_id").is_some(),
        "{client_sample}"
    );
    assert!(client_sample.get("client_id_issued_at").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_record_corrupted_or_lost_on_the_target() {
    let pair = Pair::start(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
    )
    .await;
    assert!(pair.migrate(&pair.options()).await.unwrap().is_clean());
    // Corrupt one authorisation's scope, drop one session, straight on the target.
    let http = reqwest::Client::new();
    let authz = format!(
        "{}/authz-store/rest/v3/authorizations?import=true",
        pair.target.issuer()
    );
    let answer = http
        .post(&authz)
        .bearer_auth(TARGET_TOKENS[1])
        .json(&json!({"sub": "bob", "cid": "webapp", "scp": ["openid", "admin"], "iat": 1700000002, "lng": true,
                      "rft": "bobRefreshTokenNotReal0123456789abcd", "dat": {"note": "bobAuthzDataNotReal01234"}}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let bob_sid = pair
        .source
        .state()
        .sessions
        .keys()
        .find(|k| k.starts_with("bob"))
        .unwrap()
        .clone();
    let answer = http
        .delete(format!(
            "{}/session-store/rest/v2/sessions",
            pair.target.issuer()
        ))
        .bearer_auth(TARGET_TOKENS[2])
        .header("SID", &bob_sid)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);

    let mut run = pair.options();
    run.verify = true;
    let outcome = pair.migrate(&run).await.unwrap();
    let verify = outcome.verify.clone().unwrap();
    assert!(!outcome.is_clean());
    assert_eq!(verify.mismatches.total, 2, "{verify:#?}");
    let problems: Vec<(String, String)> = verify
        .mismatches
        .iter()
        .map(|m| (m.record.clone(), m.problem.clone()))
        .collect();
    assert!(
        problems.contains(&(
            "authorization of bob for webapp".to_owned(),
            "differs on the target: scp".to_owned()
        )),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(record, problem)| record.starts_with("session bobSessi")
                && record.ends_with("of bob")
                && problem == "missing on the target"),
        "{problems:?}"
    );
    let report = std::fs::read_to_string(outcome.report.unwrap()).unwrap();
    assert!(report.contains("differs on the target: scp"));
    assert!(!report.contains(&bob_sid), "a whole SID in the report");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_jwk_sets_are_refused_or_limit_the_run_to_clients() {
    let pair = Pair::start(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", Some(other_jwks()))),
    )
    .await;
    let run = pair.options();
    let report = pair.preflight(&run).await;
    assert_eq!(report.keys_identical, Some(false));
    assert!(report.refused());
    assert!(
        report
            .refusals
            .iter()
            .any(|r| r.contains("different JWK sets")),
        "{:?}",
        report.refusals
    );
    assert_eq!(count_writes(&pair.target), 0);

    let mut run = pair.options();
    run.allow_different_keys = true;
    let report = pair.preflight(&run).await;
    assert!(!report.refused(), "{:?}", report.refusals);
    assert_eq!(report.phases, [Phase::Clients]);
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean());
    let target = pair.target.state();
    assert_eq!(target.clients.len(), 3);
    assert!(target.authorizations.is_empty() && target.sessions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_secret_keys_behind_the_same_public_set_stop_the_sessions_after_a_few_sids() {
    let mut source = source_seed_json("12.3");
    for i in 0..6 {
        source["sessions"][format!("extraSessionKeyNotReal{i:04}")] =
            json!({"sub": format!("user{i}"), "auth_time": 1700000000});
    }
    let pair = Pair::start(
        seed(&source),
        seed(&empty_target_json(
            "12.3",
            Some(same_public_other_secret_jwks()),
        )),
    )
    .await;
    let mut run = pair.options();
    run.concurrency = 1;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(!outcome.is_clean());
    let aborted = outcome.aborted.clone().unwrap();
    assert!(aborted.contains("JWK set"), "{aborted}");
    let failed: Vec<_> = outcome
        .problems
        .iter()
        .filter(|p| p.phase == Phase::Sessions)
        .collect();
    assert_eq!(failed.len(), 5, "stopped after five: {failed:?}");
    assert!(
        failed.iter().all(|p| p.message.contains("JWK sets")),
        "{failed:?}"
    );
    assert_eq!(outcome.deletions.total, 5, "{:?}", outcome.deletions);
    let target = pair.target.state();
    assert!(
        target.sessions.is_empty(),
        "the mis-keyed sessions were taken back out"
    );
    assert_eq!(target.clients.len(), 3);
    assert_eq!(target.authorizations.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_decide_what_may_run_and_which_authz_api() {
    // The target older than the source.
    let pair = Pair::start(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("11.0", None)),
    )
    .await;
    let report = pair.preflight(&pair.options()).await;
    assert!(
        report
            .refusals
            .iter()
            .any(|r| r.contains("older than the source")),
        "{:?}",
        report.refusals
    );
    // A target before 6.6, even when the source is older still.
    let pair = Pair::start(
        seed(&source_seed_json("5.2")),
        seed(&empty_target_json("6.5", None)),
    )
    .await;
    let report = pair.preflight(&pair.options()).await;
    assert!(
        report.refusals.iter().any(|r| r.contains("6.6 or newer")),
        "{:?}",
        report.refusals
    );
    // A 9.x source: the v2 authorisation store, on both sides.
    let pair = Pair::start(
        seed(&source_seed_json("9.5")),
        seed(&empty_target_json("12.3", None)),
    )
    .await;
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    let (source, target) = (pair.source.stats().requests, pair.target.stats().requests);
    // The token check, the listing indexed, the listing migrated.
    assert_eq!((source.authz_v2_list, source.authz_v3_list), (3, 0));
    assert_eq!((target.authz_v2_create, target.authz_v3_create), (3, 0));
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_before_anything_is_written() {
    let mut wrong = tokens(TARGET_TOKENS);
    wrong.sessions = Some(SOURCE_TOKENS[2].to_owned());
    let pair = Pair::with_tokens(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
        tokens(SOURCE_TOKENS),
        wrong,
    )
    .await;
    let report = pair.preflight(&pair.options()).await;
    assert_eq!(
        report.refusals,
        ["the target server refuses the session store API token (HTTP 401): check the token"]
    );
    assert_eq!(count_writes(&pair.target), 0);
    // Clients alone need no session token.
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    assert!(!pair.preflight(&run).await.refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_there_already_counts_as_done_and_a_different_one_is_a_conflict_unless_overwritten(
) {
    let source = source_seed_json("12.3");
    let mut target = empty_target_json("12.3", None);
    let mut changed = source["authorizations"][1].clone();
    changed["scp"] = json!(["openid", "profile"]);
    target["clients"] = source["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(as_imported)
        .collect();
    target["clients"][0]["client_name"] = json!("Renamed on the target");
    target["authorizations"] = json!([source["authorizations"][0].clone(), changed]);
    let pair = Pair::start(seed(&source), seed(&target)).await;
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(!outcome.is_clean());
    let clients = &outcome.phases[0];
    assert_eq!(
        (clients.present, clients.conflicts, clients.created),
        (2, 1, 0)
    );
    let authz = &outcome.phases[1];
    assert_eq!((authz.present, authz.conflicts, authz.created), (1, 1, 1));
    let conflicts: Vec<&str> = outcome.problems.iter().map(|p| p.record.as_str()).collect();
    assert_eq!(
        conflicts,
        ["client webapp", "authorization of alice for spa"]
    );
    assert!(outcome.problems[0].message.contains("client_name"));
    let state = pair.target.state();
    let webapp = state
        .clients
        .iter()
        .find(|c| c["client_id"] == "webapp")
        .unwrap();
    assert_eq!(
        webapp["client_name"], "Renamed on the target",
        "not overwritten"
    );

    let mut run = pair.options();
    run.overwrite = true;
    run.verify = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    assert_eq!(outcome.phases[0].overwritten, 1);
    assert_eq!(outcome.phases[1].overwritten, 1);
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_secret_the_codec_hides_is_reported_not_given_a_new_secret() {
    let mut source = source_seed_json("12.3");
    // As a codec that does not export secrets would list it.
    source["clients"]
        .as_array_mut()
        .unwrap()
        .push(json!({"client_id": "hidden",
        "client_secret": "********", "redirect_uris": ["https://hidden.example.com/cb"]}));
    let pair = Pair::start(seed(&source), seed(&empty_target_json("12.3", None))).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(!outcome.is_clean());
    assert_eq!(outcome.phases[0].created, 3);
    assert_eq!(outcome.problems.len(), 1);
    let problem = &outcome.problems[0];
    assert_eq!(problem.record, "client hidden");
    assert!(problem.message.contains("codec"), "{}", problem.message);
    assert!(pair
        .target
        .state()
        .clients
        .iter()
        .all(|c| c["client_id"] != "hidden"));
}

/// A generated pair: `n` records of each kind (and n/10 clients).
async fn generated_pair(n: usize) -> Pair {
    Pair::generated(
        generated_source((n / 10).max(2), n),
        Generate::default().seed().unwrap(),
    )
    .await
}

async fn migrate_through(faults_on_target: Faults, faults_on_source: Faults, n: usize) -> Pair {
    let pair = generated_pair(n).await;
    pair.target.set_faults(faults_on_target).unwrap();
    pair.source.set_faults(faults_on_source).unwrap();
    let mut run = pair.options();
    run.concurrency = 8;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    pair.target.set_faults(Faults::default()).unwrap();
    pair.source.set_faults(Faults::default()).unwrap();
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    pair
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_dropped_connections_are_retried_to_the_same_end_state() {
    let faults = Faults {
        error_ratio: 0.15,
        drop_ratio: 0.15,
        ..Faults::default()
    };
    let pair = migrate_through(faults.clone(), faults, 200).await;
    let target = pair.target.stats().requests;
    assert!(
        target.session_create > 200,
        "some posts were sent again: {target:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_off_after_the_target_took_the_record_is_looked_up_not_sent_again() {
    // Truncated answers: the target did the work, then the body broke off.
    let faults = Faults {
        truncate_ratio: 0.4,
        only: Some("POST /".to_owned()),
        ..Faults::default()
    };
    let pair = migrate_through(faults, Faults::default(), 200).await;
    let target = pair.target.stats().requests;
    assert_eq!(
        target.client_register, 20,
        "each client posted once: {target:?}"
    );
    assert_eq!(target.authz_v3_create, 200);
    assert_eq!(target.session_create, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_listings_and_answers_are_read_again() {
    let faults = Faults {
        truncate_ratio: 0.15,
        ..Faults::default()
    };
    migrate_through(faults.clone(), faults, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_with_an_html_page_is_looked_up_not_counted_on_its_word() {
    // A proxy's page instead of the answer: the post may or may not have
    // landed, so the record is looked up (an HTML listing or read fails at
    // once instead: trust.rs).
    let faults = Faults {
        malformed_ratio: 0.3,
        only: Some("POST /".to_owned()),
        ..Faults::default()
    };
    migrate_through(faults, Faults::default(), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_only_slows_the_run() {
    let faults = Faults {
        latency_ms: 20,
        ..Faults::default()
    };
    migrate_through(faults, Faults::default(), 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_as_retry_after_says() {
    let pair = generated_pair(60).await;
    pair.target.set_rate_limit(60);
    pair.source.set_rate_limit(60);
    let started = std::time::Instant::now();
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    // 126 posts and a dozen reads at 60 a second: past one window at least.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_where_it_stopped_and_sends_nothing_twice() {
    let pair = generated_pair(400).await;
    pair.target
        .set_faults(Faults {
            latency_ms: 2,
            ..Faults::default()
        })
        .unwrap();
    let (tx, stop) = watch::channel(false);
    let stopper = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if pair.target.stats().requests.authz_v3_create >= 100 {
                tx.send(true).unwrap();
                break;
            }
        }
    };
    let run = pair.options();
    let (first, ()) = tokio::join!(pair.migrate_until(&run, stop), stopper);
    let first = first.unwrap();
    assert!(first.interrupted);
    let authz_after_first = pair.target.state().authorizations.len();
    assert!(
        authz_after_first < 400,
        "stopped early: {authz_after_first}"
    );
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    assert_eq!(outcome.phases[1].already_done as usize, authz_after_first);
    assert_migrated(&pair.source.state(), &pair.target.state(), &Phase::ALL);
    let target = pair.target.stats().requests;
    assert_eq!(target.authz_v3_create, 400, "each sent once over both runs");
    assert_eq!(target.session_create, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_client_tries_its_delete_again_after_a_lost_answer() {
    let source = source_seed_json("12.3");
    let mut target = empty_target_json("12.3", None);
    let mut clients = Vec::new();
    let mut source_clients = Vec::new();
    for i in 0..12 {
        let mut client = source["clients"][0].clone();
        client["client_id"] = json!(format!("webapp-{i}"));
        source_clients.push(client.clone());
        client["client_name"] = json!("Renamed on the target");
        clients.push(as_imported(&client));
    }
    let mut source = source;
    source["clients"] = json!(source_clients);
    source["authorizations"] = json!([]);
    target["clients"] = json!(clients);
    let pair = Pair::start(seed(&source), seed(&target)).await;
    pair.target
        .set_faults(Faults {
            error_ratio: 0.5,
            only: Some("DELETE /".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    run.overwrite = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{:#?}", outcome.problems);
    assert_eq!(outcome.phases[0].overwritten, 12);
    assert_migrated(
        &pair.source.state(),
        &pair.target.state(),
        &[Phase::Clients],
    );
}
