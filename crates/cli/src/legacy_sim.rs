//! `trickle legacy-sim`: runs the emulated legacy user-store API
//! (trickle-legacy-sim) on loopback, so a migration from your own database
//! can be rehearsed offline against `trickle sim` playing the new tenant.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use trickle_legacy_sim::{LegacySim, Options, Seed, StartError, Store, User};

use crate::serve::{announce_reach, announce_ready, stopped, ServeArgs, Serving};
use crate::EXIT_BAD_INPUT;

const NAME: &str = "trickle legacy-sim";

/// Run an emulator of a legacy user store's API (the contract in
/// docs/legacy-api.openapi.yaml): POST /users/verify, GET /users?email=,
/// GET /users/{id}, PUT and DELETE /users/{id}/migrated, seeded from a
/// JSON file whose passwords are stored as legacy stores store them
/// (bcrypt, argon2, pbkdf2, md5, sha1, sha256, sha512), every request
/// checked for a client-credentials token of the NEW tenant (--issuer,
/// --audience); with injectable faults and a control API under /__sim/
/// (stats, faults, rate-limit, users, export, reject-tokens).
///
/// When ready, prints exactly one line on stdout:
/// `trickle legacy-sim listening on http://127.0.0.1:PORT` (the API is at
/// that URL plus --base-path). Requests are logged on stderr (never
/// bodies, passwords or tokens). Runs until SIGINT/SIGTERM (or until stdin
/// closes, with --exit-on-stdin-close).
#[derive(clap::Args)]
pub struct Args {
    /// The seed (JSON): {"bcrypt_cost": 10, "users": [{"id", "email", …,
    /// "password": "…", "hash": {"algorithm": "sha256", "salt": "…"}} or
    /// {…, "password_hash": {the export's object}}]}. See
    /// crates/legacy-sim/README.md.
    #[arg(long, value_name = "FILE")]
    seed: PathBuf,
    /// The NEW tenant's issuer, e.g. http://127.0.0.1:PORT/ (`trickle sim`)
    /// or https://new-tenant.eu.auth0.com/: tokens must name it as `iss`;
    /// its JWKS (<issuer>.well-known/jwks.json) is fetched on the first
    /// request and kept.
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// The API's identifier: tokens' `aud` must contain it.
    #[arg(long, value_name = "IDENTIFIER")]
    audience: String,
    /// A certificate authority (PEM) to trust when fetching the issuer's
    /// JWKS, e.g. the ca.pem of `trickle sim --tls-dir`.
    #[arg(long, value_name = "FILE")]
    issuer_ca: Option<PathBuf>,
    /// A scope the token must carry to mark or unmark users (PUT/DELETE
    /// /users/{id}/migrated); without it they answer 403 forbidden. By
    /// default any valid token may write.
    #[arg(long, value_name = "SCOPE")]
    write_scope: Option<String>,
    /// Where the API lives under the origin, e.g. /auth0-migration.
    #[arg(long, default_value = "", value_name = "PATH")]
    base_path: String,
    /// API requests per second before 429 with Retry-After (0, the default, is off).
    #[arg(long, default_value_t = 0, value_name = "RPS")]
    rate_limit: u32,
    #[command(flatten)]
    serve: ServeArgs,
}

pub fn run(args: Args) -> ExitCode {
    let started = Instant::now();
    let (users, options, addr) = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(message) => return bad_input(message),
    };
    let summary = format!(
        "{} users; tokens from {} for {}",
        users.len(),
        args.issuer,
        args.audience
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{NAME}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let public_url = options.public_url.clone();
        let sim = match LegacySim::start(Store::new(users), options, addr).await {
            Ok(sim) => sim,
            Err(error @ (StartError::Options(_) | StartError::Faults(_))) => {
                return bad_input(error.to_string())
            }
            Err(error) => {
                eprintln!("{NAME}: {error}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(error) = announce_ready(NAME, sim.base_url()) {
            eprintln!("{NAME}: cannot write to stdout: {error}");
            return ExitCode::FAILURE;
        }
        announce_reach(NAME, sim.ca_cert_path(), public_url.as_deref());
        eprintln!(
            "{NAME}: {summary}; API at {}; ready in {} ms",
            sim.api_url(),
            started.elapsed().as_millis()
        );
        let reason = stopped(args.serve.exit_on_stdin_close).await;
        eprintln!("{NAME}: stopping ({reason})");
        sim.shutdown().await;
        ExitCode::SUCCESS
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

fn bad_input(message: String) -> ExitCode {
    eprintln!("{NAME}: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// The flags and files read and checked: the users (hashed), the
/// emulator's options, the address; or what is wrong with them.
fn prepare(args: &Args) -> Result<(Vec<User>, Options, SocketAddr), String> {
    let Serving {
        ip,
        faults,
        public_url,
    } = args.serve.checked()?;
    let users = Seed::from_path(&args.seed)
        .and_then(|seed| seed.users())
        .map_err(|error| format!("{}: {error}", args.seed.display()))?;
    let issuer_ca = match &args.issuer_ca {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|error| format!("--issuer-ca {}: {error}", path.display()))?,
        ),
        None => None,
    };
    let options = Options {
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        issuer_ca,
        write_scope: args.write_scope.clone(),
        base_path: args.base_path.clone(),
        rate_limit: args.rate_limit,
        faults,
        log_requests: !args.serve.quiet,
        tls: args.serve.reach.tls(),
        public_url,
    };
    Ok((users, options, SocketAddr::new(ip, args.serve.port)))
}
