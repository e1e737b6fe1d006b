//! A tiny stand-in for a tenant's import-job endpoints, following Auth0's
//! documented behaviour: client-credentials token, multipart upload (413
//! over the file limit, 429 past the concurrent-job limit, 201 with a job),
//! job status, job errors (`DUPLICATED_USER` for a user the connection
//! already holds), `GET /api/v2/users-by-email` (exact, needs `read:users`),
//! `x-ratelimit-reset` on every 429.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "m2m-client";
pub const CLIENT_SECRET: &str = "m2m-secret";
pub const CONNECTION_ID: &str = "con_test";
pub const CONNECTION_NAME: &str = "New-Users";

/// Knobs and records.
#[derive(Default)]
pub struct Tenant {
    pub base: String,
    /// Jobs pending or processing at once (Auth0: 2).
    pub job_limit: usize,
    pub file_limit: usize,
    /// Polls a job answers "pending" before it completes.
    pub polls_to_complete: u32,
    /// Every `n`th job poll is a 429 (0: never).
    pub poll_429_every: u32,
    /// The first token requests answered 429.
    pub token_429: u32,
    /// Users whose email contains this fail with DUPLICATED_USER.
    pub fail_marker: Option<String>,
    /// Jobs are marked failed instead of completed.
    pub fail_jobs: bool,
    /// The `n`th upload (1-based) makes its job, then answers only after
    /// this long (longer than the client waits: an upload cut mid-flight).
    pub slow_upload_answer: Option<(usize, Duration)>,
    /// The client's token lacks `read:users` (users-by-email answers 403).
    pub no_read_users: bool,

    pub jobs: HashMap<String, Job>,
    /// (external_id, file name, users) of every upload that made a job.
    pub uploads: Vec<(String, String, usize)>,
    pub created: Vec<Value>,
    pub rejected_429: u32,
    pub rejected_413: u32,
    pub max_active: usize,
    pub polls: u32,
    pub tokens: u32,
    /// `users-by-email` requests answered.
    pub lookups: u32,
}

pub struct Job {
    /// Creation order: time passes for the oldest job first.
    pub number: usize,
    pub status: &'static str,
    pub polls_left: u32,
    pub users: Vec<Value>,
    pub failed: Vec<Value>,
    pub summary: Value,
}

pub type Shared = Arc<Mutex<Tenant>>;

pub fn tenant() -> Tenant {
    Tenant {
        job_limit: 2,
        file_limit: 500_000,
        polls_to_complete: 2,
        ..Tenant::default()
    }
}

/// Serves `tenant` on loopback; returns its base URL and the shared state.
pub async fn serve(tenant: Tenant) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let shared = Arc::new(Mutex::new(Tenant {
        base: base.clone(),
        ..tenant
    }));
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/jobs/users-imports", post(create_import))
        .route("/api/v2/jobs/{id}", get(get_job))
        .route("/api/v2/jobs/{id}/errors", get(job_errors))
        .route("/api/v2/users-by-email", get(users_by_email))
        .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
        .with_state(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

fn too_many() -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            ("x-ratelimit-limit", "2".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", now.to_string()),
        ],
        Json(json!({"statusCode": 429, "error": "Too Many Requests", "message": "Too many requests"})),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "Bearer token-for-m2m-client")
}

async fn token(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut tenant = state.lock().unwrap();
    if tenant.token_429 > 0 {
        tenant.token_429 -= 1;
        return too_many();
    }
    let audience = format!("{}/api/v2/", tenant.base);
    if body["grant_type"] != "client_credentials"
        || body["client_id"] != CLIENT_ID
        || body["client_secret"] != CLIENT_SECRET
        || body["audience"] != audience.as_str()
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "access_denied", "error_description": "Unauthorized"})),
        )
            .into_response();
    }
    tenant.tokens += 1;
    Json(json!({"access_token": "token-for-m2m-client", "expires_in": 86400, "token_type": "Bearer"}))
        .into_response()
}

async fn create_import(
    State(state): State<Shared>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut users: Option<(String, Bytes)> = None;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "users" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            users = Some((file_name, field.bytes().await.unwrap()));
        } else {
            fields.insert(name, field.text().await.unwrap());
        }
    }
    let Accepted {
        id,
        external_id,
        slow,
    } = match accept_upload(&state, &fields, users) {
        Ok(accepted) => accepted,
        Err(refusal) => return *refusal,
    };
    if let Some(wait) = slow {
        tokio::time::sleep(wait).await;
    }
    (
        StatusCode::CREATED,
        Json(
            json!({"id": id, "status": "pending", "type": "users_import",
                    "connection_id": CONNECTION_ID, "external_id": external_id}),
        ),
    )
        .into_response()
}

async fn get_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut guard = state.lock().unwrap();
    let tenant = &mut *guard;
    tenant.polls += 1;
    if tenant.poll_429_every > 0 && tenant.polls.is_multiple_of(tenant.poll_429_every) {
        return too_many();
    }
    if !tenant.jobs.contains_key(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"statusCode": 404, "message": "The job does not exist."})),
        )
            .into_response();
    }
    // A poll is time passing: every pending job moves on, the oldest first
    // (whoever polls it, and whether or not anyone knows its id).
    let mut pending: Vec<(usize, String)> = tenant
        .jobs
        .iter()
        .filter(|(_, job)| job.status == "pending")
        .map(|(id, job)| (job.number, id.clone()))
        .collect();
    pending.sort();
    for (_, pending_id) in pending {
        advance(tenant, &pending_id);
    }
    let job = &tenant.jobs[&id];
    let mut answer = json!({"id": id, "status": job.status, "type": "users_import", "connection_id": CONNECTION_ID});
    if job.status == "completed" {
        answer["summary"] = job.summary.clone();
    }
    Json(answer).into_response()
}

/// One step of a pending job; at the end its users are imported (refused
/// as `DUPLICATED_USER` when the connection holds their email already).
fn advance(tenant: &mut Tenant, id: &str) {
    let fail_marker = tenant.fail_marker.clone();
    let fail_jobs = tenant.fail_jobs;
    let job = tenant.jobs.get_mut(id).expect("a known job");
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return;
    }
    if fail_jobs {
        job.status = "failed";
        return;
    }
    let users = std::mem::take(&mut job.users);
    let mut failed = Vec::new();
    let mut inserted = 0;
    for user in users {
        let email = user["email"].as_str().unwrap_or_default().to_owned();
        let marked = fail_marker
            .as_deref()
            .is_some_and(|marker| email.contains(marker));
        let exists = tenant.created.iter().any(|u| u["email"] == email.as_str());
        if marked || exists {
            failed.push(json!({"user": user, "errors": [{"code": "DUPLICATED_USER", "message": "The user already exist."}]}));
        } else {
            tenant.created.push(user);
            inserted += 1;
        }
    }
    let job = tenant.jobs.get_mut(id).expect("a known job");
    let total = failed.len() + inserted;
    job.summary =
        json!({"failed": failed.len(), "updated": 0, "inserted": inserted, "total": total});
    job.failed = failed;
    job.status = "completed";
}

#[derive(serde::Deserialize)]
pub struct EmailQuery {
    email: String,
}

/// `GET /api/v2/users-by-email?email=`: exact, every connection, users as
/// the Management API shows them.
async fn users_by_email(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<EmailQuery>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut tenant = state.lock().unwrap();
    if tenant.no_read_users {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"statusCode": 403, "error": "Forbidden",
                "message": "Insufficient scope, expected any of: read:users", "errorCode": "insufficient_scope"})),
        )
            .into_response();
    }
    tenant.lookups += 1;
    let found: Vec<Value> = tenant
        .created
        .iter()
        .filter(|u| u["email"] == query.email.as_str())
        .map(|u| {
            let raw = u["user_id"].as_str().unwrap_or_default();
            json!({
                "user_id": format!("auth0|{raw}"),
                "email": u["email"],
                "identities": [{"provider": "auth0", "connection": CONNECTION_NAME, "user_id": raw, "isSocial": false}],
            })
        })
        .collect();
    Json(Value::Array(found)).into_response()
}

async fn job_errors(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let tenant = state.lock().unwrap();
    match tenant.jobs.get(&id) {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(job) if job.failed.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Some(job) => Json(Value::Array(job.failed.clone())).into_response(),
    }
}

/// An upload that made a job.
struct Accepted {
    id: String,
    external_id: String,
    /// How long to hold its answer back.
    slow: Option<Duration>,
}

/// Takes an upload under the lock, or refuses it.
fn accept_upload(
    state: &Shared,
    fields: &HashMap<String, String>,
    users: Option<(String, Bytes)>,
) -> Result<Accepted, Box<Response>> {
    let mut tenant = state.lock().unwrap();
    let Some((file_name, data)) = users else {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "users file missing"})),
            )
                .into_response(),
        ));
    };
    if data.len() > tenant.file_limit {
        tenant.rejected_413 += 1;
        return Err(Box::new(
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"statusCode": 413, "message": "File too large"})),
            )
                .into_response(),
        ));
    }
    if fields.get("connection_id").map(String::as_str) != Some(CONNECTION_ID) {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "connection not found"})),
            )
                .into_response(),
        ));
    }
    let active = tenant
        .jobs
        .values()
        .filter(|job| job.status == "pending")
        .count();
    if active >= tenant.job_limit {
        tenant.rejected_429 += 1;
        return Err(Box::new(too_many()));
    }
    let users: Vec<Value> = match serde_json::from_slice(&data) {
        Ok(users) => users,
        Err(_) => {
            return Err(Box::new(
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"message": "not a JSON array"})),
                )
                    .into_response(),
            ))
        }
    };
    let number = tenant.jobs.len() + 1;
    let id = format!("job_{number}");
    let external_id = fields.get("external_id").cloned().unwrap_or_default();
    tenant
        .uploads
        .push((external_id.clone(), file_name, users.len()));
    let polls_left = tenant.polls_to_complete;
    tenant.jobs.insert(
        id.clone(),
        Job {
            number,
            status: "pending",
            polls_left,
            users,
            failed: Vec::new(),
            summary: Value::Null,
        },
    );
    tenant.max_active = tenant.max_active.max(active + 1);
    let slow = match tenant.slow_upload_answer {
        Some((n, wait)) if n == tenant.uploads.len() => Some(wait),
        _ => None,
    };
    Ok(Accepted {
        id,
        external_id,
        slow,
    })
}
