//! `trickle status`: how far the migration is, from the old tenant's
//! Management API (and the new tenant's), as status.json, a chart page and
//! a verdict.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trickle_generator::{parse_config, SourceKind};
use trickle_lifecycle::status::{self, Day, Method, Policy};
use trickle_lifecycle::{chart, Credentials};

use crate::{secret_from_env, EXIT_BAD_INPUT};

/// How far the migration is: users of the source realm, how many carry
/// the migration marker (per day, from its timestamp), how many remain,
/// and, with --new-domain, users in the new connection. Counted from search
/// totals (fast; works on tenants of any size) or, with --exact, from an
/// export job. Writes OUT/status.json and OUT/status.html (a chart), and
/// prints a verdict: keep the window open, or ready to close (run bulk).
///
/// The same old-tenant client as the scripts (read:users), its secret in
/// $TRICKLE_CLIENT_SECRET; the new tenant's in $TRICKLE_NEW_CLIENT_SECRET.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML): the realm and the connection's name.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The old tenant, with scheme: https://old-tenant.eu.auth0.com.
    #[arg(long, value_name = "URL")]
    domain: String,
    /// The old tenant's client (read:users; secret: $TRICKLE_CLIENT_SECRET).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The new tenant, to count the users of the new connection.
    #[arg(long, value_name = "URL", requires = "new_client_id")]
    new_domain: Option<String>,
    /// A client of the new tenant with read:users (secret: $TRICKLE_NEW_CLIENT_SECRET).
    #[arg(long, value_name = "ID", requires = "new_domain")]
    new_client_id: Option<String>,
    /// Count exactly, from a users-export job, instead of search totals.
    #[arg(long)]
    exact: bool,
    /// With --exact: keep the export (full profiles, gzipped NDJSON) at FILE,
    /// the input `trickle bulk plan` reads.
    #[arg(long, value_name = "FILE", requires = "exact")]
    keep_export: Option<PathBuf>,
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
    let bad = |message: String| {
        eprintln!("trickle status: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if args
        .close_below
        .is_some_and(|n| !(n.is_finite() && n >= 0.0))
    {
        return bad("--close-below must be a number of users per day, 0 or more".to_owned());
    }
    let text = match std::fs::read_to_string(&args.config) {
        Ok(text) => text,
        Err(error) => return bad(format!("cannot read {}: {error}", args.config.display())),
    };
    let config = match parse_config(&text) {
        Ok(config) => config,
        Err(error) => return bad(format!("{}: {error}", args.config.display())),
    };
    if config.source_kind() == SourceKind::Api {
        return bad(format!(
            "{}: [source] kind = \"api\": status counts the users of an old Auth0 tenant; for a user store behind an API, rehearse \
             against trickle legacy-sim (README: Migrate from your own database)",
            args.config.display()
        ));
    }
    let secret = match secret_from_env("TRICKLE_CLIENT_SECRET") {
        Ok(secret) => secret,
        Err(message) => return bad(message),
    };
    let new = match (&args.new_domain, &args.new_client_id) {
        (Some(domain), Some(client_id)) => match secret_from_env("TRICKLE_NEW_CLIENT_SECRET") {
            Ok(secret) => Some(Credentials {
                domain: domain.clone(),
                client_id: client_id.clone(),
                secret,
            }),
            Err(message) => return bad(message),
        },
        _ => None,
    };
    let request = status::Request {
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
        max_days: args.max_days,
        policy: Policy {
            trend_days: args.trend_days,
            close_below: args.close_below,
        },
        today: Day::today(),
    };
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let progress = |message: &str| {
        if let Some(bar) = &spinner {
            bar.set_message(message.to_owned());
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("trickle status: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(status::gather(request, &progress));
    if let Some(bar) = &spinner {
        bar.finish_and_clear();
    }
    let status = match result {
        Ok(status) => status,
        Err(error) => {
            eprintln!("trickle status: {error}");
            eprintln!("trickle status: run trickle preflight to see which setting is missing");
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string_pretty(&status).expect("plain data") + "\n";
    let written = std::fs::create_dir_all(&args.out)
        .and_then(|()| std::fs::write(args.out.join("status.json"), &json))
        .and_then(|()| std::fs::write(args.out.join("status.html"), chart::render(&status)));
    if let Err(error) = written {
        eprintln!(
            "trickle status: cannot write under {}: {error}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    if args.json {
        print!("{json}");
    }
    let out = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    out(format!(
        "{} on {} (counted with {})",
        status.realm, status.today, status.method_description
    ));
    out(format!(
        "  users in the realm   {:>10}",
        status.users_in_realm
    ));
    out(format!("  migrated (marker)    {:>10}", status.migrated));
    out(format!("  remaining            {:>10}", status.remaining));
    if let Some(new) = &status.new_connection {
        out(format!("  in {} (new)  {:>10}", new.connection, new.users));
    }
    let recent: Vec<String> = status
        .per_day
        .iter()
        .rev()
        .take(7)
        .rev()
        .map(|d| format!("{} {}", &d.day.to_string()[5..], d.migrated))
        .collect();
    out(format!("  migrated per day     {}", recent.join(", ")));
    if status.undated > 0 {
        out(format!(
            "  note: {} markers are not dates within the days counted",
            status.undated
        ));
    }
    if status.totals_may_be_capped {
        out("  note: a search total was exactly 1000 and may be capped: use --exact".to_owned());
    }
    if let Some(path) = &args.keep_export {
        out(format!(
            "  export kept at {} (bulk plan --input)",
            path.display()
        ));
    }
    out(format!(
        "wrote {}/status.json and {}/status.html",
        args.out.display(),
        args.out.display()
    ));
    out(status.verdict.message.clone());
    ExitCode::SUCCESS
}
