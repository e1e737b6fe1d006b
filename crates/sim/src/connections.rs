//! The connections of the tenant, read-only, as the Management API shows
//! them (`read:connections`): what a new tenant's checks read (strategy,
//! `options.import_mode`, the deployed `customScripts`, enabled clients).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::auth::authorize;
use crate::reply::{api_error, json};
use crate::state::{lock, AppState};
use crate::store::{Connection, Tenant};
use crate::text::query_map;

/// The routes of this module, merged into the Management API's.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/connections", get(list))
        .route("/connections/{id}", get(one))
        .route("/connections/{id}/clients", get(clients))
}

fn enabled_clients(tenant: &Tenant, connection: &Connection) -> Vec<String> {
    tenant
        .clients
        .iter()
        .filter(|c| c.uses(&connection.name))
        .map(|c| c.client_id.clone())
        .collect()
}

fn to_json(tenant: &Tenant, connection: &Connection) -> Value {
    json!({
        "id": connection.id,
        "name": connection.name,
        "strategy": connection.strategy,
        "options": connection.options,
        "enabled_clients": enabled_clients(tenant, connection),
        "realms": [connection.name],
        "is_domain_connection": false,
    })
}

fn inexistent() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "The connection does not exist",
        Some("inexistent_connection"),
    )
}

/// `GET /api/v2/connections?name=&strategy=`.
async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:connections"]) {
        return *response;
    }
    let query = query_map(query);
    let tenant = lock(&state.tenant);
    let found: Vec<Value> = tenant
        .connections
        .iter()
        .filter(|c| query.get("name").is_none_or(|name| &c.name == name))
        .filter(|c| query.get("strategy").is_none_or(|s| &c.strategy == s))
        .map(|c| to_json(&tenant, c))
        .collect();
    json(StatusCode::OK, Value::Array(found))
}

/// `GET /api/v2/connections/{id}`.
async fn one(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:connections"]) {
        return *response;
    }
    let tenant = lock(&state.tenant);
    match tenant.connection_by_id(&id) {
        Some(connection) => json(StatusCode::OK, to_json(&tenant, connection)),
        None => inexistent(),
    }
}

/// `GET /api/v2/connections/{id}/clients`: `{clients: [{client_id}]}`.
async fn clients(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = authorize(&state, &headers, &["read:connections"]) {
        return *response;
    }
    let tenant = lock(&state.tenant);
    match tenant.connection_by_id(&id) {
        Some(connection) => {
            let clients: Vec<Value> = enabled_clients(&tenant, connection)
                .into_iter()
                .map(|id| json!({"client_id": id}))
                .collect();
            json(StatusCode::OK, json!({"clients": clients}))
        }
        None => inexistent(),
    }
}
