//! The web APIs' paths under the issuer (the context path goes before
//! them), and which request counter each request moves.

use axum::http::Method;

use crate::state::Counters;

pub const CLIENTS: &str = "/clients";
pub const CLIENT: &str = "/clients/{id}";
pub const AUTHZ_V2: &str = "/authz-store/rest/v2/authorizations";
pub const AUTHZ_V3: &str = "/authz-store/rest/v3/authorizations";
pub const REVOCATION_V2: &str = "/authz-store/rest/v2/revocation";
pub const REVOCATION_V3: &str = "/authz-store/rest/v3/revocation";
pub const SESSIONS: &str = "/session-store/rest/v2/sessions";
pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks.json";

/// A one-session request: the session store path with a `SID` header.
const ONE_SESSION: &str = "/session-store/rest/v2/sessions (SID)";

type Counter = fn(&mut Counters) -> &mut u64;

/// Method, path (as routed) and the counter it moves.
const COUNTED: [(Method, &str, Counter); 25] = [
    (Method::GET, CLIENTS, |c| &mut c.clients_list),
    (Method::POST, CLIENTS, |c| &mut c.client_register),
    (Method::GET, CLIENT, |c| &mut c.client_read),
    (Method::PUT, CLIENT, |c| &mut c.client_update),
    (Method::DELETE, CLIENT, |c| &mut c.client_delete),
    (Method::GET, AUTHZ_V3, |c| &mut c.authz_v3_list),
    (Method::POST, AUTHZ_V3, |c| &mut c.authz_v3_create),
    (Method::DELETE, AUTHZ_V3, |c| &mut c.authz_v3_delete),
    (Method::POST, REVOCATION_V3, |c| &mut c.authz_v3_revoke),
    (Method::GET, AUTHZ_V2, |c| &mut c.authz_v2_list),
    (Method::POST, AUTHZ_V2, |c| &mut c.authz_v2_create),
    (Method::DELETE, AUTHZ_V2, |c| &mut c.authz_v2_delete),
    (Method::POST, REVOCATION_V2, |c| &mut c.authz_v2_revoke),
    (Method::GET, SESSIONS, |c| &mut c.sessions_list),
    (Method::POST, SESSIONS, |c| &mut c.session_create),
    (Method::PUT, SESSIONS, |c| &mut c.session_update),
    (Method::DELETE, SESSIONS, |c| &mut c.session_delete),
    (Method::GET, ONE_SESSION, |c| &mut c.session_read),
    (Method::POST, ONE_SESSION, |c| &mut c.session_create),
    (Method::PUT, ONE_SESSION, |c| &mut c.session_update),
    (Method::DELETE, ONE_SESSION, |c| &mut c.session_delete),
    (Method::GET, "", |c| &mut c.discovery),
    (Method::GET, "/", |c| &mut c.discovery),
    (Method::GET, JWKS, |c| &mut c.discovery),
    (Method::GET, DISCOVERY, |c| &mut c.discovery),
];

/// The counter a request to `path` (under the issuer) moves, if any.
pub fn counter(method: &Method, path: &str, with_sid: bool) -> Option<Counter> {
    let routed = match path.strip_prefix("/clients/") {
        Some(id) if !id.is_empty() => CLIENT,
        _ if path == SESSIONS && with_sid => ONE_SESSION,
        _ => path,
    };
    COUNTED
        .iter()
        .find(|(m, p, _)| m == method && *p == routed)
        .map(|(_, _, counter)| *counter)
}
