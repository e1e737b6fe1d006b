//! The verdict: never "done" without the new tenant's proof. Checks are
//! asked in order and the first that applies decides: an unusable count
//! (unknown), users marked but missing from the new tenant (stranded),
//! every user found there by id (done), counts that can only suggest it
//! (probably done, or marked without the new tenant asked); otherwise how
//! far the migration has got (keep the window open, or close it).

use serde::Serialize;

use super::{ExportRead, NewConnection, Proof};
use crate::realm::{RealmCheck, RealmOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Every user of the realm is in the new tenant, checked by id:
    /// decommission.
    Done,
    /// Marked users are missing from the new tenant: they cannot log in
    /// once the old tenant goes.
    Stranded,
    /// The numbers cannot carry a verdict (capped, unreadable, no users).
    Unknown,
    /// The counts add up, which only ids can prove.
    ProbablyDone,
    /// Every user is marked, and the new tenant was not asked.
    Marked,
    /// Nobody migrated yet.
    NothingMigrated,
    /// Fewer days since the first migration than the trend needs.
    TooEarly,
    KeepOpen,
    ReadyToClose,
}

/// How a verdict reads at a glance (the page's colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Proven done (green).
    Done,
    /// Under way (neutral).
    Progress,
    /// Not proven either way (amber).
    Unproven,
    /// Users would be locked out (red).
    Stranded,
}

impl VerdictKind {
    /// `trickle status`'s exit code: 0 only for a proven "done".
    pub const fn exit_code(self) -> u8 {
        match self {
            VerdictKind::Done => 0,
            VerdictKind::NothingMigrated
            | VerdictKind::TooEarly
            | VerdictKind::KeepOpen
            | VerdictKind::ReadyToClose => 3,
            VerdictKind::Unknown | VerdictKind::ProbablyDone | VerdictKind::Marked => 4,
            VerdictKind::Stranded => 5,
        }
    }

    pub const fn tone(self) -> Tone {
        match self {
            VerdictKind::Done => Tone::Done,
            VerdictKind::Stranded => Tone::Stranded,
            VerdictKind::Unknown | VerdictKind::ProbablyDone | VerdictKind::Marked => {
                Tone::Unproven
            }
            _ => Tone::Progress,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub message: String,
    /// What `trickle status` exits with.
    pub exit_code: u8,
    /// Users migrated per day over the last `trend_days` full days.
    pub rate_per_day: f64,
    /// Closing is advised below this rate.
    pub close_below_per_day: f64,
    pub trend_days: u64,
}

/// The migration's pace, for the verdicts of a migration under way.
pub(super) struct Trend {
    pub rate: f64,
    pub threshold: f64,
    pub days: u64,
    /// Days since the first dated migration, if any.
    pub since_first: Option<u64>,
}

/// Everything a verdict is drawn from.
pub(super) struct Evidence<'a> {
    pub realm: &'a str,
    pub users: u64,
    pub migrated: u64,
    pub capped: bool,
    pub export: Option<&'a ExportRead>,
    pub new: Option<&'a NewConnection>,
    pub proof: Option<&'a Proof>,
    pub realm_check: Option<&'a RealmCheck>,
    pub trend: Trend,
}

impl Evidence<'_> {
    /// Users not yet in the new tenant: by id when proven, else unmarked.
    fn left(&self) -> u64 {
        match self.proof {
            Some(proof) => proof.missing,
            None => self.users.saturating_sub(self.migrated),
        }
    }
}

type Check = fn(&Evidence) -> Option<(VerdictKind, String)>;

/// In order: the first that applies decides.
const CHECKS: [Check; 7] = [
    unreadable_export,
    capped_totals,
    empty_realm,
    stranded,
    proven_done,
    probably_done,
    marked_unchecked,
];

pub(super) fn decide(evidence: &Evidence) -> (VerdictKind, String) {
    CHECKS
        .iter()
        .find_map(|check| check(evidence))
        .unwrap_or_else(|| under_way(evidence))
}

fn plural(n: u64, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

fn is_are(n: u64) -> &'static str {
    if n == 1 {
        "is"
    } else {
        "are"
    }
}

/// Why an export's count is unusable, if it is.
fn unusable(read: &ExportRead, whose: &str, empty_is_unusable: bool) -> Option<String> {
    if read.unreadable > 0 {
        Some(format!(
            "the {whose}'s export has {} ({})",
            plural(read.unreadable, "unreadable line"),
            read.first_unreadable.as_deref().unwrap_or("?")
        ))
    } else if read.records == 0 && empty_is_unusable {
        Some(format!("the {whose}'s export has no records"))
    } else {
        None
    }
}

fn unreadable_export(e: &Evidence) -> Option<(VerdictKind, String)> {
    let old = e.export.and_then(|read| unusable(read, "old tenant", true));
    let new = e
        .proof
        .and_then(|proof| unusable(&proof.new_export, "new tenant", false));
    let why = old.or(new)?;
    Some((
        VerdictKind::Unknown,
        format!("unknown: {why}, so nothing can be counted from it — rerun with --exact (and check what the export link serves)"),
    ))
}

fn capped_totals(e: &Evidence) -> Option<(VerdictKind, String)> {
    e.capped.then(|| {
        (
            VerdictKind::Unknown,
            "unknown: a search total was exactly 1000 and may be capped there — rerun with --exact"
                .to_owned(),
        )
    })
}

fn empty_realm(e: &Evidence) -> Option<(VerdictKind, String)> {
    if e.users > 0 {
        return None;
    }
    let check = match e.realm_check {
        Some(RealmCheck {
            outcome: RealmOutcome::Accepted,
            ..
        }) => "the realm exists, but nobody is in it".to_owned(),
        Some(check) => check.detail.clone(),
        None => "the realm was not checked".to_owned(),
    };
    Some((
        VerdictKind::Unknown,
        format!(
            "unknown realm or empty: check source.realm — {} has no users ({check})",
            e.realm
        ),
    ))
}

const STRANDED_FIX: &str = "they cannot log in once the old tenant goes. Find them with trickle bulk plan \
     --exclude-export <the new tenant's export> (status --exact --keep-new-export keeps one; they are \
     listed in marked-not-in-new-tenant.jsonl), then run trickle bulk unmark on that plan so their next \
     login migrates them, or bulk import that plan";

fn stranded(e: &Evidence) -> Option<(VerdictKind, String)> {
    if let Some(proof) = e.proof {
        return (proof.missing_marked > 0).then(|| {
            (
                VerdictKind::Stranded,
                format!(
                    "stranded: {} of {} {} not in the new tenant, checked by id — {STRANDED_FIX}",
                    plural(proof.missing_marked, "marked user"),
                    e.realm,
                    is_are(proof.missing_marked)
                ),
            )
        });
    }
    let new = e.new?;
    (new.users < e.migrated).then(|| {
        (
            VerdictKind::Stranded,
            format!(
                "stranded: at least {} of {} {} not in {} ({} marked, {} there) — {STRANDED_FIX}",
                plural(e.migrated - new.users, "marked user"),
                e.realm,
                is_are(e.migrated - new.users),
                new.connection,
                e.migrated,
                new.users
            ),
        )
    })
}

fn proven_done(e: &Evidence) -> Option<(VerdictKind, String)> {
    let proof = e.proof?;
    (proof.missing == 0).then(|| {
        (
            VerdictKind::Done,
            format!(
                "done: all {} users of {} are in the new tenant, checked by id — decommission (trickle generate --decommission)",
                e.users, e.realm
            ),
        )
    })
}

fn probably_done(e: &Evidence) -> Option<(VerdictKind, String)> {
    let new = e
        .new
        .filter(|new| e.proof.is_none() && new.users >= e.users)?;
    Some((
        VerdictKind::ProbablyDone,
        format!(
            "probably done, confirm with --exact: {} holds {} users and {} has {}, but counts cannot show who is missing",
            new.connection, new.users, e.realm, e.users
        ),
    ))
}

fn marked_unchecked(e: &Evidence) -> Option<(VerdictKind, String)> {
    (e.new.is_none() && e.migrated >= e.users).then(|| {
        (
            VerdictKind::Marked,
            format!(
                "marked: all {} users of {} carry the marker, but the new tenant was not asked whether it holds them — \
                 rerun with --new-domain and --new-client-id, and --exact, for the proof",
                e.users, e.realm
            ),
        )
    })
}

/// How far a migration under way has got.
fn under_way(e: &Evidence) -> (VerdictKind, String) {
    let (left, t) = (e.left(), &e.trend);
    let found = e.proof.map_or(0, |proof| proof.found);
    if e.migrated == 0 && found == 0 {
        return (
            VerdictKind::NothingMigrated,
            format!("keep the window open: nobody migrated yet, {left} users left (are the scripts deployed, with mark_migrated = true?)"),
        );
    }
    match t.since_first {
        Some(since) if since >= t.days => {}
        since => {
            let since = since.map_or("no migration is dated yet".to_owned(), |days| {
                format!("the first migration was {days} day(s) ago")
            });
            return (
                VerdictKind::TooEarly,
                format!("keep the window open: {since}, the trend needs {} full days; {left} users left", t.days),
            );
        }
    }
    if t.rate < t.threshold {
        (
            VerdictKind::ReadyToClose,
            format!(
                "ready to close: {left} users left — run bulk ({:.1}/day over the last {} days, under {:.1}/day)",
                t.rate, t.days, t.threshold
            ),
        )
    } else {
        (
            VerdictKind::KeepOpen,
            format!(
                "keep the window open: {:.1}/day over the last {} days (close below {:.1}/day); {left} users left",
                t.rate, t.days, t.threshold
            ),
        )
    }
}
