//! `plan`: an export in, a folder of import files out, with a report.
//!
//! One pass over the export, one record in memory at a time; the only
//! structures that grow with the input are the compact key sets for
//! duplicates (ids, emails, usernames: about 9 bytes a key) and, when given,
//! the new tenant's ids and emails and the hashes file's index. The report
//! lists at most [`SKIPS_LISTED_PER_REASON`] left-out records per reason
//! (all are counted). The folder is built beside its final place and renamed
//! in when complete; stopped (a signal, see [`PlanOptions::stop`]) or failed,
//! it is removed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trickle_core::{raw_user_id, Policy, Profile, SourceUser};

use crate::hashes::{HashFileProblem, HashIndex, PasswordField};
use crate::input::{self, InputFormat, Record};
use crate::keys::{email_identity, username_identity, KeySet, EMAIL_SEED, ID_SEED, USERNAME_SEED};
use crate::record::{candidate, Candidate, ImportRecord, Skip, SkipReason};
use crate::source::{read_record, SourceKind};

/// Auth0 refuses import files over this many bytes (413).
pub const IMPORT_FILE_LIMIT_BYTES: usize = 500_000;

/// The report's file name inside the plan folder.
pub const REPORT_FILE: &str = "report.json";

/// With `--exclude-export`: every planned user carrying the marker, one
/// JSON line each ([`MarkedUser`], the old tenant's `user_id`), uncapped,
/// for `trickle bulk unmark`.
pub const MARKED_FILE: &str = "marked-not-in-new-tenant.jsonl";

/// How many left-out records `report.json` lists for each reason (the
/// first ones, by line); all of them are counted.
pub const SKIPS_LISTED_PER_REASON: usize = 1_000;

/// Text values of a listed record (detail, user_id, email) are cut to this
/// many bytes: an export line cannot make the report large.
const LISTED_TEXT_BYTES: usize = 512;

/// The name of the `n`th import file (from 1): sorted by name is sorted by number.
pub fn import_file_name(n: usize) -> String {
    format!("users-{n:05}.json")
}

/// Whether `name` is one of a plan's import files.
pub fn is_import_file_name(name: &str) -> bool {
    name.strip_prefix("users-")
        .and_then(|rest| rest.strip_suffix(".json"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The old tenant's export.
    pub input: PathBuf,
    pub format: InputFormat,
    /// The new tenant's export: its users are left out.
    pub exclude: Option<PathBuf>,
    pub exclude_format: InputFormat,
    /// Legacy password hashes (see [`crate::hashes`]).
    pub hashes: Option<PathBuf>,
    /// An Auth0 export or a legacy store's (see [`crate::source`]).
    pub source_kind: SourceKind,
    /// The plan folder to create.
    pub out: PathBuf,
    /// The old tenant's connection the users come from (`source.realm`).
    pub realm: String,
    /// The new tenant's connection (`connection.name`): where the raw ids of
    /// the new tenant's export are read.
    pub target_connection: String,
    /// The scripts' policy (its field allow-list applies).
    pub policy: Policy,
    /// Leave blocked users out (default: import them as blocked).
    pub skip_blocked: bool,
    /// Replace `out` if it exists.
    pub replace: bool,
    /// Bytes per import file at most.
    pub file_limit: usize,
    /// When this becomes true (a signal handler sets it), planning stops at
    /// the next record, removes its staging folder and returns
    /// [`PlanError::Interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
}

impl PlanOptions {
    pub fn new(
        input: PathBuf,
        out: PathBuf,
        realm: String,
        target_connection: String,
        policy: Policy,
    ) -> Self {
        PlanOptions {
            format: InputFormat::from_path(&input),
            input,
            exclude: None,
            exclude_format: InputFormat::Json,
            hashes: None,
            source_kind: SourceKind::Auto,
            out,
            realm,
            target_connection,
            policy,
            skip_blocked: false,
            replace: false,
            file_limit: IMPORT_FILE_LIMIT_BYTES,
            stop: None,
        }
    }
}

/// What a phase of planning is doing, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the new tenant's export.
    Exclude,
    /// Indexing the hashes file.
    Hashes,
    /// Reading the old tenant's export and writing import files.
    Users,
}

/// Progress through the current file.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub phase: Phase,
    pub bytes_read: u64,
    pub file_bytes: Option<u64>,
    pub records: u64,
    pub written: u64,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read {}: {source}", path.display())]
    Input { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Unusable(String),
    #[error("{} already exists (choose another --out, or --force to replace it)", .0.display())]
    OutExists(PathBuf),
    #[error("cannot write the plan under {}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },
    /// [`PlanOptions::stop`] was set; nothing was left behind.
    #[error("interrupted: the unfinished plan was removed")]
    Interrupted,
}

impl PlanError {
    /// Whether the input or the arguments are at fault (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, PlanError::Output { .. } | PlanError::Interrupted)
    }
}

/// One import file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub users: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PasswordCounts {
    pub password_hash: u64,
    pub custom_password_hash: u64,
    pub none: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExcludeReport {
    pub file: String,
    pub records: u64,
    pub user_ids: u64,
    pub emails: u64,
    pub unreadable: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HashesReport {
    pub file: String,
    pub entries: u64,
    /// Entries no planned user used.
    pub unused: u64,
    pub problem_count: u64,
    /// The first problems, by line.
    pub problems: Vec<HashFileProblem>,
}

/// A planned user who carries the migration marker (see
/// [`PlanReport::marked_not_in_new_tenant`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedUser {
    pub line: u64,
    /// In the report, the id as imported (no `auth0|`); in [`MARKED_FILE`],
    /// the old tenant's own (`auth0|…`).
    pub user_id: String,
    pub email: String,
    pub marked_at: String,
}

/// What a plan did. `report.json` holds this and, under `skipped_records`,
/// the left-out records with their lines and reasons (the first
/// [`SKIPS_LISTED_PER_REASON`] of each reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanReport {
    pub input: String,
    /// `auth0` or `api` (a legacy store's export), as given or told by the
    /// first record.
    pub source_kind: &'static str,
    /// Physical lines of the export: blank ones, a CSV header and the lines
    /// inside quoted CSV fields included.
    pub lines_read: u64,
    /// Records (non-blank lines, or CSV rows) read: `users_written +
    /// skipped`.
    pub records_read: u64,
    pub users_written: u64,
    pub skipped: u64,
    /// Of the skipped: carried the lazy-migration marker (only without
    /// `--exclude-export`: with it, the new tenant's export decides).
    pub already_migrated: u64,
    /// Of the written (only with `--exclude-export`): users carrying the
    /// marker whom the new tenant's export does not have. Marked, but not
    /// migrated: stranded by Auth0 failing to store them, or by an older
    /// Trickle. Counted exactly; the first ones listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marked_not_in_new_tenant: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marked_not_in_new_tenant_listed: Vec<MarkedUser>,
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    /// Of the written: imported as blocked.
    pub blocked_written: u64,
    pub passwords: PasswordCounts,
    /// Reserved keys removed from app_metadata, by key.
    pub app_metadata_keys_stripped: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude: Option<ExcludeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes: Option<HashesReport>,
    pub file_limit_bytes: usize,
    pub files: Vec<FileReport>,
    /// `skipped_records` lists at most this many records per reason.
    pub skipped_records_listed_per_reason: usize,
    /// Whether some left-out records are counted but not listed.
    pub skipped_records_truncated: bool,
    /// By reason, the left-out records counted but not listed.
    pub skipped_records_unlisted: BTreeMap<SkipReason, u64>,
}

impl PlanReport {
    /// Without `--exclude-export`, the marked users were left out on the
    /// marker's word alone: a marked user the new tenant lacks (Auth0 failed
    /// to store them) is then stranded, neither planned nor able to log in.
    pub fn unchecked_marked_warning(&self) -> Option<String> {
        (self.exclude.is_none() && self.already_migrated > 0).then(|| {
            format!(
                "warning: {} users carry the migration marker and were left out as already_migrated \
                 without checking that the new tenant holds them; a marked user it lacks would be \
                 stranded. Plan with --exclude-export <the new tenant's export> to check (the \
                 stranded ones are then planned, and listed for trickle bulk unmark)",
                self.already_migrated
            )
        })
    }
}

/// Makes the plan folder `options.out`. `progress` is called now and then.
pub fn plan(
    options: &PlanOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<PlanReport, PlanError> {
    check_options(options)?;
    let output = output_error(&options.out);
    let (parent, staging) = staging_beside(&options.out)?;
    // Opened first: a missing export fails before any other work.
    let mut export =
        input::open(&options.input, options.format).map_err(input_error(&options.input))?;
    let mut report = PlanReport {
        input: options.input.display().to_string(),
        file_limit_bytes: options.file_limit,
        skipped_records_listed_per_reason: SKIPS_LISTED_PER_REASON,
        marked_not_in_new_tenant: options.exclude.as_ref().map(|_| 0),
        ..PlanReport::default()
    };
    let no_stop = AtomicBool::new(false);
    let stop: &AtomicBool = options.stop.as_deref().unwrap_or(&no_stop);

    // Read what decides: the new tenant's users, the hashes.
    let (excluded_ids, excluded_emails) = match &options.exclude {
        Some(path) => {
            let (ids, emails, exclude_report) = load_exclusions(path, options, stop, progress)?;
            report.exclude = Some(exclude_report);
            (ids, emails)
        }
        None => (KeySet::new(ID_SEED), KeySet::new(EMAIL_SEED)),
    };
    let hashes = open_hashes(options, staging.path(), stop, progress)?;
    let mut users = UserPlanner {
        options,
        taken: Taken::new(excluded_ids, excluded_emails),
        hashes,
        record_buffer: Vec::with_capacity(4096),
        users_parsed: 0,
    };

    // Decide each user, then write it or list it as left out.
    let mut writer = PlanWriter::create(staging.path(), options).map_err(&output)?;
    let source_kind = plan_users(
        &mut export,
        &mut users,
        &mut writer,
        &mut report,
        stop,
        progress,
    )?;
    report.lines_read = export.lines_read();
    report.source_kind = match source_kind {
        SourceKind::Auto => SourceKind::Auth0.name(),
        kind => kind.name(),
    };
    progress(users_progress(&export, &report));
    if report.records_read > 0 && users.users_parsed == 0 {
        return Err(no_users(options, &report, source_kind));
    }

    // Finish the files, then the report, then put the folder in place.
    let (files, skipped_path) = writer.finish().map_err(&output)?;
    report.files = files;
    report.hashes = users.hashes_report();
    drop(users);
    write_report_file(staging.path(), &report, &skipped_path).map_err(&output)?;
    move_into_place(staging, &options.out, &parent, options.replace).map_err(&output)?;
    Ok(report)
}

/// Refuses what cannot make a plan, before anything is written.
fn check_options(options: &PlanOptions) -> Result<(), PlanError> {
    if options.file_limit < 64 {
        return Err(PlanError::Unusable(
            "the file limit is too small".to_owned(),
        ));
    }
    let out = &options.out;
    if out.exists() && !options.replace {
        return Err(PlanError::OutExists(out.clone()));
    }
    if out.join(crate::import::journal::JOURNAL_FILE).exists() {
        return Err(PlanError::Unusable(format!(
            "{} holds the state of an import ({}): replacing it would forget which files were \
             imported. Plan into another folder, or remove this one yourself if you mean it",
            out.display(),
            crate::import::journal::JOURNAL_FILE
        )));
    }
    Ok(())
}

/// `out`'s parent folder (made if missing) and a staging folder in it,
/// where the plan is built before it is renamed to `out`.
fn staging_beside(out: &Path) -> Result<(PathBuf, tempfile::TempDir), PlanError> {
    let name = out
        .file_name()
        .ok_or_else(|| PlanError::Unusable(format!("{} is not a folder name", out.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let output = output_error(out);
    fs::create_dir_all(&parent).map_err(&output)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.staging-"))
        .tempdir_in(&parent)
        .map_err(&output)?;
    Ok((parent, staging))
}

/// A failure to read `path`, as a plan reports it.
fn input_error(path: &Path) -> impl Fn(io::Error) -> PlanError + '_ {
    move |source| PlanError::Input {
        path: path.to_path_buf(),
        source,
    }
}

/// A failure to write the plan `out`, as a plan reports it.
fn output_error(out: &Path) -> impl Fn(io::Error) -> PlanError + '_ {
    move |source| PlanError::Output {
        path: out.to_path_buf(),
        source,
    }
}

/// The hashes file indexed into `scratch`, with its path, if one was given.
fn open_hashes<'a>(
    options: &'a PlanOptions,
    scratch: &Path,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<(&'a PathBuf, HashIndex)>, PlanError> {
    let Some(path) = &options.hashes else {
        return Ok(None);
    };
    progress(Progress {
        phase: Phase::Hashes,
        bytes_read: 0,
        file_bytes: None,
        records: 0,
        written: 0,
    });
    let index = HashIndex::open(path, scratch, stop);
    if stop.load(Ordering::Relaxed) {
        return Err(PlanError::Interrupted);
    }
    let index = index.map_err(input_error(path))?;
    Ok(Some((path, index)))
}

/// Reads the export to its end: each record decided, then written or
/// listed as left out. Returns the kind of export it was read as.
fn plan_users(
    export: &mut input::Export,
    users: &mut UserPlanner<'_>,
    writer: &mut PlanWriter,
    report: &mut PlanReport,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<SourceKind, PlanError> {
    let options = users.options;
    let output = output_error(&options.out);
    let mut source_kind = options.source_kind;
    while let Some((line, record)) = export.next_record().map_err(input_error(&options.input))? {
        if stop.load(Ordering::Relaxed) {
            return Err(PlanError::Interrupted);
        }
        report.records_read += 1;
        match users.decide(&mut source_kind, line, record, report) {
            Ok((record, marked)) => writer.write_user(record, marked, report).map_err(&output)?,
            Err(NotWritten::Skipped(skip)) => writer.write_skip(skip, report).map_err(&output)?,
            Err(NotWritten::Failed(fatal)) => return Err(fatal),
        }
        if report.records_read.is_multiple_of(8192) {
            progress(users_progress(export, report));
        }
    }
    Ok(source_kind)
}

/// How far the users' phase has got.
fn users_progress(export: &input::Export, report: &PlanReport) -> Progress {
    Progress {
        phase: Phase::Users,
        bytes_read: export.bytes_read(),
        file_bytes: export.file_bytes,
        records: report.records_read,
        written: report.users_written,
    }
}

/// Records were read but none was a user: the export was read wrongly.
fn no_users(options: &PlanOptions, report: &PlanReport, source_kind: SourceKind) -> PlanError {
    PlanError::Unusable(format!(
        "none of the {} records of {} is a user: is it an export ({} format, {})?",
        report.records_read,
        options.input.display(),
        match options.format {
            InputFormat::Json => "NDJSON",
            InputFormat::Csv => "CSV",
        },
        match source_kind {
            SourceKind::Api => "read as a legacy store's export: --source-kind api",
            _ => "read as an Auth0 export: --source-kind auth0",
        }
    ))
}

/// Why a record is not written: left out (listed in the report), or a
/// failure that stops the plan.
enum NotWritten {
    Skipped(Skip),
    Failed(PlanError),
}

impl From<Skip> for NotWritten {
    fn from(skip: Skip) -> Self {
        NotWritten::Skipped(skip)
    }
}

/// What decides each user beyond the record itself: the import's duplicate
/// rules and the hashes file.
struct UserPlanner<'a> {
    options: &'a PlanOptions,
    taken: Taken,
    hashes: Option<(&'a PathBuf, HashIndex)>,
    /// The import record of the user last decided, as JSON.
    record_buffer: Vec<u8>,
    /// Records that were users (parsed, whatever was decided then).
    users_parsed: u64,
}

/// A written user carrying the marker: the old tenant's `user_id` and the
/// report's entry.
type Marked = (String, MarkedUser);

impl UserPlanner<'_> {
    /// Decides one record: its import record as JSON, and its marker if it
    /// carries one, or why it is not written. Counts what is written.
    fn decide(
        &mut self,
        source_kind: &mut SourceKind,
        line: u64,
        record: Record<'_>,
        report: &mut PlanReport,
    ) -> Result<(&[u8], Option<Marked>), NotWritten> {
        let options = self.options;
        let source = read_record(source_kind, line, record)?;
        self.users_parsed += 1;
        let candidate = candidate(
            line,
            source.user,
            source.marked_at,
            &options.realm,
            &options.policy,
            options.skip_blocked,
            options.exclude.is_none(),
        )?;
        let profile = &candidate.profile;
        let identity = Identity::of(profile);
        if let Some(rule) = TAKEN_RULES
            .iter()
            .find(|rule| (rule.taken)(&self.taken, &identity))
        {
            return Err(skip_of(line, profile, rule.reason, Some(rule.detail.to_owned())).into());
        }
        let password = self.password(line, profile, source.password)?;
        self.record_buffer.clear();
        let record = ImportRecord {
            profile,
            blocked: candidate.blocked,
            password: password.as_ref(),
        };
        serde_json::to_writer(&mut self.record_buffer, &record).expect("JSON values serialize");
        if self.record_buffer.len() + Splitter::OVERHEAD > options.file_limit {
            let detail = format!("{} bytes as JSON", self.record_buffer.len());
            return Err(skip_of(line, profile, SkipReason::TooLarge, Some(detail)).into());
        }
        self.taken.insert(&identity);
        count_written(report, &candidate, password.as_ref());
        let marked = marked_entry(line, candidate);
        Ok((&self.record_buffer, marked))
    }

    /// The user's password: the record's own (a legacy export's), else the
    /// hashes file's entry for them, if any.
    fn password(
        &mut self,
        line: u64,
        profile: &Profile<Value>,
        own: Option<Result<PasswordField, String>>,
    ) -> Result<Option<PasswordField>, NotWritten> {
        let found = match (own, &mut self.hashes) {
            (Some(own), _) => Some(own),
            (None, Some((path, index))) => index
                .lookup(&profile.user_id, &profile.email)
                .map_err(|source| NotWritten::Failed(input_error(path)(source)))?,
            (None, None) => None,
        };
        match found {
            Some(Ok(field)) => Ok(Some(field)),
            Some(Err(problem)) => Err(skip_of(
                line,
                profile,
                SkipReason::InvalidPasswordHash,
                Some(problem),
            )
            .into()),
            None => Ok(None),
        }
    }

    /// The hashes file's part of the report.
    fn hashes_report(&self) -> Option<HashesReport> {
        self.hashes.as_ref().map(|(path, index)| HashesReport {
            file: path.display().to_string(),
            entries: index.entries,
            unused: index.unused(),
            problem_count: index.problem_count,
            problems: index.problems.clone(),
        })
    }
}

/// A user left out after the per-record checks, named by their profile.
fn skip_of(
    line: u64,
    profile: &Profile<Value>,
    reason: SkipReason,
    detail: Option<String>,
) -> Skip {
    Skip {
        line,
        reason,
        detail,
        user_id: Some(profile.user_id.clone()),
        email: Some(profile.email.clone()),
    }
}

/// Counts a written user in the report.
fn count_written(report: &mut PlanReport, candidate: &Candidate, password: Option<&PasswordField>) {
    for key in &candidate.stripped {
        *report.app_metadata_keys_stripped.entry(key).or_default() += 1;
    }
    if candidate.blocked {
        report.blocked_written += 1;
    }
    match password {
        Some(PasswordField::Bcrypt(_)) => report.passwords.password_hash += 1,
        Some(PasswordField::Custom(_)) => report.passwords.custom_password_hash += 1,
        None => report.passwords.none += 1,
    }
}

/// A written user's marker, if they carry one (they do only when the
/// marker is not honoured: with `--exclude-export`).
fn marked_entry(line: u64, candidate: Candidate) -> Option<Marked> {
    let profile = candidate.profile;
    candidate.marked_at.map(|marked_at| {
        let source_user_id = candidate
            .source_user_id
            .unwrap_or_else(|| format!("auth0|{}", profile.user_id));
        (
            source_user_id,
            MarkedUser {
                line,
                user_id: profile.user_id,
                email: profile.email,
                marked_at,
            },
        )
    })
}

/// The keys a user is known by in the import's duplicate rules.
struct Identity<'a> {
    user_id: &'a str,
    email: Cow<'a, str>,
    username: Option<Cow<'a, str>>,
}

impl<'a> Identity<'a> {
    fn of(profile: &'a Profile<Value>) -> Self {
        Identity {
            user_id: &profile.user_id,
            email: email_identity(&profile.email),
            username: profile.username.as_deref().map(username_identity),
        }
    }
}

/// The keys already taken: the new tenant's users', and those of the users
/// written so far (the import refuses a second user_id in the connection,
/// email or username; the first is kept).
struct Taken {
    excluded_ids: KeySet,
    excluded_emails: KeySet,
    ids: KeySet,
    emails: KeySet,
    usernames: KeySet,
}

impl Taken {
    fn new(excluded_ids: KeySet, excluded_emails: KeySet) -> Self {
        Taken {
            excluded_ids,
            excluded_emails,
            ids: KeySet::new(ID_SEED),
            emails: KeySet::new(EMAIL_SEED),
            usernames: KeySet::new(USERNAME_SEED),
        }
    }

    fn insert(&mut self, identity: &Identity<'_>) {
        self.ids.insert(identity.user_id);
        self.emails.insert(&identity.email);
        if let Some(username) = &identity.username {
            self.usernames.insert(username);
        }
    }
}

/// A rule that leaves a user out when one of their keys is taken.
struct TakenRule {
    taken: fn(&Taken, &Identity<'_>) -> bool,
    reason: SkipReason,
    detail: &'static str,
}

/// The rules in order: the first that holds decides.
const TAKEN_RULES: [TakenRule; 5] = [
    TakenRule {
        taken: |taken, identity| taken.excluded_ids.contains(identity.user_id),
        reason: SkipReason::AlreadyInTarget,
        detail: "user_id in the new tenant's export",
    },
    TakenRule {
        taken: |taken, identity| taken.excluded_emails.contains(&identity.email),
        reason: SkipReason::AlreadyInTarget,
        detail: "email in the new tenant's export",
    },
    TakenRule {
        taken: |taken, identity| taken.ids.contains(identity.user_id),
        reason: SkipReason::DuplicateUserId,
        detail: "an earlier record has this user_id; the first is kept",
    },
    TakenRule {
        taken: |taken, identity| taken.emails.contains(&identity.email),
        reason: SkipReason::DuplicateEmail,
        detail: "an earlier record has this email (ignoring case and Unicode normal form); \
                 the first is kept",
    },
    TakenRule {
        taken: |taken, identity| {
            (identity.username.as_ref()).is_some_and(|name| taken.usernames.contains(name))
        },
        reason: SkipReason::DuplicateUsername,
        detail: "an earlier record has this username (ignoring case and Unicode normal form); the first is kept",
    },
];

/// Where a plan's records go, in the staging folder: the import files, the
/// left-out records (the first of each reason, for the report) and, with
/// `--exclude-export`, the marked users.
struct PlanWriter {
    files: Splitter,
    skipped_path: PathBuf,
    skipped: BufWriter<File>,
    marked: Option<BufWriter<File>>,
    /// Left-out records listed so far, by reason.
    listed: BTreeMap<SkipReason, usize>,
}

impl PlanWriter {
    fn create(dir: &Path, options: &PlanOptions) -> io::Result<Self> {
        let skipped_path = dir.join(".skipped.ndjson");
        let skipped = BufWriter::new(File::create(&skipped_path)?);
        let marked = match options.exclude {
            Some(_) => Some(BufWriter::new(File::create(dir.join(MARKED_FILE))?)),
            None => None,
        };
        Ok(PlanWriter {
            files: Splitter::new(dir, options.file_limit),
            skipped_path,
            skipped,
            marked,
            listed: BTreeMap::new(),
        })
    }

    /// Writes a user's import record, and their marker if they carry one.
    fn write_user(
        &mut self,
        record: &[u8],
        marked: Option<Marked>,
        report: &mut PlanReport,
    ) -> io::Result<()> {
        self.files.push(record)?;
        report.users_written += 1;
        let Some((source_user_id, mut marked)) = marked else {
            return Ok(());
        };
        if let Some(out) = &mut self.marked {
            let entry = MarkedUser {
                user_id: source_user_id,
                ..marked.clone()
            };
            serde_json::to_writer(&mut *out, &entry)?;
            out.write_all(b"\n")?;
        }
        *report.marked_not_in_new_tenant.get_or_insert(0) += 1;
        if report.marked_not_in_new_tenant_listed.len() < SKIPS_LISTED_PER_REASON {
            for text in [
                &mut marked.user_id,
                &mut marked.email,
                &mut marked.marked_at,
            ] {
                cap_listed_text(text);
            }
            report.marked_not_in_new_tenant_listed.push(marked);
        }
        Ok(())
    }

    /// Counts a left-out record, and lists it while its reason has room.
    fn write_skip(&mut self, skip: Skip, report: &mut PlanReport) -> io::Result<()> {
        report.skipped += 1;
        if skip.reason == SkipReason::AlreadyMigrated {
            report.already_migrated += 1;
        }
        *report.skipped_by_reason.entry(skip.reason).or_default() += 1;
        let listed = self.listed.entry(skip.reason).or_default();
        if *listed < SKIPS_LISTED_PER_REASON {
            *listed += 1;
            serde_json::to_writer(&mut self.skipped, &bounded(skip))?;
            self.skipped.write_all(b"\n")?;
        } else {
            *report
                .skipped_records_unlisted
                .entry(skip.reason)
                .or_default() += 1;
            report.skipped_records_truncated = true;
        }
        Ok(())
    }

    /// Puts every file on disk; returns the import files and the left-out
    /// list's scratch file, for the report.
    fn finish(self) -> io::Result<(Vec<FileReport>, PathBuf)> {
        let files = self.files.finish()?;
        for out in [Some(self.skipped), self.marked].into_iter().flatten() {
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        Ok((files, self.skipped_path))
    }
}

/// Writes `report.json`: the report, then the left-out records streamed
/// from their scratch file (removed after).
fn write_report_file(dir: &Path, report: &PlanReport, skipped_path: &Path) -> io::Result<()> {
    let mut report_out = BufWriter::new(File::create(dir.join(REPORT_FILE))?);
    serde_json::to_writer_pretty(
        &mut report_out,
        &ReportFile {
            report,
            skipped_records: SkippedRecords(skipped_path),
        },
    )?;
    report_out.write_all(b"\n")?;
    report_out
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    fs::remove_file(skipped_path)
}

/// `skip` with its text values cut to [`LISTED_TEXT_BYTES`].
fn bounded(mut skip: Skip) -> Skip {
    for text in [&mut skip.detail, &mut skip.user_id, &mut skip.email]
        .into_iter()
        .flatten()
    {
        cap_listed_text(text);
    }
    skip
}

/// Cuts a text the report lists to [`LISTED_TEXT_BYTES`], saying how much went.
fn cap_listed_text(text: &mut String) {
    if text.len() > LISTED_TEXT_BYTES {
        let mut end = LISTED_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let cut = text.len() - end;
        text.truncate(end);
        text.push_str(&format!("… ({cut} more bytes)"));
    }
}

/// Reads the new tenant's export into the two key maps.
fn load_exclusions(
    path: &Path,
    options: &PlanOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<(KeySet, KeySet, ExcludeReport), PlanError> {
    let error = |source: io::Error| PlanError::Input {
        path: path.to_path_buf(),
        source,
    };
    let mut ids = KeySet::new(ID_SEED);
    let mut emails = KeySet::new(EMAIL_SEED);
    let mut report = ExcludeReport {
        file: path.display().to_string(),
        ..ExcludeReport::default()
    };
    let mut export = input::open(path, options.exclude_format).map_err(error)?;
    let file_bytes = export.file_bytes;
    while let Some((_, record)) = export.next_record().map_err(error)? {
        if stop.load(Ordering::Relaxed) {
            return Err(PlanError::Interrupted);
        }
        report.records += 1;
        let user: Option<SourceUser<serde::de::IgnoredAny>> = match record {
            Record::Json(bytes) => serde_json::from_slice(bytes).ok(),
            Record::Object(value) => serde_json::from_value(value).ok(),
            Record::Unreadable(_) => None,
        };
        let Some(user) = user else {
            report.unreadable += 1;
            continue;
        };
        if let Some(id) = raw_user_id(&user, &options.target_connection) {
            ids.insert(id);
        }
        if let Some(email) = user.email.as_deref().filter(|email| !email.is_empty()) {
            emails.insert(&email_identity(email));
        }
        if report.records.is_multiple_of(8192) {
            progress(Progress {
                phase: Phase::Exclude,
                bytes_read: export.bytes_read(),
                file_bytes,
                records: report.records,
                written: 0,
            });
        }
    }
    report.user_ids = ids.len() as u64;
    report.emails = emails.len() as u64;
    Ok((ids, emails, report))
}

/// Cuts the records into JSON array files of at most `limit` bytes each:
/// `[\n`, records joined by `,\n`, `\n]\n`. Finished files are flushed to
/// disk by a second thread, so reading the export never waits for the disk.
struct Splitter {
    dir: PathBuf,
    limit: usize,
    current: Option<(BufWriter<File>, usize, u64)>,
    files: Vec<FileReport>,
    syncer: Syncer,
}

impl Splitter {
    /// The bytes a file of one record adds around it.
    const OVERHEAD: usize = 5;

    fn new(dir: &Path, limit: usize) -> Self {
        Splitter {
            dir: dir.to_path_buf(),
            limit,
            current: None,
            files: Vec::new(),
            syncer: Syncer::start(),
        }
    }

    fn push(&mut self, record: &[u8]) -> io::Result<()> {
        if let Some((writer, bytes, users)) = &mut self.current {
            if *bytes + 2 + record.len() + 3 <= self.limit {
                writer.write_all(b",\n")?;
                writer.write_all(record)?;
                *bytes += 2 + record.len();
                *users += 1;
                return Ok(());
            }
            self.close()?;
        }
        let name = import_file_name(self.files.len() + 1);
        let mut writer = BufWriter::with_capacity(64 * 1024, File::create(self.dir.join(&name))?);
        writer.write_all(b"[\n")?;
        writer.write_all(record)?;
        self.files.push(FileReport {
            file: name,
            users: 0,
            bytes: 0,
        });
        self.current = Some((writer, 2 + record.len(), 1));
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some((mut writer, bytes, users)) = self.current.take() {
            writer.write_all(b"\n]\n")?;
            let file = writer.into_inner().map_err(|e| e.into_error())?;
            self.syncer.sync(file)?;
            let last = self.files.last_mut().expect("a file is open");
            last.users = users;
            last.bytes = (bytes + 3) as u64;
        }
        Ok(())
    }

    /// Closes the last file and waits until every file is on disk.
    fn finish(mut self) -> io::Result<Vec<FileReport>> {
        self.close()?;
        self.syncer.finish()?;
        Ok(self.files)
    }
}

/// `fsync`s files on a thread of its own; the first failure is reported.
struct Syncer {
    sender: Option<std::sync::mpsc::SyncSender<File>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Syncer {
    fn start() -> Self {
        // A few files in flight at most: bounded open handles and memory.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<File>(16);
        let thread = std::thread::spawn(move || {
            let mut result = Ok(());
            for file in receiver {
                if let Err(error) = file.sync_all() {
                    if result.is_ok() {
                        result = Err(error);
                    }
                }
            }
            result
        });
        Syncer {
            sender: Some(sender),
            thread: Some(thread),
        }
    }

    fn sync(&mut self, file: File) -> io::Result<()> {
        let sent = self.sender.as_ref().map(|sender| sender.send(file));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread ended early: finish() reports why.
            _ => self.finish(),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.sender = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the disk-flushing thread panicked")),
        }
    }
}

#[derive(Serialize)]
struct ReportFile<'a> {
    #[serde(flatten)]
    report: &'a PlanReport,
    skipped_records: SkippedRecords<'a>,
}

/// The skipped records, streamed from the scratch file they were written to.
struct SkippedRecords<'a>(&'a Path);

impl Serialize for SkippedRecords<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let file = File::open(self.0).map_err(S::Error::custom)?;
        let mut seq = serializer.serialize_seq(None)?;
        for line in BufReader::new(file).lines() {
            let line = line.map_err(S::Error::custom)?;
            let value: Box<serde_json::value::RawValue> =
                serde_json::from_str(&line).map_err(S::Error::custom)?;
            seq.serialize_element(&value)?;
        }
        seq.end()
    }
}

/// Renames the finished staging folder to `out`, replacing an old one only
/// when asked (the old one is moved aside first and put back on failure).
fn move_into_place(
    staging: tempfile::TempDir,
    out: &Path,
    parent: &Path,
    replace: bool,
) -> io::Result<()> {
    let staged = staging.keep();
    let result = (|| {
        if replace && out.exists() {
            let old = tempfile::Builder::new()
                .prefix(".trickle-old-plan-")
                .tempdir_in(parent)?
                .keep();
            fs::rename(out, &old)?;
            if let Err(error) = fs::rename(&staged, out) {
                let _ = fs::rename(&old, out);
                return Err(error);
            }
            fs::remove_dir_all(&old)?;
        } else if out.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the folder appeared while planning",
            ));
        } else {
            fs::rename(&staged, out)?;
        }
        // Make the rename itself durable.
        File::open(parent).and_then(|dir| dir.sync_all()).or(Ok(()))
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staged);
    }
    result
}
