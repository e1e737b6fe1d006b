//! The emulated server: its state, routes and counters, plugged into the
//! shared serve loop (faults, logging, control API) of `trickle-emulator`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trickle_emulator::{
    control_routes, listen, Controls, Emulator, Faults, Origins, Serving, Tls, TlsError, TlsOptions,
};

use crate::api::error;
use crate::churn::{Churn, ChurnBatch, ChurnDone, ChurnRates, ChurnStatus};
use crate::paths::{
    self, AUTHZ_V2, AUTHZ_V3, CLIENT, CLIENTS, DISCOVERY, JWKS, REVOCATION_V2, REVOCATION_V3,
    SESSIONS,
};
use crate::seed::{check_context_path, Seed};
use crate::state::{AppState, Parts, Stats};
use crate::store::Store;
use crate::{authz, changes, clients, control, discovery, sessions};

/// How the emulator runs (the seed says what it holds).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Requests per second to the web APIs before 429; 0 (the default) is
    /// off, as the real server has no limit.
    pub rate_limit: u32,
    /// Faults from the start (changeable at run time via `/__sim/faults`).
    pub faults: Faults,
    /// One line per request on stderr (method, path, status, time; never bodies).
    pub log_requests: bool,
    /// Overrides the seed's `context_path` (e.g. `"/c2id"`).
    pub context_path: Option<String>,
    /// Serve HTTPS, with a certificate from this authority (the issuer is
    /// then `https://…`).
    pub tls: Option<TlsOptions>,
    /// The origin clients use when a proxy stands in front
    /// (`https://host[:port]`): the issuer is it plus the context path.
    pub public_url: Option<String>,
    /// A client update (`PUT /clients/{id}`) issues a new registration
    /// access token, as the real server's `op.reg.refreshAccessTokenOnUpdate`
    /// does (off by default here).
    pub rotate_registration_token_on_update: bool,
    /// Live churn from the start (changeable at run time via
    /// `/__sim/churn`); all 0 by default.
    pub churn: ChurnRates,
    /// The churn's random seed: the same seed, store and changes asked for
    /// give the same changes.
    pub churn_seed: u64,
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid faults: {0}")]
    Faults(String),
    #[error("{0}")]
    ContextPath(String),
    #[error("{0}")]
    PublicUrl(String),
    #[error("invalid churn: {0}")]
    Churn(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// The whole state, as `GET /__sim/state` shows it (secrets included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: String,
    pub issuer: String,
    /// Full registrations, in client ID order.
    pub clients: Vec<Value>,
    /// In subject, then client ID order.
    pub authorizations: Vec<Value>,
    /// Keyed by SID.
    pub sessions: Map<String, Value>,
}

/// A running emulated Connect2id server. Dropping it (or
/// [`C2idSim::shutdown`]) stops it.
pub struct C2idSim {
    base_url: String,
    state: Arc<AppState>,
    serving: Serving,
    tls: Option<Tls>,
    _churn: AbortOnDrop,
}

/// The churn task, stopped with the server.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl C2idSim {
    /// Listens on `addr` (port 0 picks a free one) and serves the seed in
    /// the background on the current tokio runtime.
    pub async fn start(
        seed: Seed,
        options: Options,
        addr: SocketAddr,
    ) -> Result<C2idSim, StartError> {
        let context_path = options.context_path.unwrap_or(seed.context_path);
        check_context_path(&context_path).map_err(StartError::ContextPath)?;
        let controls = Controls::new(options.faults, options.rate_limit, options.log_requests)
            .map_err(StartError::Faults)?;
        let churn = Churn::new(options.churn, options.churn_seed).map_err(StartError::Churn)?;
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
        let base_url = origins.bound().to_owned();
        let issuer_base = origins.public().unwrap_or(&base_url);
        let state = Arc::new(AppState::new(Parts {
            version: seed.version,
            issuer: format!("{issuer_base}{context_path}"),
            context_path,
            keys: seed.keys,
            tokens: seed.tokens,
            rotate_registration_token: options.rotate_registration_token_on_update,
            controls,
            churn,
            store: seed.store,
        }));
        let serving = Serving::start(listener, router(state.clone()), state.clone(), tls.as_ref())
            .map_err(|source| StartError::Bind { addr, source })?;
        let churn = AbortOnDrop(tokio::spawn(changes::run(Arc::downgrade(&state))));
        Ok(C2idSim {
            base_url,
            state,
            serving,
            tls,
            _churn: churn,
        })
    }

    /// [`C2idSim::start`] on 127.0.0.1 and a free port.
    pub async fn start_local(seed: Seed, options: Options) -> Result<C2idSim, StartError> {
        C2idSim::start(seed, options, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// `http://127.0.0.1:PORT`, or `https://…` with TLS (no trailing
    /// slash): where `/__sim/` is.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// With TLS, the certificate authority clients must trust (a PEM file).
    pub fn ca_cert_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(Tls::ca_cert_path)
    }

    /// With TLS, the certificate authority's certificate (PEM).
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(Tls::ca_cert_pem)
    }

    /// The issuer: the base URL plus the context path (e.g. `/c2id`).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    pub fn addr(&self) -> SocketAddr {
        self.serving.addr()
    }

    pub fn version(&self) -> &str {
        self.state.version.as_str()
    }

    /// The request counters, as `GET /__sim/stats` shows them.
    pub fn stats(&self) -> Stats {
        self.state.counters().clone()
    }

    /// As `PUT /__sim/faults`.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        self.state.controls.set_faults(faults)
    }

    /// As `PUT /__sim/rate-limit` (0 = off).
    pub fn set_rate_limit(&self, rps: u32) {
        self.state.controls.set_rate_limit(rps);
    }

    /// The churn's rates, seed and counters, as `GET /__sim/churn` shows them.
    pub fn churn(&self) -> ChurnStatus {
        self.state.churn.status()
    }

    /// As `PUT /__sim/churn`: replaces the rates (all 0: stop).
    pub fn set_churn(&self, rates: ChurnRates) -> Result<(), String> {
        self.state.churn.set(rates, None)
    }

    /// As `POST /__sim/churn/apply`: makes these changes now and says what
    /// was done.
    pub fn apply_churn(&self, batch: &ChurnBatch) -> ChurnDone {
        changes::apply(&self.state, batch)
    }

    /// Everything stored, as `GET /__sim/state` shows it.
    pub fn state(&self) -> Snapshot {
        let store = self.state.store();
        let issuer = &self.state.issuer;
        Snapshot {
            version: self.state.version.to_string(),
            issuer: issuer.clone(),
            clients: store
                .clients
                .iter()
                .map(|(id, client)| Store::client_json(id, client, issuer))
                .collect(),
            authorizations: store
                .authorizations
                .values()
                .map(|json| serde_json::from_str(json).expect("stored as JSON"))
                .collect(),
            sessions: store
                .sessions
                .iter()
                .map(|(sid, json)| {
                    (
                        sid.to_string(),
                        serde_json::from_str(json).expect("stored as JSON"),
                    )
                })
                .collect(),
        }
    }

    /// Stops accepting, closes every connection, and waits for that.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

fn router(state: Arc<AppState>) -> Router {
    let at = |path: &str| format!("{}{path}", state.context_path);
    let mut api = Router::new()
        .route(&at(DISCOVERY), get(discovery::openid_configuration))
        .route(&at(JWKS), get(discovery::jwks))
        .route(&at(CLIENTS), get(clients::list).post(clients::register))
        .route(
            &at(CLIENT),
            get(clients::read)
                .put(clients::update)
                .delete(clients::delete),
        )
        .route(
            &at(AUTHZ_V2),
            get(authz::list).post(authz::create).delete(authz::delete),
        )
        .route(&at(REVOCATION_V2), post(authz::revoke))
        .route(
            &at(SESSIONS),
            get(sessions::list)
                .post(sessions::create)
                .put(sessions::update)
                .delete(sessions::delete),
        );
    if state.version.has_authz_store_v3() {
        api = api
            .route(
                &at(AUTHZ_V3),
                get(authz::list).post(authz::create).delete(authz::delete),
            )
            .route(&at(REVOCATION_V3), post(authz::revoke));
    }
    let splash = if state.context_path.is_empty() {
        vec!["/".to_owned()]
    } else {
        vec![state.context_path.clone(), at("/")]
    };
    for path in splash {
        api = api.route(&path, get(discovery::splash));
    }
    api.layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .fallback(not_found)
        .with_state(state.clone())
        .merge(control_routes(state.clone()))
        .merge(control::routes(state))
}

/// A servlet container's plain 404 for paths the server does not have.
async fn not_found() -> Response<Body> {
    let mut response = (StatusCode::NOT_FOUND, "Not Found").into_response_parts();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

trait PlainResponse {
    fn into_response_parts(self) -> Response<Body>;
}

impl PlainResponse for (StatusCode, &'static str) {
    fn into_response_parts(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.1));
        *response.status_mut() = self.0;
        response
    }
}

/// Past the limit: 429 with `Retry-After` (an emulator knob: the real
/// server documents no rate limit).
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
                "Request rate limit exceeded",
            )
        },
        trickle_emulator::retry_after,
    )
    .await
}

impl Emulator for AppState {
    fn name(&self) -> &'static str {
        "trickle c2id sim"
    }

    fn controls(&self) -> &Controls {
        &self.controls
    }

    fn count(&self, method: &Method, path: &str, headers: &HeaderMap, _body: Option<&[u8]>) {
        let mut stats = self.counters();
        stats.total += 1;
        let Some(path) = path.strip_prefix(self.context_path.as_str()) else {
            return;
        };
        if let Some(counter) = paths::counter(method, path, headers.contains_key("sid")) {
            *counter(&mut stats.requests) += 1;
        }
    }

    /// 503 with an OAuth-style error body.
    fn outage(&self, _path: &str) -> Response<Body> {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server is temporarily unavailable, try again later",
        )
    }

    /// 200 with a load balancer's HTML page instead of JSON.
    fn malformed(&self, _path: &str) -> Response<Body> {
        let mut response = Response::new(Body::from(
            "<html><head><title>Bad Gateway</title></head><body><h1>Upstream error</h1>\
             <p>The proxy could not reach the server.</p></body></html>",
        ));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }

    fn stats(&self) -> Value {
        serde_json::to_value(self.counters().clone()).expect("plain data")
    }

    fn reset_stats(&self) {
        *self.counters() = Stats::default();
    }
}
