//! The import's state: an append-only journal (`import-state.ndjson`) in
//! the plan folder, one JSON line per transition, flushed to disk before
//! the step it records is taken. Replaying it gives each file's state.
//!
//! A file goes `pending` → `submitting` (written BEFORE the upload) →
//! `submitted` (with the job id, written as soon as Auth0 answers) →
//! `completed` or `failed`. A journal that ends on `submitting` means the
//! process stopped while the upload was under way: Auth0 may or may not
//! have created the job, and Auth0 offers no way to ask (no job list, no
//! idempotency key), so that file is `uncertain` until the operator asks to
//! resubmit it; its users are then looked up on the tenant first, and the
//! file is `found_on_tenant` when they are all there.
//!
//! Compatibility: entries and fields are only ever added (new fields
//! optional), so a journal written by an older version still resumes.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The journal's file name inside the plan folder.
pub const JOURNAL_FILE: &str = "import-state.ndjson";

/// The numbers Auth0 reports for a finished import job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobSummary {
    pub failed: u64,
    pub updated: u64,
    pub inserted: u64,
    pub total: u64,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// The first line: which tenant and connection this plan goes to.
    Start {
        domain: String,
        connection_id: String,
        upsert: bool,
    },
    /// About to upload `file` (the upload may not have happened).
    Submitting { file: String },
    /// Auth0 created job `job_id` for `file`.
    Submitted { file: String, job_id: String },
    Completed {
        file: String,
        job_id: String,
        summary: JobSummary,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errors_file: Option<String>,
        /// Of `summary.failed`: users refused as `DUPLICATED_USER` that
        /// were then found on the tenant (a resubmitted uncertain file).
        #[serde(default, skip_serializing_if = "is_zero")]
        present: u64,
    },
    /// Every user of an uncertain `file` was looked up and found on the
    /// tenant: its lost job ran, and the file is not sent again.
    FoundOnTenant { file: String, users: u64 },
    Failed {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job_id: Option<String>,
        message: String,
    },
    /// Whether Auth0 has a job for `file` cannot be known.
    Uncertain {
        file: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job_id: Option<String>,
        message: String,
    },
    /// `file` is to be submitted (again): it was refused before a job was
    /// created, or the operator asked for it.
    Reset { file: String, message: String },
}

/// Where a file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Pending,
    Submitting,
    Submitted {
        job_id: String,
    },
    Completed {
        job_id: String,
        summary: JobSummary,
        errors_file: Option<String>,
        /// Of `summary.failed`: found on the tenant after all.
        present: u64,
    },
    /// Done without a job of ours: all `users` were found on the tenant.
    FoundOnTenant {
        users: u64,
    },
    Failed {
        job_id: Option<String>,
        message: String,
    },
    Uncertain {
        job_id: Option<String>,
        message: String,
    },
}

/// The open, locked journal and the states it gives.
pub struct Journal {
    file: trickle_transfer::Journal<Entry>,
    pub start: Option<(String, String, bool)>,
    pub states: BTreeMap<String, FileState>,
    /// Files that have been `uncertain` at some point: a job of theirs may
    /// have run that this journal knows nothing of.
    pub once_uncertain: BTreeSet<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("another `trickle bulk import` is running on this plan (the state file is locked)")]
    Locked,
    #[error("the state file is damaged at line {line}: {message}")]
    Damaged { line: usize, message: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<trickle_transfer::JournalError> for JournalError {
    fn from(error: trickle_transfer::JournalError) -> Self {
        match error {
            trickle_transfer::JournalError::Locked { .. } => JournalError::Locked,
            trickle_transfer::JournalError::Damaged { line, message, .. } => {
                JournalError::Damaged { line, message }
            }
            trickle_transfer::JournalError::Io { source, .. } => JournalError::Io(source),
        }
    }
}

impl Journal {
    /// Opens (or creates) the journal of `dir` and locks it for this process
    /// (the lock goes with the process, crash or not).
    pub fn open(dir: &Path) -> Result<Journal, JournalError> {
        // A plan's journal holds a few lines per file: replayed whole.
        let mut entries = Vec::new();
        let file =
            trickle_transfer::Journal::open(&dir.join(JOURNAL_FILE), |entry| entries.push(entry))?;
        let mut journal = Journal {
            file,
            start: None,
            states: BTreeMap::new(),
            once_uncertain: BTreeSet::new(),
        };
        for entry in &entries {
            journal.apply(entry);
        }
        Ok(journal)
    }

    fn apply(&mut self, entry: &Entry) {
        let (file, state) = match entry.clone() {
            Entry::Start {
                domain,
                connection_id,
                upsert,
            } => {
                self.start = Some((domain, connection_id, upsert));
                return;
            }
            Entry::Submitting { file } => (file, FileState::Submitting),
            Entry::Submitted { file, job_id } => (file, FileState::Submitted { job_id }),
            Entry::Completed {
                file,
                job_id,
                summary,
                errors_file,
                present,
            } => (
                file,
                FileState::Completed {
                    job_id,
                    summary,
                    errors_file,
                    present,
                },
            ),
            Entry::FoundOnTenant { file, users } => (file, FileState::FoundOnTenant { users }),
            Entry::Failed {
                file,
                job_id,
                message,
            } => (file, FileState::Failed { job_id, message }),
            Entry::Uncertain {
                file,
                job_id,
                message,
            } => {
                self.once_uncertain.insert(file.clone());
                (file, FileState::Uncertain { job_id, message })
            }
            Entry::Reset { file, .. } => (file, FileState::Pending),
        };
        self.states.insert(file, state);
    }

    /// The state of `file` (pending when the journal never named it).
    pub fn state(&self, file: &str) -> FileState {
        self.states.get(file).cloned().unwrap_or(FileState::Pending)
    }

    /// Appends `entry` and makes it durable before returning.
    pub fn record(&mut self, entry: Entry) -> io::Result<()> {
        self.file.record(&entry)?;
        self.apply(&entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_gives_the_last_state_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut journal = Journal::open(dir.path()).unwrap();
            journal
                .record(Entry::Start {
                    domain: "https://x".into(),
                    connection_id: "con_1".into(),
                    upsert: false,
                })
                .unwrap();
            journal
                .record(Entry::Submitting { file: "a".into() })
                .unwrap();
            journal
                .record(Entry::Submitted {
                    file: "a".into(),
                    job_id: "job_1".into(),
                })
                .unwrap();
            journal
                .record(Entry::Submitting { file: "b".into() })
                .unwrap();
        }
        let path = dir.path().join(JOURNAL_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"event\":\"submitted\",\"fi");
        std::fs::write(&path, text).unwrap();
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(
            journal.start,
            Some(("https://x".into(), "con_1".into(), false))
        );
        assert_eq!(
            journal.state("a"),
            FileState::Submitted {
                job_id: "job_1".into()
            }
        );
        assert_eq!(journal.state("b"), FileState::Submitting);
        assert_eq!(journal.state("c"), FileState::Pending);
    }

    #[test]
    fn a_journal_of_the_previous_format_still_resumes() {
        // Lines exactly as the version before `found_on_tenant` wrote them.
        let dir = tempfile::tempdir().unwrap();
        let old = concat!(
            r#"{"event":"start","domain":"https://x","connection_id":"con_1","upsert":false}"#,
            "\n",
            r#"{"event":"submitting","file":"a"}"#,
            "\n",
            r#"{"event":"submitted","file":"a","job_id":"job_1"}"#,
            "\n",
            r#"{"event":"completed","file":"a","job_id":"job_1","summary":{"failed":1,"updated":0,"inserted":2,"total":3},"errors_file":"import-errors/a"}"#,
            "\n",
            r#"{"event":"submitting","file":"b"}"#,
            "\n",
            r#"{"event":"uncertain","file":"b","message":"stopped during the upload"}"#,
            "\n",
        );
        std::fs::write(dir.path().join(JOURNAL_FILE), old).unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        assert_eq!(
            journal.state("a"),
            FileState::Completed {
                job_id: "job_1".into(),
                summary: JobSummary {
                    failed: 1,
                    updated: 0,
                    inserted: 2,
                    total: 3
                },
                errors_file: Some("import-errors/a".into()),
                present: 0,
            }
        );
        assert!(matches!(journal.state("b"), FileState::Uncertain { .. }));
        assert!(journal.once_uncertain.contains("b"));
        // New entries append to it, and it replays whole.
        journal
            .record(Entry::FoundOnTenant {
                file: "b".into(),
                users: 3,
            })
            .unwrap();
        drop(journal);
        let journal = Journal::open(dir.path()).unwrap();
        assert_eq!(journal.state("b"), FileState::FoundOnTenant { users: 3 });
        assert!(journal.once_uncertain.contains("b"));
    }

    #[test]
    fn a_second_import_on_the_same_plan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path()).unwrap();
        assert!(matches!(
            Journal::open(dir.path()),
            Err(JournalError::Locked)
        ));
    }
}
