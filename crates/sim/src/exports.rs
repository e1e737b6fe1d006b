//! Bulk user exports: `POST /api/v2/jobs/users-exports` (JSON body), done
//! in the background after the job delay; the finished job's `location` is
//! a download link, as Auth0's is a pre-signed storage URL: it needs no
//! token, and a request that also carries an `Authorization` header is
//! refused (storage accepts one authentication, not two), so a client that
//! leaks its Management API token to the download host fails here.

use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::authorize;
use crate::clock;
use crate::records::{ExportField, ExportFormat, ExportJob};
use crate::reply::{api_error, json};
use crate::state::{lock, AppState};
use crate::store::User;
use crate::text::{query_map, random_token};

/// The fields an export has when the request names none.
const DEFAULT_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "email_verified",
    "username",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "blocked",
    "identities",
    "app_metadata",
    "user_metadata",
    "created_at",
    "updated_at",
    "last_login",
    "logins_count",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    format: Option<ExportFormat>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    fields: Option<Vec<ExportField>>,
}

/// The routes of this module, merged into the Management API's.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/jobs/users-exports", post(create_export))
}

fn invalid_body(message: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &format!("Payload validation error: {message}"),
        Some("invalid_body"),
    )
}

/// `POST /api/v2/jobs/users-exports`.
async fn create_export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:users"]) {
        return *response;
    }
    let request: ExportRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return invalid_body(&format!("'{error}'.")),
    };
    if request.limit == Some(0) {
        return invalid_body("'Number is less than minimum value (1)' on property limit.");
    }
    if let Some(fields) = &request.fields {
        if fields.is_empty() || fields.iter().any(|f| f.name.trim().is_empty()) {
            return invalid_body("'fields' must name at least one field, none empty.");
        }
    }
    let job = {
        let mut tenant = lock(&state.tenant);
        let connection = match &request.connection_id {
            None => None,
            Some(id) => match tenant.connection_by_id(id) {
                Some(c) => Some((c.id.clone(), c.name.clone())),
                None => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        &format!("The connection does not exist: {id}"),
                        Some("inexistent_connection"),
                    )
                }
            },
        };
        let job = ExportJob {
            id: format!("job_{}", random_token(16)),
            status: "pending",
            created_at: clock::now_iso(),
            connection,
            format: request.format.unwrap_or(ExportFormat::Csv),
            limit: request.limit,
            fields: request.fields,
            download_key: random_token(32),
            file: None,
        };
        tenant.exports.insert(job.id.clone(), job.clone());
        job
    };
    tokio::spawn(run(state.clone(), job.id.clone()));
    json(StatusCode::CREATED, job.to_json(&state.base_for(&headers)))
}

/// Pending for half the delay, processing for the other half, then the
/// users as they are at that moment are written out.
async fn run(state: Arc<AppState>, id: String) {
    let first = state.job_delay / 2;
    tokio::time::sleep(first).await;
    if let Some(job) = lock(&state.tenant).exports.get_mut(&id) {
        job.status = "processing";
    }
    tokio::time::sleep(state.job_delay.saturating_sub(first)).await;
    let mut tenant = lock(&state.tenant);
    let Some(job) = tenant.exports.get(&id).cloned() else {
        return;
    };
    let users: Vec<&User> = tenant
        .users()
        .iter()
        .filter(|u| {
            job.connection
                .as_ref()
                .is_none_or(|(_, name)| &u.connection == name)
        })
        .take(job.limit.map_or(usize::MAX, |l| l as usize))
        .collect();
    let fields: Vec<(String, String)> = match &job.fields {
        Some(fields) => fields
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.export_as.clone().unwrap_or_else(|| f.name.clone()),
                )
            })
            .collect(),
        None => DEFAULT_FIELDS
            .iter()
            .map(|f| ((*f).to_owned(), (*f).to_owned()))
            .collect(),
    };
    let text = match job.format {
        ExportFormat::Json => ndjson(&users, &fields),
        ExportFormat::Csv => csv(&users, &fields),
    };
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    let file = gzip
        .write_all(text.as_bytes())
        .and_then(|()| gzip.finish())
        .expect("gzip into memory");
    if let Some(job) = tenant.exports.get_mut(&id) {
        job.status = "completed";
        job.file = Some(Bytes::from(file));
    }
}

/// The value at `path` (`app_metadata.plan`, `identities[0].connection`).
fn at_path<'a>(user: &'a Value, path: &str) -> Option<&'a Value> {
    let mut value = user;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (part, None),
        };
        value = value.get(key)?;
        if let Some(index) = index {
            value = value.get(index)?;
        }
    }
    Some(value)
}

/// One JSON object a line, keyed by `export_as` (else the field's name);
/// fields a user lacks are left out.
fn ndjson(users: &[&User], fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for user in users {
        let user = user.to_json();
        let record: Map<String, Value> = fields
            .iter()
            .filter_map(|(name, key)| at_path(&user, name).map(|v| (key.clone(), v.clone())))
            .collect();
        out.push_str(&Value::Object(record).to_string());
        out.push('\n');
    }
    out
}

/// A header of `export_as` names, then one row a user: text as it is,
/// other values as JSON, empty when absent.
fn csv(users: &[&User], fields: &[(String, String)]) -> String {
    let cell = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut out: String = fields
        .iter()
        .map(|(_, key)| cell(key))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for user in users {
        let user = user.to_json();
        let row: Vec<String> = fields
            .iter()
            .map(|(name, _)| match at_path(&user, name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => cell(text),
                Some(other) => cell(&other.to_string()),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// `GET /__sim/exports/{file}?key=…`: the finished export, gzipped.
pub async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let refuse = |status: StatusCode, code: &str, message: &str| {
        let mut response = (
            status,
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response
    };
    if headers.contains_key(header::AUTHORIZATION) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the signed URL is accepted, not an Authorization header",
        );
    }
    let id = file.split('.').next().unwrap_or_default();
    let key = query_map(query).remove("key").unwrap_or_default();
    let found = lock(&state.tenant).exports.get(id).cloned();
    match found {
        Some(ExportJob {
            file: Some(bytes),
            download_key,
            ..
        }) if download_key == key => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/gzip"),
            );
            response
        }
        _ => refuse(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        let user = json!({"a": {"b": 1}, "identities": [{"connection": "X"}]});
        assert_eq!(at_path(&user, "a.b"), Some(&json!(1)));
        assert_eq!(
            at_path(&user, "identities[0].connection"),
            Some(&json!("X"))
        );
        assert_eq!(at_path(&user, "identities[1].connection"), None);
        assert_eq!(at_path(&user, "a.c"), None);
    }
}
