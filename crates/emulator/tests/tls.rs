//! The serve loop over real TLS: a client that trusts the emulator's
//! authority reaches it by `127.0.0.1`, `localhost` and `::1`; one that does
//! not is refused in the handshake; faults still apply; a stalled handshake
//! holds nobody else up.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use trickle_emulator::{
    control_routes, listen, Controls, Emulator, Faults, Origins, Serving, Tls, TlsOptions,
};

struct Echo {
    controls: Controls,
    origins: Origins,
    requests: AtomicU64,
}

impl Emulator for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn controls(&self) -> &Controls {
        &self.controls
    }
    fn count(&self, _: &Method, _: &str, _: &HeaderMap, _: Option<&[u8]>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    fn outage(&self, _: &str) -> Response<Body> {
        trickle_emulator::json(StatusCode::SERVICE_UNAVAILABLE, json!({"down": true}))
    }
    fn malformed(&self, _: &str) -> Response<Body> {
        Response::new(Body::from("<html>"))
    }
    fn stats(&self) -> Value {
        json!({"requests": self.requests.load(Ordering::Relaxed)})
    }
    fn reset_stats(&self) {
        self.requests.store(0, Ordering::Relaxed);
    }
}

async fn start(tls: &Tls) -> (Serving, Arc<Echo>) {
    let listener = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = Arc::new(Echo {
        controls: Controls::new(Faults::default(), 0, false).unwrap(),
        origins: Origins::new(true, addr, None).unwrap(),
        requests: AtomicU64::new(0),
    });
    let state = echo.clone();
    let router = Router::new()
        .route(
            "/base",
            get(move |headers: HeaderMap| async move {
                trickle_emulator::json(
                    StatusCode::OK,
                    json!({"base": state.origins.base_for(&headers)}),
                )
            }),
        )
        .merge(control_routes(echo.clone()));
    let serving = Serving::start(listener, router, echo.clone(), Some(tls)).unwrap();
    (serving, echo)
}

fn connector(ca_pem: Option<&str>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = ca_pem {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// One GET over TLS to `name` (the certificate name checked) at `addr`.
async fn get_over_tls(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &str,
    path: &str,
) -> std::io::Result<(u16, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut stream = connector.connect(server_name, tcp).await?;
    let host = if name.contains(':') {
        format!("[{name}]:{}", addr.port())
    } else {
        format!("{name}:{}", addr.port())
    };
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trusts_the_authority_reaches_every_loopback_name() {
    let tls = Tls::prepare(&TlsOptions::default()).unwrap();
    let (serving, _) = start(&tls).await;
    let trusting = connector(Some(tls.ca_cert_pem()));
    let addr = serving.addr();
    for name in ["127.0.0.1", "localhost"] {
        let (status, body) = get_over_tls(&trusting, addr, name, "/base").await.unwrap();
        assert_eq!(status, 200, "{name}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["base"], format!("https://{name}:{}", addr.port()));
    }
    // ::1 is in the certificate too (served here on IPv4: the name is what is checked).
    let (status, _) = get_over_tls(&trusting, addr, "::1", "/base").await.unwrap();
    assert_eq!(status, 200);

    let stranger = connector(None);
    let refused = get_over_tls(&stranger, addr, "127.0.0.1", "/base").await;
    assert!(
        refused.is_err(),
        "a client without the authority must refuse the server"
    );
    serving.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_control_routes_work_over_tls_and_a_stalled_handshake_blocks_nobody() {
    let tls = Tls::prepare(&TlsOptions::default()).unwrap();
    let (serving, echo) = start(&tls).await;
    let client = connector(Some(tls.ca_cert_pem()));
    let addr = serving.addr();
    // A client that connects and never speaks TLS.
    let _stalled = TcpStream::connect(addr).await.unwrap();
    echo.controls()
        .set_faults(Faults {
            error_ratio: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(5),
        get_over_tls(&client, addr, "localhost", "/base"),
    )
    .await
    .expect("answered while another handshake stalls")
    .unwrap();
    assert_eq!((status, body.as_str()), (503, r#"{"down":true}"#));
    echo.controls()
        .set_faults(Faults {
            drop_ratio: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let dropped = get_over_tls(&client, addr, "localhost", "/base").await;
    assert!(
        matches!(&dropped, Ok((0, _)) | Err(_)),
        "no HTTP answer: {dropped:?}"
    );
    let (status, body) = get_over_tls(&client, addr, "localhost", "/__sim/stats")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["requests"], 2);
    serving.shutdown().await;
}
