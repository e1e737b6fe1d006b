//! An append-only journal: one JSON line per entry, replayed in order when
//! it is opened, locked so two runs cannot share it.
//!
//! Only the last line can be torn (a crash while appending): a tail
//! without its newline is kept when it parses, and cut off otherwise. Any
//! other line that does not parse is damage, reported with its number,
//! never skipped: skipping it could make a run redo what was done.
//!
//! [`Journal::record`] makes an entry durable (`fsync`) before returning,
//! for entries that must be on disk before the step they announce is
//! taken. [`Journal::append`] only hands the line to the OS (it survives
//! the process being killed, not the machine losing power) and
//! [`Journal::sync`] makes everything appended durable, so a caller can
//! group many entries under one `fsync`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a journal cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another process holds the journal's lock.
    #[error("{} is in use by another run (it is locked)", path.display())]
    Locked { path: PathBuf },
    /// A complete line that is not an entry.
    #[error("{} is damaged at line {line}: {message}", path.display())]
    Damaged {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// An open, locked journal of entries of type `E`.
pub struct Journal<E> {
    file: File,
    path: PathBuf,
    unsynced: bool,
    entry: PhantomData<fn(E)>,
}

impl<E: Serialize + DeserializeOwned> Journal<E> {
    /// Opens (or creates) the journal at `path`, locks it for this process
    /// (the lock goes with the process, crash or not), and hands every
    /// entry it holds to `replay`, in order, one at a time (the file is
    /// never read whole).
    pub fn open(path: &Path, mut replay: impl FnMut(E)) -> Result<Journal<E>, JournalError> {
        let io_error = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    path: path.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io_error(error)),
        }
        let journal = Journal {
            file,
            path: path.to_path_buf(),
            unsynced: false,
            entry: PhantomData,
        };
        let mut reader = BufReader::with_capacity(64 * 1024, &journal.file);
        reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let torn_tail = read_entries(&mut reader, path, &mut replay)?;
        drop(reader);
        match torn_tail {
            Tail::Whole => {}
            Tail::NoNewline => (&journal.file).write_all(b"\n").map_err(io_error)?,
            Tail::Torn { at } => journal.file.set_len(at).map_err(io_error)?,
        }
        Ok(journal)
    }

    /// Appends `entry` as one line, handed to the OS in one write: it
    /// survives this process being killed, and is durable after the next
    /// [`Journal::sync`].
    pub fn append(&mut self, entry: &E) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::from)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every entry appended so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Appends `entry` and makes it durable before returning.
    pub fn record(&mut self, entry: &E) -> io::Result<()> {
        self.append(entry)?;
        self.sync()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Hands every entry of the journal at `path` to `replay`, without
/// locking or changing it (a torn last line is left alone and not
/// replayed). `false` when there is no journal there.
pub fn replay<E: DeserializeOwned>(
    path: &Path,
    mut replay: impl FnMut(E),
) -> Result<bool, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(JournalError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    read_entries(&mut reader, path, &mut replay)?;
    Ok(true)
}

/// How a journal's text ends.
enum Tail {
    /// On a newline (or empty).
    Whole,
    /// On a whole entry without its newline (replayed).
    NoNewline,
    /// On a torn entry starting at byte `at` (not replayed).
    Torn { at: u64 },
}

/// Reads entries line by line from `reader` into `replay`.
fn read_entries<E: DeserializeOwned>(
    reader: &mut impl BufRead,
    path: &Path,
    replay: &mut impl FnMut(E),
) -> Result<Tail, JournalError> {
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut number = 0usize;
    let mut tail = Tail::Whole;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if read == 0 {
            return Ok(tail);
        }
        number += 1;
        let complete = line.last() == Some(&b'\n');
        if !line.trim_ascii().is_empty() {
            match serde_json::from_slice::<E>(&line) {
                Ok(entry) => {
                    replay(entry);
                    if !complete {
                        tail = Tail::NoNewline;
                    }
                }
                Err(_) if !complete => tail = Tail::Torn { at: offset },
                Err(error) => {
                    return Err(JournalError::Damaged {
                        path: path.to_path_buf(),
                        line: number,
                        message: error.to_string(),
                    })
                }
            }
        }
        offset += read as u64;
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Step {
        n: u32,
    }

    fn replayed(path: &Path) -> Result<Vec<u32>, JournalError> {
        let mut seen = Vec::new();
        Journal::<Step>::open(path, |step| seen.push(step.n))?;
        Ok(seen)
    }

    #[test]
    fn entries_replay_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        {
            let mut journal = Journal::<Step>::open(&path, |_| panic!("empty")).unwrap();
            journal.record(&Step { n: 1 }).unwrap();
            journal.append(&Step { n: 2 }).unwrap();
            journal.append(&Step { n: 3 }).unwrap();
            journal.sync().unwrap();
        }
        assert_eq!(replayed(&path).unwrap(), [1, 2, 3]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
        );
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_the_journal_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n{\"n\":").unwrap();
        assert_eq!(replayed(&path).unwrap(), [1, 2]);
        {
            let mut journal = Journal::<Step>::open(&path, |_| {}).unwrap();
            journal.record(&Step { n: 4 }).unwrap();
        }
        assert_eq!(replayed(&path).unwrap(), [1, 2, 4]);
    }

    #[test]
    fn a_whole_last_entry_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2}").unwrap();
        {
            let mut journal = Journal::<Step>::open(&path, |_| {}).unwrap();
            journal.record(&Step { n: 3 }).unwrap();
        }
        assert_eq!(replayed(&path).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        std::fs::write(&path, "{\"n\":1}\n\n{\"n\":\"x\"}\n{\"n\":3}\n").unwrap();
        match replayed(&path) {
            Err(JournalError::Damaged { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_second_open_of_the_same_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        let _first = Journal::<Step>::open(&path, |_| {}).unwrap();
        assert!(matches!(
            Journal::<Step>::open(&path, |_| {}),
            Err(JournalError::Locked { .. })
        ));
    }

    #[test]
    fn a_read_only_replay_changes_nothing_and_needs_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        let mut seen = Vec::new();
        assert!(!replay(&path, |step: Step| seen.push(step.n)).unwrap());
        assert!(!path.exists());
        std::fs::write(&path, "{\"n\":1}\n{\"n\":").unwrap();
        assert!(replay(&path, |step: Step| seen.push(step.n)).unwrap());
        assert_eq!(seen, [1]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"n\":1}\n{\"n\":"
        );
        let held = dir.path().join("held.ndjson");
        let mut writer = Journal::<Step>::open(&held, |_| {}).unwrap();
        writer.record(&Step { n: 7 }).unwrap();
        seen.clear();
        assert!(replay(&held, |step: Step| seen.push(step.n)).unwrap());
        assert_eq!(seen, [7]);
    }
}
