//! `bulk unmark` against an old tenant whose Management API refuses every
//! token it issues (HTTP 401): the token is renewed once, then the run
//! stops, exit 1, naming the cause, with its report written; it never
//! loops on the token endpoint.

use crate::support;

use std::fs;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::Value;
use support::fake_auth0::{management_error, management_token, Fake};
use support::run::{text, trickle};

const SECRET: &str = "unmark-token-test-secret-2b9f";

#[test]
fn a_management_api_that_refuses_every_token_stops_the_run_after_one_renewal() {
    let old = Fake::start(|base| {
        let audience = format!("{base}/api/v2/");
        Router::new()
            .route(
                "/oauth/token",
                post(move || {
                    let audience = audience.clone();
                    async move { management_token(&audience, "read:users update:users") }
                }),
            )
            .fallback(|| async {
                management_error(
                    401,
                    "Unauthorized",
                    "Expired token received for JSON Web Token validation",
                    "invalid_token",
                )
            })
    });
    let plan = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..3)
        .map(|n| {
            format!(
                r#"{{"line":{n},"user_id":"auth0|u{n}","marked_at":"2026-01-01T00:00:00.000Z"}}"#
            )
        })
        .collect();
    fs::write(
        plan.path().join("marked-not-in-new-tenant.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let output = trickle(
        &[
            "bulk",
            "unmark",
            "--plan",
            plan.path().to_str().unwrap(),
            "--domain",
            &old.base,
            "--client-id",
            "scripts",
        ],
        &[("TRICKLE_OLD_CLIENT_SECRET", SECRET)],
        Duration::from_secs(30),
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("401"), "{shown}");
    assert!(shown.contains("renewed"), "the cause is named: {shown}");
    assert!(!shown.contains(SECRET));
    let tokens = old.count("POST /oauth/token");
    assert_eq!(tokens, 2, "one token, one renewal: {tokens}");
    assert!(old.count("GET /api/v2/users/") <= 2);
    let report: Value =
        serde_json::from_slice(&fs::read(plan.path().join("unmark-report.json")).unwrap()).unwrap();
    assert_eq!(report["cleared"], 0, "{report}");
    assert!(
        report["stopped"].as_str().unwrap().contains("401"),
        "{report}"
    );
}
