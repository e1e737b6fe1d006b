//! Bulk user import jobs: `POST /api/v2/jobs/users-imports` (multipart),
//! processed in the background after a short delay, then
//! `GET /api/v2/jobs/{id}` and `GET /api/v2/jobs/{id}/errors`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::auth::authorize;
use crate::clock;
use crate::custom_hash::PasswordHash;
use crate::records::{Job, JobStatus, Summary};
use crate::reply::{api_error, json};
use crate::state::{lock, AppState};
use crate::store::{merge_metadata, NewUser, Tenant, User};
use crate::text::{is_email, random_token};

/// Auth0's limit on one users file.
pub const MAX_FILE_BYTES: usize = 500_000;
/// Import jobs a tenant may have pending or processing at once.
pub const MAX_ACTIVE_JOBS: usize = 2;
/// The whole multipart request may be larger than the file limit (so that
/// an oversized file gets Auth0's 413, not a transport error).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// `app_metadata` keys an import refuses.
const RESERVED_APP_METADATA: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email",
    "email_verified",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "updated_at",
    "user_id",
];

const CUSTOM_HASH_ALGORITHMS: &[&str] = &[
    "argon2", "bcrypt", "hmac", "ldap", "md4", "md5", "sha1", "sha256", "sha512", "pbkdf2",
    "scrypt",
];

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

/// `POST /api/v2/jobs/users-imports`.
pub async fn create_import(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Err(response) = authorize(&state, request.headers(), &["create:users"]) {
        return *response;
    }
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(_) => return invalid_body("the body must be multipart/form-data"),
    };
    let mut file: Option<Vec<u8>> = None;
    let mut oversized = false;
    let mut fields = HashMap::new();
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
            Err(_) => return invalid_body("the multipart body cannot be read"),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    // Keep reading past the limit (the client is still
                    // sending) but keep nothing more.
                    if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                        oversized |= name == "users";
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return too_large()
                }
                Err(_) => return invalid_body("the multipart body cannot be read"),
            }
        }
        if name == "users" {
            file = Some(bytes);
        } else {
            fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if oversized {
        return too_large();
    }
    let Some(file) = file else {
        return invalid_body("'Missing required property: users'.");
    };
    let Some(connection_id) = fields
        .get("connection_id")
        .filter(|c| !c.is_empty())
        .cloned()
    else {
        return invalid_body("'Missing required property: connection_id'.");
    };
    let upsert = match boolean_field(&fields, "upsert", false) {
        Ok(value) => value,
        Err(response) => return *response,
    };
    let send_completion_email = match boolean_field(&fields, "send_completion_email", true) {
        Ok(value) => value,
        Err(response) => return *response,
    };

    let job = {
        let mut tenant = lock(&state.tenant);
        let Some(connection) = tenant.connection_by_id(&connection_id).cloned() else {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("The connection does not exist: {connection_id}"),
                Some("inexistent_connection"),
            );
        };
        let active = tenant
            .jobs
            .values()
            .filter(|j| j.status.is_active())
            .count();
        if active >= MAX_ACTIVE_JOBS {
            return api_error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "There are already {active} pending or processing import jobs in this tenant; \
                     wait for one to finish before starting another."
                ),
                Some("too_many_requests"),
            );
        }
        let job = Job {
            id: format!("job_{}", random_token(16)),
            status: JobStatus::Pending,
            created_at: clock::now_iso(),
            connection_id,
            connection: connection.name,
            upsert,
            external_id: fields.get("external_id").filter(|e| !e.is_empty()).cloned(),
            send_completion_email,
            summary: Summary::default(),
            errors: Vec::new(),
            status_details: None,
        };
        tenant.job_order.push(job.id.clone());
        tenant.jobs.insert(job.id.clone(), job.clone());
        job
    };
    tokio::spawn(run(state.clone(), job.id.clone(), Bytes::from(file)));
    json(StatusCode::CREATED, job.to_json())
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

fn problem(code: &str, message: impl Into<String>, path: &str) -> Value {
    let mut error = json!({"code": code, "message": message.into()});
    if !path.is_empty() {
        error["path"] = Value::String(path.to_owned());
    }
    error
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    bytes.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$"))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/')
}

/// Keys (at any depth) that MongoDB-style storage refuses.
fn bad_keys(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                let path = format!("{prefix}.{key}");
                if key.contains('.') || key.contains('$') {
                    out.push(path.clone());
                }
                bad_keys(child, &path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                bad_keys(item, &format!("{prefix}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The import schema (see auth0-facts.md): every problem of one user.
fn validate(user: &Value) -> Result<&Map<String, Value>, Vec<Value>> {
    let Some(object) = user.as_object() else {
        return Err(vec![problem(
            "INVALID_TYPE",
            format!("Expected type object but found type {}", type_name(user)),
            "",
        )]);
    };
    let mut problems = Vec::new();
    for (key, value) in object {
        let expected = match key.as_str() {
            "email" | "user_id" | "username" | "given_name" | "family_name" | "name"
            | "nickname" | "picture" | "password_hash" => "string",
            "email_verified" | "blocked" => "boolean",
            "app_metadata" | "user_metadata" | "custom_password_hash" => "object",
            "mfa_factors" => "array",
            _ => {
                problems.push(problem(
                    "OBJECT_ADDITIONAL_PROPERTIES",
                    format!("Additional properties not allowed: {key}"),
                    key,
                ));
                continue;
            }
        };
        if type_name(value) != expected {
            problems.push(problem(
                "INVALID_TYPE",
                format!(
                    "Expected type {expected} but found type {}",
                    type_name(value)
                ),
                key,
            ));
        }
    }
    match object.get("email") {
        None => problems.push(problem(
            "OBJECT_REQUIRED",
            "Missing required property: email",
            "email",
        )),
        Some(Value::String(email)) if !is_email(email) => problems.push(problem(
            "INVALID_FORMAT",
            format!(
                "Error in email property - Object didn't pass validation for format email: {email}"
            ),
            "email",
        )),
        _ => {}
    }
    if let Some(Value::String(id)) = object.get("user_id") {
        if id.is_empty() {
            problems.push(problem(
                "MIN_LENGTH",
                "String is too short (0 chars), minimum 1",
                "user_id",
            ));
        } else if id.starts_with("auth0|") {
            problems.push(problem(
                "PATTERN",
                format!(
                    "user_id {id:?} starts with auth0|: the import adds that prefix itself \
                     (strip it from ids exported from Auth0, or the user becomes auth0|auth0|…)"
                ),
                "user_id",
            ));
        }
    }
    if let Some(Value::String(hash)) = object.get("password_hash") {
        if !is_bcrypt(hash) {
            problems.push(problem(
                "PATTERN",
                "password_hash must be a bcrypt hash ($2a$ or $2b$)",
                "password_hash",
            ));
        }
    }
    if object.contains_key("password_hash") && object.contains_key("custom_password_hash") {
        problems.push(problem(
            "CONFLICT",
            "password_hash and custom_password_hash cannot both be given",
            "custom_password_hash",
        ));
    }
    if let Some(Value::Object(custom)) = object.get("custom_password_hash") {
        match custom.get("algorithm").and_then(Value::as_str) {
            Some(algorithm) if CUSTOM_HASH_ALGORITHMS.contains(&algorithm) => {}
            Some(algorithm) => problems.push(problem(
                "ENUM_MISMATCH",
                format!("No enum match for: {algorithm}"),
                "custom_password_hash.algorithm",
            )),
            None => problems.push(problem(
                "OBJECT_REQUIRED",
                "Missing required property: algorithm",
                "custom_password_hash.algorithm",
            )),
        }
        if custom
            .get("hash")
            .and_then(|h| h.get("value"))
            .and_then(Value::as_str)
            .is_none()
        {
            problems.push(problem(
                "OBJECT_REQUIRED",
                "Missing required property: value",
                "custom_password_hash.hash.value",
            ));
        }
        for (code, message, path) in crate::custom_hash::import_problems(custom) {
            problems.push(problem(code, message, &path));
        }
    }
    if let Some(Value::Object(metadata)) = object.get("app_metadata") {
        for key in metadata
            .keys()
            .filter(|k| RESERVED_APP_METADATA.contains(&k.as_str()))
        {
            problems.push(problem(
                "NOT_PASSED",
                format!("app_metadata must not contain the reserved key {key:?}"),
                &format!("app_metadata.{key}"),
            ));
        }
    }
    for field in ["app_metadata", "user_metadata"] {
        if let Some(metadata) = object.get(field) {
            let mut bad = Vec::new();
            bad_keys(metadata, field, &mut bad);
            for path in bad {
                problems.push(problem(
                    "PATTERN",
                    "Metadata field names must not contain '.' or '$'",
                    &path,
                ));
            }
        }
    }
    if let Some(Value::Array(factors)) = object.get("mfa_factors") {
        for (i, factor) in factors.iter().enumerate() {
            let known = factor.as_object().is_some_and(|f| {
                f.len() == 1
                    && ["totp", "phone", "email"]
                        .iter()
                        .any(|k| f.contains_key(*k))
            });
            if !known {
                problems.push(problem(
                    "MFA_FACTORS_FAILED",
                    "Each MFA factor must be one of {\"totp\": …}, {\"phone\": …}, {\"email\": …}",
                    &format!("mfa_factors[{i}]"),
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(object)
    } else {
        Err(problems)
    }
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
    if let Some(raw) = text(object, "user_id") {
        if let Some(other) = tenant.find_by_user_id(&format!("auth0|{raw}")) {
            if Some(other) != existing {
                return Err(duplicated("A user with this user_id already exists."));
            }
        }
    }
    if let Some(username) = text(object, "username") {
        if let Some(other) = tenant.find_by_username(&job.connection, &username) {
            if Some(other) != existing {
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
    }
    let mfa = object
        .get("mfa_factors")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    match existing {
        Some(_) if !job.upsert => Err(duplicated("The user already exists.")),
        Some(index) => {
            // Upsert: given fields replace the stored ones (metadata whole,
            // not merged); email and user_id stay; email_verified falls back
            // to false unless given.
            let user = tenant.user_mut(index);
            user.email_verified = object
                .get("email_verified")
                .and_then(Value::as_bool)
                .unwrap_or(false);
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
                user.mfa = mfa;
            }
            user.touch();
            Ok(Imported::Updated)
        }
        None => {
            let raw_id = text(object, "user_id").unwrap_or_else(|| loop {
                let candidate: String = (0..24)
                    .map(|_| char::from_digit(fastrand::u32(0..16), 16).expect("hex digit"))
                    .collect();
                if tenant
                    .find_by_user_id(&format!("auth0|{candidate}"))
                    .is_none()
                {
                    break candidate;
                }
            });
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
                email_verified: object
                    .get("email_verified")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                username: text(object, "username"),
                name: text(object, "name"),
                nickname: text(object, "nickname"),
                given_name: text(object, "given_name"),
                family_name: text(object, "family_name"),
                picture: text(object, "picture"),
                app_metadata: metadata("app_metadata"),
                user_metadata: metadata("user_metadata"),
                blocked: object
                    .get("blocked")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                mfa,
                password_hash: login_hash(object),
                primary: None,
            }));
            Ok(Imported::Inserted)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(user: Value) -> Vec<String> {
        match validate(&user) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| p["code"].as_str().unwrap_or_default().to_owned())
                .collect(),
        }
    }

    #[test]
    fn schema_problems_are_named() {
        let hash = bcrypt::hash("pw", 4).expect("hash");
        assert!(codes(json!({"email": "a@example.com", "password_hash": hash})).is_empty());
        assert_eq!(codes(json!({"name": "x"})), ["OBJECT_REQUIRED"]);
        assert_eq!(
            codes(json!({"email": "a@example.com", "password": "x"})),
            ["OBJECT_ADDITIONAL_PROPERTIES"]
        );
        assert_eq!(codes(json!({"email": "nope"})), ["INVALID_FORMAT"]);
        assert_eq!(
            codes(json!({"email": "a@example.com", "blocked": "no"})),
            ["INVALID_TYPE"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "user_id": "auth0|1"})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "password_hash": "md5:x"})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "app_metadata": {"blocked": true, "ok": 1}})),
            ["NOT_PASSED"]
        );
        assert_eq!(
            codes(json!({"email": "a@example.com", "user_metadata": {"a": {"b.c": 1}}})),
            ["PATTERN"]
        );
        assert_eq!(
            codes(
                json!({"email": "a@example.com", "custom_password_hash": {"algorithm": "rot13", "hash": {"value": "x"}}})
            ),
            ["ENUM_MISMATCH"]
        );
        assert_eq!(codes(json!([1])), ["INVALID_TYPE"]);
    }
}
