//! The serve loop: hyper on a tokio listener (so a fault can drop a
//! connection without any answer), over TLS when asked, with each
//! emulator's counters, the injected faults and request logs around its
//! axum router.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use axum::Router;
use futures_util::StreamExt;
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::controls::Controls;
use crate::faults::Faults;
use crate::tls::Tls;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where every emulator's control API lives: a path no emulated server has.
pub const CONTROL_PREFIX: &str = "/__sim";

/// What an emulator plugs into the shared serve loop and control API.
pub trait Emulator: Send + Sync + 'static {
    /// The prefix of its request log lines, e.g. `trickle sim`.
    fn name(&self) -> &'static str;

    /// Its faults, rate limit and logging switch.
    fn controls(&self) -> &Controls;

    /// Whether a path is the control API's: never faulted, never counted.
    fn is_control(&self, path: &str) -> bool {
        path == CONTROL_PREFIX
            || path
                .strip_prefix(CONTROL_PREFIX)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// How much of a request's body [`Emulator::count`] wants to see (the
    /// body is read first, then handed on unchanged); `None`: none.
    fn body_to_count(&self, _method: &Method, _path: &str) -> Option<usize> {
        None
    }

    /// Counts one request (faulted ones too) before anything else happens.
    fn count(&self, method: &Method, path: &str, headers: &HeaderMap, body: Option<&[u8]>);

    /// The 503 of an injected outage, as the emulated API words errors.
    fn outage(&self, path: &str) -> Response<Body>;

    /// A 200 whose body is not JSON (a proxy's error page, say).
    fn malformed(&self, path: &str) -> Response<Body>;

    /// The counters, as `GET /__sim/stats` shows them.
    fn stats(&self) -> Value;

    /// Zeroes the counters (`POST /__sim/stats/reset`).
    fn reset_stats(&self);
}

/// A listener with a deep accept queue: tests fire hundreds of concurrent
/// connections, and the default backlog (128) drops SYNs, which costs each
/// dropped client a one-second retransmission.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
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

/// A serve loop running in the background. Dropping it (or
/// [`Serving::shutdown`]) stops it.
pub struct Serving {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves `router` on `listener` on the current tokio runtime, over
    /// HTTPS with `tls`.
    pub fn start<E: Emulator>(
        listener: TcpListener,
        router: Router,
        emulator: Arc<E>,
        tls: Option<&Tls>,
    ) -> io::Result<Serving> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let acceptor = tls.map(Tls::acceptor);
        let task = tokio::spawn(serve(listener, router, emulator, acceptor, stopped));
        Ok(Serving {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address actually bound (port 0 resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve<E: Emulator>(
    listener: TcpListener,
    router: Router,
    emulator: Arc<E>,
    tls: Option<TlsAcceptor>,
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
                let emulator = emulator.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(stream, emulator, router).await,
                        Some(tls) => {
                            // A client that fails or stalls its handshake
                            // loses only its own connection.
                            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream));
                            if let Ok(Ok(stream)) = handshake.await {
                                serve_connection(stream, emulator, router).await;
                            }
                        }
                    }
                });
            }
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// HTTP/1.1 on one connection, plain or TLS.
async fn serve_connection<E: Emulator, S>(stream: S, emulator: Arc<E>, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle(emulator.clone(), router.clone(), request));
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
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

async fn handle<E: Emulator>(
    emulator: Arc<E>,
    router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let log = |status: Option<StatusCode>, note: &str| {
        if emulator.controls().log_requests() {
            let status = status.map_or_else(|| "---".to_owned(), |s| s.as_u16().to_string());
            eprintln!(
                "{}: {method} {path} -> {status} in {} ms{note}",
                emulator.name(),
                started.elapsed().as_millis()
            );
        }
    };
    if emulator.is_control(&path) {
        let response = call(router, request.map(Body::new)).await;
        log(Some(response.status()), "");
        return Ok(response);
    }

    // Count first (faulted requests count too), with the body when the
    // emulator asks for it.
    let (parts, body) = request.into_parts();
    let body = match emulator.body_to_count(&method, &path) {
        Some(limit) => {
            let bytes = to_bytes(Body::new(body), limit).await.unwrap_or_default();
            emulator.count(&method, &path, &parts.headers, Some(&bytes));
            Body::from(bytes)
        }
        None => {
            emulator.count(&method, &path, &parts.headers, None);
            Body::new(body)
        }
    };
    let request = Request::from_parts(parts, body);

    let faults = emulator.controls().faults();
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
        let response = emulator.outage(&path);
        log(Some(response.status()), " [fault: 503]");
        return Ok(response);
    }
    if roll(faults.malformed_ratio) {
        let response = emulator.malformed(&path);
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

/// The real status and headers, then part of the body, then (once that is
/// on the wire) a failing body, so hyper closes the connection. A body of
/// known size keeps its full Content-Length and loses its second half; a
/// streamed one sends half of its first chunk.
async fn truncated(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let part = if body.size_hint().exact().is_some() {
        let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        bytes.slice(..bytes.len() / 2)
    } else {
        let mut chunks = body.into_data_stream();
        let first = match chunks.next().await {
            Some(Ok(chunk)) => chunk,
            _ => Bytes::new(),
        };
        first.slice(..first.len() / 2)
    };
    let first = futures_util::stream::once(async move { Ok::<Bytes, io::Error>(part) });
    let cut = futures_util::stream::once(async {
        // Let hyper flush the head and the first part before the failure.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "body truncated by an injected fault",
        ))
    });
    Response::from_parts(parts, Body::from_stream(first.chain(cut)))
}
