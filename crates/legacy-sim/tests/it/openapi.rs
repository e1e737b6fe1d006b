//! `docs/legacy-api.openapi.yaml` and the emulator cannot drift apart: the
//! routes it serves are exactly the document's operations, and every
//! status the document lists for an operation is one the emulator is made
//! to answer here (a status documented but never answered fails).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Answer, Env};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use trickle_legacy_sim::{Faults, ROUTES};

fn document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/legacy-api.openapi.yaml"
    );
    let text = std::fs::read_to_string(path).expect("the OpenAPI file");
    serde_norway::from_str(&text).expect("valid YAML")
}

/// `(METHOD, path) → documented statuses`.
fn operations(document: &Value) -> BTreeMap<(String, String), BTreeSet<u16>> {
    let mut operations = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let statuses = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(|code| code.parse().expect("numeric status codes only"))
                .collect();
            operations.insert((method.to_uppercase(), path.clone()), statuses);
        }
    }
    operations
}

#[test]
fn the_document_is_openapi_3_1_with_its_security_scheme_and_schemas() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["components"]["securitySchemes"]["newTenantToken"]["scheme"],
        "bearer"
    );
    assert_eq!(document["security"], json!([{"newTenantToken": []}]));
    for schema in ["User", "Error", "ExportRecord", "PasswordHash"] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
    let algorithms =
        &document["components"]["schemas"]["PasswordHash"]["properties"]["algorithm"]["enum"];
    assert_eq!(*algorithms, json!(trickle_legacy_sim::ALGORITHMS));
}

#[test]
fn the_routes_served_are_the_documents_operations() {
    let documented: BTreeSet<(String, String)> = operations(&document()).into_keys().collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(served, documented);
}

/// A request ready to send: method, path, bearer token, JSON body.
struct Request {
    method: Method,
    path: String,
    token: Option<String>,
    body: Option<Value>,
}

impl Request {
    async fn send(self, env: &Env) -> Answer {
        env.call(self.method, &self.path, self.token.as_deref(), self.body)
            .await
    }
}

/// The request that makes the emulator answer `status` to `method path`,
/// as a client would send it.
async fn request_for(env: &Env, method: &str, path: &str, status: u16) -> Request {
    let token = env.migration_token().await;
    let reader = env.token("reader", common::API).await;
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let marked = "2026-01-02T03:04:05Z";
    let (id, token, body) = match (method.as_str(), status) {
        (_, 401) => ("u-1", None, None),
        ("POST", 200) => (
            "",
            Some(&token),
            Some(json!({"username": "ada", "password": "ada-pw"})),
        ),
        ("POST", 403) => (
            "",
            Some(&token),
            Some(json!({"username": "ada", "password": "no"})),
        ),
        ("POST", 404) => (
            "",
            Some(&token),
            Some(json!({"username": "nobody", "password": "no"})),
        ),
        ("POST", 423) => (
            "",
            Some(&token),
            Some(json!({"username": "blocked@example.com", "password": "blocked-pw"})),
        ),
        ("POST", 500) => (
            "",
            Some(&token),
            Some(json!({"username": "twice@example.com", "password": "one"})),
        ),
        ("POST", _) => ("", Some(&token), Some(json!({"username": "ada"}))),
        (_, 404) => (
            "u-99",
            Some(&token),
            Some(json!({"migrated_at": marked, "expected_migrated_at": marked})),
        ),
        ("PUT" | "DELETE", 403) => (
            "u-4",
            Some(&reader),
            Some(json!({"migrated_at": marked, "expected_migrated_at": marked})),
        ),
        ("PUT", 409) => (
            "u-4",
            Some(&token),
            Some(json!({"migrated_at": "2026-05-05T00:00:00Z"})),
        ),
        ("DELETE", 409) => (
            "u-4",
            Some(&token),
            Some(json!({"expected_migrated_at": "2026-05-05T00:00:00Z"})),
        ),
        ("PUT" | "DELETE", 400) => ("u-4", Some(&token), Some(json!({}))),
        ("PUT", _) => ("u-1", Some(&token), Some(json!({"migrated_at": marked}))),
        ("DELETE", _) => (
            "u-4",
            Some(&token),
            Some(json!({"expected_migrated_at": marked})),
        ),
        _ => ("u-1", Some(&token), None),
    };
    let mut path = path.replace("{id}", id);
    if method == Method::GET && path == "/users" && status != 400 {
        path.push_str("?email=ada%40example.com");
    }
    Request {
        method,
        path,
        token: token.cloned(),
        body,
    }
}

/// `method path` sent once this second's one request is spent. The limit's
/// windows are UNIX seconds: a window that turns between the spending and
/// the request (a stalled machine) is tried again, with a fresh store (a
/// mark the request made is undone), at most three times.
async fn provoke_rate_limit(method: &str, path: &str) -> Answer {
    let mut answer = None;
    for _ in 0..3 {
        let env = Env::start().await;
        let spender = env.migration_token().await;
        env.control(Method::PUT, "rate-limit", json!({"rps": 1}))
            .await;
        let request = request_for(&env, method, path, 429).await;
        // Spend the window: until a request is refused (the first, or the
        // second if the first opened a window).
        for _ in 0..3 {
            let spent = env.call(Method::GET, "/users/u-1", Some(&spender), None);
            if spent.await.status == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
        }
        let sent = request.send(&env).await;
        if sent.status == StatusCode::TOO_MANY_REQUESTS {
            return sent;
        }
        answer = Some(sent);
    }
    answer.expect("three tries")
}

/// Makes the emulator answer `status` to `method path`, as a client would.
async fn provoke(method: &str, path: &str, status: u16) -> Answer {
    if status == 429 {
        return provoke_rate_limit(method, path).await;
    }
    // A fresh store for each answer: marks change it.
    let env = Env::start().await;
    if status == 503 {
        let only = Some(format!("{method} /users"));
        let faults = Faults {
            error_ratio: 1.0,
            only,
            ..Faults::default()
        };
        env.legacy.set_faults(faults).unwrap();
    }
    request_for(&env, method, path, status)
        .await
        .send(&env)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_is_one_the_emulator_answers() {
    for ((method, path), statuses) in operations(&document()) {
        for status in statuses {
            let answer = provoke(&method, &path, status).await;
            assert_eq!(
                answer.status,
                StatusCode::from_u16(status).unwrap(),
                "{method} {path}: {:?}",
                answer.body
            );
            if status >= 400 {
                assert!(
                    answer.body["error"].is_string(),
                    "{method} {path} {status}: {:?}",
                    answer.body
                );
            }
        }
    }
}
