//! `import`'s token handling against tenants that never let it have one
//! that works: every loop on the token is bounded (a token endpoint that
//! answers 429 for ever, a Management API that answers 401 to every fresh
//! token), and nothing the token endpoint echoes back shows the secret, in
//! any form.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;
use trickle_bulk::import::{run_import, ImportError, ImportOptions, ImportOutcome};
use trickle_bulk::{plan, PlanOptions};
use trickle_core::Policy;

const SECRET: &str = "bulk/secret+never shown&\"é";

/// A plan of one small file.
fn make_plan(dir: &Path) -> PathBuf {
    let input = dir.join("export.json");
    fs::write(
        &input,
        json!({"user_id": "auth0|u1", "email": "u1@example.com"}).to_string(),
    )
    .unwrap();
    let out = dir.join("plan");
    let options = PlanOptions::new(
        input,
        out.clone(),
        "Username-Password-Authentication".into(),
        "import".into(),
        Policy::default(),
    );
    plan(&options, &mut |_| {}).unwrap();
    out
}

/// A tenant whose every answer comes from `answer`; counts token requests
/// and the others.
#[derive(Clone)]
struct Hostile {
    tokens: Arc<AtomicUsize>,
    others: Arc<AtomicUsize>,
    answer: fn(bool) -> Response,
}

async fn serve(answer: fn(bool) -> Response) -> (String, Hostile) {
    let hostile = Hostile {
        tokens: Arc::new(AtomicUsize::new(0)),
        others: Arc::new(AtomicUsize::new(0)),
        answer,
    };
    let app = Router::new()
        .route("/oauth/token", post(token))
        .fallback(other)
        .with_state(hostile.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hostile)
}

async fn token(State(hostile): State<Hostile>, _body: Bytes) -> Response {
    hostile.tokens.fetch_add(1, Ordering::SeqCst);
    (hostile.answer)(true)
}

async fn other(State(hostile): State<Hostile>, _uri: Uri, _body: Bytes) -> Response {
    hostile.others.fetch_add(1, Ordering::SeqCst);
    (hostile.answer)(false)
}

fn options(base: &str) -> ImportOptions {
    let mut options = ImportOptions::new(base, "m2m", SECRET, "con_test");
    options.poll_interval = Duration::from_millis(10);
    options.max_wait = Duration::from_millis(300);
    options
}

/// The run, which must end within `limit` whatever the tenant does.
async fn import_within(
    plan: &Path,
    options: &ImportOptions,
    limit: Duration,
) -> Result<ImportOutcome, ImportError> {
    let (_stop, stop) = watch::channel(false);
    let mut events = |_: trickle_bulk::import::Event<'_>| {};
    let run = run_import(plan, options, &mut events, stop);
    tokio::time::timeout(limit, run)
        .await
        .expect("the import loops on its token instead of stopping")
}

/// Auth0's rate-limit answer, the reset already past (the shortest wait).
fn rate_limited(_token: bool) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("x-ratelimit-reset", now.to_string())],
        Json(json!({"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached"})),
    )
        .into_response()
}

#[tokio::test]
async fn a_token_endpoint_that_rate_limits_for_ever_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path());
    let (base, hostile) = serve(rate_limited).await;
    let started = Instant::now();
    let error = import_within(&plan, &options(&base), Duration::from_secs(30))
        .await
        .expect_err("no token, no import");
    let message = error.to_string();
    assert!(message.contains("429"), "{message}");
    assert!(
        hostile.tokens.load(Ordering::SeqCst) <= 10,
        "{} token requests",
        hostile.tokens.load(Ordering::SeqCst)
    );
    assert_eq!(hostile.others.load(Ordering::SeqCst), 0);
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Tokens are issued; every other call says they are not valid.
fn refuses_every_token(token: bool) -> Response {
    if token {
        Json(json!({"access_token": "a-token", "expires_in": 86400, "token_type": "Bearer"}))
            .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"})),
        )
            .into_response()
    }
}

#[tokio::test]
async fn a_management_api_that_refuses_every_token_renews_it_once_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path());
    let (base, hostile) = serve(refuses_every_token).await;
    let outcome = import_within(&plan, &options(&base), Duration::from_secs(30)).await;
    let tokens = hostile.tokens.load(Ordering::SeqCst);
    let others = hostile.others.load(Ordering::SeqCst);
    assert!(
        tokens <= 2 && others <= 2,
        "{tokens} tokens, {others} calls"
    );
    match outcome {
        Ok(outcome) => {
            assert!(!outcome.is_clean());
            assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
            assert!(outcome.failed[0].message.contains("401"), "{outcome:?}");
        }
        Err(error) => assert!(error.to_string().contains("401"), "{error}"),
    }
}

/// A token endpoint that quotes the request back in every form an echo
/// may take.
fn echoes_the_secret(_token: bool) -> Response {
    let url = "bulk%2Fsecret%2Bnever%20shown%26%22%C3%A9";
    let json = r#"bulk\/secret+never shown&\"\u00e9"#;
    let base64 = "YnVsay9zZWNyZXQrbmV2ZXIgc2hvd24mIsOp";
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({
            "error": "access_denied",
            "error_description": format!("bad client_secret={url} {json} {base64} {SECRET}"),
        })),
    )
        .into_response()
}

#[tokio::test]
async fn what_the_token_endpoint_echoes_never_shows_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path());
    let (base, _) = serve(echoes_the_secret).await;
    let error = import_within(&plan, &options(&base), Duration::from_secs(30))
        .await
        .expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("***"), "{message}");
    for piece in ["bulk", "never", "c2VjcmV0", "YnVsay9"] {
        assert!(!message.contains(piece), "{piece} shown: {message}");
    }
}
