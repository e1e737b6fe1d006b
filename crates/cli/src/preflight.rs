//! `trickle preflight`: before deploying, run against the old tenant the
//! calls the scripts will make (and optionally check the new tenant's
//! connection and deployed scripts); one line per check.

use std::path::PathBuf;
use std::process::ExitCode;

use trickle_generator::{parse_config, render, SourceKind, WasmBundle};
use trickle_lifecycle::preflight::{self, NewTenant, Outcome, Report};
use trickle_lifecycle::Credentials;

use crate::generate::{GLUE, WASM};
use crate::{secret_from_env, EXIT_BAD_INPUT};

/// Check, before deploying, that the old tenant answers the generated
/// scripts' calls as they need (domain, client and secret, Password grant,
/// realm, Management API token and scopes, users-by-email, rate limit,
/// round trips against http.timeout_ms), with inputs that cannot log anyone
/// in; with --new-domain, that the new tenant's connection is ready and runs
/// exactly the scripts `trickle generate` makes from this config.
///
/// The client secret comes from $TRICKLE_CLIENT_SECRET (and the new
/// tenant's from $TRICKLE_NEW_CLIENT_SECRET), never from an argument.
/// Exit code 0: every check passed (warnings allowed); 1: a check failed;
/// 2: bad arguments or config.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML): the realm, mark_migrated, timeout_ms.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The old tenant, with scheme: https://old-tenant.eu.auth0.com.
    #[arg(long, value_name = "URL")]
    domain: String,
    /// The old tenant's client the scripts use (its secret: $TRICKLE_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The new tenant, to check its connection and deployed scripts.
    #[arg(long, value_name = "URL", requires = "new_client_id")]
    new_domain: Option<String>,
    /// A client of the new tenant with read:connections (its secret: $TRICKLE_NEW_CLIENT_SECRET).
    #[arg(long, value_name = "ID", requires = "new_domain")]
    new_client_id: Option<String>,
    /// Compare the new tenant's scripts with the end-state pair (as
    /// `generate --decommission`; also `[migration] decommission = true`).
    #[arg(long)]
    decommission: bool,
    /// users-by-email round trips to time, for the latency check.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=50))]
    probes: u8,
    /// Print the results as JSON on stdout (nothing else goes there).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let bad = |message: String| {
        eprintln!("trickle preflight: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let text = match std::fs::read_to_string(&args.config) {
        Ok(text) => text,
        Err(error) => return bad(format!("cannot read {}: {error}", args.config.display())),
    };
    let mut config = match parse_config(&text) {
        Ok(config) => config,
        Err(error) => return bad(format!("{}: {error}", args.config.display())),
    };
    if config.source_kind() == SourceKind::Api {
        return bad(format!(
            "{}: [source] kind = \"api\": preflight checks an old Auth0 tenant; for a user store behind an API, rehearse \
             against trickle legacy-sim (README: Migrate from your own database)",
            args.config.display()
        ));
    }
    config.decommission |= args.decommission;
    let secret = match secret_from_env("TRICKLE_CLIENT_SECRET") {
        Ok(secret) => secret,
        Err(message) => return bad(message),
    };
    let new = match (&args.new_domain, &args.new_client_id) {
        (Some(domain), Some(client_id)) => {
            let secret = match secret_from_env("TRICKLE_NEW_CLIENT_SECRET") {
                Ok(secret) => secret,
                Err(message) => return bad(message),
            };
            let bundle = match WasmBundle::new(WASM, GLUE) {
                Ok(bundle) => bundle,
                Err(error) => return bad(format!("the embedded WASM core is unusable: {error}")),
            };
            let scripts = match render(&config, &bundle) {
                Ok(scripts) => scripts,
                Err(error) => return bad(error.to_string()),
            };
            Some(NewTenant {
                credentials: Credentials {
                    domain: domain.clone(),
                    client_id: client_id.clone(),
                    secret,
                },
                expected: scripts
                    .into_iter()
                    .map(|s| (s.kind.key().to_owned(), s.text))
                    .collect(),
            })
        }
        _ => None,
    };
    let request = preflight::Request {
        config: &config,
        old: Credentials {
            domain: args.domain.clone(),
            client_id: args.client_id.clone(),
            secret,
        },
        new,
        probes: usize::from(args.probes),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle preflight: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(preflight::run(request));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data")
        );
    } else {
        print_report(&report);
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_report(report: &Report) {
    for check in &report.checks {
        println!(
            "{:<4}  {}: {}",
            check.outcome.label(),
            check.title,
            check.detail
        );
        if let (Outcome::Failed | Outcome::Warning, Some(fix)) = (check.outcome, &check.fix) {
            println!("      fix: {fix}");
        }
    }
    let count = |o: Outcome| report.checks.iter().filter(|c| c.outcome == o).count();
    println!(
        "preflight: {} ok, {} failed, {} warnings, {} skipped",
        count(Outcome::Passed),
        count(Outcome::Failed),
        count(Outcome::Warning),
        count(Outcome::Skipped)
    );
}
