//! `trickle c2id sim`: runs an emulated Connect2id server (trickle-c2id-sim)
//! on loopback, to rehearse a migration between two servers offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use trickle_c2id_sim::{C2idSim, Options, Seed, StartError};

use crate::serve::{announce_reach, announce_ready, stopped, ServeArgs, Serving};
use crate::EXIT_BAD_INPUT;

/// Run an emulated Connect2id server: the client registration endpoint,
/// the authorisation store API (v3 from version 10.0, and v2), the session
/// store API v2, the JWK set, the OpenID provider metadata and a splash
/// page with the version, each web API behind its own token; seeded from a
/// JSON file (see examples/c2id-source.json), with injectable faults, an
/// optional rate limit and a control API under /__sim/ (stats, faults,
/// rate-limit, state).
///
/// When ready, prints exactly one line on stdout:
/// `trickle c2id sim listening on http://127.0.0.1:PORT` (`https://` with
/// --tls; the issuer adds the seed's context path). Requests are logged on stderr (never bodies,
/// tokens or secrets). Runs until SIGINT/SIGTERM (or until stdin closes,
/// with --exit-on-stdin-close).
#[derive(clap::Args)]
pub struct Args {
    /// The seed (JSON): version, JWK set, API tokens, clients, authorisations, sessions.
    #[arg(long, value_name = "FILE")]
    seed: PathBuf,
    /// The issuer's context path, e.g. /c2id (default: the seed's).
    #[arg(long, value_name = "PATH")]
    context_path: Option<String>,
    /// Web API requests per second before 429 (0, the default, is off: the
    /// real server has no limit).
    #[arg(long, default_value_t = 0, value_name = "RPS")]
    rate_limit: u32,
    #[command(flatten)]
    serve: ServeArgs,
}

pub fn run(args: Args) -> ExitCode {
    let bad_input = |message: String| {
        eprintln!("trickle c2id sim: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let Serving {
        ip,
        faults,
        public_url,
    } = match args.serve.checked() {
        Ok(serving) => serving,
        Err(message) => return bad_input(message),
    };
    let started = Instant::now();
    let seed = match Seed::from_path(&args.seed) {
        Ok(seed) => seed,
        Err(error) => return bad_input(format!("{}: {error}", args.seed.display())),
    };
    let (clients, authorizations, sessions) = seed.counts();
    let summary = format!(
        "Connect2id {} with {clients} client(s), {authorizations} authorisation(s), {sessions} session(s)",
        seed.version()
    );
    let options = Options {
        rate_limit: args.rate_limit,
        faults,
        log_requests: !args.serve.quiet,
        context_path: args.context_path.clone(),
        tls: args.serve.reach.tls(),
        public_url: public_url.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle c2id sim: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let sim = match C2idSim::start(seed, options, SocketAddr::new(ip, args.serve.port)).await {
            Ok(sim) => sim,
            Err(
                error @ (StartError::Faults(_)
                | StartError::ContextPath(_)
                | StartError::PublicUrl(_)),
            ) => return bad_input(error.to_string()),
            Err(error) => {
                eprintln!("trickle c2id sim: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = announce_ready("trickle c2id sim", sim.base_url()) {
            eprintln!("trickle c2id sim: cannot write to stdout: {error}");
            return ExitCode::FAILURE;
        }
        announce_reach(
            "trickle c2id sim",
            sim.ca_cert_path(),
            public_url.as_deref(),
        );
        eprintln!(
            "trickle c2id sim: {summary}; issuer {}; ready in {} ms",
            sim.issuer(),
            started.elapsed().as_millis()
        );
        let reason = stopped(args.serve.exit_on_stdin_close).await;
        eprintln!("trickle c2id sim: stopping ({reason})");
        sim.shutdown().await;
        ExitCode::SUCCESS
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}
