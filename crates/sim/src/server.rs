//! The HTTP server: hyper on a tokio listener (so a fault can drop a
//! connection without any answer), counters, faults and request logs
//! around the axum router.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::{middleware, Router};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::control;
use crate::jobs;
use crate::keys::Keys;
use crate::management;
use crate::reply;
use crate::seed::{Seed, SeedError};
use crate::state::{lock, AppState, Faults, RateLimiter, Stats};
use crate::store::{Tenant, PASSWORD_REALM_GRANT};
use crate::token;

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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            rate_limit: 16,
            token_lifetime_secs: 86_400,
            job_delay: Duration::from_millis(200),
            faults: Faults::default(),
            log_requests: false,
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
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A running emulator. Dropping it (or [`Sim::shutdown`]) stops it.
pub struct Sim {
    addr: SocketAddr,
    base_url: String,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sim {
    /// Loads the seed (hashing its passwords), listens on `addr` (port 0
    /// picks a free one) and serves in the background on the current tokio
    /// runtime.
    pub async fn start(seed: Seed, options: Options, addr: SocketAddr) -> Result<Sim, StartError> {
        seed.validate()?;
        options.faults.validate().map_err(StartError::Faults)?;
        let listener = listen(addr).map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let tenant = tokio::task::spawn_blocking(move || Tenant::from_seed(&seed))
            .await
            .expect("hashing the seed's passwords");
        let base_url = format!("http://{local}");
        let state = Arc::new(AppState {
            tenant: Mutex::new(tenant),
            keys: Keys::load(),
            bound_base: base_url.clone(),
            token_lifetime_secs: options.token_lifetime_secs,
            job_delay: options.job_delay,
            log_requests: options.log_requests,
            faults: Mutex::new(options.faults),
            rate: Mutex::new(RateLimiter::new(options.rate_limit)),
            stats: Mutex::new(Stats::default()),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            router(state.clone()),
            state.clone(),
            stopped,
        ));
        Ok(Sim {
            addr: local,
            base_url,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// [`Sim::start`] on 127.0.0.1 and a free port.
    pub async fn start_local(seed: Seed, options: Options) -> Result<Sim, StartError> {
        Sim::start(seed, options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// `http://127.0.0.1:PORT` (no trailing slash): the tenant's "domain".
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request counters, as `GET /__sim/stats` shows them.
    pub fn stats(&self) -> Stats {
        lock(&self.state.stats).clone()
    }

    /// As `PUT /__sim/faults`.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        *lock(&self.state.faults) = faults;
        Ok(())
    }

    /// As `PUT /__sim/rate-limit` (0 = off).
    pub fn set_rate_limit(&self, rps: u32) {
        lock(&self.state.rate).set(rps);
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
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A listener with a deep accept queue: tests fire hundreds of concurrent
/// connections, and the default backlog (128) drops SYNs, which costs each
/// dropped client a one-second retransmission.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
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
        .route("/__sim/stats", get(control::stats))
        .route("/__sim/stats/reset", post(control::reset_stats))
        .route(
            "/__sim/faults",
            get(control::get_faults).put(control::put_faults),
        )
        .route(
            "/__sim/rate-limit",
            get(control::get_rate_limit).put(control::put_rate_limit),
        )
        .route("/__sim/users", get(control::users))
        .route("/__sim/exports/{file}", get(crate::exports::download))
        .fallback(|| async {
            reply::json(
                StatusCode::NOT_FOUND,
                json!({"statusCode": 404, "error": "Not Found", "message": "Not Found"}),
            )
        })
        .with_state(state)
}

async fn serve(
    listener: TcpListener,
    router: Router,
    state: Arc<AppState>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(_) => {
                        // Out of descriptors or similar: breathe, then go on.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let state = state.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        handle(state.clone(), router.clone(), request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

fn roll(ratio: f64) -> bool {
    ratio >= 1.0 || (ratio > 0.0 && fastrand::f64() < ratio)
}

async fn handle(
    state: Arc<AppState>,
    router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let log = |status: Option<StatusCode>, note: &str| {
        if state.log_requests {
            let status = status.map_or_else(|| "---".to_owned(), |s| s.as_u16().to_string());
            eprintln!(
                "trickle sim: {method} {path} -> {status} in {} ms{note}",
                started.elapsed().as_millis()
            );
        }
    };
    if path == "/__sim" || path.starts_with("/__sim/") {
        let response = call(router, request.map(Body::new)).await;
        log(Some(response.status()), "");
        return Ok(response);
    }

    // Count first (faulted requests count too); a token request's body is
    // read here for its grant type.
    let (parts, body) = request.into_parts();
    let body = if method == Method::POST && path == "/oauth/token" {
        let bytes = match to_bytes(Body::new(body), TOKEN_BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => Bytes::new(),
        };
        count(
            &state,
            &method,
            &path,
            token::grant_type_of(&parts.headers, &bytes).as_deref(),
        );
        Body::from(bytes)
    } else {
        count(&state, &method, &path, None);
        Body::new(body)
    };
    let request = Request::from_parts(parts, body);

    let faults = lock(&state.faults).clone();
    let faults = if faults.applies_to(method.as_str(), &path) {
        faults
    } else {
        Faults::default()
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if roll(faults.drop_ratio) {
        log(None, " [fault: connection dropped]");
        return Err(Dropped);
    }
    if roll(faults.error_ratio) {
        let response = outage(&path);
        log(Some(response.status()), " [fault: 503]");
        return Ok(response);
    }
    if roll(faults.malformed_ratio) {
        let response = malformed();
        log(Some(response.status()), " [fault: malformed body]");
        return Ok(response);
    }
    let truncate = roll(faults.truncate_ratio);
    let response = call(router, request).await;
    if truncate {
        let response = truncated(response).await;
        log(Some(response.status()), " [fault: truncated body]");
        return Ok(response);
    }
    log(Some(response.status()), "");
    Ok(response)
}

async fn call(router: Router, request: Request<Body>) -> Response<Body> {
    match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn count(state: &AppState, method: &Method, path: &str, grant: Option<&str>) {
    let mut stats = lock(&state.stats);
    stats.total += 1;
    let counters = &mut stats.requests;
    let counter = match (method, path) {
        (&Method::POST, "/oauth/token") => Some(match grant {
            Some(PASSWORD_REALM_GRANT) => &mut counters.token_password_realm,
            Some("client_credentials") => &mut counters.token_client_credentials,
            _ => &mut counters.token_other,
        }),
        (&Method::GET, "/api/v2/users-by-email") => Some(&mut counters.users_by_email),
        (&Method::GET, "/api/v2/users") => Some(&mut counters.search_users),
        (_, p) if p == "/api/v2/jobs" || p.starts_with("/api/v2/jobs/") => Some(&mut counters.jobs),
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

/// An injected outage: 503 with the body each API uses for errors.
fn outage(path: &str) -> Response<Body> {
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
fn malformed() -> Response<Body> {
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

/// The real status and headers with the full Content-Length, but only the
/// first half of the body; then (once that is on the wire) the body fails,
/// so hyper closes the connection.
async fn truncated(response: Response<Body>) -> Response<Body> {
    use futures_util::StreamExt;

    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let part = bytes.slice(..bytes.len() / 2);
    let first = futures_util::stream::once(async move { Ok::<Bytes, io::Error>(part) });
    let cut = futures_util::stream::once(async {
        // Let hyper flush the head and the first half before the failure.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "body truncated by an injected fault",
        ))
    });
    Response::from_parts(parts, Body::from_stream(first.chain(cut)))
}
