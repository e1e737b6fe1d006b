//! `--verify`: the target read again and every source record of the
//! phases compared with the target's copy, ignoring what the target makes
//! anew by design (a client's issue time, registration access token and
//! URI; members a newer target adds). Memory: 24 bytes per target record.

use serde_json::Value;
use tokio::sync::watch;
use trickle_transfer::submit_bounded;

use crate::api::{Server, ServerError};
use crate::listing::Listing;
use crate::migrate::{key_and_form, shape, Event, MigrateError, MigrateOptions, MAX_LISTED};
use crate::preflight::Servers;
use crate::record::{self, content_digest, differing_members, sid_digest, Key, Phase};

/// How one phase compares.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyPhase {
    pub phase: Option<Phase>,
    pub source_records: u64,
    pub matching: u64,
    pub missing: u64,
    pub differing: u64,
}

/// A record whose target copy is missing or differs (never its content:
/// only the names of the members that differ).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub phase: Phase,
    pub record: String,
    pub problem: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    pub phases: Vec<VerifyPhase>,
    /// The first [`MAX_LISTED`] mismatches.
    pub mismatches: Vec<Mismatch>,
    pub mismatches_total: u64,
    pub interrupted: bool,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.mismatches_total == 0 && !self.interrupted
    }
}

/// Times a broken listing is read again.
const PASSES: u32 = 12;

enum Compared {
    Matching,
    Mismatch(Mismatch),
    Fatal(ServerError),
}

pub(crate) async fn verify(
    servers: &Servers,
    options: &MigrateOptions,
    events: &mut dyn FnMut(Event),
    stop: &watch::Receiver<bool>,
) -> Result<VerifyReport, MigrateError> {
    let mut report = VerifyReport::default();
    for &phase in &options.phases {
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
            match verify_phase(phase, servers, options, events, stop).await {
                Ok((summary, mismatches, total, interrupted)) => {
                    report.phases.push(summary);
                    report.mismatches_total += total;
                    let room = MAX_LISTED.saturating_sub(report.mismatches.len());
                    report.mismatches.extend(mismatches.into_iter().take(room));
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
                Err(Broken::Listing(why)) if pass < PASSES => {
                    let message =
                        format!("a listing broke off while verifying ({why}); reading again");
                    events(Event::Note {
                        phase,
                        message: &message,
                    });
                }
                Err(Broken::Listing(why)) => return Err(MigrateError::Listing(why)),
                Err(Broken::Fatal(error)) => return Err(error),
            }
        }
    }
    Ok(report)
}

enum Broken {
    Listing(String),
    Fatal(MigrateError),
}

struct Tally<'a, 'e> {
    summary: VerifyPhase,
    mismatches: Vec<Mismatch>,
    total: u64,
    events: &'a mut (dyn FnMut(Event) + 'e),
}

impl Tally<'_, '_> {
    fn mismatch(&mut self, mismatch: Mismatch, missing: bool) {
        if missing {
            self.summary.missing += 1;
        } else {
            self.summary.differing += 1;
        }
        self.total += 1;
        if self.mismatches.len() < MAX_LISTED {
            self.mismatches.push(mismatch);
        }
    }
}

type PhaseResult = (VerifyPhase, Vec<Mismatch>, u64, bool);

async fn verify_phase(
    phase: Phase,
    servers: &Servers,
    options: &MigrateOptions,
    events: &mut dyn FnMut(Event),
    stop: &watch::Receiver<bool>,
) -> Result<PhaseResult, Broken> {
    let held = target_digests(&servers.target, phase).await?;
    let response = servers
        .source
        .open_listing(phase)
        .await
        .map_err(|e| Broken::Fatal(e.into()))?;
    let records = Listing::read(response, shape(phase)).into_stream();
    let mut tally = Tally {
        summary: VerifyPhase {
            phase: Some(phase),
            ..VerifyPhase::default()
        },
        mismatches: Vec::new(),
        total: 0,
        events,
    };
    let target = &servers.target;
    let held = &held;
    let submitted = submit_bounded(
        &mut tally,
        records,
        options.concurrency,
        stop,
        |tally, item| {
            let item = item.map_err(Broken::Listing)?;
            tally.summary.source_records += 1;
            let seen = tally.summary.source_records;
            (tally.events)(Event::Progress { phase, seen });
            let sid = item.sid.clone();
            let Some((key, compare)) = key_and_form(phase, item) else {
                return Ok(None);
            };
            let lookup = match (&key, &sid) {
                (Key::Session(_), Some(sid)) => sid_digest(sid),
                _ => key.digest(),
            };
            let record = key.describe(
                compare
                    .get("sub")
                    .and_then(Value::as_str)
                    .filter(|_| phase == Phase::Sessions),
            );
            match held.binary_search_by_key(&lookup, |(k, _)| *k) {
                Err(_) => {
                    tally.mismatch(
                        Mismatch {
                            phase,
                            record,
                            problem: "missing on the target".to_owned(),
                        },
                        true,
                    );
                    Ok(None)
                }
                Ok(at) if held[at].1 == content_digest(&compare) => {
                    tally.summary.matching += 1;
                    Ok(None)
                }
                Ok(_) => Ok(Some(compare_one(target, key, sid, compare, record))),
            }
        },
        |tally, compared| match compared {
            Compared::Matching => {
                tally.summary.matching += 1;
                Ok(())
            }
            Compared::Mismatch(mismatch) => {
                let missing = mismatch.problem.starts_with("missing");
                tally.mismatch(mismatch, missing);
                Ok(())
            }
            Compared::Fatal(error) => Err(Broken::Fatal(error.into())),
        },
    )
    .await?;
    Ok((
        tally.summary,
        tally.mismatches,
        tally.total,
        submitted.interrupted,
    ))
}

async fn compare_one(
    target: &Server,
    key: Key,
    sid: Option<String>,
    compare: Value,
    record: String,
) -> Compared {
    let phase = key.phase();
    match target.get_one(&key, sid.as_deref()).await {
        Err(error) => Compared::Fatal(error),
        Ok(None) => Compared::Mismatch(Mismatch {
            phase,
            record,
            problem: "missing on the target".to_owned(),
        }),
        Ok(Some(held)) => {
            let differing = differing_members(&compare, &record::normalise(phase, held));
            if differing.is_empty() {
                Compared::Matching
            } else {
                Compared::Mismatch(Mismatch {
                    phase,
                    record,
                    problem: format!("differs on the target: {}", differing.join(", ")),
                })
            }
        }
    }
}

/// Every target record of `phase`: (key digest, content digest), sorted.
async fn target_digests(target: &Server, phase: Phase) -> Result<Vec<(u128, u64)>, Broken> {
    let response = target
        .open_listing(phase)
        .await
        .map_err(|e| Broken::Fatal(e.into()))?;
    let mut listing = Listing::read(response, shape(phase));
    let mut held = Vec::new();
    while let Some(item) = listing.next().await {
        let item = item.map_err(Broken::Listing)?;
        let sid = item.sid.clone();
        let Some((key, compare)) = key_and_form(phase, item) else {
            continue;
        };
        let lookup = match (&key, &sid) {
            (Key::Session(_), Some(sid)) => sid_digest(sid),
            _ => key.digest(),
        };
        held.push((lookup, content_digest(&compare)));
    }
    held.sort_unstable_by_key(|(k, _)| *k);
    held.shrink_to_fit();
    Ok(held)
}
