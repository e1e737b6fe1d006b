//! The one constructor of every HTTP client Trickle builds (bulk import,
//! preflight, status, unmark, c2id migrate): redirects are never followed
//! (a followed redirect would carry a token or secret to a host the
//! operator never named), every request has a deadline, and the user agent
//! names Trickle. Callers choose only the deadlines and the trusted roots.

use std::time::Duration;

use reqwest::{redirect::Policy, Certificate, Client};

/// The user agent of every request Trickle sends.
pub const USER_AGENT: &str = concat!("trickle/", env!("CARGO_PKG_VERSION"));

/// What a caller may choose. Anything not here (redirects, user agent) is
/// the same for every client on purpose.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The whole request, connect to last byte. `None` only for streamed
    /// listings, which must then set `read_timeout`.
    pub timeout: Option<Duration>,
    /// Connecting, TLS included.
    pub connect_timeout: Duration,
    /// The longest silence between two reads of a body.
    pub read_timeout: Option<Duration>,
    /// Extra certificate authorities (a private CA, an emulator's `--tls`).
    pub extra_roots: Vec<Certificate>,
    /// Idle keep-alive connections kept per host.
    pub idle_per_host: Option<usize>,
}

impl ClientOptions {
    /// A deadline on the whole request; connecting takes at most ten
    /// seconds of it.
    pub fn with_timeout(timeout: Duration) -> ClientOptions {
        ClientOptions {
            timeout: Some(timeout),
            connect_timeout: timeout.min(Duration::from_secs(10)),
            read_timeout: None,
            extra_roots: Vec::new(),
            idle_per_host: None,
        }
    }
}

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("a client with no deadline at all was asked for (set a timeout or a read timeout)")]
    Unbounded,
    #[error("cannot make an HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// An HTTP client that follows no redirect, with the given deadlines.
pub fn client(options: &ClientOptions) -> Result<Client, ClientError> {
    if options.timeout.is_none() && options.read_timeout.is_none() {
        return Err(ClientError::Unbounded);
    }
    let mut builder = Client::builder()
        .redirect(Policy::none())
        .user_agent(USER_AGENT)
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true);
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(read) = options.read_timeout {
        builder = builder.read_timeout(read);
    }
    if let Some(idle) = options.idle_per_host {
        builder = builder.pool_max_idle_per_host(idle);
    }
    for root in &options.extra_roots {
        builder = builder.add_root_certificate(root.clone());
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_without_any_deadline_is_refused() {
        let options = ClientOptions {
            timeout: None,
            ..ClientOptions::with_timeout(Duration::from_secs(1))
        };
        assert!(matches!(client(&options), Err(ClientError::Unbounded)));
    }

    #[test]
    fn connecting_never_takes_longer_than_the_request() {
        let options = ClientOptions::with_timeout(Duration::from_secs(3));
        assert_eq!(options.connect_timeout, Duration::from_secs(3));
        let options = ClientOptions::with_timeout(Duration::from_secs(60));
        assert_eq!(options.connect_timeout, Duration::from_secs(10));
    }
}
