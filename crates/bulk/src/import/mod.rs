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
                | ImportError::Api(ApiError::Credentials(_))
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
    // Looked up on the tenant after every other file: by then a job the
    // previous run lost has most likely run.
    let mut to_look_up: VecDeque<String> = if options.resubmit_uncertain {
        files
            .iter()
            .filter(|file| matches!(journal.state(file), FileState::Uncertain { .. }))
            .cloned()
            .collect()
    } else {
        VecDeque::new()
    };
    let mut active: Vec<(String, String)> = files
        .iter()
        .filter_map(|file| match journal.state(file) {
            FileState::Submitted { job_id } => Some((file.clone(), job_id)),
            _ => None,
        })
        .collect();
    events(Event::Start {
        files: files.len(),
        done: files.len() - queue.len() - active.len() - to_look_up.len(),
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
            && !(queue.is_empty() && to_look_up.is_empty())
            && !*stop.borrow()
            && blocked_until.is_none_or(|until| Instant::now() >= until)
        {
            if queue.is_empty() {
                let file = to_look_up.front().cloned().expect("a file to look up");
                let entry = if options.upsert {
                    // Upsert finds the users whether or not the lost job ran.
                    Some(Entry::Reset {
                        file: file.clone(),
                        message: "resubmitting an uncertain file, as asked (with upsert, looking \
                                  its users up cannot tell whether its job ran)"
                            .to_owned(),
                    })
                } else {
                    match check_on_tenant(&mut api, plan, &file, events, &mut stop).await? {
                        Presence::All(users) => Some(Entry::FoundOnTenant {
                            file: file.clone(),
                            users,
                        }),
                        Presence::Missing { looked_up, users } => Some(Entry::Reset {
                            file: file.clone(),
                            message: format!(
                                "resubmitting an uncertain file, as asked: {looked_up} of its \
                                 {users} users looked up, and not all are on the tenant"
                            ),
                        }),
                        Presence::Unknown(message) => Some(Entry::Uncertain {
                            file: file.clone(),
                            job_id: None,
                            message,
                        }),
                        Presence::Interrupted => None,
                    }
                };
                let Some(entry) = entry else {
                    break;
                };
                let resubmit = matches!(entry, Entry::Reset { .. });
                if let Entry::Reset { message, .. } = &entry {
                    events(Event::Note {
                        file: &file,
                        message,
                    });
                }
                journal.record(entry).map_err(io_error(&journal_path))?;
                to_look_up.pop_front();
                if resubmit {
                    queue.push_back(file);
                } else {
                    finished(events, &journal, &file);
                }
                continue;
            }
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
            match (queue.is_empty() && to_look_up.is_empty(), blocked_until) {
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
                    let mut present = 0;
                    let errors_file = if summary.failed > 0 {
                        match api.job_errors(&job_id).await? {
                            Ok(mut errors) => {
                                // A job of this file may have run before:
                                // its users come back as duplicates.
                                if journal.once_uncertain.contains(&file) && !options.upsert {
                                    match count_present_duplicates(
                                        &mut api,
                                        &file,
                                        &mut errors,
                                        events,
                                        &mut stop,
                                    )
                                    .await?
                                    {
                                        Some(found) => present = found,
                                        // Stopped: polled and checked again next run.
                                        None => break,
                                    }
                                }
                                if summary.failed > present {
                                    Some(write_errors(plan, &file, errors)?)
                                } else {
                                    None
                                }
                            }
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
                        present,
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

    Ok(outcome(plan, &files, &journal, interrupted))
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
