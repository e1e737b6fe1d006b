//! The migration's journal (`journal.ndjson` in the journal folder): which
//! servers it is for, then the keys of the records done, a batch per line
//! (client ids, `[sub, cid]` pairs, SID keys). Never a secret, a token, a
//! record's content or a whole SID.
//!
//! A record is "done" once the target holds it (posted, or found there
//! with the same content). Lines are appended as records finish and made
//! durable every fraction of a second, so a killed run loses at most the
//! last moments' lines: those records are then found on the target by the
//! next run (it reads the target's listing first) and journalled as done
//! without being sent again. Entries are only ever added (new fields
//! optional), so an older journal still resumes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use trickle_transfer::{Journal as Lines, JournalError};

use crate::digests::{DigestLog, DigestTable, Spill};
use crate::record::{Key, Phase};

/// The journal's file name inside the journal folder.
pub const JOURNAL_FILE: &str = "journal.ndjson";

/// How often finished keys are written and made durable.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Keys per line at most.
const BATCH: usize = 1024;

/// A key as the journal writes it: a string, or a subject and client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum KeyRepr {
    One(String),
    Pair(String, String),
}

/// Read as written (a string, or an array of two), without the buffering
/// and the failed first try of an untagged enum: a journal of millions of
/// keys is read back at every phase of every pass.
impl<'de> Deserialize<'de> for KeyRepr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KeyRepr;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key: a string, or a subject and a client id")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<KeyRepr, E> {
                Ok(KeyRepr::One(text.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<KeyRepr, E> {
                Ok(KeyRepr::One(text))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyRepr, A::Error> {
                use serde::de::Error;
                let sub = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let cid = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3, &self));
                }
                Ok(KeyRepr::Pair(sub, cid))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl KeyRepr {
    fn from_key(key: &Key) -> KeyRepr {
        match key {
            Key::Client(id) => KeyRepr::One(id.clone()),
            Key::Authorization { sub, cid } => KeyRepr::Pair(sub.clone(), cid.clone()),
            Key::Session(key) => KeyRepr::One(key.clone()),
        }
    }

    fn into_key(self, phase: Phase) -> Option<Key> {
        match (phase, self) {
            (Phase::Clients, KeyRepr::One(id)) => Some(Key::Client(id)),
            (Phase::Authorizations, KeyRepr::Pair(sub, cid)) => {
                Some(Key::Authorization { sub, cid })
            }
            (Phase::Sessions, KeyRepr::One(key)) => Some(Key::Session(key)),
            _ => None,
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", try_from = "Line")]
pub enum Entry {
    /// The first line: the servers (their issuers) this journal is for.
    Start { source: String, target: String },
    /// The target holds these records of `phase`.
    Done { phase: Phase, keys: Vec<KeyRepr> },
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MigrationJournalError {
    #[error(
        "another `trickle c2id migrate` is running with the journal {} (it is locked)",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error("the journal {} is damaged at line {line} ({message})", path.display())]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Other(JournalError),
    #[error(
        "the journal {} is for a migration from {source_issuer} to {target_issuer}: \
         use another --journal folder for this one",
        path.display()
    )]
    OtherServers {
        path: PathBuf,
        source_issuer: String,
        target_issuer: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<JournalError> for MigrationJournalError {
    fn from(error: JournalError) -> Self {
        match error {
            JournalError::Locked { path } => MigrationJournalError::Locked { path },
            JournalError::Damaged {
                path,
                line,
                message,
            } => MigrationJournalError::Damaged {
                path,
                line,
                message,
            },
            other => MigrationJournalError::Other(other),
        }
    }
}

impl MigrationJournalError {
    /// What the operator can do about it.
    pub fn advice(&self) -> String {
        match self {
            MigrationJournalError::Locked { .. } => {
                "wait for the other run to end (or stop it), or give this one another --journal \
                 folder"
                    .to_owned()
            }
            MigrationJournalError::Damaged { line, .. } => format!(
                "trickle never writes such a line (was the file edited or copied over?): move it \
                 aside (or mend line {line}) and run again; records already on the target are \
                 found there and not sent again"
            ),
            MigrationJournalError::OtherServers { .. } => {
                "give this migration its own --journal folder".to_owned()
            }
            MigrationJournalError::Other(_) | MigrationJournalError::Io { .. } => {
                "make the --journal folder writable (or give another one), then run again"
                    .to_owned()
            }
        }
    }
}

/// The open, locked journal.
pub struct MigrationJournal {
    lines: Lines<Entry>,
    pending: Vec<(Phase, KeyRepr)>,
    last_flush: Instant,
    /// Each phase's keys done, as digests: read from the file once (at
    /// the first [`MigrationJournal::done_set`]), then kept up to date as
    /// keys are noted, so a pass reads a journal of millions of keys once,
    /// not once a phase.
    read_back: Option<[DigestLog; 3]>,
}

/// A phase's place among the journal's read-back digests.
fn slot(phase: Phase) -> usize {
    match phase {
        Phase::Clients => 0,
        Phase::Authorizations => 1,
        Phase::Sessions => 2,
    }
}

impl MigrationJournal {
    /// Opens (or starts) the journal in `dir` for a migration from
    /// `source` to `target` (issuers); refuses one of other servers.
    pub fn open(dir: &Path, source: &str, target: &str) -> Result<Self, MigrationJournalError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let path = dir.join(JOURNAL_FILE);
        let mut start = None;
        let mut lines = Lines::open(&path, |entry| {
            if let Entry::Start { source, target } = entry {
                start.get_or_insert((source, target));
            }
        })?;
        match start {
            None => lines
                .record(&Entry::Start {
                    source: source.to_owned(),
                    target: target.to_owned(),
                })
                .map_err(|e| io_error(&path, e))?,
            Some((s, t)) if s == source && t == target => {}
            Some((source_issuer, target_issuer)) => {
                return Err(MigrationJournalError::OtherServers {
                    path,
                    source_issuer,
                    target_issuer,
                })
            }
        }
        Ok(MigrationJournal {
            lines,
            pending: Vec::new(),
            last_flush: Instant::now(),
            read_back: None,
        })
    }

    /// Notes that the target holds `key`'s record; written within a
    /// fraction of a second.
    pub fn done(&mut self, key: &Key) -> std::io::Result<()> {
        if let Some(read_back) = self.read_back.as_mut() {
            read_back[slot(key.phase())].push(key.digest())?;
        }
        self.pending.push((key.phase(), KeyRepr::from_key(key)));
        if self.pending.len() >= BATCH || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the keys noted so far and makes them durable.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.last_flush = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_by_key(|(phase, _)| *phase);
        for chunk in pending.chunk_by(|a, b| a.0 == b.0) {
            for batch in chunk.chunks(BATCH) {
                self.lines.append(&Entry::Done {
                    phase: batch[0].0,
                    keys: batch.iter().map(|(_, key)| key.clone()).collect(),
                })?;
            }
        }
        self.lines.sync()
    }

    /// The keys of `phase` done so far, read back from the file as a
    /// table of digests (in memory up to the spill's bound, on disk past it).
    pub fn done_set(
        &mut self,
        phase: Phase,
        spill: &Spill,
    ) -> Result<DigestTable, MigrationJournalError> {
        self.flush().map_err(|e| io_error(self.lines.path(), e))?;
        if self.read_back.is_none() {
            self.read_back = Some(read_back(self.lines.path(), spill, None)?);
        }
        let read_back = self.read_back.as_mut().expect("just read");
        read_back[slot(phase)]
            .table(spill)
            .map_err(|e| io_error(spill.dir(), e))
    }

    pub fn path(&self) -> &Path {
        self.lines.path()
    }
}

/// An I/O error at `path`, as the journal reports it.
fn io_error(path: &Path, source: std::io::Error) -> MigrationJournalError {
    MigrationJournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The keys done in the journal at `path` as digests, a log per phase:
/// every phase's, or only `wanted`'s (the others left empty). Nothing when
/// there is no journal.
fn read_back(
    path: &Path,
    spill: &Spill,
    wanted: Option<Phase>,
) -> Result<[DigestLog; 3], MigrationJournalError> {
    let log = || DigestLog::new(spill).map_err(|e| io_error(spill.dir(), e));
    let mut logs = [log()?, log()?, log()?];
    let mut failed = None;
    trickle_transfer::journal::replay(path, |entry: Entry| {
        let Entry::Done { phase, keys } = entry else {
            return;
        };
        if wanted.is_some_and(|wanted| wanted != phase) || failed.is_some() {
            return;
        }
        for key in keys.into_iter().filter_map(|key| key.into_key(phase)) {
            if let Err(error) = logs[slot(phase)].push(key.digest()) {
                failed = Some(error);
                return;
            }
        }
    })?;
    match failed {
        Some(error) => Err(io_error(spill.dir(), error)),
        None => Ok(logs),
    }
}

/// A line of the journal as read, before it is an [`Entry`]: its members
/// taken as they come, without first buffering the whole line as a tagged
/// enum does (the journal is read back at every phase of every pass).
#[derive(Deserialize)]
struct Line {
    event: Event,
    source: Option<String>,
    target: Option<String>,
    phase: Option<Phase>,
    keys: Option<Vec<KeyRepr>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Event {
    Start,
    Done,
}

impl TryFrom<Line> for Entry {
    type Error = &'static str;

    fn try_from(line: Line) -> Result<Entry, &'static str> {
        match line {
            Line {
                event: Event::Start,
                source: Some(source),
                target: Some(target),
                ..
            } => Ok(Entry::Start { source, target }),
            Line {
                event: Event::Done,
                phase: Some(phase),
                keys: Some(keys),
                ..
            } => Ok(Entry::Done { phase, keys }),
            _ => Err("a journal line without the members of its event"),
        }
    }
}

/// The keys of `phase` that the journal at `path` holds as done; an empty
/// set when there is no journal (a dry run reads without writing).
pub fn done_set_of(
    path: &Path,
    phase: Phase,
    spill: &Spill,
) -> Result<DigestTable, MigrationJournalError> {
    let mut logs = read_back(path, spill, Some(phase))?;
    logs[slot(phase)]
        .table(spill)
        .map_err(|e| io_error(spill.dir(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(key: &str) -> Key {
        Key::Session(key.to_owned())
    }

    #[test]
    fn done_keys_come_back_per_phase_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut journal = MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap();
            journal.done(&Key::Client("webapp".into())).unwrap();
            journal
                .done(&Key::Authorization {
                    sub: "alice".into(),
                    cid: "webapp".into(),
                })
                .unwrap();
            journal.done(&session("k1")).unwrap();
            journal.done(&session("k2")).unwrap();
            journal.flush().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(
            text.contains(r#"{"event":"done","phase":"sessions","keys":["k1","k2"]}"#),
            "{text}"
        );
        assert!(text.contains(r#""keys":[["alice","webapp"]]"#), "{text}");
        let mut journal = MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap();
        let spill = Spill::new(dir.path(), 1000);
        let has = |table: &DigestTable, key: &Key| table.contains(key.digest()).unwrap();
        let sessions = journal.done_set(Phase::Sessions, &spill).unwrap();
        assert_eq!(sessions.len(), 2);
        assert!(has(&sessions, &session("k1")) && !has(&sessions, &session("k3")));
        let clients = journal.done_set(Phase::Clients, &spill).unwrap();
        assert!(has(&clients, &Key::Client("webapp".into())));
        assert!(!has(&clients, &Key::Client("k1".into())));
        assert_eq!(
            journal
                .done_set(Phase::Authorizations, &spill)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn keys_noted_but_not_yet_flushed_are_flushed_before_reading_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap();
        journal.done(&session("k1")).unwrap();
        let spill = Spill::new(dir.path(), 1000);
        assert!(journal
            .done_set(Phase::Sessions, &spill)
            .unwrap()
            .contains(session("k1").digest())
            .unwrap());
        // Read back once; what is noted later comes back too, each in its phase.
        journal.done(&session("k2")).unwrap();
        journal.done(&Key::Client("c1".into())).unwrap();
        let sessions = journal.done_set(Phase::Sessions, &spill).unwrap();
        let clients = journal.done_set(Phase::Clients, &spill).unwrap();
        assert_eq!((sessions.len(), clients.len()), (2, 1));
        assert!(sessions.contains(session("k2").digest()).unwrap());
        assert!(clients.contains(Key::Client("c1".into()).digest()).unwrap());
        drop(journal);
        let mut reopened = MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap();
        assert_eq!(reopened.done_set(Phase::Sessions, &spill).unwrap().len(), 2);
    }

    #[test]
    fn a_damaged_journal_names_its_line_and_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        drop(MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap());
        let path = dir.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}garbage\n{text}")).unwrap();
        let error = MigrationJournal::open(dir.path(), "https://s", "https://t")
            .err()
            .unwrap();
        assert!(
            matches!(error, MigrationJournalError::Damaged { line: 2, .. }),
            "{error:?}"
        );
        assert!(error.advice().contains("aside"), "{}", error.advice());
    }

    #[test]
    fn lines_read_back_as_written_and_a_line_short_of_its_members_is_refused() {
        let start = Entry::Start {
            source: "https://s".into(),
            target: "https://t".into(),
        };
        let done = Entry::Done {
            phase: Phase::Authorizations,
            keys: vec![
                KeyRepr::Pair("a".into(), "b".into()),
                KeyRepr::One("c".into()),
            ],
        };
        for (entry, text) in [
            (
                start,
                r#"{"event":"start","source":"https://s","target":"https://t"}"#,
            ),
            (
                done,
                r#"{"event":"done","phase":"authorizations","keys":[["a","b"],"c"]}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&entry).unwrap(), text);
            assert_eq!(serde_json::from_str::<Entry>(text).unwrap(), entry);
        }
        for text in [
            r#"{"event":"done","phase":"clients"}"#,
            r#"{"event":"start","source":"https://s"}"#,
            r#"{"event":"other","phase":"clients","keys":[]}"#,
            r#"{"event":"done","phase":"clients","keys":[["a","b","c"]]}"#,
            r#"{"event":"done","phase":"clients","keys":[7]}"#,
        ] {
            assert!(serde_json::from_str::<Entry>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_journal_of_other_servers_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap());
        assert!(matches!(
            MigrationJournal::open(dir.path(), "https://s", "https://other"),
            Err(MigrationJournalError::OtherServers { .. })
        ));
        let _held = MigrationJournal::open(dir.path(), "https://s", "https://t").unwrap();
        assert!(matches!(
            MigrationJournal::open(dir.path(), "https://s", "https://t"),
            Err(MigrationJournalError::Locked { .. })
        ));
    }

    #[test]
    fn no_journal_means_nothing_done_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none").join(JOURNAL_FILE);
        let spill = Spill::new(dir.path(), 1000);
        assert!(done_set_of(&path, Phase::Clients, &spill)
            .unwrap()
            .is_empty());
        assert!(!path.exists() && !dir.path().join("none").exists());
    }
}
