//! `trickle status`: how far the migration is, from the old tenant's
//! Management API (and the new tenant's), as status.json, a chart page and
//! a verdict.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trickle_generator::{parse_config, SourceKind};
use trickle_lifecycle::status::{self, Day, Method, Policy, Status, Watch};
use trickle_lifecycle::{chart, Credentials, TenantError, WaitNotice};

use crate::secrets::{new_tenant_secret, old_tenant_secret};
use crate::EXIT_BAD_INPUT;

/// How far the migration is: users of the source realm, how many carry
/// the migration marker (per day, from its timestamp), how many remain,
/// and, with --new-domain, users in the new connection. Counted from search
/// totals (fast; works on tenants of any size) or, with --exact, from an
/// export job. Writes OUT/status.json and OUT/status.html (a chart), and
/// prints a verdict. "done" needs the new tenant's proof: --new-domain with
/// --exact, every user of the realm found there by id.
///
/// Exit codes: 0 done (proven); 1 could not count; 2 bad config or
/// arguments; 3 not done yet (keep the window open, or ready to close: run
/// bulk); 4 unknown (no proof: a capped or unreadable count, an unknown or
/// empty realm, "probably done" by counts, or marked with the new tenant
/// not asked); 5 stranded (marked users missing from the new tenant).
///
/// The same old-tenant client as the scripts (read:users), its secret in
/// $TRICKLE_OLD_CLIENT_SECRET; the new tenant's in $TRICKLE_NEW_CLIENT_SECRET.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML): the realm and the connection's name.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The old tenant, with scheme: https://old-tenant.eu.auth0.com.
    #[arg(long, value_name = "URL")]
    domain: String,
    /// The old tenant's client (read:users; secret: $TRICKLE_OLD_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The new tenant, to count the users of the new connection.
    #[arg(long, value_name = "URL", requires = "new_client_id")]
    new_domain: Option<String>,
    /// A client of the new tenant with read:users (secret: $TRICKLE_NEW_CLIENT_SECRET).
    #[arg(long, value_name = "ID", requires = "new_domain")]
    new_client_id: Option<String>,
    /// Count exactly, from a users-export job, instead of search totals;
    /// with --new-domain, also export the new tenant and look every user of
    /// the realm up there by id (the only proof of "done").
    #[arg(long)]
    exact: bool,
    /// With --exact: give up on an export job not finished after this many
    /// seconds (exit code 1, naming the job).
    #[arg(long, value_name = "SECONDS", default_value_t = 900, requires = "exact",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    export_deadline: u64,
    /// With --exact: keep the export (full profiles, gzipped NDJSON) at FILE,
    /// the input `trickle bulk plan` reads.
    #[arg(long, value_name = "FILE", requires = "exact")]
    keep_export: Option<PathBuf>,
    /// With --exact and --new-domain: keep the new tenant's export (full
    /// profiles, gzipped NDJSON) at FILE, what `trickle bulk plan
    /// --exclude-export` reads to find stranded users.
    #[arg(long, value_name = "FILE", requires_all = ["exact", "new_domain"])]
    keep_new_export: Option<PathBuf>,
    /// Where status.json and status.html go.
    #[arg(long, value_name = "DIR", default_value = "trickle-status")]
    out: PathBuf,
    /// Full days the daily rate is averaged over.
    #[arg(long, default_value_t = 7, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=90))]
    trend_days: u64,
    /// Ready to close when fewer users than this migrate per day (default:
    /// 0.5% of those remaining, at least 1).
    #[arg(long, value_name = "USERS_PER_DAY")]
    close_below: Option<f64>,
    /// How many days back the per-day search counts go (one request a day).
    #[arg(long, default_value_t = 366, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(1..=3660))]
    max_days: u64,
    /// Print status.json on stdout too (nothing else goes there).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let request = match request(&args) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("trickle status: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let Some(status) = count(request) else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = write(&args, &status) {
        eprintln!(
            "trickle status: cannot write under {}: {error}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    report(&args, &status);
    ExitCode::from(status.verdict.exit_code)
}

/// The arguments, the config and the secrets, as what `gather` needs.
fn request(args: &Args) -> Result<status::Request, String> {
    if args
        .close_below
        .is_some_and(|n| !(n.is_finite() && n >= 0.0))
    {
        return Err("--close-below must be a number of users per day, 0 or more".to_owned());
    }
    let text = std::fs::read_to_string(&args.config)
        .map_err(|error| format!("cannot read {}: {error}", args.config.display()))?;
    let config =
        parse_config(&text).map_err(|error| format!("{}: {error}", args.config.display()))?;
    if config.source_kind() == SourceKind::Api {
        return Err(format!(
            "{}: [source] kind = \"api\": status counts the users of an old Auth0 tenant; for a user store behind an API, rehearse \
             against trickle legacy-sim (README: Migrate from your own database)",
            args.config.display()
        ));
    }
    let secret = old_tenant_secret("status", "--client-id")?;
    let new = match (&args.new_domain, &args.new_client_id) {
        (Some(domain), Some(client_id)) => Some(Credentials {
            domain: domain.clone(),
            client_id: client_id.clone(),
            secret: new_tenant_secret("status", "--new-client-id")?,
        }),
        _ => None,
    };
    Ok(status::Request {
        realm: config.realm.clone(),
        connection: config.connection_name.clone(),
        old: Credentials {
            domain: args.domain.clone(),
            client_id: args.client_id.clone(),
            secret,
        },
        new,
        method: if args.exact {
            Method::Export
        } else {
            Method::SearchTotals
        },
        keep_export: args.keep_export.clone(),
        keep_new_export: args.keep_new_export.clone(),
        max_days: args.max_days,
        export_deadline: Duration::from_secs(args.export_deadline),
        policy: Policy {
            trend_days: args.trend_days,
            close_below: args.close_below,
        },
        today: Day::today(),
        wait_notice: Some(WaitNotice::new(|line| eprintln!("trickle status: {line}"))),
    })
}

/// Counts, with a spinner on a terminal and a line for each long wait;
/// `None` (said why on stderr) when the tenants could not be counted.
fn count(request: status::Request) -> Option<Status> {
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let step = |message: &str| {
        if let Some(bar) = &spinner {
            bar.set_message(message.to_owned());
        }
    };
    let notice = |message: &str| match &spinner {
        Some(bar) => bar.println(format!("trickle status: {message}")),
        None => eprintln!("trickle status: {message}"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle status: cannot start the async runtime: {error}");
            return None;
        }
    };
    let watch = Watch {
        step: &step,
        notice: &notice,
    };
    let result = runtime.block_on(status::gather(request, &watch));
    if let Some(bar) = &spinner {
        bar.finish_and_clear();
    }
    match result {
        Ok(status) => Some(status),
        Err(error) => {
            eprintln!("trickle status: {error}");
            if matches!(error, TenantError::Refused { .. } | TenantError::Domain(_)) {
                eprintln!("trickle status: run trickle preflight to see which setting is missing");
            }
            None
        }
    }
}

/// OUT/status.json and OUT/status.html; status.json on stdout with --json.
fn write(args: &Args, status: &Status) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(status).expect("plain data") + "\n";
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("status.json"), &json)?;
    std::fs::write(args.out.join("status.html"), chart::render(status))?;
    if args.json {
        print!("{json}");
    }
    Ok(())
}

/// The numbers, the notes and the verdict, on stdout (stderr with --json).
fn report(args: &Args, status: &Status) {
    let out = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    for line in numbers(status).into_iter().chain(notes(status)) {
        out(line);
    }
    if let Some(path) = &args.keep_export {
        out(format!(
            "  export kept at {} (bulk plan --input)",
            path.display()
        ));
    }
    if let Some(path) = &args.keep_new_export {
        out(format!(
            "  new tenant's export kept at {} (bulk plan --exclude-export)",
            path.display()
        ));
    }
    out(format!(
        "wrote {}/status.json and {}/status.html",
        args.out.display(),
        args.out.display()
    ));
    out(status.verdict.message.clone());
}

fn numbers(status: &Status) -> Vec<String> {
    let mut lines = vec![
        format!(
            "{} on {} (counted with {})",
            status.realm, status.today, status.method_description
        ),
        format!("  users in the realm   {:>10}", status.users_in_realm),
        format!("  migrated (marker)    {:>10}", status.migrated),
        format!("  remaining            {:>10}", status.remaining),
    ];
    if let Some(new) = &status.new_connection {
        lines.push(format!("  in {} (new)  {:>10}", new.connection, new.users));
    }
    if let Some(proof) = &status.proof {
        lines.push(format!("  found there by id    {:>10}", proof.found));
        lines.push(format!(
            "  missing there        {:>10}  ({} of them marked: stranded)",
            proof.missing, proof.missing_marked
        ));
    }
    let recent: Vec<String> = status
        .per_day
        .iter()
        .rev()
        .take(7)
        .rev()
        .map(|d| format!("{} {}", &d.day.to_string()[5..], d.migrated))
        .collect();
    lines.push(format!("  migrated per day     {}", recent.join(", ")));
    lines
}

fn notes(status: &Status) -> Vec<String> {
    let mut lines = Vec::new();
    if status.undated > 0 {
        lines.push(format!(
            "  note: {} markers are not dates within the days counted",
            status.undated
        ));
    }
    if status.totals_may_be_capped {
        lines.push(
            "  note: a search total was exactly 1000 and may be capped: use --exact".to_owned(),
        );
    }
    if let Some(check) = &status.realm_check {
        let refused = check.outcome == trickle_lifecycle::RealmOutcome::Refused;
        if refused && status.users_in_realm > 0 {
            lines.push(format!(
                "  note: the old tenant refused the realm for this client ({}): the scripts cannot log anyone in; run trickle preflight",
                check.detail
            ));
        }
    }
    lines
}
