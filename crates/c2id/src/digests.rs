//! Fixed-size digests of records, in memory up to a bound and on disk
//! beyond it, so that memory is bounded by a constant, not by the data:
//! the keys the journal holds as done, the source's and the target's
//! listings indexed (key digest → content digest), what verification
//! compares against, the records already reported.
//!
//! A [`TableBuilder`] takes entries in any order; past its bound it sorts
//! what it holds and writes it to an unnamed temporary file (a run), and
//! at the end merges the runs into one sorted file, keeping in memory only
//! the first key of each 4 KiB block. A lookup then reads one block
//! (`pread`, through the page cache, which is not this process's memory).
//! Under the bound the table simply stays in memory, sorted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Entries a table keeps in memory before it spills to disk: 3 MiB.
pub const DEFAULT_BOUND: usize = 131_072;
/// A key listed more than once (with different values).
pub const DUPLICATE: u64 = u64::MAX;
/// A record whose content could not be read (too big): compare it whole.
pub const UNKNOWN: u64 = u64::MAX - 1;

const ENTRY: usize = 24;
/// Entries per block read from disk.
const BLOCK: usize = 170;

/// A key digest and a value (a content digest, or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    key: u128,
    value: u64,
}

impl Entry {
    fn write(self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.key.to_le_bytes())?;
        out.write_all(&self.value.to_le_bytes())
    }

    fn from_bytes(bytes: &[u8]) -> Entry {
        Entry {
            key: u128::from_le_bytes(bytes[..16].try_into().unwrap()),
            value: u64::from_le_bytes(bytes[16..ENTRY].try_into().unwrap()),
        }
    }

    fn read(input: &mut impl Read) -> io::Result<Option<Entry>> {
        let mut bytes = [0u8; ENTRY];
        match input.read_exact(&mut bytes) {
            Ok(()) => Ok(Some(Entry::from_bytes(&bytes))),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Where tables spill: a folder of the run's (its files have no names
/// and vanish with the process).
#[derive(Debug, Clone)]
pub struct Spill {
    dir: PathBuf,
    bound: usize,
}

impl Spill {
    /// Spills into `dir` past `bound` entries per table.
    pub fn new(dir: &Path, bound: usize) -> Spill {
        Spill {
            dir: dir.to_path_buf(),
            bound: bound.max(BLOCK),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Entries a table keeps in memory.
    pub fn bound(&self) -> usize {
        self.bound
    }

    pub fn builder(&self) -> TableBuilder<'_> {
        TableBuilder {
            spill: self,
            buffer: Vec::new(),
            runs: Vec::new(),
        }
    }
}

/// Entries in any order, becoming a [`DigestTable`].
pub struct TableBuilder<'s> {
    spill: &'s Spill,
    buffer: Vec<Entry>,
    runs: Vec<File>,
}

impl TableBuilder<'_> {
    pub fn push(&mut self, key: u128, value: u64) -> io::Result<()> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.spill.bound);
        }
        self.buffer.push(Entry { key, value });
        if self.buffer.len() >= self.spill.bound {
            let run = sorted(std::mem::take(&mut self.buffer), &|a, _| a);
            let mut file = BufWriter::new(tempfile::tempfile_in(&self.spill.dir)?);
            for entry in run {
                entry.write(&mut file)?;
            }
            self.runs
                .push(file.into_inner().map_err(|e| e.into_error())?);
        }
        Ok(())
    }

    /// The table; `combine` decides the value of a key pushed more than
    /// once (given the values in the order they sort).
    pub fn finish(self, combine: fn(u64, u64) -> u64) -> io::Result<DigestTable> {
        if self.runs.is_empty() {
            let mut entries = sorted(self.buffer, &combine);
            entries.shrink_to_fit();
            return Ok(DigestTable(Held::Memory(entries)));
        }
        let mut runs = self.runs;
        if !self.buffer.is_empty() {
            let mut file = BufWriter::new(tempfile::tempfile_in(&self.spill.dir)?);
            for entry in sorted(self.buffer, &|a, _| a) {
                entry.write(&mut file)?;
            }
            runs.push(file.into_inner().map_err(|e| e.into_error())?);
        }
        merge(runs, &self.spill.dir, combine)
    }
}

/// Keeps the first value of a key pushed more than once.
pub fn keep_first(first: u64, _: u64) -> u64 {
    first
}

/// The same value twice stays; different values are [`DUPLICATE`].
pub fn duplicate_if_different(a: u64, b: u64) -> u64 {
    if a == b {
        a
    } else {
        DUPLICATE
    }
}

/// A key pushed twice is [`DUPLICATE`], whatever its values.
pub fn always_duplicate(_: u64, _: u64) -> u64 {
    DUPLICATE
}

fn sorted(mut entries: Vec<Entry>, combine: &dyn Fn(u64, u64) -> u64) -> Vec<Entry> {
    entries.sort_unstable_by_key(|e| e.key);
    entries.dedup_by(|later, kept| {
        if later.key == kept.key {
            kept.value = combine(kept.value, later.value);
            true
        } else {
            false
        }
    });
    entries
}

/// Runs merged at once (each read through a 16 KiB buffer); more are
/// merged in rounds.
const FAN_IN: usize = 16;

/// Merges sorted runs into one sorted file of unique keys, indexed by
/// the first key of each block.
fn merge(mut runs: Vec<File>, dir: &Path, combine: fn(u64, u64) -> u64) -> io::Result<DigestTable> {
    while runs.len() > FAN_IN {
        let group: Vec<File> = runs.drain(..FAN_IN).collect();
        let file = tempfile::tempfile_in(dir)?;
        let mut out = BufWriter::with_capacity(64 * 1024, &file);
        merge_sorted(group, combine, |entry| entry.write(&mut out))?;
        out.flush()?;
        drop(out);
        runs.push(file);
    }
    let file = tempfile::tempfile_in(dir)?;
    let mut out = BufWriter::with_capacity(64 * 1024, &file);
    let mut blocks = Vec::new();
    let mut len = 0u64;
    merge_sorted(runs, combine, |entry| {
        if len.is_multiple_of(BLOCK as u64) {
            blocks.push(entry.key);
        }
        len += 1;
        entry.write(&mut out)
    })?;
    out.flush()?;
    drop(out);
    blocks.shrink_to_fit();
    Ok(DigestTable(Held::Disk { file, blocks, len }))
}

/// Hands the entries of sorted runs to `emit` in order, each key once
/// (`combine` deciding the value of a key found more than once).
fn merge_sorted(
    runs: Vec<File>,
    combine: fn(u64, u64) -> u64,
    mut emit: impl FnMut(Entry) -> io::Result<()>,
) -> io::Result<()> {
    let mut readers = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::new();
    for (at, mut run) in runs.into_iter().enumerate() {
        io::Seek::rewind(&mut run)?;
        let mut reader = BufReader::with_capacity(16 * 1024, run);
        if let Some(entry) = Entry::read(&mut reader)? {
            heap.push(Reverse((entry, at)));
        }
        readers.push(reader);
    }
    let mut pending: Option<Entry> = None;
    while let Some(Reverse((entry, at))) = heap.pop() {
        if let Some(next) = Entry::read(&mut readers[at])? {
            heap.push(Reverse((next, at)));
        }
        pending = match pending {
            Some(mut kept) if kept.key == entry.key => {
                kept.value = combine(kept.value, entry.value);
                Some(kept)
            }
            Some(kept) => {
                emit(kept)?;
                Some(entry)
            }
            None => Some(entry),
        };
    }
    match pending {
        Some(kept) => emit(kept),
        None => Ok(()),
    }
}

/// Sorted entries, looked up by key.
#[derive(Debug, Default)]
pub struct DigestTable(Held);

#[derive(Debug)]
enum Held {
    Memory(Vec<Entry>),
    Disk {
        file: File,
        /// The first key of each block.
        blocks: Vec<u128>,
        len: u64,
    },
}

impl Default for Held {
    fn default() -> Self {
        Held::Memory(Vec::new())
    }
}

impl DigestTable {
    /// The value of `key`, if the table holds it.
    pub fn get(&self, key: u128) -> io::Result<Option<u64>> {
        match &self.0 {
            Held::Memory(entries) => Ok(entries
                .binary_search_by_key(&key, |e| e.key)
                .ok()
                .map(|at| entries[at].value)),
            Held::Disk { file, blocks, len } => {
                let block = blocks.partition_point(|first| *first <= key);
                if block == 0 {
                    return Ok(None);
                }
                let start = (block - 1) as u64 * BLOCK as u64;
                let count = (*len - start).min(BLOCK as u64) as usize;
                let mut bytes = [0u8; BLOCK * ENTRY];
                let bytes = &mut bytes[..count * ENTRY];
                file.read_exact_at(bytes, start * ENTRY as u64)?;
                Ok(search_block(bytes, key))
            }
        }
    }

    pub fn contains(&self, key: u128) -> io::Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Keys held.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Held::Memory(entries) => entries.len() as u64,
            Held::Disk { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it spilled to disk.
    pub fn on_disk(&self) -> bool {
        matches!(self.0, Held::Disk { .. })
    }
}

impl DigestTable {
    /// Its entries in key order (read in large pieces from disk).
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            table: self,
            at: 0,
            buffer: Vec::new(),
            taken: 0,
        }
    }
}

/// A table's entries in key order, as `(key, value)`.
pub struct Entries<'t> {
    table: &'t DigestTable,
    /// The next entry's index.
    at: u64,
    buffer: Vec<u8>,
    taken: usize,
}

/// Entries read from disk at once.
const PIECE: usize = 2_730;

impl Iterator for Entries<'_> {
    type Item = io::Result<(u128, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match &self.table.0 {
            Held::Memory(entries) => {
                let entry = entries.get(self.at as usize)?;
                self.at += 1;
                return Some(Ok((entry.key, entry.value)));
            }
            Held::Disk { file, len, .. } => {
                if self.taken * ENTRY >= self.buffer.len() {
                    let count = (*len - self.at.min(*len)).min(PIECE as u64) as usize;
                    if count == 0 {
                        return None;
                    }
                    self.buffer.resize(count * ENTRY, 0);
                    let read = file.read_exact_at(&mut self.buffer, self.at * ENTRY as u64);
                    if let Err(error) = read {
                        self.at = *len;
                        return Some(Err(error));
                    }
                    self.taken = 0;
                }
                let at = self.taken * ENTRY;
                self.taken += 1;
                self.at += 1;
                Entry::from_bytes(&self.buffer[at..at + ENTRY])
            }
        };
        Some(Ok((entry.key, entry.value)))
    }
}

/// Whether keys, asked in increasing order, are in a table: one pass
/// over its entries, whatever the number of questions.
pub struct Cursor<'t> {
    entries: Entries<'t>,
    current: Option<(u128, u64)>,
}

impl<'t> Cursor<'t> {
    pub fn new(table: &'t DigestTable) -> io::Result<Cursor<'t>> {
        let mut entries = table.entries();
        let current = entries.next().transpose()?;
        Ok(Cursor { entries, current })
    }

    /// `key`'s value; keys must be asked in increasing order.
    pub fn get(&mut self, key: u128) -> io::Result<Option<u64>> {
        while let Some((at, value)) = self.current {
            if at >= key {
                return Ok((at == key).then_some(value));
            }
            self.current = self.entries.next().transpose()?;
        }
        Ok(None)
    }
}

/// `key`'s value in a block of sorted entries, read in place.
fn search_block(bytes: &[u8], key: u128) -> Option<u64> {
    let (mut low, mut high) = (0, bytes.len() / ENTRY);
    while low < high {
        let middle = (low + high) / 2;
        let entry = Entry::from_bytes(&bytes[middle * ENTRY..(middle + 1) * ENTRY]);
        match entry.key.cmp(&key) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return Some(entry.value),
        }
    }
    None
}

/// Key digests appended one by one to an unnamed file (the records this
/// run already reported), read back as a table when needed.
pub struct DigestLog {
    file: BufWriter<File>,
    len: u64,
}

impl DigestLog {
    pub fn new(spill: &Spill) -> io::Result<DigestLog> {
        Ok(DigestLog {
            file: BufWriter::new(tempfile::tempfile_in(spill.dir())?),
            len: 0,
        })
    }

    pub fn push(&mut self, key: u128) -> io::Result<()> {
        self.len += 1;
        Entry { key, value: 0 }.write(&mut self.file)
    }

    /// Hands every key pushed so far to `each`, in the order pushed.
    pub fn each(&mut self, mut each: impl FnMut(u128)) -> io::Result<()> {
        self.file.flush()?;
        let mut file = self.file.get_ref().try_clone()?;
        io::Seek::rewind(&mut file)?;
        let mut reader = BufReader::with_capacity(64 * 1024, file.take(self.len * ENTRY as u64));
        while let Some(entry) = Entry::read(&mut reader)? {
            each(entry.key);
        }
        io::Seek::seek(self.file.get_mut(), io::SeekFrom::End(0))?;
        Ok(())
    }

    /// Keys pushed.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Everything pushed so far, as a table.
    pub fn table(&mut self, spill: &Spill) -> io::Result<DigestTable> {
        self.table_with(spill, keep_first)
    }

    /// Everything pushed so far, as a table; `combine` decides the value
    /// of a key pushed more than once.
    pub fn table_with(
        &mut self,
        spill: &Spill,
        combine: fn(u64, u64) -> u64,
    ) -> io::Result<DigestTable> {
        if self.len == 0 {
            return Ok(DigestTable::default());
        }
        self.file.flush()?;
        let mut file = self.file.get_ref().try_clone()?;
        io::Seek::rewind(&mut file)?;
        let mut reader = BufReader::with_capacity(64 * 1024, file.take(self.len * ENTRY as u64));
        let mut builder = spill.builder();
        while let Some(entry) = Entry::read(&mut reader)? {
            builder.push(entry.key, 0)?;
        }
        // Appending goes on at the end, wherever reading left the offset.
        io::Seek::seek(self.file.get_mut(), io::SeekFrom::End(0))?;
        builder.finish(combine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> u128 {
        xxhash_rust::xxh3::xxh3_128(&n.to_le_bytes())
    }

    #[test]
    fn a_small_table_stays_in_memory_and_finds_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 1000);
        let mut builder = spill.builder();
        for n in 0..500 {
            builder.push(key(n), n).unwrap();
        }
        builder.push(key(7), 99).unwrap();
        let table = builder.finish(duplicate_if_different).unwrap();
        assert!(!table.on_disk());
        assert_eq!(table.len(), 500);
        assert_eq!(table.get(key(3)).unwrap(), Some(3));
        assert_eq!(table.get(key(7)).unwrap(), Some(DUPLICATE));
        assert_eq!(table.get(key(500)).unwrap(), None);
    }

    #[test]
    fn past_its_bound_a_table_spills_and_merges_to_disk_with_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 200);
        let mut builder = spill.builder();
        for n in 0..5_000u64 {
            builder.push(key(n), n * 2).unwrap();
            assert!(
                builder.buffer.len() < 200,
                "never more than the bound in memory"
            );
        }
        // The same key again, with the same value and with another one.
        builder.push(key(10), 20).unwrap();
        builder.push(key(11), 1).unwrap();
        let table = builder.finish(duplicate_if_different).unwrap();
        assert!(table.on_disk());
        assert_eq!(table.len(), 5_000);
        for n in 0..5_000u64 {
            let want = if n == 11 { DUPLICATE } else { n * 2 };
            assert_eq!(table.get(key(n)).unwrap(), Some(want), "{n}");
        }
        for n in 5_000..5_500u64 {
            assert_eq!(table.get(key(n)).unwrap(), None);
        }
        assert_eq!(table.get(0).unwrap(), None);
        assert_eq!(table.get(u128::MAX).unwrap(), None);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "its files have no names"
        );
    }

    #[test]
    fn entries_come_in_key_order_and_a_cursor_answers_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        for bound in [200, 100_000] {
            let spill = Spill::new(dir.path(), bound);
            let mut builder = spill.builder();
            for n in 0..7_000u64 {
                builder.push(key(n), n).unwrap();
            }
            let table = builder.finish(keep_first).unwrap();
            assert_eq!(table.on_disk(), bound == 200);
            let entries: Vec<(u128, u64)> = table.entries().map(Result::unwrap).collect();
            assert_eq!(entries.len(), 7_000);
            assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
            let mut asked: Vec<u64> = (3_000..9_000).collect();
            asked.sort_by_key(|n| key(*n));
            let mut cursor = Cursor::new(&table).unwrap();
            for n in asked {
                let want = (n < 7_000).then_some(n);
                assert_eq!(cursor.get(key(n)).unwrap(), want, "{n}");
            }
        }
    }

    #[test]
    fn a_log_reads_back_as_a_table_and_goes_on_appending() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::new(dir.path(), 200);
        let mut log = DigestLog::new(&spill).unwrap();
        assert!(log.table(&spill).unwrap().is_empty());
        for n in 0..1000 {
            log.push(key(n)).unwrap();
        }
        let table = log.table(&spill).unwrap();
        assert_eq!(table.len(), 1000);
        log.push(key(5000)).unwrap();
        let table = log.table(&spill).unwrap();
        assert_eq!(table.len(), 1001);
        let mut seen = Vec::new();
        log.each(|key| seen.push(key)).unwrap();
        assert_eq!((seen.len(), seen[0], seen[1000]), (1001, key(0), key(5000)));
        log.push(key(6000)).unwrap();
        assert_eq!(log.len(), 1002);
        assert!(table.contains(key(5000)).unwrap() && table.contains(key(0)).unwrap());
    }
}
