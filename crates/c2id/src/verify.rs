//! `--verify`: the target read again and every source record of the
//! phases compared with the target's copy, ignoring what the target makes
//! anew by design (a client's issue time, registration access token and
//! URI; members a newer target adds). The target's listing becomes a
//! digest table (bounded in memory, spilled past the bound); a record
//! whose digest differs is read and compared member by member. A record
//! that cannot be read is counted as unknown, never as matching.

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::watch;
use trickle_transfer::submit_bounded;

use crate::api::{Budget, Server, ServerError};
use crate::digests::{duplicate_if_different, DigestTable, Spill, UNKNOWN};
use crate::listing::{Item, Listing, ListingError, Text};
use crate::model::{
    Event, Listed, MigrateError, MigrateOptions, Mismatch, VerifyPhase, VerifyReport,
};
use crate::preflight::Servers;
use crate::record::{self, differing_members, Key, Phase};

/// Times a broken listing is read again.
const PASSES: u32 = 12;

/// How one record compares.
enum Compared {
    Matching,
    Missing(Mismatch),
    Differing(Mismatch),
    Unknown(Mismatch),
    Fatal(ServerError),
}

enum Broken {
    Listing(&'static str, ListingError),
    Fatal(MigrateError),
}

pub(crate) async fn verify(
    servers: &Servers,
    options: &MigrateOptions,
    spill: &Spill,
    events: &mut dyn FnMut(Event),
    stop: &watch::Receiver<bool>,
) -> Result<VerifyReport, MigrateError> {
    let mut report = VerifyReport::default();
    for &phase in &options.phases {
        let before = report.mismatches.clone();
        let mut pass = 0;
        loop {
            pass += 1;
            events(Event::PhaseStart {
                phase,
                verifying: true,
                pass,
                total: None,
                done: 0,
            });
            report.mismatches = before.clone();
            let tally = Tally {
                summary: VerifyPhase {
                    phase: Some(phase),
                    ..VerifyPhase::default()
                },
                mismatches: &mut report.mismatches,
                events: &mut *events,
            };
            let result = verify_phase(phase, servers, options, spill, tally, stop).await;
            match result {
                Ok((summary, interrupted)) => {
                    report.phases.push(summary);
                    events(Event::PhaseEnd {
                        phase,
                        verifying: true,
                    });
                    if interrupted {
                        report.interrupted = true;
                        return Ok(report);
                    }
                    break;
                }
                Err(Broken::Listing(_, error)) if error.may_pass() && pass < PASSES => {
                    let message = format!("{error} while verifying; reading it again");
                    events(Event::Note {
                        phase,
                        message: &message,
                    });
                }
                Err(Broken::Listing(side, error)) => {
                    return Err(MigrateError::Listing { side, phase, error })
                }
                Err(Broken::Fatal(error)) => return Err(error),
            }
        }
    }
    Ok(report)
}

struct Tally<'a, 'e> {
    summary: VerifyPhase,
    mismatches: &'a mut Listed<Mismatch>,
    events: &'a mut (dyn FnMut(Event) + 'e),
}

impl Tally<'_, '_> {
    fn count(&mut self, compared: Compared) -> Result<(), Broken> {
        let mismatch = match compared {
            Compared::Matching => {
                self.summary.matching += 1;
                return Ok(());
            }
            Compared::Fatal(error) => return Err(Broken::Fatal(error.into())),
            Compared::Missing(mismatch) => {
                self.summary.missing += 1;
                mismatch
            }
            Compared::Differing(mismatch) => {
                self.summary.differing += 1;
                mismatch
            }
            Compared::Unknown(mismatch) => {
                self.summary.unknown += 1;
                mismatch
            }
        };
        self.mismatches.push(mismatch);
        Ok(())
    }
}

async fn verify_phase(
    phase: Phase,
    servers: &Servers,
    options: &MigrateOptions,
    spill: &Spill,
    mut tally: Tally<'_, '_>,
    stop: &watch::Receiver<bool>,
) -> Result<(VerifyPhase, bool), Broken> {
    let held = target_table(&servers.target, phase, spill).await?;
    let response = servers
        .source
        .open_listing(phase)
        .await
        .map_err(|e| Broken::Fatal(e.into()))?;
    let listing_options = servers.source.listing_options();
    let records = Listing::read(response, record::shape(phase), listing_options).into_stream();
    let target = &servers.target;
    let held = &held;
    let submitted = submit_bounded(
        &mut tally,
        records,
        options.concurrency,
        stop,
        |tally, item| {
            let item = item.map_err(|e| Broken::Listing("source", e))?;
            tally.summary.source_records += 1;
            let seen = tally.summary.source_records;
            (tally.events)(Event::Progress { phase, seen });
            match first_look(phase, item, held) {
                Look::Settled(compared) => {
                    tally.count(compared)?;
                    Ok(None)
                }
                Look::Read(key, sid, text, record) => {
                    Ok(Some(compare_one(target, key, sid, text, record)))
                }
            }
        },
        |tally, compared| tally.count(compared),
    )
    .await?;
    Ok((tally.summary, submitted.interrupted))
}

enum Look {
    Settled(Compared),
    /// The digests differ: read the target's copy.
    Read(Key, Option<String>, Bytes, String),
}

/// A source record against the target's digest of it.
fn first_look(phase: Phase, item: Item, held: &DigestTable) -> Look {
    let Item {
        sid,
        text,
        position,
        ..
    } = item;
    let Some(listed) = record::listed(phase, sid.as_deref(), &text) else {
        let mismatch = Mismatch {
            phase,
            record: format!("{} record #{position} of the listing", phase.name()),
            problem: "cannot be compared: it has no usable key".to_owned(),
        };
        return Look::Settled(Compared::Unknown(mismatch));
    };
    let record = listed.key.describe(listed.subject.as_deref());
    let mismatch = |problem: &str| Mismatch {
        phase,
        record: record.clone(),
        problem: problem.to_owned(),
    };
    match (held.get(listed.index_key).ok().flatten(), text) {
        (None, _) => Look::Settled(Compared::Missing(mismatch("missing on the target"))),
        (Some(_), Text::TooBig { .. }) => Look::Settled(Compared::Unknown(mismatch(
            "cannot be compared: it is over the size limit (--max-record-bytes)",
        ))),
        (Some(content), Text::Whole(_)) if content == listed.content && content != UNKNOWN => {
            Look::Settled(Compared::Matching)
        }
        (Some(_), Text::Whole(text)) => Look::Read(listed.key, sid, text, record),
    }
}

async fn compare_one(
    target: &Server,
    key: Key,
    sid: Option<String>,
    text: Bytes,
    record: String,
) -> Compared {
    let phase = key.phase();
    let mismatch = |problem: String| Mismatch {
        phase,
        record: record.clone(),
        problem,
    };
    let held = match target
        .get_one(&key, sid.as_deref(), &mut Budget::default())
        .await
    {
        Err(error) if error.ends_the_run() => return Compared::Fatal(error),
        Err(error) => return Compared::Unknown(mismatch(format!("could not be read: {error}"))),
        Ok(None) => return Compared::Missing(mismatch("missing on the target".to_owned())),
        Ok(Some(held)) => held,
    };
    let source: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    let differing = differing_members(
        &record::normalise(phase, source),
        &record::normalise(phase, held),
    );
    if differing.is_empty() {
        Compared::Matching
    } else {
        Compared::Differing(mismatch(format!(
            "differs on the target: {}",
            differing.join(", ")
        )))
    }
}

/// Every target record of `phase`: index key → content digest.
async fn target_table(target: &Server, phase: Phase, spill: &Spill) -> Result<DigestTable, Broken> {
    let io = |source| {
        Broken::Fatal(MigrateError::Io {
            path: spill.dir().to_path_buf(),
            source,
        })
    };
    let response = target
        .open_listing(phase)
        .await
        .map_err(|e| Broken::Fatal(e.into()))?;
    let mut listing = Listing::read(response, record::shape(phase), target.listing_options());
    let mut builder = spill.builder();
    while let Some(item) = listing.next().await {
        let item = item.map_err(|e| Broken::Listing("target", e))?;
        if let Some(listed) = record::listed(phase, item.sid.as_deref(), &item.text) {
            builder.push(listed.index_key, listed.content).map_err(io)?;
        }
    }
    builder.finish(duplicate_if_different).map_err(io)
}
