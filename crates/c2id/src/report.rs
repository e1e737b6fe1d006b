//! `report.json` in the journal folder: what the last run found and did,
//! for the operator and for scripts. It names records (client ids,
//! subjects, the start of SID keys) and never holds a secret, a token, a
//! SID or a record's content.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::migrate::{Outcome, PhaseSummary, Problem};
use crate::preflight::{PreflightReport, Servers};
use crate::verify::VerifyReport;

pub const REPORT_FILE: &str = "report.json";

#[derive(Debug, Serialize)]
pub struct ServerSide {
    pub issuer: String,
    pub version: Option<String>,
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
    pub phases: &'a [PhaseSummary],
    pub problems: &'a [Problem],
    pub problems_total: u64,
    /// Clients whose export held a registration access token: the target
    /// issued new ones, which software that manages its own registration
    /// (RFC 7592, e.g. after open registration) must be given.
    pub clients_with_registration_access_token: Vec<&'a str>,
    pub notes: &'a [String],
    pub verify: Option<&'a VerifyReport>,
}

impl<'a> Report<'a> {
    pub fn new(servers: &Servers, preflight: &'a PreflightReport, outcome: &'a Outcome) -> Self {
        let side = |facts: &Option<crate::preflight::ServerFacts>, issuer: &str| ServerSide {
            issuer: issuer.to_owned(),
            version: facts
                .as_ref()
                .and_then(|f| f.version.as_ref())
                .map(|(v, _)| v.to_string()),
        };
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
            phases: &outcome.phases,
            problems: &outcome.problems,
            problems_total: outcome.problems_total,
            clients_with_registration_access_token: outcome
                .clients_with_registration_token
                .iter()
                .map(String::as_str)
                .collect(),
            notes: &preflight.notes,
            verify: outcome.verify.as_ref(),
        }
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
