//! `trickle c2id migrate`: a Connect2id server's client registrations,
//! long-lived authorisations and sessions, to another server. Arguments,
//! tokens from the environment, progress and the exit code; what is
//! printed is [`print`]'s; the work is `trickle_c2id`'s.

mod print;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use trickle_c2id::api::{api_name, is_bearer_token, DEFAULT_MAX_RECORD_BYTES};
use trickle_c2id::{
    migrate, preflight, watch, ApiTokens, Endpoint, Event, HttpOptions, MigrateError,
    MigrateOptions, Outcome, Phase, SyncRules, Version, WaitNotice, DEFAULT_MAX_DELETE_RATIO,
    DEFAULT_MEMORY_BOUND,
};
use trickle_transfer::{thousands, Display, PhaseProgress, Unit};

use crate::EXIT_BAD_INPUT;

/// Requests in flight at once unless told otherwise: measured with
/// `scripts/bench-c2id.sh` (emulator to emulator on loopback, 2 cores),
/// where more stopped paying; see the README.
const DEFAULT_CONCURRENCY: u16 = 16;
/// Exit code of a run stopped by Ctrl-C or SIGTERM (run it again to resume).
const EXIT_INTERRUPTED: u8 = 130;

/// Migrate a Connect2id server to another: client registrations (with
/// preferred_client_id / preferred_client_secret), long-lived
/// authorisations (import=true), then sessions (SID-Key), as Connect2id's
/// data migration guide describes, after a preflight that writes nothing.
///
/// Tokens come from the environment only: TRICKLE_C2ID_SOURCE_TOKEN and
/// TRICKLE_C2ID_TARGET_TOKEN for every web API, each overridable per API
/// with TRICKLE_C2ID_{SOURCE,TARGET}_{CLIENTS,AUTHZ,SESSIONS}_TOKEN. They
/// are sent only to the URLs given (and paths under them).
///
/// After the copy, --sync (once) or --sync --watch SECONDS (until
/// stopped) carry the source's later changes over, deletions included.
///
/// Resumable: the journal folder records the keys done (never a secret);
/// run the same command again after a crash or Ctrl-C. Exit codes: 0 all
/// migrated (and verified, with --verify), 1 some records failed or
/// mismatched, or a phase could not go on (listed, and in report.json;
/// for --dry-run: some would not migrate; for --sync: also deletions
/// refused by --max-delete-ratio), 2 bad arguments, a missing or
/// unusable token, a refusing preflight, or a journal that cannot be used,
/// 130 interrupted.
#[derive(clap::Args)]
pub struct Args {
    /// The source server's issuer URL (e.g. https://old.example.com/c2id).
    #[arg(long, value_name = "URL")]
    source: String,
    /// The target server's issuer URL.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Only these phases, comma-separated: clients, authorizations,
    /// sessions (they always run in that order).
    #[arg(long, value_delimiter = ',', value_name = "PHASES")]
    only: Vec<Phase>,
    /// The folder of the journal and report.json.
    #[arg(long, value_name = "DIR", default_value = "c2id-migration")]
    journal: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=512))]
    concurrency: u16,
    /// Read both servers and report what would happen, with one sample
    /// record per phase (secrets masked); write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Afterwards, read the target again and compare every record with the
    /// source's (report.json gets the table and the mismatches).
    #[arg(long)]
    verify: bool,
    /// Replace target records that differ from the source's (by default
    /// they are reported as conflicts and left alone). Clients are updated
    /// in place (RFC 7592); one whose secret differs is deleted and
    /// registered again (its own put back if the target refuses).
    #[arg(long)]
    overwrite: bool,
    /// Go on when the servers' JWK sets differ, with client registrations
    /// only (sessions and tokens would not survive).
    #[arg(long)]
    allow_different_keys: bool,
    /// The source's version, when its splash page does not show it.
    #[arg(long, value_name = "X.Y")]
    source_version: Option<Version>,
    /// The target's version, when its splash page does not show it.
    #[arg(long, value_name = "X.Y")]
    target_version: Option<Version>,
    /// Also trust the certificate authorities in this PEM file (servers
    /// behind a private CA, or `trickle c2id sim --tls`'s ca.pem). Repeatable.
    #[arg(long, value_name = "FILE")]
    ca_file: Vec<PathBuf>,
    /// The longest one record's requests may wait in all (the servers'
    /// Retry-After on 429, back-off between retries), in seconds; past it
    /// the record fails. A wait of 10 s or more is announced.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    max_wait: u64,
    /// A listing that delivers no new record for this many seconds is
    /// given up (the phase stops; run again later).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    stall_timeout: u64,
    /// Records longer than this (as listed, in bytes) are skipped while
    /// the listing streams past and reported failed.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_RECORD_BYTES as u64, value_parser = clap::value_parser!(u64).range(1024..=1 << 30))]
    max_record_bytes: u64,
    /// One pass that makes the target equal to the source (for the phases
    /// of --only), after a copy: what the target lacks is posted, what
    /// differs replaced (clients by RFC 7592 update, authorisations
    /// re-posted with import=true, sessions updated under their SID), and
    /// what the source no longer has deleted on the target (revoked
    /// consents, logged-out sessions, deleted clients), but only records
    /// this journal migrated, and only after a whole source listing. The
    /// records' content decides, not the journal. With --dry-run: the
    /// counts per kind, nothing written.
    #[arg(long)]
    sync: bool,
    /// Sync passes again and again, this many seconds apart, until Ctrl-C
    /// or SIGTERM (exit 130, the last pass complete or journalled). Each
    /// pass prints its duration, its changes and the age of its source
    /// read, and rewrites report.json: switch traffic right after a clean
    /// pass.
    #[arg(long, value_name = "SECONDS", requires = "sync", conflicts_with = "dry_run", value_parser = clap::value_parser!(u64).range(0..=86_400))]
    watch: Option<u64>,
    /// With --sync: also delete target records this migration never saw on
    /// the source (by default they are counted and left alone).
    #[arg(long, requires = "sync")]
    delete_unknown: bool,
    /// With --sync: the largest share of a kind's records on the target one
    /// pass may delete; past it that kind's deletions are refused (exit 1,
    /// counts shown), so a broken or empty source listing never wipes the
    /// target.
    #[arg(long, value_name = "RATIO", default_value_t = DEFAULT_MAX_DELETE_RATIO, value_parser = delete_ratio, requires = "sync")]
    max_delete_ratio: f64,
    /// With --sync: delete past --max-delete-ratio (the source really
    /// lost that much).
    #[arg(long, requires = "sync")]
    allow_mass_delete: bool,
}

/// A share from 0 to 1.
fn delete_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err("a share from 0 to 1 (0.1 is a tenth)".to_owned()),
    }
}

/// The token variables of one side, per phase: the per-API one, then the
/// side's own.
fn token_variables(side: &str, phase: Phase) -> [String; 2] {
    let api = match phase {
        Phase::Clients => "CLIENTS",
        Phase::Authorizations => "AUTHZ",
        Phase::Sessions => "SESSIONS",
    };
    [
        format!("TRICKLE_C2ID_{side}_{api}_TOKEN"),
        format!("TRICKLE_C2ID_{side}_TOKEN"),
    ]
}

/// A side's tokens from the environment, or what is wrong with them (the
/// variables to set, or whose value no header can carry).
fn tokens_from_env(side: &str, phases: &[Phase]) -> Result<ApiTokens, Vec<String>> {
    let mut tokens = ApiTokens::default();
    let mut wrong = Vec::new();
    for &phase in phases {
        let [specific, general] = token_variables(side, phase);
        let found = [&specific, &general].into_iter().find_map(|name| {
            let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty())?;
            Some((name, value.trim().to_owned()))
        });
        let Some((name, token)) = found else {
            wrong.push(format!(
                "set {general} (or {specific}) for the {} API (tokens are read from the \
                 environment only)",
                api_name(phase)
            ));
            continue;
        };
        if !is_bearer_token(&token) {
            wrong.push(format!(
                "{name} holds characters a bearer token cannot (only letters, digits and \
                 - . _ ~ + / then =): it could not be sent in a header; check its value (a \
                 stray line break or quote?)"
            ));
            continue;
        }
        match phase {
            Phase::Clients => tokens.clients = Some(token),
            Phase::Authorizations => tokens.authorizations = Some(token),
            Phase::Sessions => tokens.sessions = Some(token),
        }
    }
    if wrong.is_empty() {
        Ok(tokens)
    } else {
        Err(wrong)
    }
}

/// What the run needs, from the arguments and the environment.
struct Inputs {
    phases: Vec<Phase>,
    source: Endpoint,
    target: Endpoint,
    http: HttpOptions,
}

fn inputs(args: &Args) -> Result<Inputs, ExitCode> {
    let phases: Vec<Phase> = if args.only.is_empty() {
        Phase::ALL.to_vec()
    } else {
        let only: BTreeSet<Phase> = args.only.iter().copied().collect();
        only.into_iter().collect()
    };
    let (source_tokens, target_tokens) = match (
        tokens_from_env("SOURCE", &phases),
        tokens_from_env("TARGET", &phases),
    ) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            for wrong in [s.err(), t.err()].into_iter().flatten().flatten() {
                eprintln!("trickle: {wrong}");
            }
            return Err(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let endpoint = |issuer: &str, tokens, version| Endpoint {
        issuer: issuer.to_owned(),
        tokens,
        version,
    };
    Ok(Inputs {
        phases,
        source: endpoint(&args.source, source_tokens, args.source_version),
        target: endpoint(&args.target, target_tokens, args.target_version),
        http: http_options(args)?,
    })
}

fn http_options(args: &Args) -> Result<HttpOptions, ExitCode> {
    let announce: trickle_c2id::api::OnWait = Arc::new(|notice: &WaitNotice| {
        eprintln!(
            "trickle: {}: waiting {} s before trying {} again ({})",
            notice.side,
            notice.wait.as_secs(),
            notice.url,
            notice.why
        );
    });
    let mut http = HttpOptions {
        connections: usize::from(args.concurrency),
        max_wait: Duration::from_secs(args.max_wait),
        stall_timeout: Duration::from_secs(args.stall_timeout),
        max_record_bytes: args.max_record_bytes as usize,
        on_wait: Some(announce),
        ..HttpOptions::default()
    };
    for file in &args.ca_file {
        let trusted = std::fs::read(file)
            .map_err(|error| error.to_string())
            .and_then(|pem| http.trust_pem(&pem));
        if let Err(message) = trusted {
            eprintln!("trickle: --ca-file {}: {message}", file.display());
            return Err(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    Ok(http)
}

pub fn run(args: Args) -> ExitCode {
    let inputs = match inputs(&args) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(preflight_then_migrate(&args, inputs)),
        Err(error) => {
            eprintln!("trickle: cannot start: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn preflight_then_migrate(args: &Args, inputs: Inputs) -> ExitCode {
    let Inputs {
        phases,
        source,
        target,
        http,
    } = inputs;
    let (report, servers) =
        preflight(&source, &target, &phases, args.allow_different_keys, http).await;
    print::preflight(&report, args.dry_run);
    let Some(servers) = servers else {
        eprintln!("trickle: preflight refused the migration; nothing was written:");
        for refusal in &report.refusals {
            eprintln!("  - {refusal}");
        }
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let display = Display::for_stderr(Some(Duration::from_secs(10)));
    let options = migrate_options(args, report.phases.clone());
    let stop = stop_on_signals();
    let mut bars = Bars {
        display,
        current: None,
    };
    let mut events = |event: Event| bars.event(event);
    let result = match args.watch {
        Some(seconds) => {
            let every = Duration::from_secs(seconds);
            let mut on_pass = |outcome: &Outcome| print::pass(args, outcome, every);
            watch(
                &servers,
                &report,
                &options,
                every,
                &mut events,
                &mut on_pass,
                stop,
            )
            .await
        }
        None => migrate(&servers, &report, &options, &mut events, stop).await,
    };
    bars.finish();
    finished(args, result)
}

fn migrate_options(args: &Args, phases: Vec<Phase>) -> MigrateOptions {
    let sync = args.sync.then_some(SyncRules {
        delete_unknown: args.delete_unknown,
        max_delete_ratio: args.max_delete_ratio,
        allow_mass_delete: args.allow_mass_delete,
    });
    MigrateOptions {
        phases,
        journal_dir: args.journal.clone(),
        concurrency: usize::from(args.concurrency),
        dry_run: args.dry_run,
        verify: args.verify,
        overwrite: args.overwrite,
        memory_bound: DEFAULT_MEMORY_BOUND,
        sync,
    }
}

/// The last outcome printed (a watch printed each pass already), and the
/// exit code.
fn finished(args: &Args, result: Result<Outcome, MigrateError>) -> ExitCode {
    match result {
        Ok(outcome) => {
            if args.watch.is_none() {
                print::outcome(&args.source, &args.target, &args.journal, &outcome);
            }
            exit_code(&outcome)
        }
        Err(error) => {
            eprintln!("trickle: {error}");
            eprintln!("trickle: {}", error.advice(&args.journal));
            ExitCode::from(if error.is_setup() { EXIT_BAD_INPUT } else { 1 })
        }
    }
}

/// Every phase counts: an interrupted run is 130, a setup fault 2, any
/// record not migrated or phase not finished 1.
fn exit_code(outcome: &Outcome) -> ExitCode {
    if outcome.interrupted {
        eprintln!("trickle: interrupted: run the same command to resume");
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    match &outcome.failure {
        Some(failure) if failure.setup => ExitCode::from(EXIT_BAD_INPUT),
        Some(_) => ExitCode::FAILURE,
        None if outcome.is_clean() => ExitCode::SUCCESS,
        None => ExitCode::FAILURE,
    }
}

/// Ctrl-C or SIGTERM ends the run at the next record; a second one at once.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        signalled(terminate.as_mut()).await;
        eprintln!("\ntrickle: stopping after the records in flight (again to quit at once; run the same command to resume)");
        let _ = stop_tx.send(true);
        signalled(terminate.as_mut()).await;
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
    stop_rx
}

async fn signalled(terminate: Option<&mut tokio::signal::unix::Signal>) {
    match terminate {
        Some(term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A bar (or plain lines) per phase.
struct Bars {
    display: Display,
    current: Option<PhaseProgress>,
}

impl Bars {
    fn event(&mut self, event: Event) {
        match event {
            Event::PhaseStart {
                phase,
                verifying,
                total,
                done,
                pass,
            } => {
                self.finish();
                let label = if verifying {
                    format!("verify {phase}")
                } else {
                    phase.name().to_owned()
                };
                let progress =
                    PhaseProgress::start(self.display, label, Unit::Items("records"), total, 0);
                if done > 0 && pass == 1 {
                    progress.set_message(format!("{} done before", thousands(done)));
                }
                self.current = Some(progress);
            }
            Event::Progress { seen, .. } => {
                if let Some(progress) = &mut self.current {
                    progress.set_position(seen);
                }
            }
            Event::Note { phase, message } => match &self.current {
                Some(progress) => progress.println(&format!("{phase}: {message}")),
                None => eprintln!("trickle: {phase}: {message}"),
            },
            Event::PhaseEnd { .. } => {
                if let Some(progress) = self.current.take() {
                    let line = progress.status_line();
                    progress.finish();
                    if self.display != Display::Off {
                        eprintln!("trickle: {line}");
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(progress) = self.current.take() {
            progress.finish();
        }
    }
}
