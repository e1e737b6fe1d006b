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
//! when the process died is `uncertain` and sent again only with
//! `resubmit_uncertain` (safe with `upsert` off: Auth0 then refuses the
//! users that exist as `DUPLICATED_USER` instead of doubling them).

pub mod api;
pub mod journal;

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::plan::{is_import_file_name, IMPORT_FILE_LIMIT_BYTES};
use api::{Api, ApiError, Polled, Submitted};
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
    /// Submit `uncertain` files again.
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
                | ImportError::Api(ApiError::Credentials(_))
        )
    }
}

/// Where every file of the plan stands after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub files: usize,
    pub completed: usize,
    /// Files whose job failed or that were refused, with why.
    pub failed: Vec<(String, String)>,
    /// Files that may or may not have a job, with why.
    pub uncertain: Vec<(String, String)>,
    /// Files not yet submitted (after an interruption).
    pub pending: usize,
    /// Files whose job was still running (after an interruption).
    pub running: usize,
    pub users_inserted: u64,
    pub users_updated: u64,
    pub users_failed: u64,
    /// `import-errors/…` files written, relative to the plan folder.
    pub error_files: Vec<String>,
    pub interrupted: bool,
}

impl ImportOutcome {
    /// Every file imported and every user accepted.
    pub fn is_clean(&self) -> bool {
        self.completed == self.files && self.users_failed == 0 && !self.interrupted
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
pub async fn run_import(
    plan: &Path,
    options: &ImportOptions,
    events: &mut dyn FnMut(Event),
    mut stop: watch::Receiver<bool>,
) -> Result<ImportOutcome, ImportError> {
    let files = plan_files(plan)?;
    let mut journal = Journal::open(plan)?;
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Io { path, source }
    };
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

    // Settle what the last run left.
    for file in &files {
        let entry = match journal.state(file) {
            FileState::Submitting => Some(Entry::Uncertain {
                file: file.clone(),
                job_id: None,
                message: "the previous run stopped during the upload: Auth0 may or may not have a job for it".to_owned(),
            }),
            _ => None,
        };
        if let Some(entry) = entry {
            journal.record(entry).map_err(io_error(&journal_path))?;
        }
        let reset = match journal.state(file) {
            FileState::Uncertain { .. } if options.resubmit_uncertain => {
                Some("resubmitting an uncertain file, as asked")
            }
            FileState::Failed { .. } if options.retry_failed => {
                Some("retrying a failed file, as asked")
            }
            _ => None,
        };
        if let Some(message) = reset {
            journal
                .record(Entry::Reset {
                    file: file.clone(),
                    message: message.to_owned(),
                })
                .map_err(io_error(&journal_path))?;
        }
    }

    let mut queue: VecDeque<String> = files
        .iter()
        .filter(|file| journal.state(file) == FileState::Pending)
        .cloned()
        .collect();
    let mut active: Vec<(String, String)> = files
        .iter()
        .filter_map(|file| match journal.state(file) {
            FileState::Submitted { job_id } => Some((file.clone(), job_id)),
            _ => None,
        })
        .collect();
    events(Event::Start {
        files: files.len(),
        done: files.len() - queue.len() - active.len(),
    });

    let mut api = Api::new(
        &options.base_url,
        &options.client_id,
        &options.client_secret,
        options.request_timeout,
    )?;
    api.max_wait = options.max_wait;
    let max_jobs = options.max_jobs.clamp(1, 2);
    let mut submissions = 0usize;
    let mut jobs_created = 0usize;
    let mut blocked_until: Option<Instant> = None;
    let mut transient = 0u32;
    let mut interrupted = false;

    loop {
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        while active.len() < max_jobs
            && !queue.is_empty()
            && !*stop.borrow()
            && blocked_until.is_none_or(|until| Instant::now() >= until)
        {
            let file = queue.front().cloned().expect("the queue is not empty");
            let path = plan.join(&file);
            let data = fs::read(&path).map_err(io_error(&path))?;
            journal
                .record(Entry::Submitting { file: file.clone() })
                .map_err(io_error(&journal_path))?;
            submissions += 1;
            if options.halt == Some(Halt::BeforeSubmit(submissions)) {
                return Err(ImportError::Halted);
            }
            let external_id = format!("trickle-{}", file.trim_end_matches(".json"));
            let submitted = api
                .submit(
                    &file,
                    &data,
                    &options.connection_id,
                    options.upsert,
                    options.send_completion_email,
                    &external_id,
                )
                .await;
            let submitted = match submitted {
                Ok(submitted) => submitted,
                Err(error) => {
                    // Token or connection failures: nothing was sent.
                    journal
                        .record(Entry::Reset {
                            file: file.clone(),
                            message: format!("not sent: {error}"),
                        })
                        .map_err(io_error(&journal_path))?;
                    return Err(error.into());
                }
            };
            match submitted {
                Submitted::Created(job_id) => {
                    journal
                        .record(Entry::Submitted {
                            file: file.clone(),
                            job_id: job_id.clone(),
                        })
                        .map_err(io_error(&journal_path))?;
                    queue.pop_front();
                    events(Event::Submitted {
                        file: &file,
                        job_id: &job_id,
                    });
                    active.push((file, job_id));
                    jobs_created += 1;
                    if options.halt == Some(Halt::AfterSubmit(jobs_created)) {
                        return Err(ImportError::Halted);
                    }
                }
                Submitted::RateLimited(wait) => {
                    journal
                        .record(Entry::Reset {
                            file: file.clone(),
                            message: "429: no job created; waiting".to_owned(),
                        })
                        .map_err(io_error(&journal_path))?;
                    blocked_until = Some(Instant::now() + wait);
                    events(Event::Waiting { wait });
                }
                Submitted::Refused(message) => {
                    let entry = Entry::Failed {
                        file: file.clone(),
                        job_id: None,
                        message,
                    };
                    journal.record(entry).map_err(io_error(&journal_path))?;
                    queue.pop_front();
                    finished(events, &journal, &file);
                }
                Submitted::Uncertain(message) => {
                    let entry = Entry::Uncertain {
                        file: file.clone(),
                        job_id: None,
                        message: format!("the upload's outcome is unknown: {message}"),
                    };
                    journal.record(entry).map_err(io_error(&journal_path))?;
                    queue.pop_front();
                    finished(events, &journal, &file);
                }
            }
        }

        if active.is_empty() {
            match (queue.is_empty(), blocked_until) {
                (true, _) => break,
                (false, Some(until)) => {
                    pause(until.saturating_duration_since(Instant::now()), &mut stop).await
                }
                (false, None) => {}
            }
            continue;
        }
        pause(options.poll_interval, &mut stop).await;
        if *stop.borrow() {
            interrupted = true;
            break;
        }
        let mut i = 0;
        while i < active.len() {
            let (file, job_id) = active[i].clone();
            match api.poll(&job_id).await? {
                Polled::Running => {
                    transient = 0;
                    i += 1;
                }
                Polled::Completed(summary) => {
                    let errors_file = if summary.failed > 0 {
                        match api.job_errors(&job_id).await? {
                            Ok(errors) => Some(write_errors(plan, &file, errors)?),
                            Err(message) => {
                                transient += 1;
                                if transient > MAX_TRANSIENT {
                                    return Err(ApiError::Unreachable(format!(
                                        "cannot read the errors of job {job_id}: {message}"
                                    ))
                                    .into());
                                }
                                i += 1;
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    transient = 0;
                    let entry = Entry::Completed {
                        file: file.clone(),
                        job_id,
                        summary,
                        errors_file,
                    };
                    journal.record(entry).map_err(io_error(&journal_path))?;
                    active.remove(i);
                    finished(events, &journal, &file);
                }
                Polled::Failed(message) => {
                    let entry = Entry::Failed {
                        file: file.clone(),
                        job_id: Some(job_id),
                        message,
                    };
                    journal.record(entry).map_err(io_error(&journal_path))?;
                    active.remove(i);
                    finished(events, &journal, &file);
                }
                Polled::NotFound => {
                    let entry = Entry::Uncertain {
                        file: file.clone(),
                        job_id: Some(job_id),
                        message: "the tenant no longer knows the job (expired?)".to_owned(),
                    };
                    journal.record(entry).map_err(io_error(&journal_path))?;
                    active.remove(i);
                    finished(events, &journal, &file);
                }
                Polled::RateLimited(wait) => {
                    events(Event::Waiting { wait });
                    pause(wait, &mut stop).await;
                    if *stop.borrow() {
                        break;
                    }
                }
                Polled::Transient(message) => {
                    transient += 1;
                    if transient > MAX_TRANSIENT {
                        return Err(ApiError::Unreachable(format!(
                            "no usable answer about job {job_id}: {message}"
                        ))
                        .into());
                    }
                    i += 1;
                }
            }
        }
    }

    Ok(outcome(&files, &journal, interrupted))
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

fn outcome(files: &[String], journal: &Journal, interrupted: bool) -> ImportOutcome {
    let mut outcome = ImportOutcome {
        files: files.len(),
        interrupted,
        ..ImportOutcome::default()
    };
    for file in files {
        match journal.state(file) {
            FileState::Pending => outcome.pending += 1,
            FileState::Submitting | FileState::Submitted { .. } => outcome.running += 1,
            FileState::Completed {
                summary:
                    JobSummary {
                        failed,
                        updated,
                        inserted,
                        ..
                    },
                errors_file,
                ..
            } => {
                outcome.completed += 1;
                outcome.users_inserted += inserted;
                outcome.users_updated += updated;
                outcome.users_failed += failed;
                outcome.error_files.extend(errors_file);
            }
            FileState::Failed { message, .. } => outcome.failed.push((file.clone(), message)),
            FileState::Uncertain { message, .. } => outcome.uncertain.push((file.clone(), message)),
        }
    }
    outcome
}
