//! The Management API subset: bearer-token checks with scopes, the rate
//! limit with its headers, and the user endpoints.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::auth::authorize;
use crate::custom_hash::PasswordHash;
use crate::reply::{api_error, json};
use crate::search;
use crate::state::{lock, AppState};
use crate::store::{merge_metadata, Tenant, User};
use crate::text::{is_email, query_map};

/// The most results a search pages through (`page`, `per_page`).
pub const MAX_SEARCH_RESULTS: usize = 1000;

/// Every Management API answer (429s included) carries the rate-limit
/// headers; past the limit the request is refused before anything else.
pub async fn rate_limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    trickle_emulator::rate_limit(
        &state.controls,
        request,
        next,
        |_| {
            api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Global limit has been reached",
                Some("too_many_requests"),
            )
        },
        |verdict, response| {
            let headers = response.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", u64::from(verdict.limit)),
                ("x-ratelimit-remaining", u64::from(verdict.remaining)),
                ("x-ratelimit-reset", verdict.reset),
            ] {
                headers.insert(name, HeaderValue::from(value));
            }
        },
    )
    .await
}

/// `GET /api/v2/users-by-email?email=`: exact and case-sensitive, against
/// the stored (lower-cased) emails, across every connection.
pub async fn users_by_email(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:users"]) {
        return *response;
    }
    let query = query_map(query);
    let Some(email) = query.get("email").filter(|e| !e.is_empty()) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Query validation error: 'Missing required property: email' on property email (Email address to search for (case-sensitive)).",
            Some("invalid_query_string"),
        );
    };
    let tenant = lock(&state.tenant);
    let found: Vec<Value> = tenant
        .users()
        .iter()
        .filter(|u| &u.email == email)
        .map(|u| u.to_json())
        .collect();
    json(StatusCode::OK, Value::Array(found))
}

fn inexistent_user() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "The user does not exist.",
        Some("inexistent_user"),
    )
}

/// `GET /api/v2/users/{id}` (the id arrives URL-encoded, e.g. `auth0%7C42`).
pub async fn get_user(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:users"]) {
        return *response;
    }
    let tenant = lock(&state.tenant);
    match tenant.find_by_user_id(&id) {
        Some(index) => json(StatusCode::OK, tenant.user(index).to_json()),
        None => inexistent_user(),
    }
}

fn invalid_body(message: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &format!("Payload validation error: {message}"),
        Some("invalid_body"),
    )
}

const PATCHABLE: &[&str] = &[
    "app_metadata",
    "user_metadata",
    "blocked",
    "email_verified",
    "email",
    "username",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "password",
    "connection",
    "client_id",
    "verify_email",
    "verify_password",
];

/// `PATCH /api/v2/users/{id}`: metadata merged at the top level (a key set
/// to null is removed), other fields replaced.
pub async fn patch_user(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = authorize(
        &state,
        &headers,
        &["update:users", "update:users_app_metadata"],
    ) {
        return *response;
    }
    match patch(&state, &id, &body).await {
        Ok(response) => response,
        Err(response) => *response,
    }
}

/// The phases of a PATCH: read and check the body, hash a new password
/// (without the lock: bcrypt is slow on purpose), then check and change
/// the user under the lock.
async fn patch(state: &AppState, id: &str, body: &[u8]) -> Result<Response, Box<Response>> {
    let patch = read_patch(body)?;
    let new_hash = new_password_hash(state, &patch).await?;
    let mut tenant = lock(&state.tenant);
    let Some(index) = tenant.find_by_user_id(id) else {
        return Err(Box::new(inexistent_user()));
    };
    check_unique(&tenant, index, &patch)?;
    if new_hash.is_some() {
        let user_id = tenant.user(index).user_id();
        tenant.failures.remove(&format!("user:{user_id}"));
    }
    let user = tenant.user_mut(index);
    apply_patch(user, &patch, new_hash);
    Ok(json(StatusCode::OK, user.to_json()))
}

/// The body as a JSON object of patchable fields, each of its type, the
/// email an email address.
fn read_patch(body: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    let patch: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(patch)) => patch,
        Ok(_) => {
            return Err(Box::new(invalid_body(
                "'Expected type object but found another type'.",
            )))
        }
        Err(_) => {
            return Err(Box::new(api_error(
                StatusCode::BAD_REQUEST,
                "Invalid request payload JSON format",
                Some("invalid_body"),
            )))
        }
    };
    if let Some(key) = patch.keys().find(|k| !PATCHABLE.contains(&k.as_str())) {
        return Err(Box::new(invalid_body(&format!(
            "'Additional properties not allowed: {key}'."
        ))));
    }
    if let Some((key, _)) = patch.iter().find(|(key, value)| !fits(key, value)) {
        return Err(Box::new(invalid_body(&format!(
            "'Invalid type for property {key}'."
        ))));
    }
    if let Some(email) = patch.get("email").and_then(Value::as_str) {
        if !is_email(email) {
            return Err(Box::new(invalid_body(&format!(
                "'Object didn't pass validation for format email: {email}' on property email."
            ))));
        }
    }
    Ok(patch)
}

/// Whether a patched field's value is of the field's type.
fn fits(key: &str, value: &Value) -> bool {
    match key {
        "app_metadata" | "user_metadata" => value.is_object(),
        "blocked" | "email_verified" | "verify_email" | "verify_password" => value.is_boolean(),
        "given_name" | "family_name" | "username" => value.is_string() || value.is_null(),
        _ => value.is_string(),
    }
}

/// The bcrypt hash of a patched password, at the tenant's cost; `None`
/// when the patch sets none.
async fn new_password_hash(
    state: &AppState,
    patch: &Map<String, Value>,
) -> Result<Option<String>, Box<Response>> {
    let password = match patch.get("password").and_then(Value::as_str) {
        None => return Ok(None),
        Some("") => {
            return Err(Box::new(invalid_body(
                "'String is too short (0 chars), minimum 1' on property password.",
            )))
        }
        Some(password) => password.to_owned(),
    };
    let cost = lock(&state.tenant).bcrypt_cost;
    match tokio::task::spawn_blocking(move || bcrypt::hash(password, cost)).await {
        Ok(Ok(hash)) => Ok(Some(hash)),
        _ => Err(Box::new(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not hash the password",
            None,
        ))),
    }
}

/// 409 when the new email or username is another user's in the
/// connection.
fn check_unique(
    tenant: &Tenant,
    index: usize,
    patch: &Map<String, Value>,
) -> Result<(), Box<Response>> {
    let connection = &tenant.user(index).connection;
    let taken = |found: Option<usize>| found.is_some_and(|other| other != index);
    if let Some(email) = patch.get("email").and_then(Value::as_str) {
        if taken(tenant.find_by_email(connection, email)) {
            return Err(Box::new(api_error(
                StatusCode::CONFLICT,
                "The specified new email already exists",
                Some("auth0_idp_error"),
            )));
        }
    }
    if let Some(username) = patch.get("username").and_then(Value::as_str) {
        if taken(tenant.find_by_username(connection, username)) {
            return Err(Box::new(api_error(
                StatusCode::CONFLICT,
                "The specified new username already exists",
                Some("auth0_idp_error"),
            )));
        }
    }
    Ok(())
}

/// Writes a checked patch into the user.
fn apply_patch(user: &mut User, patch: &Map<String, Value>, new_hash: Option<String>) {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    for (key, value) in patch {
        match key.as_str() {
            "app_metadata" => {
                merge_metadata(&mut user.app_metadata, value.as_object().expect("checked"))
            }
            "user_metadata" => {
                merge_metadata(&mut user.user_metadata, value.as_object().expect("checked"))
            }
            "blocked" => {
                user.blocked = value.as_bool().unwrap_or(false);
                user.blocked_shown = true;
            }
            "email_verified" => user.email_verified = value.as_bool().unwrap_or(false),
            "email" => user.email = value.as_str().unwrap_or_default().to_lowercase(),
            "username" => user.username = text(value),
            "given_name" => user.given_name = text(value),
            "family_name" => user.family_name = text(value),
            "name" => user.name = text(value).unwrap_or_default(),
            "nickname" => user.nickname = text(value).unwrap_or_default(),
            "picture" => user.picture = text(value).unwrap_or_default(),
            _ => {}
        }
    }
    if let Some(hash) = new_hash {
        user.password_hash = Some(PasswordHash::Bcrypt(hash));
    }
    user.touch();
}

/// `GET /api/v2/users?q=…&search_engine=v3`, deliberately loose (see
/// `search`), with Auth0's paging (`page`, `per_page`, `include_totals`).
pub async fn search_users(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:users"]) {
        return *response;
    }
    let query = query_map(query);
    if let Some(engine) = query.get("search_engine").filter(|e| e.as_str() != "v3") {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "You are not allowed to use search_engine={engine}. Use search_engine=v3 instead."
            ),
            Some("operation_not_supported"),
        );
    }
    let number = |name: &str, default: usize| -> Result<usize, Box<Response>> {
        match query.get(name) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| {
                Box::new(api_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Query validation error: '{name}' must be a non-negative integer."),
                    Some("invalid_query_string"),
                ))
            }),
        }
    };
    let (page, per_page) = match (number("page", 0), number("per_page", 50)) {
        (Ok(page), Ok(per_page)) if per_page <= 100 => (page, per_page),
        (Err(response), _) | (_, Err(response)) => return *response,
        _ => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "Query validation error: 'per_page' must be at most 100.",
                Some("invalid_query_string"),
            )
        }
    };
    // Auth0 serves at most the first 1,000 results of a query; totals
    // still count every match (so status can count a big tenant).
    if (page + 1).saturating_mul(per_page) > MAX_SEARCH_RESULTS {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "You can only page through the first {MAX_SEARCH_RESULTS} records. \
                 See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation"
            ),
            Some("invalid_paging"),
        );
    }
    let filter = search::parse(query.get("q").map(String::as_str).unwrap_or(""));
    let tenant = lock(&state.tenant);
    let matches: Vec<Value> = tenant
        .users()
        .iter()
        .map(|u| u.to_json())
        .filter(|u| filter.matches(u))
        .collect();
    let total = matches.len();
    let users: Vec<Value> = matches
        .into_iter()
        .skip(page * per_page)
        .take(per_page)
        .collect();
    if query.get("include_totals").map(String::as_str) == Some("true") {
        json(
            StatusCode::OK,
            json!({
                "start": page * per_page,
                "limit": per_page,
                "length": users.len(),
                "total": total,
                "users": users,
            }),
        )
    } else {
        json(StatusCode::OK, Value::Array(users))
    }
}

/// Anything else under `/api/v2/`.
pub async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "Not Found", None)
}
