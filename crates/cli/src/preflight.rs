//! `trickle preflight`: before deploying, run against the old tenant the
//! calls the scripts will make (and optionally check the new tenant's
//! connection, deployed scripts and post-login Action); one line per check.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trickle_generator::{parse_config, render, render_action, Config, SettingsMode, SourceKind};
use trickle_lifecycle::preflight::{self, ExpectedAction, NewTenant, Outcome, Report};
use trickle_lifecycle::{Credentials, WaitNotice};

use crate::generate::embedded_bundles;
use crate::secrets::{new_tenant_secret, old_tenant_secret};
use crate::EXIT_BAD_INPUT;

/// Check, before deploying, that the old tenant answers the generated
/// scripts' calls as they need (domain, custom domain, client and secret,
/// Password grant, realm, Management API token and scopes, users-by-email,
/// rate limit, round trips against http.timeout_ms), with inputs that
/// cannot log anyone in; with --new-domain, that the new tenant's
/// connection is ready and runs exactly the scripts `trickle generate`
/// makes from this config, and that its post-login Action (when the config
/// has one) is deployed as generated and bound to the post-login trigger.
///
/// The old tenant's client secret comes from $TRICKLE_OLD_CLIENT_SECRET
/// (and the new tenant's from $TRICKLE_NEW_CLIENT_SECRET), never from an
/// argument.
/// Exit code 0: every check passed (warnings allowed); 1: a check failed;
/// 2: bad arguments or config.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML): the realm, mark_migrated, timeout_ms.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The old tenant's canonical domain, with scheme:
    /// https://old-tenant.eu.auth0.com (the connection's `domain` setting).
    #[arg(long, value_name = "URL")]
    domain: String,
    /// The old tenant's custom domain, with scheme (the connection's
    /// `custom_domain` setting): token requests go there, as the scripts
    /// send them. Needed when the config says `[source] custom_domain = true`.
    #[arg(long, value_name = "URL")]
    custom_domain: Option<String>,
    /// The old tenant's client the scripts use (its secret: $TRICKLE_OLD_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The new tenant, to check its connection, deployed scripts and Action.
    #[arg(long, value_name = "URL", requires = "new_client_id")]
    new_domain: Option<String>,
    /// A client of the new tenant with read:connections, and read:actions
    /// when the config has an Action (its secret: $TRICKLE_NEW_CLIENT_SECRET).
    #[arg(long, value_name = "ID", requires = "new_domain")]
    new_client_id: Option<String>,
    /// Compare the new tenant's scripts with the end-state pair (as
    /// `generate --decommission`; also `[migration] decommission = true`).
    #[arg(long)]
    decommission: bool,
    /// users-by-email round trips to time, for the latency check.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=50))]
    probes: u8,
    /// The longest a rate-limited (429) request is waited out, in seconds;
    /// a probe still rate-limited after it ends the probes.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    rate_limit_wait: u64,
    /// Print the results as JSON on stdout (nothing else goes there).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let (config, request_inputs) = match read_inputs(&args) {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("trickle preflight: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let Inputs { old, new } = request_inputs;
    let request = preflight::Request {
        config: &config,
        old,
        custom_domain: args.custom_domain.clone(),
        new,
        probes: usize::from(args.probes),
        max_wait: Duration::from_secs(args.rate_limit_wait),
        notice: Some(WaitNotice::new(|line| {
            eprintln!("trickle preflight: {line}")
        })),
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

/// The tenants to check, from the arguments and the environment.
struct Inputs {
    old: Credentials,
    new: Option<NewTenant>,
}

/// The config and the tenants, or what is wrong with the arguments.
fn read_inputs(args: &Args) -> Result<(Config, Inputs), String> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|error| format!("cannot read {}: {error}", args.config.display()))?;
    let mut config =
        parse_config(&text).map_err(|error| format!("{}: {error}", args.config.display()))?;
    if config.source_kind() == SourceKind::Api {
        return Err(format!(
            "{}: [source] kind = \"api\": preflight checks an old Auth0 tenant; for a user store behind an API, rehearse \
             against trickle legacy-sim (README: Migrate from your own database)",
            args.config.display()
        ));
    }
    config.decommission |= args.decommission;
    check_custom_domain(&config, args)?;
    let old = Credentials {
        domain: args.domain.clone(),
        client_id: args.client_id.clone(),
        secret: old_tenant_secret("preflight", "--client-id")?,
    };
    let new = match (&args.new_domain, &args.new_client_id) {
        (Some(domain), Some(client_id)) => Some(new_tenant(&config, domain, client_id)?),
        _ => None,
    };
    Ok((config, Inputs { old, new }))
}

/// The scripts send token requests to the custom domain when the settings
/// carry one: preflight must too, or it tests a path no login takes.
fn check_custom_domain(config: &Config, args: &Args) -> Result<(), String> {
    if config.custom_domain && args.custom_domain.is_none() {
        return Err(format!(
            "{} says [source] custom_domain = true: give --custom-domain https://login.example.com (the connection's \
             custom_domain setting), so the token requests go where the scripts send them",
            args.config.display()
        ));
    }
    if !config.custom_domain
        && args.custom_domain.is_some()
        && config.settings == SettingsMode::Deploy
    {
        eprintln!(
            "trickle preflight: warning: --custom-domain given, but {} says [source] custom_domain = false: with settings = \"deploy\" \
             the layout has no custom_domain placeholder, so a deploy drops the setting; set custom_domain = true",
            args.config.display()
        );
    }
    Ok(())
}

/// The new tenant and what `trickle generate` makes from this config for it.
fn new_tenant(config: &Config, domain: &str, client_id: &str) -> Result<NewTenant, String> {
    let secret = new_tenant_secret("preflight", "--new-client-id")?;
    let bundles = embedded_bundles()
        .map_err(|error| format!("the embedded WASM core is unusable: {error}"))?;
    let scripts = render(config, &bundles).map_err(|error| error.to_string())?;
    let action = render_action(config, &bundles).map_err(|error| error.to_string())?;
    let action = match (&config.action, action) {
        (Some(settings), Some(script)) => Some(ExpectedAction {
            name: settings.name.clone(),
            code: script.text,
        }),
        _ => None,
    };
    Ok(NewTenant {
        credentials: Credentials {
            domain: domain.to_owned(),
            client_id: client_id.to_owned(),
            secret,
        },
        expected: scripts
            .into_iter()
            .map(|s| (s.kind.key().to_owned(), s.text))
            .collect(),
        action,
    })
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
