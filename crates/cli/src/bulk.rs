//! `trickle bulk`: bulk migration for the users who never log in.
//! `plan` turns an export into import files; `import` submits them;
//! `unmark` lets the users a plan found stranded behind a marker log in.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use trickle_bulk::import::journal::FileState;
use trickle_bulk::import::{run_import, Event, Halt, ImportError, ImportOptions, ImportOutcome};
use trickle_bulk::{
    plan, InputFormat, Phase, PlanError, PlanOptions, PlanReport, Progress, SourceKind,
    MARKED_FILE, REPORT_FILE,
};
use trickle_generator::parse_config;
use trickle_lifecycle::unmark::{unmark, UnmarkError, UnmarkOptions, UnmarkReport};
use trickle_lifecycle::{Credentials, TenantError, WaitNotice};
use trickle_transfer::{thousands, Display, PhaseProgress, Unit};

use crate::secrets::{client_secret, SecretRequest, Tenant};
use crate::EXIT_BAD_INPUT;
/// Exit code of a run stopped by Ctrl-C (it can be resumed).
const EXIT_INTERRUPTED: u8 = 130;

/// Bulk migration: import the users who never log in.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Plan(PlanArgs),
    Import(ImportArgs),
    Unmark(UnmarkArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum SourceKindArg {
    /// Told by the first record.
    Auto,
    /// An Auth0 users export (`users-exports` job).
    Auth0,
    /// A legacy store's export (the legacy API contract's users).
    Api,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// `.csv` / `.csv.gz` names are CSV, everything else NDJSON.
    Auto,
    /// One JSON user per line (a `users-exports` job with format json).
    Json,
    Csv,
}

/// Turn an old-tenant export (or a legacy store's export, see
/// --source-kind) into Auth0 import files (JSON arrays of at most 500,000
/// bytes), normalised as the lazy-migration scripts normalise, with a
/// report (report.json) of every user left out and why.
#[derive(clap::Args)]
struct PlanArgs {
    /// The Trickle config (TOML) the scripts were generated from.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The old tenant's export: NDJSON or CSV, gzipped or not.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The plan folder to create (it must not exist, unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The NEW tenant's export: users in it (by user id or email) are left out.
    #[arg(long, value_name = "FILE")]
    exclude_export: Option<PathBuf>,
    /// Legacy password hashes, JSON lines (gzip allowed) keyed by "email" or
    /// "user_id": {"email": …, "hash": "$2b$10$…"} (bcrypt, and argon2,
    /// pbkdf2 and ldap strings, are recognised), {"user_id": …, "algorithm":
    /// "sha256", "hash": …, "salt": …}, or {"email": …,
    /// "custom_password_hash": {Auth0's object}}.
    #[arg(long, value_name = "FILE")]
    hashes: Option<PathBuf>,
    /// The export's format.
    #[arg(long, value_enum, default_value = "auto")]
    format: Format,
    /// Whose export --input is: an Auth0 users export, or a legacy store's
    /// (the legacy API contract's User records, see
    /// docs/legacy-api.openapi.yaml: "id", "email", … and an optional
    /// "password_hash" {"algorithm", "value", "encoding", "salt",
    /// "salt_encoding", "salt_position"}, mapped to Auth0's password_hash or
    /// custom_password_hash; "migrated_at" is the marker). auto: a first
    /// record with "id" and no "user_id" is a legacy export.
    #[arg(long, value_enum, default_value = "auto", value_name = "KIND")]
    source_kind: SourceKindArg,
    /// Leave blocked users out (by default they are imported, still blocked;
    /// the scripts never migrate them).
    #[arg(long)]
    skip_blocked: bool,
    /// Replace the plan folder if it exists.
    #[arg(long)]
    force: bool,
}

/// Submit a plan's files to the new tenant as import jobs (two at a time),
/// follow them, and record their errors. Resumable: run it again after a
/// crash or Ctrl-C. The new tenant's client secret is read from
/// $TRICKLE_NEW_CLIENT_SECRET (or the variable --client-secret-env names).
/// The summary counts only what is known: users of files whose upload was
/// cut off are shown apart, as uncertain.
#[derive(clap::Args)]
struct ImportArgs {
    /// The plan folder made by `trickle bulk plan`.
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// The new tenant: https://tenant.eu.auth0.com (http:// only for localhost).
    #[arg(long)]
    domain: String,
    /// A machine-to-machine client of the new tenant with create:users
    /// (client credentials grant), and read:users for --resubmit-uncertain.
    #[arg(long)]
    client_id: String,
    /// The database connection to import into (con_…: the connection's
    /// identifier in the dashboard).
    #[arg(long)]
    connection_id: String,
    /// The environment variable holding the new tenant's client secret,
    /// read alone (e.g. one per tenant in CI) [default:
    /// TRICKLE_NEW_CLIENT_SECRET].
    #[arg(long, value_name = "NAME")]
    client_secret_env: Option<String>,
    /// Update users that exist instead of reporting them as duplicates.
    #[arg(long)]
    upsert: bool,
    /// Ask Auth0 to email the tenant's admins when each job completes.
    #[arg(long)]
    send_completion_email: bool,
    /// Jobs at once (Auth0 allows two per tenant).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    max_jobs: u8,
    /// Milliseconds between job status checks.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    poll_interval_ms: u64,
    /// Settle the files whose upload was cut off (uncertain): after the
    /// other files, look each one's users up on the tenant (users-by-email,
    /// one request per user, within the rate limit; needs read:users). All
    /// there: the lost job ran, the file is done and not sent again. One
    /// missing: the file is sent again; users it holds that the tenant has
    /// already (refused as DUPLICATED_USER) are looked up and counted as
    /// already on the tenant, not failed. With --upsert the files are sent
    /// again without lookups.
    #[arg(long)]
    resubmit_uncertain: bool,
    /// Submit again the files whose job failed or was refused.
    #[arg(long)]
    retry_failed: bool,
}

/// Let the users a plan found stranded log in: clear the migration marker
/// of every user in the plan's marked-not-in-new-tenant.jsonl (made by
/// `bulk plan --exclude-export`: marked on the old tenant, absent from the
/// new tenant's export), so their next login migrates them with their own
/// password. Only the marker the plan saw is cleared: a user marked again
/// since (migrated after all) is left alone, so a second run is harmless.
/// Clear only users who are stranded, not deleted in the new tenant on
/// purpose: their next login would bring them back. Two requests per user,
/// one user at a time (within the old tenant's rate limit). The secret of
/// the old tenant's client (read:users, update:users) is read from
/// $TRICKLE_OLD_CLIENT_SECRET (or the variable --client-secret-env names).
/// Writes unmark-report.json in the plan folder (a dry run writes nothing).
#[derive(clap::Args)]
struct UnmarkArgs {
    /// The plan folder made by `trickle bulk plan --exclude-export`.
    #[arg(long, value_name = "DIR")]
    plan: PathBuf,
    /// The OLD tenant's canonical domain: https://old-tenant.auth0.com.
    #[arg(long)]
    domain: String,
    /// The old tenant's client with read:users and update:users (the
    /// scripts' own, when they mark users).
    #[arg(long)]
    client_id: String,
    /// The environment variable holding the old tenant's client secret,
    /// read alone [default: TRICKLE_OLD_CLIENT_SECRET].
    #[arg(long, value_name = "NAME")]
    client_secret_env: Option<String>,
    /// Read every listed user and count what would be cleared; write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Plan(args) => run_plan(args),
        Command::Import(args) => run_import_command(args),
        Command::Unmark(args) => run_unmark(args),
    }
}

/// A `--domain` as given, or with `https://` when it has no scheme.
fn with_scheme(domain: &str) -> String {
    if domain.contains("://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    }
}

/// The file `bulk unmark` writes in the plan folder.
const UNMARK_REPORT_FILE: &str = "unmark-report.json";

/// `bulk unmark` in phases: the arguments, the run (with a progress bar),
/// the report file, the summary and the exit code.
fn run_unmark(args: UnmarkArgs) -> ExitCode {
    let (credentials, options) = match unmark_inputs(&args) {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("trickle bulk unmark: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let runtime = match current_thread_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let report = match unmark_with_progress(&runtime, credentials, &options) {
        Ok(report) => report,
        Err(error) => return unmark_failure(&args, error),
    };
    // A dry run writes nothing, its report included: the summary is on stderr.
    let report_path = (!report.dry_run).then(|| args.plan.join(UNMARK_REPORT_FILE));
    if let Some(path) = &report_path {
        let json = serde_json::to_vec_pretty(&report).expect("the report serializes");
        if let Err(error) = write_atomically(path, &json) {
            eprintln!(
                "trickle bulk unmark: cannot write {}: {error}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    print_unmark_summary(&report, report_path.as_deref());
    if let Some(why) = &report.stopped {
        eprintln!(
            "trickle: stopped after {} users: {why}",
            thousands(report.tried)
        );
        ExitCode::FAILURE
    } else if report.failed > 0 {
        eprintln!("trickle: run the same command again to retry the failed users");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The old tenant and what to clear, from the arguments and the environment.
fn unmark_inputs(args: &UnmarkArgs) -> Result<(Credentials, UnmarkOptions), String> {
    let list = args.plan.join(MARKED_FILE);
    if !list.is_file() {
        return Err(format!(
            "{} has no {MARKED_FILE}: make the plan with --exclude-export <the new tenant's export>, which finds the users marked on the old tenant but absent from the new one",
            args.plan.display()
        ));
    }
    let credentials = Credentials {
        domain: with_scheme(&args.domain),
        client_id: args.client_id.clone(),
        secret: client_secret(&SecretRequest {
            command: "bulk unmark",
            tenant: Tenant::Old,
            client_flag: "--client-id",
            read_deprecated: true,
            named: args.client_secret_env.as_deref(),
        })?,
    };
    let mut options = UnmarkOptions::new(list);
    options.dry_run = args.dry_run;
    options.notice = Some(WaitNotice::new(|line| {
        eprintln!("trickle bulk unmark: {line}")
    }));
    Ok((credentials, options))
}

/// Runs the unmarking with a progress bar on stderr.
fn unmark_with_progress(
    runtime: &tokio::runtime::Runtime,
    credentials: Credentials,
    options: &UnmarkOptions,
) -> Result<UnmarkReport, UnmarkError> {
    let label = if options.dry_run {
        "reading (dry run)"
    } else {
        "unmarking"
    };
    let mut progress: Option<PhaseProgress> = None;
    let result = runtime.block_on(unmark(credentials, options, &mut |done, total| {
        let bar = progress.get_or_insert_with(|| {
            PhaseProgress::start(
                Display::for_stderr(Some(Duration::from_secs(10))),
                label,
                Unit::Items("users"),
                Some(total),
                0,
            )
        });
        bar.set_position(done);
    }));
    if let Some(progress) = progress {
        progress.finish();
    }
    result
}

/// A run that could not go on: exit 2 for what the arguments or the
/// client's grants can fix, 1 otherwise.
fn unmark_failure(args: &UnmarkArgs, error: UnmarkError) -> ExitCode {
    let bad = |message: String| {
        eprintln!("trickle bulk unmark: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    match error {
        error @ (UnmarkError::BadLine { .. } | UnmarkError::Forbidden { .. }) => {
            bad(error.to_string())
        }
        UnmarkError::Tenant(TenantError::Domain(message)) => bad(format!(
            "--domain {}: {}",
            args.domain,
            message.replace("configuration.domain", "--domain")
        )),
        error => {
            eprintln!("trickle bulk unmark: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The counts on stderr; `report_path` is where the details went (none for a dry run).
fn print_unmark_summary(report: &UnmarkReport, report_path: Option<&Path>) {
    let cleared = if report.dry_run {
        "would clear"
    } else {
        "cleared"
    };
    let details = match report_path {
        Some(path) => format!("details: {}", path.display()),
        None => "dry run: nothing written".to_owned(),
    };
    eprintln!(
        "trickle: {} of {} users read; markers {cleared}: {} ({details})",
        thousands(report.tried),
        thousands(report.in_list),
        thousands(report.cleared),
    );
    let rows = [
        ("already clear", report.already_clear, ""),
        (
            "marked again since",
            report.marked_again,
            "  (left alone: migrated after all)",
        ),
        ("not in the old tenant", report.not_in_old_tenant, ""),
        ("failed", report.failed, ""),
    ];
    for (label, count, note) in rows {
        eprintln!("  {label:<22} {:>10}{note}", thousands(count));
    }
    for failure in report.failures.iter().take(10) {
        eprintln!(
            "    {} (line {}): {}",
            failure.user_id, failure.line, failure.reason
        );
    }
    if let (true, Some(path)) = (report.failed > 10, report_path) {
        eprintln!("    … all failures: {}", path.display());
    }
}

/// Writes `bytes` and a newline beside `path`, then renames it in.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder)?;
    std::io::Write::write_all(&mut file, bytes)?;
    std::io::Write::write_all(&mut file, b"\n")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `bulk plan` in phases: the arguments and the config, the signals, the
/// plan (with a progress bar), the summary and the exit code.
fn run_plan(args: PlanArgs) -> ExitCode {
    let mut options = match plan_options(&args) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let signal = match stop_on_signals() {
        Ok((stop, signal)) => {
            options.stop = Some(stop);
            signal
        }
        Err(error) => {
            eprintln!("trickle: cannot handle signals: {error}");
            return ExitCode::FAILURE;
        }
    };

    let mut bar = PlanBar::new();
    let result = plan(&options, &mut |progress| bar.update(progress));
    bar.finish();
    match result {
        Ok(report) => {
            print_plan_summary(&args.out, &report);
            ExitCode::SUCCESS
        }
        Err(error) => plan_failure(error, &signal),
    }
}

/// What to plan, from the arguments and the config file; on a bad one, it
/// says why and gives the exit code.
fn plan_options(args: &PlanArgs) -> Result<PlanOptions, ExitCode> {
    let config_text = std::fs::read_to_string(&args.config).map_err(|error| {
        eprintln!("trickle: cannot read {}: {error}", args.config.display());
        ExitCode::from(EXIT_BAD_INPUT)
    })?;
    let config = parse_config(&config_text).map_err(|error| {
        eprintln!("trickle: {}: {error}", args.config.display());
        eprintln!("trickle: nothing was written");
        ExitCode::from(EXIT_BAD_INPUT)
    })?;
    let mut options = PlanOptions::new(
        args.input.clone(),
        args.out.clone(),
        config.realm.clone(),
        config.connection_name.clone(),
        config.policy,
    );
    options.format = match args.format {
        Format::Auto => InputFormat::from_path(&args.input),
        Format::Json => InputFormat::Json,
        Format::Csv => InputFormat::Csv,
    };
    if let Some(exclude) = &args.exclude_export {
        options.exclude_format = InputFormat::from_path(exclude);
    }
    options.source_kind = match args.source_kind {
        SourceKindArg::Auto => SourceKind::Auto,
        SourceKindArg::Auth0 => SourceKind::Auth0,
        SourceKindArg::Api => SourceKind::Api,
    };
    options.exclude = args.exclude_export.clone();
    options.hashes = args.hashes.clone();
    options.skip_blocked = args.skip_blocked;
    options.replace = args.force;
    Ok(options)
}

/// A plan that was not made: what happened, and the exit code (128 + the
/// signal's number when one stopped it, as shells do).
fn plan_failure(error: PlanError, signal: &AtomicUsize) -> ExitCode {
    if let PlanError::Interrupted = error {
        let signal = signal.load(Ordering::SeqCst) as i32;
        let name = match signal {
            signal_hook::consts::SIGTERM => "SIGTERM",
            _ => "SIGINT",
        };
        eprintln!(
            "trickle: interrupted ({name}): the unfinished plan was removed; no plan was written"
        );
        return ExitCode::from(128 + signal as u8);
    }
    eprintln!("trickle: {error}");
    eprintln!("trickle: no plan was written");
    if error.is_bad_input() {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::FAILURE
    }
}

/// SIGINT and SIGTERM set the returned flag (planning then stops and
/// removes its staging folder) and record which signal came; a second one
/// ends the process at once, as if unhandled.
fn stop_on_signals() -> std::io::Result<(Arc<AtomicBool>, Arc<AtomicUsize>)> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(SIGINT as usize));
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&stop))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok((stop, which))
}

/// A progress bar per phase on a terminal; nothing in a pipe.
struct PlanBar {
    progress: Option<PhaseProgress>,
    phase: Option<Phase>,
    display: Display,
}

impl PlanBar {
    fn new() -> Self {
        PlanBar {
            progress: None,
            phase: None,
            display: Display::for_stderr(None),
        }
    }

    fn update(&mut self, progress: Progress) {
        if self.display == Display::Off {
            return;
        }
        if self.phase != Some(progress.phase) {
            self.finish();
            let label = match progress.phase {
                Phase::Exclude => "new tenant's export",
                Phase::Hashes => "indexing hashes",
                Phase::Users => "export",
            };
            self.progress = Some(PhaseProgress::start(
                self.display,
                label,
                Unit::Bytes,
                progress.file_bytes,
                0,
            ));
            self.phase = Some(progress.phase);
        }
        if let Some(bar) = &mut self.progress {
            bar.set_position(progress.bytes_read);
            if progress.phase == Phase::Users {
                bar.set_message(format!(
                    "{} read, {} planned",
                    thousands(progress.records),
                    thousands(progress.written)
                ));
            } else {
                bar.set_message(format!("{} records", thousands(progress.records)));
            }
        }
    }

    fn finish(&mut self) {
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
    }
}

/// The plan's summary on stderr: what was read and planned, what was left
/// out and why, warnings, passwords, the other inputs, the files.
fn print_plan_summary(out: &Path, report: &PlanReport) {
    eprintln!(
        "trickle: planned {} users in {} import files under {} (details: {})",
        thousands(report.users_written),
        report.files.len(),
        out.display(),
        out.join(REPORT_FILE).display()
    );
    if report.source_kind == SourceKind::Api.name() {
        eprintln!("  read as a legacy store's export (the legacy API contract's users)");
    }
    print_plan_counts(report);
    if let Some(warning) = report.unchecked_marked_warning() {
        eprintln!("trickle: {warning}");
    }
    match report.marked_not_in_new_tenant {
        Some(0) | None => {}
        Some(marked) => eprintln!(
            "  of the planned, {} carry the migration marker but are not in the new tenant (stranded: planned, and listed in {MARKED_FILE}; import them, or `trickle bulk unmark` lets them log in)",
            thousands(marked),
        ),
    }
    print_planned_users(report);
    print_plan_inputs(report);
    print_plan_files(report);
}

/// Records read, users planned, and those left out by reason.
fn print_plan_counts(report: &PlanReport) {
    eprintln!("  lines read       {:>12}", thousands(report.lines_read));
    eprintln!("  records read     {:>12}", thousands(report.records_read));
    eprintln!("  users planned    {:>12}", thousands(report.users_written));
    eprintln!("  left out         {:>12}", thousands(report.skipped));
    for (reason, count) in &report.skipped_by_reason {
        eprintln!("    {:<22} {:>10}", reason.name(), thousands(*count));
    }
    if report.skipped_records_truncated {
        eprintln!(
            "    ({} lists the first {} of each reason by line; all are counted)",
            REPORT_FILE,
            thousands(report.skipped_records_listed_per_reason as u64)
        );
    }
}

/// How the planned users will be imported: blocked, passwords, keys removed.
fn print_planned_users(report: &PlanReport) {
    if report.blocked_written > 0 {
        eprintln!(
            "  imported as blocked {:>9}",
            thousands(report.blocked_written)
        );
    }
    let passwords = &report.passwords;
    eprintln!(
        "  passwords: {} password_hash, {} custom_password_hash, {} none (those users reset their password, or log in through the scripts first)",
        thousands(passwords.password_hash),
        thousands(passwords.custom_password_hash),
        thousands(passwords.none)
    );
    if !report.app_metadata_keys_stripped.is_empty() {
        let stripped: Vec<String> = report
            .app_metadata_keys_stripped
            .iter()
            .map(|(key, count)| format!("{key} ×{}", thousands(*count)))
            .collect();
        eprintln!(
            "  reserved app_metadata keys removed: {}",
            stripped.join(", ")
        );
    }
}

/// The new tenant's export and the hashes file, when given.
fn print_plan_inputs(report: &PlanReport) {
    if let Some(exclude) = &report.exclude {
        eprintln!(
            "  new tenant's export: {} records, {} ids, {} emails{}",
            thousands(exclude.records),
            thousands(exclude.user_ids),
            thousands(exclude.emails),
            if exclude.unreadable > 0 {
                format!(", {} unreadable", thousands(exclude.unreadable))
            } else {
                String::new()
            }
        );
    }
    if let Some(hashes) = &report.hashes {
        eprintln!(
            "  hashes file: {} entries, {} unused, {} problem lines",
            thousands(hashes.entries),
            thousands(hashes.unused),
            thousands(hashes.problem_count)
        );
    }
}

/// The import files' sizes, smallest and largest.
fn print_plan_files(report: &PlanReport) {
    let files = &report.files;
    if let (Some(smallest), Some(largest)) = (
        files.iter().map(|f| f.bytes).min(),
        files.iter().map(|f| f.bytes).max(),
    ) {
        eprintln!(
            "  files: {} to {} bytes each (limit {}), {} to {} users each",
            thousands(smallest),
            thousands(largest),
            thousands(report.file_limit_bytes as u64),
            files.iter().map(|f| f.users).min().unwrap_or(0),
            files.iter().map(|f| f.users).max().unwrap_or(0),
        );
    }
}

/// The new tenant's base URL and the import's options, from the arguments
/// and the environment, or what is wrong with them.
fn import_inputs(args: &ImportArgs) -> Result<(String, ImportOptions), String> {
    let domain = with_scheme(&args.domain);
    let base = trickle_core::base_url(&domain).map_err(|error| {
        format!(
            "--domain {}: {}",
            args.domain,
            error.message().replace("configuration.domain", "--domain")
        )
    })?;
    // Before one name per secret, bulk import read the new tenant's from
    // $TRICKLE_CLIENT_SECRET: still taken, saying so.
    let secret = client_secret(&SecretRequest {
        command: "bulk import",
        tenant: Tenant::New,
        client_flag: "--client-id",
        read_deprecated: true,
        named: args.client_secret_env.as_deref(),
    })?;
    let mut options =
        ImportOptions::new(base, &args.client_id, secret.expose(), &args.connection_id);
    options.upsert = args.upsert;
    options.send_completion_email = args.send_completion_email;
    options.max_jobs = usize::from(args.max_jobs);
    options.poll_interval = Duration::from_millis(args.poll_interval_ms);
    options.resubmit_uncertain = args.resubmit_uncertain;
    options.retry_failed = args.retry_failed;
    options.halt = test_halt();
    Ok((base.to_owned(), options))
}

/// `bulk import` in phases: the arguments, the run (with its display and
/// Ctrl-C), the summary and the exit code.
fn run_import_command(args: ImportArgs) -> ExitCode {
    let (base, options) = match import_inputs(&args) {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("trickle bulk import: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let runtime = match current_thread_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result = runtime.block_on(import_with_display(&args.plan, &options));
    match result {
        Ok(outcome) => {
            print_import_summary(&args.plan, &base, &args.connection_id, &outcome);
            if outcome.interrupted {
                ExitCode::from(EXIT_INTERRUPTED)
            } else if outcome.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(ImportError::Halted) => ExitCode::from(86),
        Err(error) => {
            eprintln!("trickle: {error}");
            eprintln!(
                "trickle: the import state in {} is kept: run the same command again to resume",
                args.plan.display()
            );
            if error.is_bad_input() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A single-threaded runtime, or the exit code after saying why not.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("trickle: cannot start: {error}");
            ExitCode::FAILURE
        })
}

/// Runs the import with its display on stderr; the first Ctrl-C stops it
/// at the next safe point, a second one ends the process.
async fn import_with_display(
    plan: &Path,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    let display = Display::for_stderr(None);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ntrickle: stopping at the next safe point (Ctrl-C again to quit at once; run the same command to resume)");
            let _ = stop_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        }
    });
    let mut display = ImportDisplay::new(display);
    let result = run_import(plan, options, &mut |event| display.event(event), stop_rx).await;
    display.finish();
    result
}

/// Tests crash the import at a chosen point: `TRICKLE_BULK_TEST_HALT`
/// = `before-submit:N` or `after-submit:N`.
fn test_halt() -> Option<Halt> {
    let value = std::env::var("TRICKLE_BULK_TEST_HALT").ok()?;
    let (point, n) = value.split_once(':')?;
    let n = n.parse().ok()?;
    match point {
        "before-submit" => Some(Halt::BeforeSubmit(n)),
        "after-submit" => Some(Halt::AfterSubmit(n)),
        _ => None,
    }
}

struct ImportDisplay {
    progress: Option<PhaseProgress>,
    display: Display,
}

impl ImportDisplay {
    fn new(display: Display) -> Self {
        ImportDisplay {
            progress: None,
            display,
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Start { files, done } => {
                if self.display != Display::Off {
                    self.progress = Some(PhaseProgress::start(
                        self.display,
                        "import",
                        Unit::Items("files"),
                        Some(files as u64),
                        done as u64,
                    ));
                }
            }
            Event::Submitted { file, job_id } => {
                if let Some(bar) = &self.progress {
                    bar.set_message(format!("{file} → {job_id}"));
                }
            }
            Event::Finished { file, state } => {
                if let Some(bar) = &mut self.progress {
                    bar.inc(1);
                }
                let line = match state {
                    FileState::Failed { message, .. } => Some(format!("{file}: failed: {message}")),
                    FileState::Uncertain { message, .. } => {
                        Some(format!("{file}: uncertain: {message}"))
                    }
                    FileState::FoundOnTenant { users } => Some(format!(
                        "{file}: all its {} users are on the tenant (its lost job ran): not sent again",
                        thousands(*users)
                    )),
                    _ => None,
                };
                if let Some(line) = line {
                    self.println(&line);
                }
            }
            Event::LookingUp { file, done, users } => {
                if let Some(bar) = &self.progress {
                    bar.set_message(format!(
                        "{file}: looking its users up on the tenant, {done}/{users}"
                    ));
                }
            }
            Event::Note { file, message } => self.println(&format!("{file}: {message}")),
            Event::Waiting { wait } => {
                if let Some(bar) = &self.progress {
                    bar.set_message(format!("rate limited: waiting {} ms", wait.as_millis()));
                }
            }
        }
    }

    fn println(&self, line: &str) {
        match &self.progress {
            Some(bar) => bar.println(line),
            None => eprintln!("trickle: {line}"),
        }
    }

    fn finish(&mut self) {
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
    }
}

fn print_import_summary(plan: &Path, base: &str, connection_id: &str, outcome: &ImportOutcome) {
    let mut head = format!(
        "trickle: import of {} into {base} ({connection_id}): {} of {} files completed",
        plan.display(),
        outcome.completed,
        outcome.files
    );
    for (count, what) in [
        (outcome.uncertain.len(), "uncertain"),
        (outcome.failed.len(), "failed"),
        (outcome.running, "running"),
        (outcome.pending, "not sent yet"),
    ] {
        if count > 0 {
            head.push_str(&format!(", {count} {what}"));
        }
    }
    eprintln!("{head}");
    eprintln!(
        "  users: {} inserted, {} updated, {} already on the tenant, {} failed",
        thousands(outcome.users_inserted),
        thousands(outcome.users_updated),
        thousands(outcome.users_present),
        thousands(outcome.users_failed)
    );
    if !outcome.error_files.is_empty() {
        eprintln!(
            "  failed users are listed in {}",
            plan.join(trickle_bulk::import::ERRORS_DIR).display()
        );
    }
    for note in &outcome.found_on_tenant {
        eprintln!(
            "  found on the tenant: {} ({}): {}",
            note.file,
            users(note.users),
            note.message
        );
    }
    for note in &outcome.failed {
        eprintln!(
            "  failed: {} ({}): {}",
            note.file,
            users(note.users),
            note.message
        );
    }
    if !outcome.failed.is_empty() {
        eprintln!("  (run again with --retry-failed to submit those files again)");
    }
    for note in &outcome.uncertain {
        eprintln!(
            "  uncertain: {} ({}): {}",
            note.file,
            users(note.users),
            note.message
        );
    }
    if !outcome.uncertain.is_empty() {
        eprintln!(
            "  (uncertain: a job may or may not exist for those files, and Auth0 cannot list jobs. \
             Run again with --resubmit-uncertain: each file's users are looked up on the tenant \
             first (the client needs read:users), and the file is sent again only if they are not all there)"
        );
    }
    if outcome.interrupted {
        eprintln!(
            "  interrupted: {} files running, {} not yet submitted; run the same command to resume",
            outcome.running, outcome.pending
        );
    }
    eprintln!("  {}", tenant_holds(outcome));
}

/// "N users" (or "? users" for a file that cannot be read).
fn users(count: Option<u64>) -> String {
    match count {
        Some(1) => "1 user".to_owned(),
        Some(n) => format!("{} users", thousands(n)),
        None => "? users: the file cannot be read".to_owned(),
    }
}

/// The last line: what the tenant holds of the plan as far as the tool
/// knows, and what is not known.
fn tenant_holds(outcome: &ImportOutcome) -> String {
    let known = outcome.users_known_on_tenant();
    let mut line = match outcome.users_planned {
        Some(planned) if known == planned => {
            return format!("the tenant holds all {} users of this plan", thousands(planned))
        }
        Some(planned) => format!(
            "the tenant holds {} of this plan's {} users as far as trickle knows",
            thousands(known),
            thousands(planned)
        ),
        None => format!(
            "the tenant holds {} users of this plan as far as trickle knows (some files cannot be read)",
            thousands(known)
        ),
    };
    let rest: Vec<String> = [
        (
            outcome.users_uncertain,
            "in uncertain files: there or not, unknown",
        ),
        (outcome.users_running, "in jobs still running"),
        (
            outcome.users_failed,
            "refused by Auth0 (see import-errors/)",
        ),
        (outcome.users_in_failed_files, "in failed files"),
        (outcome.users_pending, "in files not sent yet"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{} {what}", thousands(count)))
    .collect();
    if !rest.is_empty() {
        line.push_str("; ");
        line.push_str(&rest.join("; "));
    }
    line
}
