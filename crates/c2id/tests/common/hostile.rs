//! A small hostile HTTP server for tests: alone, or in front of an
//! emulator (whatever its rule does not take over is forwarded there
//! unchanged), it answers as its rule says: rewritten discovery documents,
//! answers with another record's identifiers, 2xx that store nothing, 429s
//! with huge `Retry-After`, dripping or generated listings. Every request
//! is recorded (method, path, query, headers, body), so a test can check
//! what reached it, and which token.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming as Body};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;

/// A request as the rule sees it (the body read whole: tests send little).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `METHOD` and a path ending in `suffix`.
    pub fn is(&self, method: &str, suffix: &str) -> bool {
        self.method == method && self.path.ends_with(suffix)
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(value.to_string()),
        }
    }

    pub fn text(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What to do with one request.
pub enum Action {
    /// Send it on to the emulator behind, unchanged.
    Forward,
    /// Send this (changed) request on instead.
    ForwardAs(Incoming),
    /// Answer without asking the emulator.
    Reply(Reply),
    /// Forward it, then answer with the emulator's answer changed.
    Rewrite(Box<dyn FnOnce(Reply) -> Reply + Send>),
    /// Answer with a body sent piece by piece (no `Content-Length`).
    Stream {
        status: u16,
        content_type: &'static str,
        body: BoxStream<'static, Bytes>,
    },
}

pub type Rule = Arc<dyn Fn(&Incoming) -> Action + Send + Sync>;

/// A rule from a closure.
pub fn rule(f: impl Fn(&Incoming) -> Action + Send + Sync + 'static) -> Rule {
    Arc::new(f)
}

/// The running server.
pub struct Hostile {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Incoming>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener on loopback and its URL, to hand to an emulator as its
/// public URL before the server behind it starts.
pub async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

struct Shared {
    upstream: Option<String>,
    rule: Rule,
    seen: Arc<Mutex<Vec<Incoming>>>,
    client: reqwest::Client,
}

impl Hostile {
    /// Serves `listener`: `rule` decides; `upstream` (an emulator's base
    /// URL) gets what is forwarded.
    pub fn serve(listener: TcpListener, upstream: Option<String>, rule: Rule) -> Hostile {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            upstream,
            rule,
            seen: seen.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Hostile { url, seen, task }
    }

    /// A server with no emulator behind it.
    pub async fn alone(rule: Rule) -> Hostile {
        let (listener, _) = bind().await;
        Hostile::serve(listener, None, rule)
    }

    /// Every request it received so far.
    pub fn seen(&self) -> Vec<Incoming> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests `METHOD …suffix` it received.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.seen().iter().filter(|r| r.is(method, suffix)).count()
    }
}

type Answer = hyper::Response<UnsyncBoxBody<Bytes, Infallible>>;

async fn answer(shared: &Shared, request: hyper::Request<Body>) -> Answer {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let incoming = Incoming {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    shared.seen.lock().unwrap().push(incoming.clone());
    match (shared.rule)(&incoming) {
        Action::Forward => respond(forward(shared, &incoming).await),
        Action::ForwardAs(changed) => respond(forward(shared, &changed).await),
        Action::Reply(reply) => respond(reply),
        Action::Rewrite(change) => respond(change(forward(shared, &incoming).await)),
        Action::Stream {
            status,
            content_type,
            body,
        } => {
            let frames = body.map(|bytes| Ok::<_, Infallible>(Frame::data(bytes)));
            hyper::Response::builder()
                .status(status)
                .header("content-type", content_type)
                .body(BodyExt::boxed_unsync(StreamBody::new(frames)))
                .unwrap()
        }
    }
}

fn respond(reply: Reply) -> Answer {
    let mut builder = hyper::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(reply.body).boxed_unsync()).unwrap()
}

async fn forward(shared: &Shared, request: &Incoming) -> Reply {
    let Some(upstream) = &shared.upstream else {
        return Reply::text(404, "text/plain", "nothing behind this server");
    };
    let mut url = format!("{upstream}{}", request.path);
    if let Some(query) = &request.query {
        url.push('?');
        url.push_str(query);
    }
    let mut headers = request.headers.clone();
    headers.remove("host");
    headers.remove("content-length");
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let sent = shared
        .client
        .request(method, &url)
        .headers(headers)
        .body(request.body.clone())
        .send()
        .await;
    let Ok(response) = sent else {
        return Reply::text(502, "text/plain", "the emulator behind did not answer");
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        })
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}
