//! `trickle c2id sim`: runs an emulated Connect2id server (trickle-c2id-sim)
//! on loopback, to rehearse a migration between two servers offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use trickle_c2id_sim::{C2idSim, ChurnRates, Options, Seed, StartError};

use crate::serve::{announce_reach, announce_ready, stopped, Connect2id, ServeArgs, Serving};
use crate::EXIT_BAD_INPUT;

const NAME: &str = "trickle c2id sim";

/// Run an emulated Connect2id server: the client registration endpoint
/// (RFC 7591 with preferred_client_id / preferred_client_secret, RFC 7592
/// read, update, delete), the authorisation store API (v3 from version
/// 10.0, and v2: list, import=true, revocation), the session store API v2
/// (SID-Key, update and logout by SID or subject, skip_last_used_update
/// from 15.3), the JWK set, the OpenID provider metadata and a splash page
/// with the version, each web API behind its own token; seeded from a JSON
/// file (see examples/c2id-source.json, or make one with `trickle c2id
/// seed`), with injectable faults, an optional rate limit, live churn and
/// a control API under /__sim/ (stats, faults, rate-limit, state, churn).
/// Its keys and tokens are test material: never put real data in it.
///
/// When ready, prints exactly one line on stdout:
/// `trickle c2id sim listening on http://127.0.0.1:PORT` (`https://` with
/// --tls; the issuer adds the seed's context path). Requests are logged on
/// stderr (never bodies, tokens or secrets). Runs until SIGINT/SIGTERM (or
/// until stdin closes, with --exit-on-stdin-close).
///
/// Live churn (--churn-*, or PUT /__sim/churn at run time) keeps changing
/// the store as a live source server changes: consents revoked, sessions
/// logged out, clients edited and deleted, records added; each is a real
/// change the listings show, counted at GET /__sim/churn, and the same
/// --churn-seed replays the same changes.
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
    /// A client update (PUT /clients/{id}) issues a new registration access
    /// token, as a server with op.reg.refreshAccessTokenOnUpdate does
    /// (default: the token stays).
    #[arg(long)]
    rotate_registration_token_on_update: bool,
    #[command(flatten)]
    churn: ChurnArgs,
    #[command(flatten)]
    serve: ServeArgs<Connect2id>,
}

/// Live churn from the start: changes per second of each kind (fractions
/// accumulate: 0.5 is one every two seconds); 0, the default, is none.
#[derive(clap::Args)]
struct ChurnArgs {
    /// Churn: revoke this many authorisations per second (consent withdrawn).
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_revoke_authz: f64,
    /// Churn: re-issue this many authorisations per second with another scope.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_edit_authz: f64,
    /// Churn: log out of this many sessions per second.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_logout: f64,
    /// Churn: change the data of this many sessions per second.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_edit_sessions: f64,
    /// Churn: change the redirect_uris of this many clients per second.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_edit_clients: f64,
    /// Churn: delete this many clients per second, with their authorisations.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_delete_clients: f64,
    /// Churn: add this many records per second: a client, an authorisation,
    /// a session, in turn.
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    churn_add: f64,
    /// The churn's random seed: the same seed, seed file and rates make the
    /// same changes.
    #[arg(long, default_value_t = 1, value_name = "N")]
    churn_seed: u64,
}

impl ChurnArgs {
    fn rates(&self) -> ChurnRates {
        ChurnRates {
            revoke_authz: self.churn_revoke_authz,
            edit_authz: self.churn_edit_authz,
            logout: self.churn_logout,
            edit_sessions: self.churn_edit_sessions,
            edit_clients: self.churn_edit_clients,
            delete_clients: self.churn_delete_clients,
            add: self.churn_add,
        }
    }
}

fn bad_input(message: String) -> ExitCode {
    eprintln!("{NAME}: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn run(args: Args) -> ExitCode {
    let started = Instant::now();
    let serving = match args.serve.checked() {
        Ok(serving) => serving,
        Err(message) => return bad_input(message),
    };
    if let Err(message) = args.churn.rates().check() {
        return bad_input(format!("--churn-*: {message}"));
    }
    let seed = match Seed::from_path(&args.seed) {
        Ok(seed) => seed,
        Err(error) => return bad_input(format!("{}: {error}", args.seed.display())),
    };
    let (clients, authorizations, sessions) = seed.counts();
    let summary = format!(
        "Connect2id {} with {clients} client(s), {authorizations} authorisation(s), {sessions} session(s)",
        seed.version()
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
    let code = runtime.block_on(serve(&args, seed, serving, summary, started));
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Starts the server, says so, and serves until told to stop.
async fn serve(
    args: &Args,
    seed: Seed,
    serving: Serving,
    summary: String,
    started: Instant,
) -> ExitCode {
    let Serving {
        ip,
        faults,
        public_url,
    } = serving;
    let options = Options {
        rate_limit: args.rate_limit,
        faults,
        log_requests: !args.serve.quiet,
        context_path: args.context_path.clone(),
        tls: args.serve.reach.tls(),
        public_url: public_url.clone(),
        rotate_registration_token_on_update: args.rotate_registration_token_on_update,
        churn: args.churn.rates(),
        churn_seed: args.churn.churn_seed,
    };
    let sim = match C2idSim::start(seed, options, SocketAddr::new(ip, args.serve.port)).await {
        Ok(sim) => sim,
        Err(
            error @ (StartError::Faults(_)
            | StartError::ContextPath(_)
            | StartError::PublicUrl(_)
            | StartError::Churn(_)),
        ) => return bad_input(error.to_string()),
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
    let churn = sim.churn();
    if !churn.rates.is_idle() {
        eprintln!(
            "{NAME}: churn on (seed {}): see GET {}/__sim/churn",
            churn.seed,
            sim.base_url()
        );
    }
    eprintln!(
        "{NAME}: {summary}; issuer {}; ready in {} ms",
        sim.issuer(),
        started.elapsed().as_millis()
    );
    let reason = stopped(args.serve.exit_on_stdin_close).await;
    eprintln!("{NAME}: stopping ({reason})");
    sim.shutdown().await;
    ExitCode::SUCCESS
}
