//! The emulated tenant's server: its routes and counters, plugged into the
//! shared serve loop (faults, logging, control API) of `trickle-emulator`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use axum::routing::{get, post};
use axum::{middleware, Router};
use serde_json::{json, Value};
use trickle_emulator::{
    control_routes, listen, Controls, Emulator, Faults, Origins, Serving, Tls, TlsError, TlsOptions,
};

use crate::control;
use crate::jobs;
use crate::keys::Keys;
use crate::management;
use crate::reply;
use crate::seed::{Seed, SeedError};
use crate::state::{lock, AppState, Stats};
use crate::store::{Tenant, PASSWORD_REALM_GRANT};
use crate::token::{self, PASSWORD_GRANT};

/// The largest token request body read (they are a few hundred bytes).
const TOKEN_BODY_LIMIT: usize = 64 * 1024;

/// How the emulator runs (the seed says what it holds).
#[derive(Clone, Debug)]
pub struct Options {
    /// Management API requests per second; 0 turns the limit off.
    pub rate_limit: u32,
    /// Lifetime of Management API (client credentials) tokens, seconds.
    pub token_lifetime_secs: u64,
    /// How long an import job stays pending, then processing (half each).
    pub job_delay: Duration,
    /// Faults from the start (changeable at run time via `/__sim/faults`).
    pub faults: Faults,
    /// One line per request on stderr (method, path, status, time; never bodies).
    pub log_requests: bool,
    /// Serve HTTPS, with a certificate from this authority.
    pub tls: Option<TlsOptions>,
    /// The origin clients use when a proxy stands in front
    /// (`https://host[:port]`): issuer, JWKS URL, discovery and the
    /// Management API audience then name it.
    pub public_url: Option<String>,
    /// The tenant's canonical host name, without port (e.g. `localhost`):
    /// the Management API audience is then only `http://<host>:PORT/api/v2/`,
    /// as Auth0's is `https://<canonical>/api/v2/` whatever custom domain a
    /// token is asked through. `None`: every name it is reached by is accepted.
    pub canonical_host: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rate_limit: 16,
            token_lifetime_secs: 86_400,
            job_delay: Duration::from_millis(200),
            faults: Faults::default(),
            log_requests: false,
            tls: None,
            public_url: None,
            canonical_host: None,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("invalid faults: {0}")]
    Faults(String),
    #[error("{0}")]
    PublicUrl(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A running emulator. Dropping it (or [`Sim::shutdown`]) stops it.
pub struct Sim {
    base_url: String,
    state: Arc<AppState>,
    serving: Serving,
    tls: Option<Tls>,
}

impl Sim {
    /// Loads the seed (hashing its passwords), listens on `addr` (port 0
    /// picks a free one) and serves in the background on the current tokio
    /// runtime.
    pub async fn start(seed: Seed, options: Options, addr: SocketAddr) -> Result<Sim, StartError> {
        seed.validate()?;
        options.faults.validate().map_err(StartError::Faults)?;
        if let Some(url) = &options.public_url {
            trickle_emulator::parse_public_url(url).map_err(StartError::PublicUrl)?;
        }
        let tls = options.tls.as_ref().map(Tls::prepare).transpose()?;
        let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let origins = Origins::new(tls.is_some(), local, options.public_url.as_deref())
            .map_err(StartError::PublicUrl)?;
        let canonical_base = options
            .canonical_host
            .as_ref()
            .map(|host| format!("{}://{host}:{}", origins.scheme(), local.port()));
        let tenant = tokio::task::spawn_blocking(move || Tenant::from_seed(&seed))
            .await
            .expect("hashing the seed's passwords");
        let base_url = origins.bound().to_owned();
        let controls = Controls::new(options.faults, options.rate_limit, options.log_requests)
            .map_err(StartError::Faults)?;
        let state = Arc::new(AppState {
            tenant: Mutex::new(tenant),
            keys: Keys::load(),
            origins,
            token_lifetime_secs: options.token_lifetime_secs,
            job_delay: options.job_delay,
            controls,
            stats: Mutex::new(Stats::default()),
            canonical_base,
        });
        let serving = Serving::start(listener, router(state.clone()), state.clone(), tls.as_ref())
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Sim {
            base_url,
            state,
            serving,
            tls,
        })
    }

    /// [`Sim::start`] on 127.0.0.1 and a free port.
    pub async fn start_local(seed: Seed, options: Options) -> Result<Sim, StartError> {
        Sim::start(seed, options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// `http://127.0.0.1:PORT`, or `https://…` with TLS (no trailing
    /// slash): the tenant's "domain".
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The public URL, when one was given ([`Options::public_url`]).
    pub fn public_url(&self) -> Option<&str> {
        self.state.origins.public()
    }

    /// With TLS, the certificate authority clients must trust (a PEM file).
    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(Tls::ca_cert_path)
    }

    /// With TLS, the certificate authority's certificate (PEM).
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(Tls::ca_cert_pem)
    }

    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    /// The request counters, as `GET /__sim/stats` shows them.
    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// As `PUT /__sim/faults`.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        self.state.controls.set_faults(faults)
    }

    /// As `PUT /__sim/rate-limit` (0 = off).
    pub fn set_rate_limit(&self, rps: u32) {
        self.state.controls.set_rate_limit(rps);
    }

    /// Every stored user, as `GET /__sim/users` shows them.
    pub fn users(&self) -> Vec<Value> {
        lock(&self.state.tenant)
            .users()
            .iter()
            .map(|u| u.to_json())
            .collect()
    }

    /// Stops accepting, closes every connection, and waits for that.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/users-by-email", get(management::users_by_email))
        .route("/users", get(management::search_users))
        .route(
            "/users/{id}",
            get(management::get_user).patch(management::patch_user),
        )
        .route(
            "/jobs/users-imports",
            post(jobs::create_import).layer(DefaultBodyLimit::max(jobs::MAX_REQUEST_BYTES)),
        )
        .route("/jobs/{id}", get(jobs::get_job))
        .route("/jobs/{id}/errors", get(jobs::job_errors))
        .merge(crate::exports::routes())
        .merge(crate::connections::routes())
        .fallback(management::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            management::rate_limit,
        ));
    Router::new()
        .route("/oauth/token", post(token::token))
        .route(
            "/.well-known/openid-configuration",
            get(control::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(control::jwks))
        .nest("/api/v2", api)
        .route("/__sim/users", get(control::users))
        .route("/__sim/exports/{file}", get(crate::exports::download))
        .fallback(|| async {
            reply::json(
                StatusCode::NOT_FOUND,
                json!({"statusCode": 404, "error": "Not Found", "message": "Not Found"}),
            )
        })
        .with_state(state.clone())
        .merge(control_routes(state))
}

impl Emulator for AppState {
    fn name(&self) -> &'static str {
        "trickle sim"
    }

    fn controls(&self) -> &Controls {
        &self.controls
    }

    /// A token request's body is read for its grant type.
    fn body_to_count(&self, method: &Method, path: &str) -> Option<usize> {
        (method == Method::POST && path == "/oauth/token").then_some(TOKEN_BODY_LIMIT)
    }

    fn count(&self, method: &Method, path: &str, headers: &HeaderMap, body: Option<&[u8]>) {
        let grant = body.and_then(|body| token::grant_type_of(headers, body));
        let mut stats = lock(&self.stats);
        stats.total += 1;
        let counters = &mut stats.requests;
        let counter = match (method, path) {
            (&Method::POST, "/oauth/token") => Some(match grant.as_deref() {
                Some(PASSWORD_REALM_GRANT | PASSWORD_GRANT) => &mut counters.token_password_realm,
                Some("client_credentials") => &mut counters.token_client_credentials,
                _ => &mut counters.token_other,
            }),
            (&Method::GET, "/api/v2/users-by-email") => Some(&mut counters.users_by_email),
            (&Method::GET, "/api/v2/users") => Some(&mut counters.search_users),
            (_, p) if p == "/api/v2/jobs" || p.starts_with("/api/v2/jobs/") => {
                Some(&mut counters.jobs)
            }
            (_, p) if p.starts_with("/.well-known/") => Some(&mut counters.well_known),
            (m, p) => match p.strip_prefix("/api/v2/users/") {
                Some(id) if !id.is_empty() && !id.contains('/') => match *m {
                    Method::GET => Some(&mut counters.get_user),
                    Method::PATCH => Some(&mut counters.patch_user),
                    _ => None,
                },
                _ => None,
            },
        };
        if let Some(counter) = counter {
            *counter += 1;
        }
    }

    /// 503 with the body each API uses for errors.
    fn outage(&self, path: &str) -> Response<Body> {
        if path.starts_with("/api/v2/") {
            reply::api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable. Please try again later.",
                None,
            )
        } else {
            reply::oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The service is temporarily unavailable. Please try again later.",
            )
        }
    }

    /// 200 with an HTML page instead of JSON (a proxy or an error page).
    fn malformed(&self, _path: &str) -> Response<Body> {
        let mut response = Response::new(Body::from(
            "<html><head><title>Service Unavailable</title></head>\
             <body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>",
        ));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }

    fn stats(&self) -> Value {
        serde_json::to_value(lock(&self.stats).clone()).expect("plain data")
    }

    fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }
}
