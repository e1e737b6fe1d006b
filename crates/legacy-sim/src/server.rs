//! The emulated API, on top of its state (`state.rs`) and handlers: the
//! routes (built from [`ROUTES`]), the token and rate-limit layers, on the
//! shared serve loop of `trickle-emulator` (faults, logging, `/__sim/`
//! control API).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use trickle_emulator::{
    control_routes, listen, lock, Controls, Faults, Origins, Serving, Tls, TlsError, TlsOptions,
};

use crate::api;
use crate::auth::{Issuer, TokenError};
use crate::control;
use crate::reply::error;
use crate::state::{AppState, Stats};
use crate::store::Store;

/// Every route of the API (method, path under the base path). The router
/// is built from this table, and a test holds it equal to the OpenAPI file.
pub const ROUTES: [(&str, &str); 5] = [
    ("POST", "/users/verify"),
    ("GET", "/users"),
    ("GET", "/users/{id}"),
    ("PUT", "/users/{id}/migrated"),
    ("DELETE", "/users/{id}/migrated"),
];

fn handler(method: &str, path: &str) -> MethodRouter<Arc<AppState>> {
    match (method, path) {
        ("POST", "/users/verify") => post(api::verify),
        ("GET", "/users") => get(api::by_email),
        ("GET", "/users/{id}") => get(api::by_id),
        ("PUT", "/users/{id}/migrated") => put(api::mark),
        ("DELETE", "/users/{id}/migrated") => delete(api::unmark),
        _ => unreachable!("every route in ROUTES has a handler"),
    }
}

/// How the emulator runs (the seed says whom it holds).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The NEW tenant's issuer (`https://tenant/`): tokens must name it,
    /// and its JWKS is `<issuer>.well-known/jwks.json`.
    pub issuer: String,
    /// The API's identifier: tokens' `aud` must contain it.
    pub audience: String,
    /// PEM of a certificate authority to trust for the issuer (its `--tls`).
    pub issuer_ca: Option<Vec<u8>>,
    /// A scope `PUT`/`DELETE /users/{id}/migrated` need (else 403 `forbidden`).
    pub write_scope: Option<String>,
    /// Where the API lives under the origin, e.g. `/auth0-migration`.
    pub base_path: String,
    /// Requests per second before 429; 0 is off.
    pub rate_limit: u32,
    pub faults: Faults,
    pub log_requests: bool,
    pub tls: Option<TlsOptions>,
    pub public_url: Option<String>,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Options(String),
    #[error("invalid faults: {0}")]
    Faults(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A running emulator. Dropping it (or [`LegacySim::shutdown`]) stops it.
pub struct LegacySim {
    base_url: String,
    state: Arc<AppState>,
    serving: Serving,
    tls: Option<Tls>,
}

impl LegacySim {
    /// Serves `store` on `addr` (port 0 picks one) in the background.
    pub async fn start(
        store: Store,
        options: Options,
        addr: SocketAddr,
    ) -> Result<LegacySim, StartError> {
        let base_path = check_base_path(&options.base_path).map_err(StartError::Options)?;
        let issuer = Issuer::new(
            &options.issuer,
            &options.audience,
            options.issuer_ca.as_deref(),
        )
        .map_err(StartError::Options)?;
        let controls = Controls::new(options.faults, options.rate_limit, options.log_requests)
            .map_err(StartError::Faults)?;
        let tls = options.tls.as_ref().map(Tls::prepare).transpose()?;
        let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let origins = Origins::new(tls.is_some(), local, options.public_url.as_deref())
            .map_err(StartError::Options)?;
        let state = Arc::new(AppState {
            store: Mutex::new(store),
            issuer,
            write_scope: options.write_scope,
            base_path,
            reject_tokens: AtomicU32::new(0),
            controls,
            stats: Mutex::new(Stats::default()),
        });
        let serving = Serving::start(listener, router(state.clone()), state.clone(), tls.as_ref())
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(LegacySim {
            base_url: origins.bound().to_owned(),
            state,
            serving,
            tls,
        })
    }

    /// [`LegacySim::start`] on 127.0.0.1 and a free port.
    pub async fn start_local(store: Store, options: Options) -> Result<LegacySim, StartError> {
        LegacySim::start(store, options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): where `/__sim/` is.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API's base URL: the origin and the base path.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.base_url, self.state.base_path)
    }

    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(Tls::ca_cert_path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    pub fn stats(&self) -> Stats {
        self.state.snapshot()
    }

    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        self.state.controls.set_faults(faults)
    }

    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

/// `""` or `/segment[/segment…]` without a trailing slash.
fn check_base_path(path: &str) -> Result<String, String> {
    let path = path.trim_end_matches('/');
    let fine = path.is_empty()
        || (path.starts_with('/')
            && !path.contains("//")
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
            && !path.starts_with(trickle_emulator::CONTROL_PREFIX));
    if fine {
        Ok(path.to_owned())
    } else {
        Err(format!(
            "--base-path {path:?}: a path like /auth0-migration is needed"
        ))
    }
}

fn router(state: Arc<AppState>) -> Router {
    let mut api = Router::new();
    for (method, path) in ROUTES {
        api = api.route(path, handler(method, path));
    }
    let api = api
        .layer(middleware::from_fn_with_state(state.clone(), check_token))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .with_state(state.clone());
    let api = if state.base_path.is_empty() {
        api
    } else {
        Router::new().nest(&state.base_path, api)
    };
    api.merge(control::routes(state.clone()))
        .merge(control_routes(state))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "No such endpoint") })
}

/// 401 `invalid_token` (with `WWW-Authenticate`) or 503 when the issuer's
/// keys cannot be had; else the claims go on with the request.
async fn check_token(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response<Body> {
    let refused = |state: &AppState, description: &str| {
        lock(&state.stats).invalid_tokens += 1;
        let mut response = error(StatusCode::UNAUTHORIZED, "invalid_token", description);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        response
    };
    let forced = state
        .reject_tokens
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if forced {
        return refused(&state, "The token was revoked (by /__sim/reject-tokens)");
    }
    match state.issuer.check(request.headers()).await {
        Ok(claims) => {
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Err(TokenError::Invalid(why)) => refused(&state, &why),
        Err(unavailable @ TokenError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            &unavailable.to_string(),
        ),
    }
}

/// Past the limit: 429 with `Retry-After` (seconds).
async fn rate_limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response<Body> {
    trickle_emulator::rate_limit(
        &state.controls,
        request,
        next,
        |_| {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests: slow down",
            )
        },
        trickle_emulator::retry_after,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_plain_paths() {
        assert_eq!(check_base_path("").unwrap(), "");
        assert_eq!(
            check_base_path("/auth0-migration/").unwrap(),
            "/auth0-migration"
        );
        for bad in ["auth0", "/a//b", "/a?b", "/__sim", "/a b"] {
            assert!(check_base_path(bad).is_err(), "{bad}");
        }
    }
}
