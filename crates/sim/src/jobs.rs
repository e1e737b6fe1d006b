//! Bulk user import jobs: `POST /api/v2/jobs/users-imports` (multipart),
//! processed in the background after a short delay, then
//! `GET /api/v2/jobs/{id}` and `GET /api/v2/jobs/{id}/errors`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::auth::authorize;
use crate::clock;
use crate::custom_hash::PasswordHash;
use crate::import_schema::{problem, validate};
use crate::records::{Job, JobStatus, Summary};
use crate::reply::{api_error, json};
use crate::state::{lock, AppState};
use crate::store::{merge_metadata, NewUser, Tenant, User};
use crate::text::random_token;

/// Auth0's limit on one users file.
pub const MAX_FILE_BYTES: usize = 500_000;
/// Import jobs a tenant may have pending or processing at once.
pub const MAX_ACTIVE_JOBS: usize = 2;
/// The whole multipart request may be larger than the file limit (so that
/// an oversized file gets Auth0's 413, not a transport error).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

fn invalid_body(message: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &format!("Payload validation error: {message}"),
        Some("invalid_body"),
    )
}

fn too_large() -> Response {
    api_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Payload content length greater than maximum allowed: {MAX_FILE_BYTES}"),
        None,
    )
}

fn boolean_field(
    fields: &HashMap<String, String>,
    name: &str,
    default: bool,
) -> Result<bool, Box<Response>> {
    match fields.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(Box::new(invalid_body(&format!(
            "'Expected type boolean' on property {name}."
        )))),
    }
}

/// `POST /api/v2/jobs/users-imports`: the form read, its fields checked,
/// a pending job recorded, then run in the background.
pub async fn create_import(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Err(response) = authorize(&state, request.headers(), &["create:users"]) {
        return *response;
    }
    let (file, fields) = match read_form(request).await {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let job = match import_request(&fields).and_then(|wanted| register(&state, wanted)) {
        Ok(job) => job,
        Err(response) => return *response,
    };
    tokio::spawn(run(state.clone(), job.id.clone(), Bytes::from(file)));
    json(StatusCode::CREATED, job.to_json())
}

/// The users file and the other fields of a multipart request: 413 when
/// the users file is over [`MAX_FILE_BYTES`], 400 when it is missing.
async fn read_form(request: Request) -> Result<(Vec<u8>, HashMap<String, String>), Box<Response>> {
    let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
        return Err(Box::new(invalid_body(
            "the body must be multipart/form-data",
        )));
    };
    let mut file = None;
    let mut oversized = false;
    let mut fields = HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        let (bytes, cut) = read_field(field).await?;
        if name == "users" {
            oversized |= cut;
            file = Some(bytes);
        } else {
            fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if oversized {
        return Err(Box::new(too_large()));
    }
    let Some(file) = file else {
        return Err(Box::new(invalid_body(
            "'Missing required property: users'.",
        )));
    };
    Ok((file, fields))
}

/// A field's first [`MAX_FILE_BYTES`] bytes, and whether it had more.
async fn read_field(mut field: Field<'_>) -> Result<(Vec<u8>, bool), Box<Response>> {
    let mut bytes = Vec::new();
    let mut cut = false;
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        // Keep reading past the limit (the client is still sending) but
        // keep nothing more.
        if bytes.len() + chunk.len() > MAX_FILE_BYTES {
            cut = true;
        } else {
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok((bytes, cut))
}

/// 413 when the request is over the transport's limit, else 400.
fn unreadable(error: MultipartError) -> Box<Response> {
    Box::new(if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        invalid_body("the multipart body cannot be read")
    })
}

/// The job a users-imports request asks for.
struct ImportRequest {
    connection_id: String,
    upsert: bool,
    send_completion_email: bool,
    external_id: Option<String>,
}

/// The request's fields, checked in the order Auth0 reports them.
fn import_request(fields: &HashMap<String, String>) -> Result<ImportRequest, Box<Response>> {
    let Some(connection_id) = fields
        .get("connection_id")
        .filter(|c| !c.is_empty())
        .cloned()
    else {
        return Err(Box::new(invalid_body(
            "'Missing required property: connection_id'.",
        )));
    };
    Ok(ImportRequest {
        connection_id,
        upsert: boolean_field(fields, "upsert", false)?,
        send_completion_email: boolean_field(fields, "send_completion_email", true)?,
        external_id: fields.get("external_id").filter(|e| !e.is_empty()).cloned(),
    })
}

/// Records a pending job in the tenant: 400 for an unknown connection,
/// 429 when [`MAX_ACTIVE_JOBS`] are pending or processing already.
fn register(state: &AppState, wanted: ImportRequest) -> Result<Job, Box<Response>> {
    let mut tenant = lock(&state.tenant);
    let Some(connection) = tenant.connection_by_id(&wanted.connection_id).cloned() else {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            &format!("The connection does not exist: {}", wanted.connection_id),
            Some("inexistent_connection"),
        )));
    };
    let active = tenant
        .jobs
        .values()
        .filter(|j| j.status.is_active())
        .count();
    if active >= MAX_ACTIVE_JOBS {
        return Err(Box::new(api_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "There are already {active} pending or processing import jobs in this tenant; \
                 wait for one to finish before starting another."
            ),
            Some("too_many_requests"),
        )));
    }
    let job = Job {
        id: format!("job_{}", random_token(16)),
        status: JobStatus::Pending,
        created_at: clock::now_iso(),
        connection_id: wanted.connection_id,
        connection: connection.name,
        upsert: wanted.upsert,
        external_id: wanted.external_id,
        send_completion_email: wanted.send_completion_email,
        summary: Summary::default(),
        errors: Vec::new(),
        status_details: None,
    };
    tenant.job_order.push(job.id.clone());
    tenant.jobs.insert(job.id.clone(), job.clone());
    Ok(job)
}

fn set_status(state: &AppState, id: &str, status: JobStatus) {
    if let Some(job) = lock(&state.tenant).jobs.get_mut(id) {
        job.status = status;
    }
}

/// Pending for half the delay, processing for the other half, then the
/// whole file is imported at once.
async fn run(state: Arc<AppState>, id: String, file: Bytes) {
    let first = state.job_delay / 2;
    tokio::time::sleep(first).await;
    set_status(&state, &id, JobStatus::Processing);
    tokio::time::sleep(state.job_delay.saturating_sub(first)).await;

    let mut tenant = lock(&state.tenant);
    let Some(job) = tenant.jobs.get(&id).cloned() else {
        return;
    };
    let users = match serde_json::from_slice::<Value>(&file) {
        Ok(Value::Array(users)) => users,
        Ok(_) => {
            return fail(
                &mut tenant,
                &id,
                "The users file must be a JSON array of user objects.",
            )
        }
        Err(error) => {
            return fail(
                &mut tenant,
                &id,
                &format!("The users file is not valid JSON: {error}."),
            )
        }
    };
    let mut summary = Summary {
        total: users.len() as u64,
        ..Summary::default()
    };
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for user in users {
        match import_one(&mut tenant, &job, &user, &mut seen) {
            Ok(Imported::Inserted) => summary.inserted += 1,
            Ok(Imported::Updated) => summary.updated += 1,
            Err(problems) => {
                summary.failed += 1;
                errors.push(json!({"user": user, "errors": problems}));
            }
        }
    }
    if let Some(job) = tenant.jobs.get_mut(&id) {
        job.status = JobStatus::Completed;
        job.summary = summary;
        job.errors = errors;
    }
}

fn fail(tenant: &mut Tenant, id: &str, details: &str) {
    if let Some(job) = tenant.jobs.get_mut(id) {
        job.status = JobStatus::Failed;
        job.status_details = Some(details.to_owned());
    }
}

enum Imported {
    Inserted,
    Updated,
}

fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// What a user logs in with: `password_hash` or `custom_password_hash`
/// (see `custom_hash` for which algorithms verify).
fn login_hash(object: &Map<String, Value>) -> Option<PasswordHash> {
    crate::custom_hash::from_import(object)
}

fn duplicated(message: &str) -> Vec<Value> {
    vec![problem("DUPLICATED_USER", message, "")]
}

/// One user of the file: checked against the schema and the tenant, then
/// inserted, or updated when the job upserts.
fn import_one(
    tenant: &mut Tenant,
    job: &Job,
    user: &Value,
    seen: &mut HashSet<String>,
) -> Result<Imported, Vec<Value>> {
    let object = validate(user)?;
    let email = text(object, "email").unwrap_or_default().to_lowercase();
    if !seen.insert(email.clone()) {
        return Err(duplicated(
            "A user with this email was already provided in this file.",
        ));
    }
    let existing = tenant.find_by_email(&job.connection, &email);
    check_taken(tenant, job, object, existing)?;
    match existing {
        Some(_) if !job.upsert => Err(duplicated("The user already exists.")),
        Some(index) => {
            update(tenant.user_mut(index), object);
            Ok(Imported::Updated)
        }
        None => {
            insert(tenant, job, object, email);
            Ok(Imported::Inserted)
        }
    }
}

/// Refuses a `user_id` or `username` another user of the tenant has
/// (`existing` is the user with this email, if any).
fn check_taken(
    tenant: &Tenant,
    job: &Job,
    object: &Map<String, Value>,
    existing: Option<usize>,
) -> Result<(), Vec<Value>> {
    let other_than = |found: Option<usize>| found.is_some_and(|other| Some(other) != existing);
    if let Some(raw) = text(object, "user_id") {
        if other_than(tenant.find_by_user_id(&format!("auth0|{raw}"))) {
            return Err(duplicated("A user with this user_id already exists."));
        }
    }
    if let Some(username) = text(object, "username") {
        if other_than(tenant.find_by_username(&job.connection, &username)) {
            return Err(if job.upsert {
                vec![problem(
                    "CONFLICT_USERNAME",
                    "The username is used by another user.",
                    "username",
                )]
            } else {
                duplicated("A user with this username already exists.")
            });
        }
    }
    Ok(())
}

/// Whether the user has at least one MFA factor.
fn has_mfa(object: &Map<String, Value>) -> bool {
    object
        .get("mfa_factors")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

fn flag(object: &Map<String, Value>, key: &str) -> bool {
    object.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Upsert: given fields replace the stored ones (metadata whole, not
/// merged); email and user_id stay; email_verified falls back to false
/// unless given.
fn update(user: &mut User, object: &Map<String, Value>) {
    user.email_verified = flag(object, "email_verified");
    for (key, slot) in [
        ("name", &mut user.name),
        ("nickname", &mut user.nickname),
        ("picture", &mut user.picture),
    ] {
        if let Some(value) = text(object, key) {
            *slot = value;
        }
    }
    for (key, slot) in [
        ("username", &mut user.username),
        ("given_name", &mut user.given_name),
        ("family_name", &mut user.family_name),
    ] {
        if let Some(value) = text(object, key) {
            *slot = Some(value);
        }
    }
    if let Some(blocked) = object.get("blocked").and_then(Value::as_bool) {
        user.blocked = blocked;
        user.blocked_shown = true;
    }
    for (key, slot) in [
        ("app_metadata", &mut user.app_metadata),
        ("user_metadata", &mut user.user_metadata),
    ] {
        if let Some(Value::Object(metadata)) = object.get(key) {
            slot.clear();
            merge_metadata(slot, metadata);
        }
    }
    if let Some(hash) = login_hash(object) {
        user.password_hash = Some(hash);
    }
    if object.contains_key("mfa_factors") {
        user.mfa = has_mfa(object);
    }
    user.touch();
}

/// A new user of the job's connection, its id the given one or a fresh one.
fn insert(tenant: &mut Tenant, job: &Job, object: &Map<String, Value>, email: String) {
    let raw_id = text(object, "user_id").unwrap_or_else(|| fresh_raw_id(tenant));
    let metadata = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    tenant.insert(User::new(NewUser {
        raw_id,
        connection: job.connection.clone(),
        email,
        email_verified: flag(object, "email_verified"),
        username: text(object, "username"),
        name: text(object, "name"),
        nickname: text(object, "nickname"),
        given_name: text(object, "given_name"),
        family_name: text(object, "family_name"),
        picture: text(object, "picture"),
        app_metadata: metadata("app_metadata"),
        user_metadata: metadata("user_metadata"),
        blocked: flag(object, "blocked"),
        mfa: has_mfa(object),
        password_hash: login_hash(object),
        primary: None,
    }));
}

/// 24 hex digits no user of the tenant has (`auth0|<id>`).
fn fresh_raw_id(tenant: &Tenant) -> String {
    loop {
        let candidate: String = (0..24)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("hex digit"))
            .collect();
        if tenant
            .find_by_user_id(&format!("auth0|{candidate}"))
            .is_none()
        {
            return candidate;
        }
    }
}

fn inexistent_job() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "The job does not exist.",
        Some("inexistent_job"),
    )
}

/// `GET /api/v2/jobs/{id}`.
pub async fn get_job(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["create:users", "read:users"]) {
        return *response;
    }
    let tenant = lock(&state.tenant);
    match (tenant.jobs.get(&id), tenant.exports.get(&id)) {
        (Some(job), _) => json(StatusCode::OK, job.to_json()),
        (None, Some(export)) => json(StatusCode::OK, export.to_json(&state.base_for(&headers))),
        (None, None) => inexistent_job(),
    }
}

/// `GET /api/v2/jobs/{id}/errors`: the failed users of a completed job (an
/// array, empty when none failed); for a job not completed (pending,
/// processing, or failed as a whole), the job itself, as Auth0 answers.
pub async fn job_errors(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["create:users", "read:users"]) {
        return *response;
    }
    match lock(&state.tenant).jobs.get(&id) {
        Some(job) if job.status == JobStatus::Completed => {
            json(StatusCode::OK, Value::Array(job.errors.clone()))
        }
        Some(job) => json(StatusCode::OK, job.to_json()),
        None => inexistent_job(),
    }
}
