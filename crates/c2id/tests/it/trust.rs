//! The trust boundary on the Connect2id side (issue 17), against hostile
//! servers standing in front of the emulators: tokens go only to the
//! operator's origins, server texts are scrubbed, nothing is deleted that
//! this run did not create, "migrated" means seen on the target, records
//! and waits are bounded, duplicates and odd SIDs are reported per record,
//! errors that cannot change are not retried, and the same server is not
//! taken for two.

use crate::common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use trickle_c2id::{Phase, ProblemKind};

fn hand_pair_seeds() -> (Value, Value) {
    (source_seed_json("12.3"), empty_target_json("12.3", None))
}

/// Forwards the request, then changes the JSON of the answer.
fn rewrite_json(change: impl FnOnce(&mut Value) + Send + 'static) -> Action {
    Action::Rewrite(Box::new(move |reply| {
        let mut value = reply.body_json();
        change(&mut value);
        Reply::json(reply.status, &value)
    }))
}

fn is_listing(request: &Incoming, suffix: &str) -> bool {
    request.is("GET", suffix) && request.query.is_none() && request.header("sid").is_none()
}

/// Whatever happened, as text (an error, or the outcome's debug form).
fn everything<T: std::fmt::Debug, E: std::fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(outcome) => format!("{outcome:?}"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_off_the_operators_origins_are_refused_and_get_no_token() {
    let collector = Hostile::alone(rule(|_| Action::Reply(Reply::json(201, &json!({}))))).await;
    let collector_url = collector.url.clone();
    // Each variant: the discovery member changed, and how.
    type Change = fn(&str, &str) -> String;
    let variants: [(&str, Change); 5] = [
        ("registration_endpoint", |_own, other| {
            format!("{other}/c2id/clients")
        }),
        ("jwks_uri", |_own, other| format!("{other}/c2id/jwks.json")),
        // Same origin, outside the issuer's path.
        ("registration_endpoint", |own, _| {
            format!("{own}/elsewhere/clients")
        }),
        // Same host and port, another scheme.
        ("registration_endpoint", |own, _| {
            format!("{}/c2id/clients", own.replace("http://", "https://"))
        }),
        // Credentials in the URL.
        ("registration_endpoint", |own, _| {
            format!("{}/c2id/clients", own.replace("http://", "http://user:pw@"))
        }),
    ];
    for (member, change) in variants {
        let own: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let shown = Arc::new(Mutex::new(String::new()));
        let (own_in_rule, shown_in_rule, other) =
            (own.clone(), shown.clone(), collector_url.clone());
        let target_rule = rule(move |request| {
            if !request.is("GET", "/.well-known/openid-configuration") {
                return Action::Forward;
            }
            let url = change(own_in_rule.get().unwrap(), &other);
            *shown_in_rule.lock().unwrap() = url.clone();
            rewrite_json(move |doc| doc[member] = json!(url))
        });
        let (source, mut target) = hand_pair_seeds();
        target["context_path"] = json!("/c2id");
        let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
        own.set(pair.target_front.as_ref().unwrap().url.clone())
            .unwrap();
        let report = pair.preflight(&pair.options()).await;
        let url = shown.lock().unwrap().clone();
        assert!(report.refused(), "{member} = {url}: {:?}", report.refusals);
        // Shown as it was named, but for credentials, which are not shown.
        let without_credentials = url.replace("user:pw@", "");
        let refusals = report.refusals.join("\n");
        assert!(
            refusals.contains(&without_credentials) && !refusals.contains("pw@"),
            "the refusal shows {without_credentials}: {refusals}"
        );
        assert_eq!(count_writes(&pair.target), 0);
    }
    assert!(
        collector.seen().is_empty(),
        "nothing reached the other origin: {:?}",
        collector.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoing_target_has_its_text_scrubbed_and_one_bad_read_fails_only_its_record() {
    // Bob's session: its post answered 503 (so it is looked up), and the
    // lookup answered 400 echoing the SID and Authorization headers.
    let target_rule = rule(|request| {
        let sid_key = request.header("sid-key").unwrap_or_default();
        if request.is("POST", "/sessions") && sid_key.starts_with("bob") {
            return Action::Reply(Reply::json(
                503,
                &json!({"error": "temporarily_unavailable"}),
            ));
        }
        if request.is("GET", "/sessions") && request.header("sid").is_some() {
            let echo = format!(
                "no session {} for {}",
                request.header("sid").unwrap(),
                request.header("authorization").unwrap_or_default()
            );
            return Action::Reply(Reply::json(
                400,
                &json!({"error": "invalid_request", "error_description": echo}),
            ));
        }
        Action::Forward
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let result = pair.migrate(&pair.options()).await;
    let text = everything(&result);
    for secret in seed_secrets(&pair.source.state()) {
        assert!(!text.contains(&secret), "{secret} in {text}");
    }
    let outcome = result.expect("one bad read fails its record, not the run");
    let failed: Vec<&str> = outcome.problems.iter().map(|p| p.record.as_str()).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("session bobSessi"), "{failed:?}");
    let target = pair.target.state();
    assert_eq!(target.sessions.len(), 1, "alice's session migrated");
    assert_eq!(target.clients.len(), 3);
    assert_eq!(target.authorizations.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_checks_and_listings_that_echo_the_token_are_scrubbed() {
    let echo = |request: &Incoming| {
        Action::Reply(Reply::json(
            418,
            &json!({"error": "teapot", "error_description":
                format!("you sent {}", request.header("authorization").unwrap_or_default())}),
        ))
    };
    // The token check.
    let (source, target) = hand_pair_seeds();
    let target_rule = rule(move |request| {
        if request.is("GET", "/clients/trickle-token-check") {
            echo(request)
        } else {
            Action::Forward
        }
    });
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let report = pair.preflight(&pair.options()).await;
    assert!(report.refused());
    let text = format!("{:?}", report.refusals);
    assert!(text.contains("418"), "{text}");
    assert!(!text.contains(TARGET_TOKENS[0]), "{text}");
    // A listing.
    let source_rule = rule(move |request| {
        if is_listing(request, "/authorizations") {
            echo(request)
        } else {
            Action::Forward
        }
    });
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let result = pair.migrate(&pair.options()).await;
    let text = everything(&result);
    assert!(text.contains("418"), "{text}");
    assert!(!text.contains(SOURCE_TOKENS[1]), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_with_another_sessions_sid_deletes_nothing() {
    let alice_sid: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let sid = alice_sid.clone();
    let target_rule = rule(move |request| {
        let bob = request
            .header("sid-key")
            .is_some_and(|key| key.starts_with("bob"));
        if request.is("POST", "/sessions") && bob {
            let alice = sid.get().unwrap().clone();
            return rewrite_json(move |answer| answer["sid"] = json!(alice));
        }
        Action::Forward
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let sids: Vec<String> = pair.source.state().sessions.keys().cloned().collect();
    assert!(sids[0].starts_with("alice"));
    alice_sid.set(sids[0].clone()).unwrap();
    let mut run = pair.options();
    run.concurrency = 1;
    let outcome = pair.migrate(&run).await.unwrap();
    assert_eq!(
        pair.target.stats().requests.session_delete,
        0,
        "nothing deleted"
    );
    let held: Vec<String> = pair.target.state().sessions.keys().cloned().collect();
    assert_eq!(held, sids, "both sessions kept, under the source's SIDs");
    assert!(outcome.aborted.is_none(), "{outcome:#?}");
    assert_eq!(outcome.phases[2].created, 2, "bob's is seen under its SID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwriting_a_client_updates_it_in_place_with_put() {
    let (source, mut target) = hand_pair_seeds();
    target["clients"] = source["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(as_imported)
        .collect();
    target["clients"][0]["client_name"] = json!("Renamed on the target");
    let pair = Pair::start(seed(&source), seed(&target)).await;
    let rat_before = pair.target.state().clients[2]["registration_access_token"].clone();
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    run.overwrite = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:#?}");
    assert_eq!(outcome.phases[0].overwritten, 1);
    let stats = pair.target.stats().requests;
    assert_eq!(
        (
            stats.client_update,
            stats.client_delete,
            stats.client_register
        ),
        (1, 0, 0),
        "{stats:?}"
    );
    let state = pair.target.state();
    let webapp = state
        .clients
        .iter()
        .find(|c| c["client_id"] == "webapp")
        .unwrap();
    assert_eq!(webapp["client_name"], "Web app");
    assert_eq!(
        webapp["registration_access_token"], rat_before,
        "updated in place"
    );
    assert_migrated(&pair.source.state(), &state, &[Phase::Clients]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_the_target_refuses_is_put_back_and_the_deletion_reported() {
    let (source, mut target) = hand_pair_seeds();
    let m2m_secret = source["clients"][2]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut theirs = source["clients"][2].clone();
    theirs["client_secret"] = json!("targetOwnM2mSecretNotReal0123456789");
    target["clients"] = json!([as_imported(&theirs)]);
    // The target refuses the source's registration of m2m (a policy of its own).
    let target_rule = rule(move |request| {
        if request.is("POST", "/clients")
            && request.json()["preferred_client_secret"] == json!(m2m_secret)
        {
            return Action::Reply(Reply::json(
                400,
                &json!({"error": "invalid_client_metadata", "error_description": "refused by policy"}),
            ));
        }
        Action::Forward
    });
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    run.overwrite = true;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(!outcome.is_clean());
    let state = pair.target.state();
    let m2m = state.clients.iter().find(|c| c["client_id"] == "m2m");
    let m2m = m2m.expect("the target's m2m is back");
    assert_eq!(m2m["client_secret"], "targetOwnM2mSecretNotReal0123456789");
    let problem = outcome
        .problems
        .iter()
        .find(|p| p.record == "client m2m")
        .unwrap();
    assert_eq!(problem.kind, ProblemKind::Failed);
    assert!(
        problem.message.contains("refused by policy")
            && problem.message.contains("deleted")
            && problem.message.contains("registered again"),
        "{}",
        problem.message
    );
}

/// A sessions listing with one more entry (`sid` → `session`) added.
fn with_extra_session(sid: &'static str, session: Value) -> Rule {
    let session = Arc::new(session);
    rule(move |request| {
        if !is_listing(request, "/sessions") {
            return Action::Forward;
        }
        let session = session.clone();
        rewrite_json(move |listing| {
            listing[sid] = (*session).clone();
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_over_the_size_cap_is_skipped_and_fails_alone() {
    let big = "x".repeat(1_200_000);
    let (source, target) = hand_pair_seeds();
    let source_rule = with_extra_session(
        "carolBigSessionKey0123.c2lnbmF0dXJl",
        json!({"sub": "carol", "data": {"blob": big}}),
    );
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert_eq!(outcome.problems.len(), 1, "{:#?}", outcome.problems);
    let problem = &outcome.problems[0];
    assert!(
        problem.message.contains("--max-record-bytes"),
        "{}",
        problem.message
    );
    assert!(problem.record.contains("carolBig"), "{}", problem.record);
    assert_eq!(
        pair.target.stats().requests.session_create,
        2,
        "not sent to the target"
    );
    assert_eq!(pair.target.state().sessions.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sid_no_header_can_carry_fails_alone_at_once() {
    let (source, target) = hand_pair_seeds();
    let source_rule = with_extra_session(
        "carol\nSessionKey.c2lnbmF0dXJl",
        json!({"sub": "carol", "auth_time": 1700000000}),
    );
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let started = Instant::now();
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.problems.len(), 1, "{:#?}", outcome.problems);
    assert!(
        outcome.problems[0].message.contains("header"),
        "{:?}",
        outcome.problems[0]
    );
    assert_eq!(pair.target.state().sessions.len(), 2);
    assert_eq!(pair.target.stats().requests.session_create, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_no_header_can_carry_is_refused_by_preflight_naming_its_api() {
    let mut bad = tokens(TARGET_TOKENS);
    bad.sessions = Some(format!("{}\nX-Injected: 1", TARGET_TOKENS[2]));
    let (source, target) = hand_pair_seeds();
    let pair = Pair::with_tokens(seed(&source), seed(&target), tokens(SOURCE_TOKENS), bad).await;
    let started = Instant::now();
    let report = pair.preflight(&pair.options()).await;
    assert!(started.elapsed() < Duration::from_secs(2), "not retried");
    assert!(report.refused());
    assert!(
        report
            .refusals
            .iter()
            .any(|r| r.contains("session store") && r.contains("token") && r.contains("target")),
        "{:?}",
        report.refusals
    );
    assert_eq!(pair.target.stats().requests.sessions_list, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ignores_preferred_client_id_is_left_without_strays() {
    // The target drops the preferred credentials: it makes its own.
    let target_rule = rule(|request| {
        if !request.is("POST", "/clients") {
            return Action::Forward;
        }
        let mut body = request.json();
        body.as_object_mut().unwrap().remove("preferred_client_id");
        body.as_object_mut()
            .unwrap()
            .remove("preferred_client_secret");
        let mut changed = request.clone();
        changed.body = body.to_string().into();
        Action::ForwardAs(changed)
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    for _ in 0..2 {
        let outcome = pair.migrate(&run).await.unwrap();
        assert_eq!(outcome.phases[0].failed, 3, "{outcome:#?}");
        assert!(
            outcome.problems[0].message.contains("preferred_client_id"),
            "{:?}",
            outcome.problems
        );
        assert!(
            pair.target.state().clients.is_empty(),
            "every stray taken back out: {:?}",
            pair.target.state().clients
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_naming_another_existing_client_deletes_nothing() {
    let target_rule = rule(|request| {
        if request.is("POST", "/clients") && request.json()["preferred_client_id"] == "spa" {
            return rewrite_json(|answer| answer["client_id"] = json!("m2m"));
        }
        Action::Forward
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    run.concurrency = 1;
    let outcome = pair.migrate(&run).await.unwrap();
    assert_eq!(pair.target.stats().requests.client_delete, 0);
    assert!(outcome.is_clean(), "spa is on the target: {outcome:#?}");
    assert_migrated(
        &pair.source.state(),
        &pair.target.state(),
        &[Phase::Clients],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_client_id_is_refused_before_anything_is_sent() {
    let source_rule = rule(|request| {
        if !is_listing(request, "/clients") {
            return Action::Forward;
        }
        rewrite_json(|listing| {
            listing.as_array_mut().unwrap().push(json!({"client_id": "",
                "token_endpoint_auth_method": "none", "redirect_uris": ["https://e.example.com/cb"]}))
        })
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    let outcome = pair.migrate(&run).await.unwrap();
    assert_eq!(outcome.phases[0].failed, 1, "{outcome:#?}");
    assert!(
        outcome.problems[0].message.contains("client_id"),
        "{:?}",
        outcome.problems
    );
    assert_eq!(pair.target.stats().requests.client_register, 3);
    assert_eq!(pair.target.state().clients.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_that_stores_nothing_is_looked_up_and_not_counted_migrated() {
    let target_rule = rule(|request| match request.method.as_str() {
        "POST"
            if request.path.ends_with("/clients") || request.path.ends_with("/authorizations") =>
        {
            Action::Reply(Reply::text(200, "application/json", ""))
        }
        "POST" if request.path.ends_with("/sessions") => {
            Action::Reply(Reply::json(201, &json!({})))
        }
        _ => Action::Forward,
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let outcome = pair.migrate(&pair.options()).await.unwrap();
    assert!(!outcome.is_clean());
    let migrated: Vec<u64> = outcome.phases.iter().map(|p| p.migrated()).collect();
    assert_eq!(migrated, [0, 0, 0], "{outcome:#?}");
    let failed: Vec<u64> = outcome.phases.iter().map(|p| p.failed).collect();
    assert_eq!(failed, [3, 3, 2], "{outcome:#?}");
    assert!(
        outcome.problems[0].message.contains("does not hold it"),
        "{:?}",
        outcome.problems[0]
    );
    let journal = files_text(pair.journal.path());
    assert!(!journal.contains("\"event\":\"done\""), "{journal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_in_a_listing_are_reported_and_never_posted_on_every_run() {
    let source_rule = rule(|request| {
        if !is_listing(request, "/clients") {
            return Action::Forward;
        }
        rewrite_json(|listing| {
            let mut twin = listing[1].clone();
            twin["client_name"] = json!("A second spa");
            listing.as_array_mut().unwrap().push(twin);
        })
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    for _ in 0..2 {
        let outcome = pair.migrate(&run).await.unwrap();
        let spa: Vec<_> = outcome
            .problems
            .iter()
            .filter(|p| p.record == "client spa")
            .collect();
        assert_eq!(spa.len(), 2, "{:#?}", outcome.problems);
        assert!(spa[0].message.contains("more than once"), "{spa:?}");
        assert_eq!(outcome.phases[0].migrated(), 2);
        assert!(pair
            .target
            .state()
            .clients
            .iter()
            .all(|c| c["client_id"] != "spa"));
    }
    assert_eq!(pair.target.stats().requests.client_register, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_sid_the_keys_do_not_make_fails_alone_with_its_own_wording() {
    let source_rule = rule(|request| {
        if !is_listing(request, "/sessions") {
            return Action::Forward;
        }
        rewrite_json(|listing| {
            let listing = listing.as_object_mut().unwrap();
            let alice = listing
                .keys()
                .find(|k| k.starts_with("alice"))
                .unwrap()
                .clone();
            let session = listing.remove(&alice).unwrap();
            let key = alice.rsplit_once('.').unwrap().0;
            listing.insert(
                format!("{key}.Tm90VGhlSE1BQ09mVGhpc0tleTAxMjM0NTY3ODkwMTI"),
                session,
            );
        })
    });
    let (source, target) = hand_pair_seeds();
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let mut run = pair.options();
    run.concurrency = 1;
    let outcome = pair.migrate(&run).await.unwrap();
    assert!(outcome.aborted.is_none(), "{outcome:#?}");
    let sessions = &outcome.phases[2];
    assert_eq!((sessions.created, sessions.failed), (1, 1), "{sessions:?}");
    let problem = outcome
        .problems
        .iter()
        .find(|p| p.phase == Phase::Sessions)
        .unwrap();
    assert!(
        problem.record.starts_with("session aliceSes"),
        "{problem:?}"
    );
    assert!(
        problem.message.contains("1 other session") && !problem.message.contains("JWK sets differ"),
        "{}",
        problem.message
    );
    let held: Vec<String> = pair.target.state().sessions.keys().cloned().collect();
    assert_eq!(
        held.len(),
        1,
        "the stray under the target's SID was taken out"
    );
    assert!(held[0].starts_with("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase_that_fails_leaves_report_json_with_every_phase_before_it() {
    let source_rule = rule(|request| {
        if is_listing(request, "/sessions") {
            return Action::Reply(Reply::json(
                400,
                &json!({"error": "invalid_request", "error_description": "listing refused"}),
            ));
        }
        Action::Forward
    });
    let (mut source, target) = hand_pair_seeds();
    source["clients"]
        .as_array_mut()
        .unwrap()
        .push(json!({"client_id": "hidden",
        "client_secret": "********", "redirect_uris": ["https://hidden.example.com/cb"]}));
    let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
    let run = pair.options();
    let result = pair.migrate(&run).await;
    let report = run.journal_dir.join("report.json");
    let text = std::fs::read_to_string(&report).expect("report.json is written");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["clean"], false);
    assert_eq!(
        report["problems"][0]["record"], "client hidden",
        "{report:#}"
    );
    assert!(text.contains("listing refused"), "{text}");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases[..2], ["clients", "authorizations"]);
    assert!(everything(&result).contains("listing refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_server_as_source_and_target_is_refused() {
    // The same URL.
    let (source, target) = hand_pair_seeds();
    let pair = Pair::start(seed(&source), seed(&target)).await;
    let (source_end, _) = pair.endpoints();
    let run = pair.options();
    let (report, servers) =
        trickle_c2id::preflight(&source_end, &source_end, &run.phases, false, fast_http()).await;
    assert!(servers.is_none());
    assert!(
        report.refusals.iter().any(|r| r.contains("same server")),
        "{:?}",
        report.refusals
    );
    // Another name for it: a proxy that forwards everything to the source
    // (its discovery naming no endpoints, so they are taken from the URL).
    let (listener, url) = hostile::bind().await;
    let _front = Hostile::serve(
        listener,
        Some(pair.source.base_url().to_owned()),
        rule(|request| {
            if request.is("GET", "/.well-known/openid-configuration") {
                return Action::Reply(Reply::json(200, &json!({})));
            }
            Action::Forward
        }),
    );
    let other_name = trickle_c2id::Endpoint {
        issuer: format!("{url}/c2id"),
        ..source_end.clone()
    };
    let (report, servers) =
        trickle_c2id::preflight(&source_end, &other_name, &run.phases, false, fast_http()).await;
    assert!(servers.is_none());
    assert!(
        report.refusals.iter().any(|r| r.contains("same server")),
        "{:?}",
        report.refusals
    );
    assert_eq!(count_writes(&pair.source), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_or_wrong_shape_listing_fails_at_once_naming_the_cause() {
    for (suffix, reply, cause) in [
        (
            "/authorizations",
            Reply::text(200, "text/html", "<html><body>Please log in</body></html>"),
            "HTML",
        ),
        (
            "/sessions",
            Reply::json(200, &json!([{"sub": "alice"}])),
            "not the JSON",
        ),
    ] {
        let source_rule = rule(move |request| {
            if is_listing(request, suffix) {
                Action::Reply(reply.clone())
            } else {
                Action::Forward
            }
        });
        let (source, target) = hand_pair_seeds();
        let pair = Pair::behind(seed(&source), seed(&target), Some(source_rule), None).await;
        let result = pair.migrate(&pair.options()).await;
        let text = everything(&result);
        assert!(text.contains(cause), "{cause}: {text}");
        let front = pair.source_front.as_ref().unwrap();
        let listings = front
            .seen()
            .iter()
            .filter(|r| is_listing(r, suffix))
            .count();
        assert_eq!(listings, 1, "read once, not again: {suffix}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_tls_port_fails_at_once_naming_https() {
    let tls_dir = tempfile::tempdir().unwrap();
    let (source, target) = hand_pair_seeds();
    let options = trickle_c2id_sim::Options {
        tls: Some(trickle_emulator::TlsOptions {
            dir: Some(tls_dir.path().to_path_buf()),
        }),
        ..trickle_c2id_sim::Options::default()
    };
    let tls = trickle_c2id_sim::C2idSim::start_local(seed(&source), options)
        .await
        .unwrap();
    let plain = trickle_c2id_sim::C2idSim::start_local(seed(&target), Default::default())
        .await
        .unwrap();
    let source_end = trickle_c2id::Endpoint {
        issuer: tls.issuer().replace("https://", "http://"),
        tokens: tokens(SOURCE_TOKENS),
        version: None,
    };
    let target_end = trickle_c2id::Endpoint {
        issuer: plain.issuer().to_owned(),
        tokens: tokens(TARGET_TOKENS),
        version: None,
    };
    let mut http = fast_http();
    http.retry.first_delay = Duration::from_millis(300);
    http.retry.max_delay = Duration::from_secs(3);
    let started = Instant::now();
    let (report, _) =
        trickle_c2id::preflight(&source_end, &target_end, &Phase::ALL, false, http).await;
    assert!(started.elapsed() < Duration::from_secs(2), "not retried");
    assert!(
        report.refusals.iter().any(|r| r.contains("https://")),
        "{:?}",
        report.refusals
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_client_members_are_masked_in_samples_and_echoed_errors() {
    let (mut source, target) = hand_pair_seeds();
    let custom = json!({"data": {"note": "customDataNotReal0123"}, "private_key": "privKeyNotReal0123456",
                        "api_key": "apiKeyNotReal0123456789", "x_internal": ["internalNotReal0123"]});
    for (name, value) in custom.as_object().unwrap() {
        source["clients"][1][name] = value.clone();
    }
    let hidden = [
        "customDataNotReal0123",
        "privKeyNotReal0123456",
        "apiKeyNotReal0123456789",
        "internalNotReal0123",
    ];
    // The target refuses spa, echoing what it was sent.
    let target_rule = rule(|request| {
        if request.is("POST", "/clients") && request.json()["preferred_client_id"] == "spa" {
            return Action::Reply(Reply::json(
                400,
                &json!({"error": "invalid_client_metadata",
                        "error_description": format!("cannot take {}", request.json())}),
            ));
        }
        Action::Forward
    });
    let pair = Pair::behind(seed(&source), seed(&target), None, Some(target_rule)).await;
    let mut run = pair.options();
    run.phases = vec![Phase::Clients];
    run.dry_run = true;
    let dry = pair.migrate(&run).await.unwrap();
    let sample = serde_json::to_string(&dry.samples).unwrap();
    // The first client listed (m2m) is the sample: show spa's instead.
    run.dry_run = false;
    let outcome = pair.migrate(&run).await.unwrap();
    let text = format!("{sample} {:?}", outcome.problems);
    assert!(text.contains("cannot take"), "{text}");
    for secret in hidden {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let masked = trickle_c2id::masking::masked(Phase::Clients, &source["clients"][1]);
    let shown = masked.to_string();
    for secret in hidden {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert_eq!(masked["client_id"], "spa");
    assert_eq!(masked["redirect_uris"], json!(["https://spa.example.com/"]));
}
