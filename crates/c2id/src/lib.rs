//! `trickle-c2id`: migrating a Connect2id server to another through their
//! web APIs, as Connect2id's data migration guide describes, in one
//! resumable run: client registrations (posted with
//! `preferred_client_id` / `preferred_client_secret`), long-lived
//! authorisations (`import=true`), then subject sessions (`SID-Key`, the
//! SID checked to come back the same).
//!
//! - [`preflight()`]: both servers reachable, every token accepted, the
//!   versions fit (target ≥ source, ≥ 6.6), identical public JWK sets;
//!   what was found is reported before anything is written.
//! - [`migrate()`]: the phases, each listing read as a stream, posts with
//!   bounded concurrency, retries honouring `Retry-After`, a fsynced
//!   journal of the keys done ([`journal`]), conflicts reported instead of
//!   overwritten, a dry run that writes nothing, `--verify`, and
//!   `report.json` ([`report`]).
//!
//! It knows nothing of Auth0. No secret, token, SID or record content
//! reaches a message, the journal or the report.

pub mod api;
pub mod journal;
pub mod listing;
pub mod migrate;
pub mod preflight;
pub mod record;
pub mod report;
pub mod verify;
pub mod version;

pub use api::{ApiTokens, AuthzApi, HttpOptions, Server, ServerError};
pub use migrate::{
    migrate, Event, MigrateError, MigrateOptions, Outcome, PhaseSummary, Problem, ProblemKind,
};
pub use preflight::{preflight, Endpoint, PreflightReport, ServerFacts, Servers, VersionFrom};
pub use record::Phase;
pub use verify::{Mismatch, VerifyPhase, VerifyReport};
pub use version::Version;
