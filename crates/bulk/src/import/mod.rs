//! `import`: submits a plan's files to the new tenant as import jobs.
//!
//! At most `max_jobs` (Auth0 allows two per tenant) jobs are pending or
//! processing at once. Each job is followed with `GET /api/v2/jobs/{id}`
//! until it completes or fails; the failed users of a completed job
//! (`GET /api/v2/jobs/{id}/errors`, password fields removed) are written to
//! `import-errors/<file>` in the plan folder. Every transition is in the
//! journal ([`journal`]) before the next step, so a run that crashed or was
//! interrupted resumes where it stopped: recorded jobs are polled, not
//! resubmitted; files never sent are sent; a file whose upload was under way
//! when the process died is `uncertain`: its job may exist, and Auth0 offers
//! no way to list jobs.
//!
//! With `resubmit_uncertain`, each uncertain file is first looked up on the
//! tenant, after every other file ([`check_on_tenant`]: its users by email,
//! a spread sample first, needs `read:users`): all there, the lost job ran
//! and the file is `found_on_tenant`, not sent again; one missing, it is
//! sent again, which is safe with `upsert` off (Auth0 refuses the users
//! that exist as `DUPLICATED_USER` instead of doubling them), and those
//! refusals are looked up too: the users the tenant holds count as already
//! there, not failed. Nothing the tool does not know is counted: the
//! outcome keeps uncertain users apart.

pub mod api;
pub mod journal;

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::plan::{is_import_file_name, IMPORT_FILE_LIMIT_BYTES};
use api::{Api, ApiError, Lookup, Polled, Submitted};
use journal::{Entry, FileState, JobSummary, Journal, JournalError};

/// Where a job's failed users are written, inside the plan folder.
pub const ERRORS_DIR: &str = "import-errors";

/// Consecutive unusable answers while polling before the run gives up
/// (the journal keeps everything; the next run resumes).
const MAX_TRANSIENT: u32 = 20;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `https://tenant.auth0.com` (checked by `trickle_core::base_url`).
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The database connection in the new tenant (`con_…`).
    pub connection_id: String,
    pub upsert: bool,
    pub send_completion_email: bool,
    /// Jobs at once, 1 or 2.
    pub max_jobs: usize,
    pub poll_interval: Duration,
    /// The longest single wait for a rate limit.
    pub max_wait: Duration,
    pub request_timeout: Duration,
    /// Look `uncertain` files up on the tenant, and submit again those whose
    /// users are not all there.
    pub resubmit_uncertain: bool,
    /// Submit files whose job failed (or that were refused) again.
    pub retry_failed: bool,
    /// For tests: stop dead at a given point, as a crash would.
    pub halt: Option<Halt>,
}

impl ImportOptions {
    pub fn new(base_url: &str, client_id: &str, client_secret: &str, connection_id: &str) -> Self {
        ImportOptions {
            base_url: base_url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            connection_id: connection_id.to_owned(),
            upsert: false,
            send_completion_email: false,
            max_jobs: 2,
            poll_interval: Duration::from_secs(2),
            max_wait: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            resubmit_uncertain: false,
            retry_failed: false,
            halt: None,
        }
    }
}

/// A point to stop at, for crash tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// Right after the `n`th `submitting` is recorded, before the upload.
    BeforeSubmit(usize),
    /// Right after the `n`th job id is recorded.
    AfterSubmit(usize),
}

/// What the run is doing, for display.
#[derive(Debug)]
pub enum Event<'a> {
    /// The plan is read: `done` of `files` are finished already.
    Start {
        files: usize,
        done: usize,
    },
    Submitted {
        file: &'a str,
        job_id: &'a str,
    },
    /// A file reached a final state (completed, failed, uncertain).
    Finished {
        file: &'a str,
        state: &'a FileState,
    },
    /// Waiting for a rate limit or the job limit.
    Waiting {
        wait: Duration,
    },
    /// Looking the users of `file` up on the tenant: `done` of `users`.
    LookingUp {
        file: &'a str,
        done: usize,
        users: usize,
    },
    /// Something worth a line about `file` (never a user's data).
    Note {
        file: &'a str,
        message: &'a str,
    },
}

/// Why the import could not run (its journal stays as it was).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    BadPlan(String),
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("halted for a test")]
    Halted,
}

impl ImportError {
    /// Whether the plan, the arguments or the credentials are at fault (exit 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ImportError::BadPlan(_)
                | ImportError::Mismatch(_)
                | ImportError::Journal(JournalError::Locked | JournalError::Damaged { .. })
                | ImportError::Api(ApiError::Credentials(_) | ApiError::Redirected(_))
        )
    }
}

/// A plan file and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNote {
    pub file: String,
    /// Users the file holds (`None`: it cannot be read).
    pub users: Option<u64>,
    pub message: String,
}

/// Where every file of the plan stands after a run. The user counts are
/// what the tool knows: from Auth0's job summaries, from lookups, or (for
/// files without a finished job) from the files themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub files: usize,
    /// Files done: imported by a job, or found on the tenant.
    pub completed: usize,
    /// Of `completed`: uncertain files whose users were all found on the
    /// tenant (so not sent again).
    pub found_on_tenant: Vec<FileNote>,
    /// Files whose job failed or that were refused, with why.
    pub failed: Vec<FileNote>,
    /// Files that may or may not have a job, with why.
    pub uncertain: Vec<FileNote>,
    /// Files not yet submitted (after an interruption).
    pub pending: usize,
    /// Files whose job was still running (after an interruption).
    pub running: usize,
    pub users_inserted: u64,
    pub users_updated: u64,
    /// Users Auth0 refused (listed in `import-errors/`), not counting
    /// those found on the tenant after all.
    pub users_failed: u64,
    /// Users looked up and found on the tenant: all those of files found
    /// there, and refused duplicates of resubmitted files that it holds.
    pub users_present: u64,
    /// Users of uncertain files: on the tenant or not, unknown.
    pub users_uncertain: u64,
    /// Users of files whose job failed or that were refused.
    pub users_in_failed_files: u64,
    /// Users of files not sent yet.
    pub users_pending: u64,
    /// Users of files whose job is still running.
    pub users_running: u64,
    /// Every user of the plan (`None`: a file could not be read).
    pub users_planned: Option<u64>,
    /// `import-errors/…` files written, relative to the plan folder.
    pub error_files: Vec<String>,
    pub interrupted: bool,
}

impl ImportOutcome {
    /// Every file imported and every user accepted.
    pub fn is_clean(&self) -> bool {
        self.completed == self.files && self.users_failed == 0 && !self.interrupted
    }

    /// Users the tenant holds, as far as the tool knows: inserted, updated
    /// or found there.
    pub fn users_known_on_tenant(&self) -> u64 {
        self.users_inserted + self.users_updated + self.users_present
    }
}

/// The import files of `plan`, sorted.
pub fn plan_files(plan: &Path) -> Result<Vec<String>, ImportError> {
    let entries = fs::read_dir(plan).map_err(|source| ImportError::Io {
        path: plan.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ImportError::Io {
            path: plan.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_import_file_name(&name) {
            continue;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if bytes > IMPORT_FILE_LIMIT_BYTES as u64 {
            return Err(ImportError::BadPlan(format!(
                "{name} has {bytes} bytes, over Auth0's {IMPORT_FILE_LIMIT_BYTES}: make the plan again"
            )));
        }
        files.push(name);
    }
    files.sort();
    // A plan of no users is still a plan: it has its report.
    if files.is_empty() && !plan.join(crate::plan::REPORT_FILE).is_file() {
        return Err(ImportError::BadPlan(format!(
            "{} holds no import files (users-NNNNN.json) and no {}: is it a plan folder?",
            plan.display(),
            crate::plan::REPORT_FILE
        )));
    }
    Ok(files)
}

/// Runs (or resumes) the import of `plan`. Setting `stop` to true ends the
/// run at the next safe point (never during an upload).
///
/// The phases: open the journal and check it is this plan's, for this
/// tenant ([`Run::open`]); settle what the last run left
/// ([`Run::settle_last_run`]); then, until every file is final, fill the
/// job slots (submit the next file, or look the next uncertain file up on
/// the tenant: [`Run::fill_slots`]) and poll the jobs running
/// ([`Run::poll_active`]); last, the summary ([`outcome`]).
pub async fn run_import(
    plan: &Path,
    options: &ImportOptions,
    events: &mut dyn FnMut(Event),
    stop: watch::Receiver<bool>,
) -> Result<ImportOutcome, ImportError> {
    let mut run = Run::open(plan, options, events, stop)?;
    run.settle_last_run()?;
    run.queue_files();
    let interrupted = loop {
        if run.stopped() {
            break true;
        }
        run.fill_slots().await?;
        if run.active.is_empty() {
            match (
                run.queue.is_empty() && run.to_look_up.is_empty(),
                run.blocked_until,
            ) {
                (true, _) => break false,
                (false, Some(until)) => {
                    let wait = until.saturating_duration_since(Instant::now());
                    pause(wait, &mut run.stop).await
                }
                (false, None) => {}
            }
            continue;
        }
        pause(options.poll_interval, &mut run.stop).await;
        if run.stopped() {
            break true;
        }
        run.poll_active().await?;
    };
    Ok(outcome(plan, &run.files, &run.journal, interrupted))
}

/// One import run: the plan, its journal, the tenant, and the files each
/// phase still has to deal with.
struct Run<'a> {
    plan: &'a Path,
    options: &'a ImportOptions,
    events: &'a mut dyn FnMut(Event<'_>),
    stop: watch::Receiver<bool>,
    files: Vec<String>,
    journal: Journal,
    journal_path: PathBuf,
    api: Api,
    /// Files to submit, in order.
    queue: VecDeque<String>,
    /// Uncertain files to look up on the tenant (with `resubmit_uncertain`).
    to_look_up: VecDeque<String>,
    /// Files with a job running: `(file, job id)`.
    active: Vec<(String, String)>,
    /// Uploads started, and jobs created, by this run (for [`Halt`]).
    submissions: usize,
    jobs_created: usize,
    /// No upload before this (a 429 said so).
    blocked_until: Option<Instant>,
    /// Unusable answers in a row while polling.
    transient: u32,
}

impl<'a> Run<'a> {
    /// Reads the plan, opens its journal, and checks that a journal already
    /// there is for the same tenant and connection and names only files the
    /// plan still has.
    fn open(
        plan: &'a Path,
        options: &'a ImportOptions,
        events: &'a mut dyn FnMut(Event<'_>),
        stop: watch::Receiver<bool>,
    ) -> Result<Run<'a>, ImportError> {
        let files = plan_files(plan)?;
        let mut journal = Journal::open(plan)?;
        let journal_path = plan.join(journal::JOURNAL_FILE);
        match &journal.start {
            None => journal
                .record(Entry::Start {
                    domain: options.base_url.clone(),
                    connection_id: options.connection_id.clone(),
                    upsert: options.upsert,
                })
                .map_err(io_error(&journal_path))?,
            Some((domain, connection_id, _)) => {
                if *domain != options.base_url || *connection_id != options.connection_id {
                    return Err(ImportError::Mismatch(format!(
                        "this plan's import was started for {domain} connection {connection_id}; \
                         resume it with the same --domain and --connection-id"
                    )));
                }
            }
        }
        if let Some(unknown) = journal.states.keys().find(|name| !files.contains(name)) {
            return Err(ImportError::BadPlan(format!(
                "the import state names {unknown}, which the plan folder no longer has"
            )));
        }
        let mut api = Api::new(
            &options.base_url,
            &options.client_id,
            &options.client_secret,
            options.request_timeout,
        )?;
        api.max_wait = options.max_wait;
        Ok(Run {
            plan,
            options,
            events,
            stop,
            files,
            journal,
            journal_path,
            api,
            queue: VecDeque::new(),
            to_look_up: VecDeque::new(),
            active: Vec::new(),
            submissions: 0,
            jobs_created: 0,
            blocked_until: None,
            transient: 0,
        })
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn record(&mut self, entry: Entry) -> Result<(), ImportError> {
        self.journal
            .record(entry)
            .map_err(io_error(&self.journal_path))
    }

    /// A file the last run was uploading when it stopped becomes uncertain;
    /// failed files go back to pending when asked (`retry_failed`).
    fn settle_last_run(&mut self) -> Result<(), ImportError> {
        for file in self.files.clone() {
            if self.journal.state(&file) == FileState::Submitting {
                self.record(Entry::Uncertain {
                    file: file.clone(),
                    job_id: None,
                    message: "the previous run stopped during the upload: Auth0 may or may not have a job for it".to_owned(),
                })?;
            }
            if matches!(self.journal.state(&file), FileState::Failed { .. })
                && self.options.retry_failed
            {
                self.record(Entry::Reset {
                    file,
                    message: "retrying a failed file, as asked".to_owned(),
                })?;
            }
        }
        Ok(())
    }

    /// Sorts the files into the phases' queues, and says where the run starts.
    fn queue_files(&mut self) {
        let journal = &self.journal;
        self.queue = self
            .files
            .iter()
            .filter(|file| journal.state(file) == FileState::Pending)
            .cloned()
            .collect();
        // Looked up on the tenant after every other file: by then a job the
        // previous run lost has most likely run.
        if self.options.resubmit_uncertain {
            self.to_look_up = self
                .files
                .iter()
                .filter(|file| matches!(journal.state(file), FileState::Uncertain { .. }))
                .cloned()
                .collect();
        }
        self.active = self
            .files
            .iter()
            .filter_map(|file| match journal.state(file) {
                FileState::Submitted { job_id } => Some((file.clone(), job_id)),
                _ => None,
            })
            .collect();
        let files = self.files.len();
        let done = files - self.queue.len() - self.active.len() - self.to_look_up.len();
        (self.events)(Event::Start { files, done });
    }

    /// While a job slot is free (and no rate limit says wait): submits the
    /// next file, or, once none is left, looks the next uncertain file up.
    async fn fill_slots(&mut self) -> Result<(), ImportError> {
        let max_jobs = self.options.max_jobs.clamp(1, 2);
        while self.active.len() < max_jobs
            && !(self.queue.is_empty() && self.to_look_up.is_empty())
            && !self.stopped()
            && self
                .blocked_until
                .is_none_or(|until| Instant::now() >= until)
        {
            if self.queue.is_empty() {
                if !self.look_up_next().await? {
                    break;
                }
            } else {
                self.submit_next().await?;
            }
        }
        Ok(())
    }

    /// Settles the first uncertain file: found on the tenant, queued to be
    /// sent again, or left uncertain with why. `false` when stopped meanwhile.
    async fn look_up_next(&mut self) -> Result<bool, ImportError> {
        let file = self.to_look_up.front().cloned().expect("a file to look up");
        let entry = if self.options.upsert {
            // Upsert finds the users whether or not the lost job ran.
            Entry::Reset {
                file: file.clone(),
                message: "resubmitting an uncertain file, as asked (with upsert, looking \
                          its users up cannot tell whether its job ran)"
                    .to_owned(),
            }
        } else {
            match check_on_tenant(&mut self.api, self.plan, &file, self.events, &mut self.stop)
                .await?
            {
                Presence::All(users) => Entry::FoundOnTenant {
                    file: file.clone(),
                    users,
                },
                Presence::Missing { looked_up, users } => Entry::Reset {
                    file: file.clone(),
                    message: format!(
                        "resubmitting an uncertain file, as asked: {looked_up} of its \
                         {users} users looked up, and not all are on the tenant"
                    ),
                },
                Presence::Unknown(message) => Entry::Uncertain {
                    file: file.clone(),
                    job_id: None,
                    message,
                },
                Presence::Interrupted => return Ok(false),
            }
        };
        let resubmit = matches!(entry, Entry::Reset { .. });
        if let Entry::Reset { message, .. } = &entry {
            (self.events)(Event::Note {
                file: &file,
                message,
            });
        }
        self.record(entry)?;
        self.to_look_up.pop_front();
        if resubmit {
            self.queue.push_back(file);
        } else {
            finished(self.events, &self.journal, &file);
        }
        Ok(true)
    }

    /// Uploads the next file of the queue; `submitting` is in the journal
    /// before the upload starts, its outcome right after.
    async fn submit_next(&mut self) -> Result<(), ImportError> {
        let file = self.queue.front().cloned().expect("the queue is not empty");
        let path = self.plan.join(&file);
        let data = fs::read(&path).map_err(io_error(&path))?;
        self.record(Entry::Submitting { file: file.clone() })?;
        self.submissions += 1;
        if self.options.halt == Some(Halt::BeforeSubmit(self.submissions)) {
            return Err(ImportError::Halted);
        }
        let external_id = format!("trickle-{}", file.trim_end_matches(".json"));
        let submitted = self
            .api
            .submit(
                &file,
                &data,
                &self.options.connection_id,
                self.options.upsert,
                self.options.send_completion_email,
                &external_id,
            )
            .await;
        let submitted = match submitted {
            Ok(submitted) => submitted,
            Err(error) => {
                // Token or connection failures: nothing was sent.
                self.record(Entry::Reset {
                    file: file.clone(),
                    message: format!("not sent: {error}"),
                })?;
                return Err(error.into());
            }
        };
        match submitted {
            Submitted::Created(job_id) => {
                self.record(Entry::Submitted {
                    file: file.clone(),
                    job_id: job_id.clone(),
                })?;
                self.queue.pop_front();
                (self.events)(Event::Submitted {
                    file: &file,
                    job_id: &job_id,
                });
                self.active.push((file, job_id));
                self.jobs_created += 1;
                if self.options.halt == Some(Halt::AfterSubmit(self.jobs_created)) {
                    return Err(ImportError::Halted);
                }
            }
            Submitted::RateLimited(wait) => {
                self.record(Entry::Reset {
                    file: file.clone(),
                    message: "429: no job created; waiting".to_owned(),
                })?;
                self.blocked_until = Some(Instant::now() + wait);
                (self.events)(Event::Waiting { wait });
            }
            Submitted::Refused(message) => {
                self.record(Entry::Failed {
                    file: file.clone(),
                    job_id: None,
                    message,
                })?;
                self.queue.pop_front();
                finished(self.events, &self.journal, &file);
            }
            Submitted::Uncertain(message) => {
                self.record(Entry::Uncertain {
                    file: file.clone(),
                    job_id: None,
                    message: format!("the upload's outcome is unknown: {message}"),
                })?;
                self.queue.pop_front();
                finished(self.events, &self.journal, &file);
            }
        }
        Ok(())
    }

    /// Asks after every running job once; records those that ended.
    async fn poll_active(&mut self) -> Result<(), ImportError> {
        let mut i = 0;
        while i < self.active.len() {
            let (file, job_id) = self.active[i].clone();
            match self.api.poll(&job_id).await? {
                Polled::Running => {
                    self.transient = 0;
                    i += 1;
                }
                Polled::Completed(summary) => {
                    let Some(completed) = self.read_results(&file, &job_id, summary).await? else {
                        // Stopped, or no usable answer this time: asked again later.
                        if self.stopped() {
                            break;
                        }
                        i += 1;
                        continue;
                    };
                    self.transient = 0;
                    self.record(completed)?;
                    self.active.remove(i);
                    finished(self.events, &self.journal, &file);
                }
                Polled::Failed(message) => {
                    self.record(Entry::Failed {
                        file: file.clone(),
                        job_id: Some(job_id),
                        message,
                    })?;
                    self.active.remove(i);
                    finished(self.events, &self.journal, &file);
                }
                Polled::NotFound => {
                    self.record(Entry::Uncertain {
                        file: file.clone(),
                        job_id: Some(job_id),
                        message: "the tenant no longer knows the job (expired?)".to_owned(),
                    })?;
                    self.active.remove(i);
                    finished(self.events, &self.journal, &file);
                }
                Polled::RateLimited(wait) => {
                    (self.events)(Event::Waiting { wait });
                    pause(wait, &mut self.stop).await;
                    if self.stopped() {
                        break;
                    }
                }
                Polled::Transient(message) => {
                    self.count_transient(|| {
                        format!("no usable answer about job {job_id}: {message}")
                    })?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// The `completed` entry of a finished job: its failed users are read,
    /// those a resubmitted uncertain file's earlier job had already put on
    /// the tenant are looked up and counted apart, and the rest written to
    /// `import-errors/`. `None` when stopped, or when the errors could not
    /// be read this time.
    async fn read_results(
        &mut self,
        file: &str,
        job_id: &str,
        summary: JobSummary,
    ) -> Result<Option<Entry>, ImportError> {
        let mut present = 0;
        let errors_file = if summary.failed > 0 {
            match self.api.job_errors(job_id).await? {
                Ok(mut errors) => {
                    // A job of this file may have run before: its users
                    // come back as duplicates.
                    if self.journal.once_uncertain.contains(file) && !self.options.upsert {
                        match count_present_duplicates(
                            &mut self.api,
                            file,
                            &mut errors,
                            self.events,
                            &mut self.stop,
                        )
                        .await?
                        {
                            Some(found) => present = found,
                            // Stopped: polled and checked again next run.
                            None => return Ok(None),
                        }
                    }
                    if summary.failed > present {
                        Some(write_errors(self.plan, file, errors)?)
                    } else {
                        None
                    }
                }
                Err(message) => {
                    self.count_transient(|| {
                        format!("cannot read the errors of job {job_id}: {message}")
                    })?;
                    return Ok(None);
                }
            }
        } else {
            None
        };
        Ok(Some(Entry::Completed {
            file: file.to_owned(),
            job_id: job_id.to_owned(),
            summary,
            errors_file,
            present,
        }))
    }

    /// One more unusable answer in a row; past [`MAX_TRANSIENT`] the run
    /// gives up (the journal keeps everything for the next one).
    fn count_transient(&mut self, why: impl FnOnce() -> String) -> Result<(), ImportError> {
        self.transient += 1;
        if self.transient > MAX_TRANSIENT {
            return Err(ApiError::Unreachable(why()).into());
        }
        Ok(())
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ImportError {
    let path = path.to_path_buf();
    move |source| ImportError::Io { path, source }
}

/// What the tenant was found to hold of an uncertain file.
enum Presence {
    /// Every one of its users.
    All(u64),
    /// Not all: `looked_up` lookups found one missing.
    Missing {
        looked_up: usize,
        users: u64,
    },
    /// The lookups could not be made: the file stays uncertain, with why.
    Unknown(String),
    Interrupted,
}

/// The `(email, raw user_id)` of each line of an import file.
fn file_users(plan: &Path, file: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let text = fs::read(plan.join(file)).map_err(|error| format!("cannot read it: {error}"))?;
    let lines: Vec<Value> =
        serde_json::from_slice(&text).map_err(|_| "it is not a JSON array of users".to_owned())?;
    lines
        .iter()
        .map(|line| {
            let email = line.get("email").and_then(Value::as_str);
            let user_id = line.get("user_id").and_then(Value::as_str);
            match email {
                Some(email) => Ok((email.to_owned(), user_id.map(str::to_owned))),
                None => Err("a line has no email".to_owned()),
            }
        })
        .collect()
}

/// The order to look `n` users up in: a spread sample first (first, last,
/// middle, quarters), so a file whose job never ran is told after a lookup
/// or two, then the rest.
fn lookup_order(n: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(n);
    if n > 0 {
        let mut seen = BTreeSet::new();
        for i in [0, n - 1, n / 2, n / 4, 3 * n / 4] {
            if seen.insert(i) {
                order.push(i);
            }
        }
        order.extend((0..n).filter(|i| !seen.contains(i)));
    }
    order
}

/// Looks every user of an uncertain `file` up on the tenant, stopping at
/// the first one missing. Only all of them found says the lost job ran;
/// one missing means send it again, which is safe even if that job did run
/// (nothing is doubled, and what the tenant holds is counted as such once
/// the new job is done, by [`count_present_duplicates`]).
async fn check_on_tenant(
    api: &mut Api,
    plan: &Path,
    file: &str,
    events: &mut dyn FnMut(Event),
    stop: &mut watch::Receiver<bool>,
) -> Result<Presence, ImportError> {
    let users = match file_users(plan, file) {
        Ok(users) => users,
        Err(why) => {
            return Ok(Presence::Unknown(format!(
                "cannot look its users up: {why}"
            )))
        }
    };
    let order = lookup_order(users.len());
    for (done, &i) in order.iter().enumerate() {
        if *stop.borrow() {
            return Ok(Presence::Interrupted);
        }
        events(Event::LookingUp {
            file,
            done,
            users: users.len(),
        });
        let (email, user_id) = &users[i];
        match api.find_user(email, user_id.as_deref()).await? {
            Lookup::Present => {}
            Lookup::Absent => {
                return Ok(Presence::Missing {
                    looked_up: done + 1,
                    users: users.len() as u64,
                })
            }
            Lookup::Refused(why) => {
                return Ok(Presence::Unknown(format!(
                    "its users cannot be looked up on the tenant ({why}): give the client \
                     read:users, then run again with --resubmit-uncertain"
                )))
            }
            Lookup::Unavailable(why) => {
                return Ok(Presence::Unknown(format!(
                    "its users could not be looked up on the tenant ({why}); run again with \
                     --resubmit-uncertain to retry"
                )))
            }
        }
    }
    Ok(Presence::All(users.len() as u64))
}

/// For a resubmitted uncertain file: removes from `errors` the users
/// refused as `DUPLICATED_USER` that the tenant holds (looked up: Auth0 also
/// answers so for users of its internal store that the tenant does not
/// show, and for clashing usernames), and counts them. `None` when stopped.
async fn count_present_duplicates(
    api: &mut Api,
    file: &str,
    errors: &mut Value,
    events: &mut dyn FnMut(Event),
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<u64>, ImportError> {
    let Value::Array(items) = errors else {
        return Ok(Some(0));
    };
    let duplicates = items.iter().filter(|item| is_duplicate(item)).count();
    let mut kept = Vec::with_capacity(items.len());
    let mut present = 0;
    let mut done = 0;
    let mut unavailable: Option<String> = None;
    for item in std::mem::take(items) {
        if unavailable.is_some() || !is_duplicate(&item) {
            kept.push(item);
            continue;
        }
        if *stop.borrow() {
            return Ok(None);
        }
        events(Event::LookingUp {
            file,
            done,
            users: duplicates,
        });
        done += 1;
        let user = item.get("user");
        let email = user.and_then(|u| u.get("email")).and_then(Value::as_str);
        let user_id = user.and_then(|u| u.get("user_id")).and_then(Value::as_str);
        let Some(email) = email else {
            kept.push(item);
            continue;
        };
        match api.find_user(email, user_id).await? {
            Lookup::Present => present += 1,
            Lookup::Absent => kept.push(item),
            Lookup::Refused(why) | Lookup::Unavailable(why) => {
                unavailable = Some(why);
                kept.push(item);
            }
        }
    }
    *items = kept;
    if let Some(why) = unavailable {
        let message = format!(
            "its DUPLICATED_USER refusals could not all be looked up on the tenant ({why}); \
             those left are counted as failed, though the tenant may hold them"
        );
        events(Event::Note {
            file,
            message: &message,
        });
    }
    Ok(Some(present))
}

fn is_duplicate(item: &Value) -> bool {
    item.get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors
                .iter()
                .any(|error| error.get("code").and_then(Value::as_str) == Some("DUPLICATED_USER"))
        })
}

/// The users an import file holds, counted without keeping them.
fn users_in(plan: &Path, file: &str) -> Option<u64> {
    let text = fs::read(plan.join(file)).ok()?;
    let lines: Vec<serde::de::IgnoredAny> = serde_json::from_slice(&text).ok()?;
    Some(lines.len() as u64)
}

fn finished(events: &mut dyn FnMut(Event), journal: &Journal, file: &str) {
    let state = journal.state(file);
    events(Event::Finished {
        file,
        state: &state,
    });
}

/// Sleeps for `wait`, or less if `stop` is set meanwhile.
async fn pause(wait: Duration, stop: &mut watch::Receiver<bool>) {
    if *stop.borrow() {
        return;
    }
    let deadline = tokio::time::Instant::now() + wait;
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        changed = stop.changed() => {
            if changed.is_err() {
                tokio::time::sleep_until(deadline).await;
            }
        }
    }
}

/// Writes a job's failed users (password fields removed) to
/// `import-errors/<file>`; returns that path relative to the plan.
fn write_errors(plan: &Path, file: &str, mut errors: Value) -> Result<String, ImportError> {
    if let Value::Array(items) = &mut errors {
        for item in items {
            if let Some(Value::Object(user)) = item.get_mut("user") {
                user.remove("password_hash");
                user.remove("custom_password_hash");
            }
        }
    }
    let dir = plan.join(ERRORS_DIR);
    let io_error = |source| ImportError::Io {
        path: dir.clone(),
        source,
    };
    fs::create_dir_all(&dir).map_err(io_error)?;
    let mut text = serde_json::to_vec_pretty(&errors).expect("JSON values serialize");
    text.push(b'\n');
    let staged = tempfile::NamedTempFile::new_in(&dir).map_err(io_error)?;
    fs::write(staged.path(), &text).map_err(io_error)?;
    staged
        .persist(dir.join(file))
        .map_err(|error| io_error(error.error))?;
    Ok(format!("{ERRORS_DIR}/{file}"))
}

fn outcome(plan: &Path, files: &[String], journal: &Journal, interrupted: bool) -> ImportOutcome {
    let mut outcome = ImportOutcome {
        files: files.len(),
        interrupted,
        ..ImportOutcome::default()
    };
    let mut planned = Some(0u64);
    for file in files {
        let counted = |counter: &mut u64| {
            let users = users_in(plan, file);
            *counter += users.unwrap_or(0);
            users
        };
        let users = match journal.state(file) {
            FileState::Pending => {
                outcome.pending += 1;
                counted(&mut outcome.users_pending)
            }
            FileState::Submitting | FileState::Submitted { .. } => {
                outcome.running += 1;
                counted(&mut outcome.users_running)
            }
            FileState::Completed {
                summary:
                    JobSummary {
                        failed,
                        updated,
                        inserted,
                        total,
                    },
                errors_file,
                present,
                ..
            } => {
                outcome.completed += 1;
                outcome.users_inserted += inserted;
                outcome.users_updated += updated;
                let present = present.min(failed);
                outcome.users_failed += failed - present;
                outcome.users_present += present;
                outcome.error_files.extend(errors_file);
                Some(total.max(inserted + updated + failed))
            }
            FileState::FoundOnTenant { users } => {
                outcome.completed += 1;
                outcome.users_present += users;
                outcome.found_on_tenant.push(FileNote {
                    file: file.clone(),
                    users: Some(users),
                    message: "every one of its users was looked up there (its lost job ran): not sent again"
                        .to_owned(),
                });
                Some(users)
            }
            FileState::Failed { message, .. } => {
                let users = counted(&mut outcome.users_in_failed_files);
                outcome.failed.push(FileNote {
                    file: file.clone(),
                    users,
                    message,
                });
                users
            }
            FileState::Uncertain { message, .. } => {
                let users = counted(&mut outcome.users_uncertain);
                outcome.uncertain.push(FileNote {
                    file: file.clone(),
                    users,
                    message,
                });
                users
            }
        };
        planned = planned.zip(users).map(|(sum, users)| sum + users);
    }
    outcome.users_planned = planned;
    outcome
}
