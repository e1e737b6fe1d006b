//! A listing's index (key → content digest) compact in memory, so that
//! each record of the other listing is looked up without a read from
//! disk: 64 bits of each key digest and its value, 16 bytes an entry,
//! sorted and found through a table of buckets by their first bits. Past
//! its bound (a constant: for a sync's index of the target,
//! [`COMPACT_FACTOR`] times the spill's) it turns into a [`DigestTable`]
//! that spills to disk like the others.
//!
//! Two keys sharing their 64 bits are one entry, whose value is
//! [`DUPLICATE`](crate::digests::DUPLICATE) when theirs differ: a lookup
//! then finds no digest equal to a record's, so that record is compared
//! whole, never taken as the same.

use std::io;

use crate::digests::{DigestTable, Spill, TableBuilder};

/// Entries kept in memory, as a multiple of the spill's bound per table
/// (by default about 1.6 million entries, 25 MB).
pub const COMPACT_FACTOR: usize = 12;

/// The 64 bits of a key digest an index keeps.
fn short(key: u128) -> u64 {
    key as u64
}

/// Entries in any order, becoming a [`CompactIndex`].
pub struct CompactBuilder<'s> {
    spill: &'s Spill,
    /// Entries kept in memory at most.
    bound: usize,
    entries: Vec<(u64, u64)>,
    /// Past the bound: the entries so far and all later ones.
    spilled: Option<TableBuilder<'s>>,
}

impl<'s> CompactBuilder<'s> {
    /// Kept in memory up to `bound` entries.
    pub fn new(spill: &'s Spill, bound: usize) -> CompactBuilder<'s> {
        CompactBuilder {
            spill,
            bound,
            entries: Vec::new(),
            spilled: None,
        }
    }

    pub fn push(&mut self, key: u128, value: u64) -> io::Result<()> {
        if let Some(table) = self.spilled.as_mut() {
            return table.push(u128::from(short(key)), value);
        }
        self.entries.push((short(key), value));
        if self.entries.len() > self.bound {
            let mut table = self.spill.builder();
            for (key, value) in std::mem::take(&mut self.entries) {
                table.push(u128::from(key), value)?;
            }
            self.spilled = Some(table);
        }
        Ok(())
    }

    /// The index; `combine` decides the value of a key pushed more than
    /// once (one that differs makes [`DUPLICATE`](crate::digests::DUPLICATE) in any case).
    pub fn finish(self, combine: fn(u64, u64) -> u64) -> io::Result<CompactIndex> {
        if let Some(table) = self.spilled {
            return Ok(CompactIndex::Table(table.finish(combine)?));
        }
        let mut entries = self.entries;
        entries.sort_unstable();
        entries.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 = combine(kept.1, later.1);
                true
            } else {
                false
            }
        });
        entries.shrink_to_fit();
        Ok(CompactIndex::Memory(Buckets::new(entries)))
    }
}

/// Sorted entries and where each bucket of first bits starts.
#[derive(Debug)]
pub struct Buckets {
    entries: Vec<(u64, u64)>,
    bits: u32,
    starts: Vec<u32>,
}

impl Buckets {
    fn new(entries: Vec<(u64, u64)>) -> Buckets {
        // About eight entries a bucket, at most 65,536 buckets.
        let bits = (entries.len() / 8).max(1).ilog2().min(16);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for bucket in 0..(1u64 << bits) {
            while at < entries.len() && Self::bucket(entries[at].0, bits) < bucket {
                at += 1;
            }
            starts.push(at as u32);
        }
        starts.push(entries.len() as u32);
        Buckets {
            entries,
            bits,
            starts,
        }
    }

    fn bucket(key: u64, bits: u32) -> u64 {
        key.checked_shr(64 - bits).unwrap_or(0)
    }

    fn get(&self, key: u64) -> Option<u64> {
        let bucket = Self::bucket(key, self.bits) as usize;
        let range = self.starts[bucket] as usize..self.starts[bucket + 1] as usize;
        let entries = &self.entries[range];
        let at = entries.binary_search_by_key(&key, |entry| entry.0).ok()?;
        Some(entries[at].1)
    }
}

/// A listing's index, in memory or spilled.
#[derive(Debug)]
pub enum CompactIndex {
    Memory(Buckets),
    Table(DigestTable),
}

impl Default for CompactIndex {
    fn default() -> Self {
        CompactIndex::Memory(Buckets::new(Vec::new()))
    }
}

impl CompactIndex {
    /// The value under `key`, if the index holds it (or another key of
    /// the same 64 bits).
    pub fn get(&self, key: u128) -> io::Result<Option<u64>> {
        match self {
            CompactIndex::Memory(buckets) => Ok(buckets.get(short(key))),
            CompactIndex::Table(table) => table.get(u128::from(short(key))),
        }
    }

    pub fn contains(&self, key: u128) -> io::Result<bool> {
        Ok(self.get(key)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digests::{duplicate_if_different, DUPLICATE};

    fn key(n: u64) -> u128 {
        xxhash_rust::xxh3::xxh3_128(&n.to_le_bytes())
    }

    #[test]
    fn in_memory_or_spilled_an_index_gives_the_same_answers() {
        let dir = tempfile::tempdir().unwrap();
        for (bound, in_memory) in [(1_000, true), (200, false)] {
            let spill = Spill::new(dir.path(), bound);
            let mut builder = CompactBuilder::new(&spill, bound * COMPACT_FACTOR);
            for n in 0..5_000u64 {
                builder.push(key(n), n * 2).unwrap();
            }
            builder.push(key(10), 20).unwrap();
            builder.push(key(11), 1).unwrap();
            let index = builder.finish(duplicate_if_different).unwrap();
            assert_eq!(matches!(index, CompactIndex::Memory(_)), in_memory);
            for n in 0..5_000u64 {
                let want = if n == 11 { DUPLICATE } else { n * 2 };
                assert_eq!(index.get(key(n)).unwrap(), Some(want), "{n}");
            }
            for n in 5_000..6_000u64 {
                assert_eq!(index.get(key(n)).unwrap(), None, "{n}");
            }
        }
        let empty = CompactIndex::default();
        assert_eq!(empty.get(key(1)).unwrap(), None);
        let spill = Spill::new(dir.path(), 1_000);
        let mut one = CompactBuilder::new(&spill, 1);
        one.push(u128::MAX, 7).unwrap();
        let one = one.finish(duplicate_if_different).unwrap();
        assert_eq!(one.get(u128::MAX).unwrap(), Some(7));
        assert_eq!(one.get(0).unwrap(), None);
    }
}
