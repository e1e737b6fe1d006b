//! What the emulator commands (`trickle sim`, `trickle c2id sim`,
//! `trickle legacy-sim`) share:
//! the loopback-only listening address, the fault flags, HTTPS and the
//! public URL, and waiting for the signal (or the end of stdin) that stops
//! them.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use trickle_emulator::{Faults, TlsOptions};

/// The help texts that differ between the emulators sharing these flags
/// (the flags and what they do are the same).
pub trait EmulatorHelp: Send + Sync + 'static {
    /// `--tls`.
    const TLS: &'static str;
    /// `--public-url`.
    const PUBLIC_URL: &'static str;
    /// `--faults-only`.
    const FAULTS_ONLY: &'static str;
}

/// `trickle sim`'s help: the emulated Auth0 tenant.
pub enum Auth0 {}

impl EmulatorHelp for Auth0 {
    const TLS: &'static str = "Serve HTTPS, with a certificate for localhost, 127.0.0.1 and ::1 \
        from a local certificate authority made at start; its PEM file is named on stderr \
        (trust it with NODE_EXTRA_CA_CERTS=FILE). URLs the emulator hands out (issuer, JWKS, \
        audience) are then https://.";
    const PUBLIC_URL: &'static str = "The URL clients reach the emulator at through a proxy \
        (https://host[:port], nothing after): the issuer, JWKS URL and discovery document (and \
        the Management API audience) name it.";
    const FAULTS_ONLY: &'static str = "Fault only these requests: \"METHOD /path-prefix\" or \
        \"/path-prefix\" (e.g. \"PATCH /api/v2/users/\"); by default every emulated endpoint.";
}

/// `trickle c2id sim`'s help: the emulated Connect2id server.
pub enum Connect2id {}

impl EmulatorHelp for Connect2id {
    const TLS: &'static str = "Serve HTTPS, with a certificate for localhost, 127.0.0.1 and ::1 \
        from a local certificate authority made at start; its PEM file is named on stderr \
        (trust it with NODE_EXTRA_CA_CERTS=FILE). The issuer, the registration endpoint and the \
        JWKS URL are then https://.";
    const PUBLIC_URL: &'static str = "The URL clients reach the emulator at through a proxy \
        (https://host[:port], nothing after): the issuer is it plus the context path, and the \
        provider metadata (registration endpoint, JWKS URL) names it.";
    const FAULTS_ONLY: &'static str = "Fault only these requests: \"METHOD /path-prefix\" or \
        \"/path-prefix\", with the context path (e.g. \"POST /c2id/session-store/\" or \
        \"GET /c2id/authz-store/rest/v3/authorizations\"); by default every emulated endpoint.";
}

/// Where and how an emulator serves: the same flags for every emulator;
/// `H` words the help of the few whose effect names the product.
#[derive(clap::Args)]
pub struct ServeArgs<H: EmulatorHelp = Auth0> {
    /// The address to listen on; must be loopback unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    host: String,
    /// The port; 0 picks a free one (printed on the ready line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Allow a non-loopback --host. The emulator's keys and tokens are
    /// public and its data is test data: never expose it to a network you
    /// do not control.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    pub reach: ReachArgs<H>,
    #[command(flatten)]
    faults: FaultArgs<H>,
    /// Stop when standard input is closed (so a test that spawns the emulator never leaks it).
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Do not log requests on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// [`ServeArgs`] checked.
pub struct Serving {
    pub ip: IpAddr,
    pub faults: Faults,
    pub public_url: Option<String>,
}

impl<H: EmulatorHelp> ServeArgs<H> {
    /// The listening address, the faults and the public URL, or why not.
    pub fn checked(&self) -> Result<Serving, String> {
        Ok(Serving {
            ip: listen_ip(&self.host, self.allow_remote)?,
            faults: self.faults.faults()?,
            public_url: self.reach.public_url()?,
        })
    }
}

/// HTTPS and the URL clients use, the same flags for every emulator.
#[derive(clap::Args)]
pub struct ReachArgs<H: EmulatorHelp = Auth0> {
    #[arg(long, help = H::TLS)]
    tls: bool,
    /// Keep the certificate authority in DIR (ca.pem, ca-key.pem): made on
    /// first use, reused after, so clients trust one file across runs.
    /// Implies --tls. Without it the authority lives in a temporary folder,
    /// removed on exit.
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    #[arg(long, value_name = "URL", help = H::PUBLIC_URL)]
    public_url: Option<String>,
    #[arg(skip)]
    _help: PhantomData<H>,
}

impl<H: EmulatorHelp> ReachArgs<H> {
    /// `Some` when HTTPS is asked for.
    pub fn tls(&self) -> Option<TlsOptions> {
        (self.tls || self.tls_dir.is_some()).then(|| TlsOptions {
            dir: self.tls_dir.clone(),
        })
    }

    /// `--public-url`, checked.
    pub fn public_url(&self) -> Result<Option<String>, String> {
        self.public_url
            .as_deref()
            .map(trickle_emulator::parse_public_url)
            .transpose()
    }
}

/// The one line a started emulator prints on stdout, `NAME listening on
/// URL`, flushed: what tests and scripts wait for.
pub fn announce_ready(name: &str, url: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{name} listening on {url}")
        .and_then(|()| stdout.flush())
        .inspect_err(crate::broken_pipe::end_if_the_reader_left)
}

/// The stderr lines that say how to reach and trust a started emulator.
pub fn announce_reach(name: &str, ca_cert: Option<&Path>, public_url: Option<&str>) {
    if let Some(path) = ca_cert {
        eprintln!(
            "{name}: HTTPS with a certificate for localhost, 127.0.0.1 and ::1; trust the \
             certificate authority {path} (e.g. NODE_EXTRA_CA_CERTS={path})",
            path = path.display()
        );
    }
    if let Some(url) = public_url {
        eprintln!("{name}: public URL {url}: the URLs it hands out name it");
    }
}

/// Injected faults, the same flags for every emulator.
#[derive(clap::Args)]
pub struct FaultArgs<H: EmulatorHelp = Auth0> {
    /// Fault: delay every emulated endpoint's answer by this many milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,
    /// Fault: share of requests answered 503 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    error_ratio: f64,
    /// Fault: share of connections closed with no HTTP answer at all.
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    drop_ratio: f64,
    /// Fault: share of requests answered 200 with a body that is not JSON.
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    malformed_ratio: f64,
    /// Fault: share of answers cut off mid-body (status and headers intact).
    #[arg(long, default_value_t = 0.0, value_name = "RATIO")]
    truncate_ratio: f64,
    #[arg(long, value_name = "REQUESTS", help = H::FAULTS_ONLY)]
    faults_only: Option<String>,
    #[arg(skip)]
    _help: PhantomData<H>,
}

impl<H: EmulatorHelp> FaultArgs<H> {
    /// The faults, checked.
    pub fn faults(&self) -> Result<Faults, String> {
        let faults = Faults {
            latency_ms: self.latency_ms,
            error_ratio: self.error_ratio,
            drop_ratio: self.drop_ratio,
            malformed_ratio: self.malformed_ratio,
            truncate_ratio: self.truncate_ratio,
            only: self.faults_only.clone(),
        };
        faults
            .validate()
            .map_err(|message| format!("invalid fault flags: {message}"))?;
        Ok(faults)
    }
}

/// The listening IP: `localhost` or an IP literal; loopback unless allowed.
fn listen_ip(host: &str, allow_remote: bool) -> Result<IpAddr, String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .map_err(|_| format!("--host {host:?} is not an IP address (or localhost)"))?
    };
    if !ip.is_loopback() && !allow_remote {
        return Err(format!(
            "refusing to listen on {ip}: not a loopback address. The emulator's keys are \
             public and its data is test data; pass --allow-remote if you really mean it"
        ));
    }
    Ok(ip)
}

/// Waits for SIGINT, SIGTERM or (if asked) the end of stdin; says which.
pub async fn stopped(watch_stdin: bool) -> &'static str {
    let stdin_closed = async {
        if !watch_stdin {
            return std::future::pending().await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A plain thread: a blocking read must not hold the runtime's
        // shutdown; the process exits with it still blocked, which is fine.
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
        let _ = rx.await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate => "SIGTERM",
        _ = stdin_closed => "stdin closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_allowed() {
        assert_eq!(
            listen_ip("127.0.0.1", false),
            Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            listen_ip("localhost", false),
            Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert!(listen_ip("::1", false).is_ok_and(|ip| ip.is_loopback()));
        assert!(listen_ip("[::1]", false).is_ok());
        assert!(listen_ip("127.0.0.2", false).is_ok());
        let refused = listen_ip("0.0.0.0", false).unwrap_err();
        assert!(refused.contains("--allow-remote"), "{refused}");
        assert!(listen_ip("0.0.0.0", true).is_ok());
        assert!(listen_ip("example.com", true).is_err());
    }
}
