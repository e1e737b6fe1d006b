//! `trickle c2id migrate`: a Connect2id server's client registrations,
//! long-lived authorisations and sessions, to another server. Arguments,
//! tokens from the environment, the preflight's report, progress, the
//! summary and the exit code; the work is `trickle_c2id`'s.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trickle_c2id::api::api_name;
use trickle_c2id::migrate::report_path;
use trickle_c2id::{
    migrate, preflight, ApiTokens, AuthzApi, Endpoint, Event, HttpOptions, MigrateOptions, Outcome,
    Phase, PreflightReport, ProblemKind, ServerFacts, Version, VersionFrom,
};
use trickle_transfer::{thousands, Display, PhaseProgress, Unit};

use crate::EXIT_BAD_INPUT;

/// Requests in flight at once unless told otherwise: measured with
/// `scripts/bench-c2id.sh` (emulator to emulator on loopback, 2 cores),
/// where more stopped paying; see the README.
const DEFAULT_CONCURRENCY: u16 = 16;
/// Exit code of a run stopped by Ctrl-C or SIGTERM (run it again to resume).
const EXIT_INTERRUPTED: u8 = 130;
/// Problems and mismatches shown on screen (all are in report.json).
const SHOWN: usize = 20;

/// Migrate a Connect2id server to another: client registrations (with
/// preferred_client_id / preferred_client_secret), long-lived
/// authorisations (import=true), then sessions (SID-Key), as Connect2id's
/// data migration guide describes, after a preflight that writes nothing.
///
/// Tokens come from the environment only: TRICKLE_C2ID_SOURCE_TOKEN and
/// TRICKLE_C2ID_TARGET_TOKEN for every web API, each overridable per API
/// with TRICKLE_C2ID_{SOURCE,TARGET}_{CLIENTS,AUTHZ,SESSIONS}_TOKEN.
///
/// Resumable: the journal folder records the keys done (never a secret);
/// run the same command again after a crash or Ctrl-C. Exit codes: 0 all
/// migrated (and verified, with --verify), 1 some records failed or
/// mismatched (listed, and in report.json; for --dry-run: some would not
/// migrate), 2 bad arguments, a missing token, or the preflight refused,
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
    /// they are reported as conflicts and left alone).
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

/// A side's tokens from the environment, or the variables to set.
fn tokens_from_env(side: &str, phases: &[Phase]) -> Result<ApiTokens, Vec<String>> {
    let mut tokens = ApiTokens::default();
    let mut missing = Vec::new();
    for &phase in phases {
        let [specific, general] = token_variables(side, phase);
        let value = [&specific, &general]
            .into_iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        match value {
            Some(token) => {
                let token = Some(token.trim().to_owned());
                match phase {
                    Phase::Clients => tokens.clients = token,
                    Phase::Authorizations => tokens.authorizations = token,
                    Phase::Sessions => tokens.sessions = token,
                }
            }
            None => missing.push(format!(
                "{general} (or {specific}) for the {} API",
                api_name(phase)
            )),
        }
    }
    if missing.is_empty() {
        Ok(tokens)
    } else {
        Err(missing)
    }
}

pub fn run(args: Args) -> ExitCode {
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
            for missing in [s.err(), t.err()].into_iter().flatten().flatten() {
                eprintln!("trickle: set {missing} (tokens are read from the environment only)");
            }
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let source = Endpoint {
        issuer: args.source.clone(),
        tokens: source_tokens,
        version: args.source_version,
    };
    let target = Endpoint {
        issuer: args.target.clone(),
        tokens: target_tokens,
        version: args.target_version,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut http = HttpOptions {
        connections: usize::from(args.concurrency),
        ..HttpOptions::default()
    };
    for file in &args.ca_file {
        let trusted = std::fs::read(file)
            .map_err(|error| error.to_string())
            .and_then(|pem| http.trust_pem(&pem));
        if let Err(message) = trusted {
            eprintln!("trickle: --ca-file {}: {message}", file.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    runtime.block_on(async move {
        let (report, servers) =
            preflight(&source, &target, &phases, args.allow_different_keys, http).await;
        print_preflight(&report);
        let Some(servers) = servers else {
            eprintln!("trickle: preflight refused the migration; nothing was written:");
            for refusal in &report.refusals {
                eprintln!("  - {refusal}");
            }
            return ExitCode::from(EXIT_BAD_INPUT);
        };
        let display = Display::for_stderr(Some(Duration::from_secs(10)));
        let options = MigrateOptions {
            phases: report.phases.clone(),
            journal_dir: args.journal.clone(),
            concurrency: usize::from(args.concurrency),
            dry_run: args.dry_run,
            verify: args.verify,
            overwrite: args.overwrite,
            count_first: display == Display::Bar,
        };
        let stop = stop_on_signals();
        let mut bars = Bars {
            display,
            current: None,
        };
        let result = migrate(&servers, &report, &options, &mut |event| bars.event(event), stop).await;
        bars.finish();
        match result {
            Ok(outcome) => {
                print_outcome(&args, &outcome);
                if outcome.interrupted {
                    eprintln!("trickle: interrupted: run the same command to resume");
                    ExitCode::from(EXIT_INTERRUPTED)
                } else if outcome.is_clean() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                eprintln!("trickle: {error}");
                if !args.dry_run {
                    eprintln!(
                        "trickle: the journal in {} keeps what was done: run the same command again to resume",
                        args.journal.display()
                    );
                }
                if error.is_bad_input() {
                    ExitCode::from(EXIT_BAD_INPUT)
                } else {
                    ExitCode::FAILURE
                }
            }
        }
    })
}

/// Ctrl-C or SIGTERM ends the run at the next record; a second one at once.
fn stop_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let signalled = async {
            match terminate.as_mut() {
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
        };
        signalled.await;
        eprintln!("\ntrickle: stopping after the records in flight (again to quit at once; run the same command to resume)");
        let _ = stop_tx.send(true);
        let again = async {
            match terminate.as_mut() {
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
        };
        again.await;
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    });
    stop_rx
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

fn print_preflight(report: &PreflightReport) {
    eprintln!("trickle: preflight (nothing written yet)");
    for facts in [&report.source, &report.target].into_iter().flatten() {
        eprintln!("  {}", server_line(facts));
    }
    if let (Some(source), Some(target)) = (&report.source, &report.target) {
        if let (Some((s, _)), Some((t, _))) = (&source.version, &target.version) {
            let ok = t >= s && *t >= trickle_c2id::version::MIN_TARGET;
            eprintln!(
                "  versions: target {t} {} source {s}, and {} 6.6: {}",
                if t >= s { "≥" } else { "<" },
                if *t >= trickle_c2id::version::MIN_TARGET {
                    "≥"
                } else {
                    "<"
                },
                if ok { "ok" } else { "refused" }
            );
        }
    }
    if let Some(api) = report.authz_api {
        eprintln!(
            "  authorisation store API: {} (the source's version decides; used on both servers)",
            match api {
                AuthzApi::V2 => "v2, the source runs a version before 10.0",
                AuthzApi::V3 => "v3, the source runs 10.0 or newer",
            }
        );
    }
    match report.keys_identical {
        Some(true) => eprintln!("  JWK sets: identical"),
        Some(false) => eprintln!("  JWK sets: DIFFERENT"),
        None => {}
    }
    for facts in [&report.source, &report.target].into_iter().flatten() {
        if !facts.tokens_accepted.is_empty() {
            let apis: Vec<&str> = facts.tokens_accepted.iter().map(|p| api_name(*p)).collect();
            eprintln!("  {} tokens accepted: {}", facts.side, apis.join(", "));
        }
    }
    if !report.refused() {
        let phases: Vec<&str> = report.phases.iter().map(|p| p.name()).collect();
        eprintln!("  phases: {}", phases.join(", "));
    }
    for note in &report.notes {
        eprintln!("  note: {note}");
    }
}

fn server_line(facts: &ServerFacts) -> String {
    let version = match &facts.version {
        Some((v, VersionFrom::SplashPage)) => format!("Connect2id Server {v} (its splash page)"),
        Some((v, VersionFrom::Given)) => format!("Connect2id Server {v} (as given)"),
        Some((v, VersionFrom::GivenOverSplash(shown))) => {
            format!("Connect2id Server {v} (as given; its splash page says {shown})")
        }
        None => "version unknown".to_owned(),
    };
    let keys = if facts.keys.is_empty() {
        String::new()
    } else {
        format!("; public keys: {}", facts.keys.join(", "))
    };
    format!("{:<7}{}: {version}{keys}", facts.side, facts.issuer)
}

fn print_outcome(args: &Args, outcome: &Outcome) {
    let dry = outcome.dry_run;
    eprintln!(
        "trickle: {} {} → {}",
        if dry {
            "dry run (nothing written):"
        } else {
            "migration"
        },
        args.source,
        args.target
    );
    let (post, over) = if dry {
        ("would post", "would replace")
    } else {
        ("posted", "replaced")
    };
    eprintln!(
        "  {:<15}{:>10}{:>13}{:>12}{:>15}{:>14}{:>11}{:>8}",
        "phase", "source", "done before", post, "already there", over, "conflicts", "failed"
    );
    for phase in &outcome.phases {
        let name = phase.phase.map_or("?", |p| p.name());
        eprintln!(
            "  {:<15}{:>10}{:>13}{:>12}{:>15}{:>14}{:>11}{:>8}{}",
            name,
            thousands(phase.source_records),
            thousands(phase.already_done),
            thousands(phase.created),
            thousands(phase.present),
            thousands(phase.overwritten),
            thousands(phase.conflicts),
            thousands(phase.failed),
            if phase.interrupted { "  (stopped)" } else { "" }
        );
    }
    for (phase, sample) in &outcome.samples {
        eprintln!(
            "  sample {phase} record as it would be posted (secrets masked): {}",
            serde_json::to_string(sample).unwrap_or_default()
        );
    }
    for problem in outcome.problems.iter().take(SHOWN) {
        let kind = match problem.kind {
            ProblemKind::Conflict => "conflict",
            ProblemKind::Failed => "failed",
        };
        eprintln!("  {kind}: {}: {}", problem.record, problem.message);
    }
    if outcome.problems_total > SHOWN as u64 {
        eprintln!(
            "  … and {} more{}",
            thousands(outcome.problems_total - SHOWN as u64),
            if dry { "" } else { " (all in report.json)" }
        );
    }
    let tokens = &outcome.clients_with_registration_token;
    if !tokens.is_empty() {
        let shown: Vec<&str> = tokens.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "  {} client{} held a registration access token ({}{}): the target {} new ones. \
             Software that manages its own registration (RFC 7592, e.g. clients that \
             registered themselves through open registration) must be given the new token \
             (GET /clients/ID on the target with the master token shows it) or register again; \
             Connect2id's guide asks for such clients to be handled with care",
            thousands(tokens.len() as u64),
            if tokens.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if tokens.len() > 5 { ", …" } else { "" },
            if dry { "would issue" } else { "issued" }
        );
    }
    if let Some(aborted) = &outcome.aborted {
        eprintln!("  stopped: {aborted}");
    }
    if let Some(verify) = &outcome.verify {
        eprintln!(
            "  {:<15}{:>10}{:>11}{:>10}{:>12}",
            "verify", "source", "matching", "missing", "differing"
        );
        for phase in &verify.phases {
            eprintln!(
                "  {:<15}{:>10}{:>11}{:>10}{:>12}",
                phase.phase.map_or("?", |p| p.name()),
                thousands(phase.source_records),
                thousands(phase.matching),
                thousands(phase.missing),
                thousands(phase.differing)
            );
        }
        for mismatch in verify.mismatches.iter().take(SHOWN) {
            eprintln!("  mismatch: {}: {}", mismatch.record, mismatch.problem);
        }
        if verify.mismatches_total > SHOWN as u64 {
            eprintln!(
                "  … and {} more (all in report.json)",
                thousands(verify.mismatches_total - SHOWN as u64)
            );
        }
    }
    if !dry {
        eprintln!("  report: {}", report_path(&args.journal).display());
    }
    let verdict = if outcome.is_clean() {
        if outcome.verify.is_some() {
            "every record migrated and verified".to_owned()
        } else if dry {
            "no conflicts or problems found".to_owned()
        } else {
            "every record migrated".to_owned()
        }
    } else if outcome.interrupted {
        "stopped before the end".to_owned()
    } else {
        let mismatches = outcome.verify.as_ref().map_or(0, |v| v.mismatches_total);
        format!(
            "{} record{} not migrated{}",
            thousands(outcome.problems_total),
            if outcome.problems_total == 1 { "" } else { "s" },
            if mismatches > 0 {
                format!(", {} mismatch(es) found by --verify", thousands(mismatches))
            } else {
                String::new()
            }
        )
    };
    eprintln!("trickle: {verdict}");
}
