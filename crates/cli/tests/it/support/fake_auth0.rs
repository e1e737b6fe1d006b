//! Small fakes of Auth0's documented endpoints, for faults `trickle sim`
//! cannot play: each test builds the routes it needs from the answers here
//! (shaped as Auth0 documents them: the Authentication API's
//! `{error, error_description}`, the Management API's `{statusCode, error,
//! message, errorCode}`, `x-ratelimit-*` on a 429), and the fake records
//! every request it answered.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// A fake served on loopback by a runtime of its own (the CLI under test
/// runs beside it), with the requests it answered: `METHOD /path?query`.
pub struct Fake {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    /// Serves the routes `app` makes from the fake's own base URL.
    pub fn start(app: impl FnOnce(&str) -> Router) -> Fake {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let app = app(&base).layer(middleware::from_fn(move |request: Request, next: Next| {
            let log = log.clone();
            async move {
                let uri = request.uri();
                let line = format!(
                    "{} {}",
                    request.method(),
                    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
                );
                log.lock().unwrap().push(line);
                next.run(request).await
            }
        }));
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            base,
            requests,
            _runtime: runtime,
        }
    }

    /// Requests answered whose line starts with `prefix` (`"POST /oauth/token"`).
    pub fn count(&self, prefix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.starts_with(prefix))
            .count()
    }
}

/// `/.well-known/openid-configuration` of a tenant reached at `base`.
pub fn discovery(base: &str) -> Response {
    Json(json!({
        "issuer": format!("{base}/"),
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
    }))
    .into_response()
}

/// An unsigned JWT carrying `claims` (preflight reads claims, never
/// verifies them: the tenant that issued it is the one it talks to).
pub fn jwt(claims: Value) -> String {
    let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(json!({"alg": "RS256", "typ": "JWT"})),
        part(claims)
    )
}

/// A client-credentials token for `audience` with `scopes`.
pub fn management_token(audience: &str, scopes: &str) -> Response {
    let token = jwt(json!({"aud": audience, "scope": scopes, "gty": "client-credentials"}));
    Json(json!({"access_token": token, "scope": scopes, "expires_in": 86400, "token_type": "Bearer"}))
        .into_response()
}

/// An Authentication API error (`/oauth/token`).
pub fn auth_error(status: u16, error: &str, description: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// A Management API error.
pub fn management_error(status: u16, error: &str, message: &str, code: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"statusCode": status, "error": error, "message": message, "errorCode": code})),
    )
        .into_response()
}

/// A Management API 429 whose window resets `after_secs` from now.
pub fn rate_limited(after_secs: u64) -> Response {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + after_secs;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            ("x-ratelimit-limit", "2".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
        Json(json!({"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached", "errorCode": "too_many_requests"})),
    )
        .into_response()
}

/// A Management API answer with the rate-limit headers of a paid tenant.
pub fn management_ok(body: Value) -> Response {
    (
        [
            ("x-ratelimit-limit", "50"),
            ("x-ratelimit-remaining", "49"),
            ("x-ratelimit-reset", "0"),
        ],
        Json(body),
    )
        .into_response()
}
