//! `report.json` in the journal folder: what the last run found and did,
//! for the operator and for scripts. It names records (client ids,
//! subjects, the start of SID keys) and never holds a secret, a token, a
//! SID or a record's content. Lists stop at [`MAX_LISTED`] entries; each
//! has its total beside it.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::model::{
    Deletion, Failure, Mismatch, Outcome, PhaseSummary, Problem, SyncPass, VerifyPhase,
    VerifyReport, MAX_LISTED,
};
use crate::preflight::{PreflightReport, ServerFacts, Servers};

pub const REPORT_FILE: &str = "report.json";

#[derive(Debug, Serialize)]
pub struct ServerSide {
    pub issuer: String,
    pub version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerifyView<'a> {
    pub phases: &'a [VerifyPhase],
    /// The first [`MAX_LISTED`] mismatches.
    pub mismatches: &'a [Mismatch],
    pub mismatches_total: u64,
    pub interrupted: bool,
}

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub source: ServerSide,
    pub target: ServerSide,
    pub authorization_store_api: Option<&'static str>,
    pub jwk_sets_identical: Option<bool>,
    /// Every record migrated (and verified, when asked), nothing stopped.
    pub clean: bool,
    pub interrupted: bool,
    pub aborted: Option<&'a str>,
    /// Why the run stopped before its end, and what to do.
    pub error: Option<&'a Failure>,
    pub phases: &'a [PhaseSummary],
    /// The first [`MAX_LISTED`] problems.
    pub problems: &'a [Problem],
    pub problems_total: u64,
    /// Records this run deleted on the target (strays it made, replaced
    /// registrations): the first [`MAX_LISTED`].
    pub deletions: &'a [Deletion],
    pub deletions_total: u64,
    /// Clients whose export held a registration access token: the target
    /// issued new ones, which software that manages its own registration
    /// (RFC 7592, e.g. after open registration) must be given. The first
    /// 1,000, sorted.
    pub clients_with_registration_access_token: Vec<&'a str>,
    pub clients_with_registration_access_token_total: u64,
    pub listed_at_most: usize,
    pub notes: &'a [String],
    pub verify: Option<VerifyView<'a>>,
    /// A sync's pass: its number (a `--watch` rewrites this file after
    /// each), when its source read began, how long it took.
    pub sync_pass: Option<SyncPass>,
}

impl<'a> Report<'a> {
    pub fn new(servers: &Servers, preflight: &'a PreflightReport, outcome: &'a Outcome) -> Self {
        Report {
            source: side(&preflight.source, &servers.source.issuer),
            target: side(&preflight.target, &servers.target.issuer),
            authorization_store_api: preflight.authz_api.map(|api| match api {
                crate::api::AuthzApi::V2 => "v2",
                crate::api::AuthzApi::V3 => "v3",
            }),
            jwk_sets_identical: preflight.keys_identical,
            clean: outcome.is_clean(),
            interrupted: outcome.interrupted,
            aborted: outcome.aborted.as_deref(),
            error: outcome.failure.as_ref(),
            phases: &outcome.phases,
            problems: &outcome.problems.listed,
            problems_total: outcome.problems.total,
            deletions: &outcome.deletions.listed,
            deletions_total: outcome.deletions.total,
            clients_with_registration_access_token: outcome
                .clients_with_registration_token
                .iter()
                .map(String::as_str)
                .collect(),
            clients_with_registration_access_token_total: outcome
                .clients_with_registration_token_total,
            listed_at_most: MAX_LISTED,
            notes: &preflight.notes,
            verify: outcome.verify.as_ref().map(verify_view),
            sync_pass: outcome.pass,
        }
    }
}

fn side(facts: &Option<ServerFacts>, issuer: &str) -> ServerSide {
    ServerSide {
        issuer: issuer.to_owned(),
        version: facts
            .as_ref()
            .and_then(|f| f.version.as_ref())
            .map(|(v, _)| v.to_string()),
    }
}

fn verify_view(verify: &VerifyReport) -> VerifyView<'_> {
    VerifyView {
        phases: &verify.phases,
        mismatches: &verify.mismatches.listed,
        mismatches_total: verify.mismatches.total,
        interrupted: verify.interrupted,
    }
}

/// Writes `report` to `path` whole or not at all (staged, then renamed).
pub fn write(path: &Path, report: &Report) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut staged = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut staged, report).map_err(io::Error::from)?;
    staged.write_all(b"\n")?;
    staged.as_file().sync_data()?;
    staged.persist(path).map_err(|error| error.error)?;
    Ok(())
}
