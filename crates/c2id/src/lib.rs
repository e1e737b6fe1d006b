//! `trickle-c2id`: migrating a Connect2id server to another through their
//! web APIs, as Connect2id's data migration guide describes, in one
//! resumable run: client registrations (posted with
//! `preferred_client_id` / `preferred_client_secret`), long-lived
//! authorisations (`import=true`), then subject sessions (`SID-Key`, the
//! SID checked to come back the same).
//!
//! - [`preflight()`]: the URLs and tokens usable, both servers reachable,
//!   every endpoint they advertise on the origin given, every token
//!   accepted, the versions fit (target ≥ source, ≥ 6.6), identical public
//!   JWK sets, not one server under two names; what was found, and every
//!   endpoint a token will go to, reported before anything is written.
//! - [`migrate()`]: the phases, each listing read as a stream, posts with
//!   bounded concurrency, retries within a wait budget, a record counted
//!   only once the target is seen to hold it, a fsynced journal of the
//!   keys done ([`journal`]), conflicts reported instead of overwritten,
//!   deletions only of what the run itself made, a dry run that writes
//!   nothing, `--verify`, and `report.json` ([`report`]).
//! - The cut-over sync ([`MigrateOptions::sync`], [`watch()`]): passes
//!   that make the target equal to the source, content deciding what
//!   differs, deleting only what this migration put there and only after
//!   a whole source listing, at most a set share of a kind per pass.
//!
//! Memory is bounded by a constant, not by the data ([`digests`],
//! [`listing`]). It knows nothing of Auth0. No secret, token, SID or
//! record content reaches a message, the journal or the report
//! ([`scrub`], [`masking`]).

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod api;
pub mod compact;
pub mod digests;
pub mod journal;
pub mod listing;
pub mod masking;
pub mod migrate;
pub mod model;
pub mod origin;
pub mod phase;
pub mod preflight;
pub mod record;
pub mod report;
pub mod scrub;
pub mod verify;
pub mod version;
pub mod watch;

pub use api::{ApiTokens, AuthzApi, HttpOptions, Server, ServerError, WaitNotice};
pub use migrate::{migrate, DEFAULT_MEMORY_BOUND};
pub use model::{
    Deletion, Event, Failure, Listed, MigrateError, MigrateOptions, Mismatch, Outcome,
    PhaseSummary, Problem, ProblemKind, SyncPass, SyncRules, VerifyPhase, VerifyReport,
    DEFAULT_MAX_DELETE_RATIO,
};
pub use preflight::{
    preflight, Endpoint, EndpointUse, PreflightReport, ServerFacts, Servers, VersionFrom,
};
pub use record::Phase;
pub use version::Version;
pub use watch::watch;
