//! `trickle sim`: runs the emulated OLD Auth0 tenant (trickle-sim) on
//! loopback, for offline rehearsals of a migration and for tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use trickle_sim::{Options, Seed, SeedError, Sim, StartError, MAX_SEED_BYTES};

use crate::serve::{announce_reach, announce_ready, stopped, ServeArgs, Serving};
use crate::EXIT_BAD_INPUT;

/// Run an emulator of the OLD Auth0 tenant: the token endpoint
/// (password-realm, client credentials), the Management API user endpoints
/// and import jobs, seeded from a JSON file, with injectable faults and a
/// control API under /__sim/ (stats, faults, rate-limit, users).
///
/// When ready, prints exactly one line on stdout:
/// `trickle sim listening on http://127.0.0.1:PORT` (`https://` with
/// --tls; the certificate authority to trust is named on stderr). Requests
/// are logged on stderr (never passwords, secrets or tokens). Runs until
/// SIGINT/SIGTERM (or until stdin closes, with --exit-on-stdin-close).
#[derive(clap::Args)]
pub struct Args {
    /// The seed (a JSON object of at most 256 MiB): connections, clients and
    /// users, and custom APIs ("apis" with "client_grants", to play the new
    /// tenant of a migration from your own database); e.g.
    /// examples/old-tenant-users.json.
    #[arg(long, value_name = "FILE")]
    seed: PathBuf,
    /// Management API requests per second before 429 (0 turns the limit off).
    #[arg(long, default_value_t = 16, value_name = "RPS")]
    rate_limit: u32,
    /// Lifetime of Management API (client credentials) tokens, in seconds.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    token_lifetime: u64,
    /// How long an import job stays pending then processing, in milliseconds.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    job_delay_ms: u64,
    #[command(flatten)]
    serve: ServeArgs,
    /// "Deploy" a connection folder in deploy-cli's directory format (what
    /// `trickle generate` writes: database.json and its scripts) into the
    /// emulated tenant, so it can play the NEW tenant: the connection and its
    /// scripts are shown by GET /api/v2/connections. Repeatable.
    #[arg(long, value_name = "DIR")]
    deploy: Vec<PathBuf>,
    /// The tenant's canonical host name (e.g. `localhost`), to rehearse a
    /// custom domain: the Management API audience is then only
    /// `http://<HOST>:PORT/api/v2/`, and any other name the emulator is
    /// reached by (e.g. `127.0.0.1`) plays the custom domain.
    #[arg(long, value_name = "HOST")]
    canonical_host: Option<String>,
}

/// `trickle sim` in phases: the arguments and the seed, the options, then
/// the emulator served until it is told to stop.
pub fn run(args: Args) -> ExitCode {
    let bad_input = |message: String| {
        eprintln!("trickle sim: {message}");
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
    let seed = match deployed_seed(&args) {
        Ok(seed) => seed,
        Err(message) => return bad_input(message),
    };
    let options = Options {
        rate_limit: args.rate_limit,
        token_lifetime_secs: args.token_lifetime,
        job_delay: Duration::from_millis(args.job_delay_ms),
        faults,
        log_requests: !args.serve.quiet,
        tls: args.serve.reach.tls(),
        public_url,
        canonical_host: args.canonical_host,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle sim: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let address = SocketAddr::new(ip, args.serve.port);
    let code = runtime.block_on(serve(
        seed,
        options,
        address,
        args.serve.exit_on_stdin_close,
    ));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// The seed with the `--deploy` folders in it; says first when hashing its
/// passwords will take a while.
fn deployed_seed(args: &Args) -> Result<Seed, String> {
    let mut seed =
        read_seed(&args.seed).map_err(|error| format!("{}: {error}", args.seed.display()))?;
    for dir in &args.deploy {
        seed.deploy(dir)
            .map_err(|error| format!("--deploy {}: {error}", dir.display()))?;
    }
    let passwords = seed.users.iter().filter(|u| u.password.is_some()).count();
    if slow_to_hash(passwords, seed.bcrypt_cost) {
        eprintln!(
            "trickle sim: hashing {passwords} passwords (bcrypt cost {}); this takes a while \
             (a lower bcrypt_cost in the seed, e.g. 4, is faster)",
            seed.bcrypt_cost
        );
    }
    Ok(seed)
}

/// Starts the emulator, says it is ready, and serves until a stop signal
/// (or stdin's end, when asked).
async fn serve(
    seed: Seed,
    options: Options,
    address: SocketAddr,
    exit_on_stdin_close: bool,
) -> ExitCode {
    let started = Instant::now();
    let summary = format!(
        "{} users in {} connection(s), {} client(s)",
        seed.users.len(),
        seed.connection_list().len(),
        seed.clients.len()
    );
    let sim = match Sim::start(seed, options, address).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("trickle sim: {error}");
            return match error {
                StartError::Seed(_) | StartError::Faults(_) | StartError::PublicUrl(_) => {
                    ExitCode::from(EXIT_BAD_INPUT)
                }
                _ => ExitCode::FAILURE,
            };
        }
    };
    if let Err(error) = announce_ready("trickle sim", sim.base_url()) {
        eprintln!("trickle sim: cannot write to stdout: {error}");
        return ExitCode::FAILURE;
    }
    announce_reach("trickle sim", sim.ca_cert_path(), sim.public_url());
    eprintln!(
        "trickle sim: {summary}; ready in {} ms",
        started.elapsed().as_millis()
    );
    let reason = stopped(exit_on_stdin_close).await;
    eprintln!("trickle sim: stopping ({reason})");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

/// Opens and reads the seed: a regular file over the limit is refused
/// before any of it is read; other files (pipes, devices) as they are read.
fn read_seed(path: &std::path::Path) -> Result<Seed, SeedError> {
    let file = std::fs::File::open(path).map_err(SeedError::Read)?;
    let meta = file.metadata().map_err(SeedError::Read)?;
    if meta.is_file() && meta.len() > MAX_SEED_BYTES {
        return Err(SeedError::TooLarge);
    }
    Seed::from_reader(std::io::BufReader::new(file))
}

/// Whether hashing `passwords` at `cost` takes long enough (over about a
/// second on one core: 16 hashes at cost 10) to say so first.
fn slow_to_hash(passwords: usize, cost: u32) -> bool {
    (passwords as u128) << cost.min(64) >= 16u128 << 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slow_hashing_is_announced() {
        assert!(!slow_to_hash(0, 14));
        assert!(!slow_to_hash(1_000, 4), "cost 4: well under a second");
        assert!(slow_to_hash(5_000, 4));
        assert!(!slow_to_hash(15, 10) && slow_to_hash(16, 10));
        assert!(slow_to_hash(1, 14));
    }
}
