//! What a pass knows before it posts anything, as digest tables (bounded
//! in memory, spilled past the bound): the keys the journal holds as
//! done, the records this run already reported, the source's listing
//! (its keys, [`DUPLICATE`] for a key listed twice; a sync learns them
//! from its one read of the source instead, see `pass`) and the target's
//! (index key → content digest of the record as compared, ignoring what a
//! target makes anew, for the records the journal does not hold): what a
//! later sync needs to tell changed records from unchanged ones.

use crate::api::Server;
use crate::compact::{CompactBuilder, CompactIndex, COMPACT_FACTOR};
use crate::digests::{
    always_duplicate, duplicate_if_different, DigestLog, DigestTable, Spill, DUPLICATE,
};
use crate::journal::{done_set_of, MigrationJournal, JOURNAL_FILE};
use crate::listing::{Listing, ListingError};
use crate::model::{MigrateError, MigrateOptions};
use crate::record::{self, Key, Phase};

/// The tables of one pass.
pub(super) struct Tables {
    pub phase: Phase,
    pub done: DigestTable,
    pub settled: DigestTable,
    pub source: DigestTable,
    /// The target's, compact in memory (see [`crate::compact`]).
    pub target: CompactIndex,
    /// Records in the source's listing (a copy's: a sync reads it once,
    /// after this).
    pub source_records: Option<u64>,
    /// A sync: the key digest of every record the target listed (what
    /// its deletions are counted from, without reading the target again).
    pub target_keys: Option<DigestLog>,
}

impl Tables {
    /// Reads the journal, then both listings at once (a sync: only the
    /// target's).
    pub async fn read(
        phase: Phase,
        source: &Server,
        target: &Server,
        options: &MigrateOptions,
        journal: Option<&mut MigrationJournal>,
        settled: &mut DigestLog,
        spill: &Spill,
    ) -> Result<Tables, MigrateError> {
        let done = match journal {
            Some(journal) => journal.done_set(phase, spill)?,
            None => done_set_of(&options.journal_dir.join(JOURNAL_FILE), phase, spill)?,
        };
        let settled = settled.table(spill).map_err(|e| io_error(spill, e))?;
        // A sync compares every record (content decides, not the journal).
        let skipped = options.sync.is_none().then_some(&done);
        let (source_index, target_index) = match options.sync {
            Some(_) => (
                Ok(Default::default()),
                index_target(target, phase, spill, None).await,
            ),
            None => tokio::join!(
                index_source(source, phase, spill),
                index_target(target, phase, spill, skipped)
            ),
        };
        let (source, source_records) = source_index?;
        let (target_index, target_keys) = target_index?;
        Ok(Tables {
            phase,
            done,
            settled,
            source,
            target: target_index,
            target_keys,
            source_records,
        })
    }

    pub fn is_done(&self, key: &Key) -> bool {
        self.done.contains(key.digest()).unwrap_or(false)
    }

    pub fn is_settled(&self, key_digest: u128) -> bool {
        self.settled.contains(key_digest).unwrap_or(false)
    }

    /// Whether the source lists `key` more than once.
    pub fn listed_twice(&self, key: &Key) -> bool {
        self.source.get(key.digest()).ok().flatten() == Some(DUPLICATE)
    }

    /// What the target held under `index_key` when the pass began.
    pub fn on_target(&self, index_key: u128) -> Option<u64> {
        self.target.get(index_key).ok().flatten()
    }

    /// Whether a client id (or SID, by its digest) is one this run may
    /// have made: in neither listing nor the journal.
    pub fn unknown_to_both(&self, key: &Key, index_key: u128) -> bool {
        let known = |table: &DigestTable, digest| table.contains(digest).unwrap_or(true);
        !known(&self.source, key.digest())
            && !known(&self.done, key.digest())
            && !self.target.contains(index_key).unwrap_or(true)
    }
}

fn io_error(spill: &Spill, source: std::io::Error) -> MigrateError {
    MigrateError::Io {
        path: spill.dir().to_path_buf(),
        source,
    }
}

fn listing_error(side: &'static str, phase: Phase, error: ListingError) -> MigrateError {
    MigrateError::Listing { side, phase, error }
}

/// The source's listing: its keys ([`DUPLICATE`] for one listed more than
/// once, whatever the copies hold), and its size. Only the key members
/// are read: the records' content is digested when they are migrated.
async fn index_source(
    source: &Server,
    phase: Phase,
    spill: &Spill,
) -> Result<(DigestTable, Option<u64>), MigrateError> {
    let response = source.open_listing(phase).await?;
    let mut listing = Listing::read(response, record::shape(phase), source.listing_options());
    let mut builder = spill.builder();
    let mut records = 0;
    while let Some(item) = listing.next().await {
        let item = item.map_err(|e| listing_error("source", phase, e))?;
        records += 1;
        if let Some(key) = record::listed_key(phase, item.sid.as_deref(), &item.text) {
            builder
                .push(key.digest(), 0)
                .map_err(|e| io_error(spill, e))?;
        }
    }
    let table = builder
        .finish(always_duplicate)
        .map_err(|e| io_error(spill, e))?;
    Ok((table, Some(records)))
}

/// The target's listing, but for what the journal holds as done (when
/// `skipped` is given, for a copy): index key → content digest; for a
/// sync, every record's key digest too.
async fn index_target(
    target: &Server,
    phase: Phase,
    spill: &Spill,
    skipped: Option<&DigestTable>,
) -> Result<(CompactIndex, Option<DigestLog>), MigrateError> {
    let response = target.open_listing(phase).await?;
    let mut listing = Listing::read(response, record::shape(phase), target.listing_options());
    // A sync looks every source record up: its index stays in memory
    // longer (a copy's, like its other tables, spills past the bound).
    let bound = match skipped {
        Some(_) => spill.bound(),
        None => spill.bound() * COMPACT_FACTOR,
    };
    let mut builder = CompactBuilder::new(spill, bound);
    let mut keys = match skipped {
        Some(_) => None,
        None => Some(DigestLog::new(spill).map_err(|e| io_error(spill, e))?),
    };
    // A sync's authorisations and sessions: raw digests (see `record::listed_raw`).
    let raw = keys.is_some() && phase != Phase::Clients;
    while let Some(item) = listing.next().await {
        let item = item.map_err(|e| listing_error("target", phase, e))?;
        let sid = item.sid.as_deref();
        let listed = if raw {
            record::listed_raw(phase, sid, &item.text)
        } else {
            record::listed(phase, sid, &item.text)
                .map(|listed| (listed.key.digest(), listed.index_key, listed.content))
        };
        let Some((key_digest, index_key, content)) = listed else {
            continue;
        };
        if let Some(keys) = keys.as_mut() {
            keys.push(key_digest).map_err(|e| io_error(spill, e))?;
        }
        if let Some(done) = skipped {
            if done.contains(key_digest).map_err(|e| io_error(spill, e))? {
                continue;
            }
        }
        builder
            .push(index_key, content)
            .map_err(|e| io_error(spill, e))?;
    }
    let table = builder
        .finish(duplicate_if_different)
        .map_err(|e| io_error(spill, e))?;
    Ok((table, keys))
}
