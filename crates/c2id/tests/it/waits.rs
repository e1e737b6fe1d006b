//! Every wait is bounded and visible: a server that asks for hours of
//! `Retry-After` costs a request at most its wait budget, a long wait is
//! announced, and a listing that drips bytes without ever completing a
//! record is given up.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use trickle_c2id::Phase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_asking_for_an_hour_costs_a_record_its_wait_budget_and_is_announced() {
    let target_rule = rule(|request| {
        if request.is("POST", "/authorizations") {
            return Action::Reply(
                Reply::json(429, &json!({"error": "too_many_requests"}))
                    .with_header("retry-after", "3600"),
            );
        }
        Action::Forward
    });
    let pair = Pair::behind(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
        None,
        Some(target_rule),
    )
    .await;
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut run = pair.options();
    run.phases = vec![Phase::Clients, Phase::Authorizations];
    run.max_wait = Some(Duration::from_secs(2));
    run.notice_waits_over = Some(Duration::from_millis(500));
    run.notices = Some(notices.clone());
    let outcome = tokio::time::timeout(Duration::from_secs(30), pair.migrate(&run))
        .await
        .expect("bounded by the wait budget")
        .unwrap();
    let authz = &outcome.phases[1];
    assert_eq!((authz.created, authz.failed), (0, 3), "{outcome:#?}");
    let message = &outcome.problems[0].message;
    assert!(
        message.contains("429") && message.contains("wait"),
        "{message}"
    );
    let notices = notices.lock().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("429") && n.contains("target")),
        "{notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_drips_without_a_record_is_given_up() {
    let source_rule = rule(|request| {
        let listing = request.is("GET", "/sessions")
            && request.query.is_none()
            && request.header("sid").is_none();
        if !listing {
            return Action::Forward;
        }
        let drip = futures_util::stream::once(async { bytes::Bytes::from_static(b"{") }).chain(
            futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((bytes::Bytes::from_static(b" "), ()))
            }),
        );
        Action::Stream {
            status: 200,
            content_type: "application/json",
            body: drip.boxed(),
        }
    });
    let pair = Pair::behind(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
        Some(source_rule),
        None,
    )
    .await;
    let mut run = pair.options();
    run.stall_timeout = Some(Duration::from_secs(1));
    let result = tokio::time::timeout(Duration::from_secs(30), pair.migrate(&run))
        .await
        .expect("a listing without progress is given up");
    let text = match result {
        Ok(outcome) => format!("{outcome:?}"),
        Err(error) => error.to_string(),
    };
    assert!(text.contains("no progress"), "{text}");
    assert_eq!(
        pair.target.state().clients.len(),
        3,
        "the phases before it ran"
    );
}
