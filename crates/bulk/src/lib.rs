//! Bulk migration: for the users who never log in, and so are never
//! migrated by the lazy-migration scripts.
//!
//! - [`plan()`] turns the old tenant's export (`POST
//!   /api/v2/jobs/users-exports`, NDJSON or CSV, gzipped or not) into a
//!   folder of Auth0 import files: JSON arrays of at most 500,000 bytes,
//!   every user normalised by `trickle_core::import_profile` — the scripts'
//!   own `normalise`, so a user imported in bulk and one migrated at login
//!   get the same `user_id`, email and metadata. Users already migrated
//!   (the lazy-migration marker, or present in the new tenant's export),
//!   duplicates and unusable records are left out and reported by line;
//!   legacy password hashes can be joined in ([`hashes`]). A legacy
//!   store's export (the legacy API contract's users, with their hashes)
//!   is read too ([`legacy`], [`source`]).
//! - [`import`] submits a plan's files to the new tenant as import jobs
//!   (`POST /api/v2/jobs/users-imports`), at most two at a time, follows
//!   them to the end, records their errors, and resumes from a state file
//!   in the plan folder after a crash or an interruption.
//!
//! Memory stays flat in the size of the export: one record at a time (at
//! most 16 MiB of it, a CSV record at most 1,000 lines), plus an 8-byte hash
//! of each user id, email and username seen (for duplicates); the report
//! lists at most 1,000 left-out records per reason.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod hashes;
mod idset;
pub mod import;
pub mod input;
mod keys;
pub mod legacy;
pub mod plan;
pub mod record;
pub mod source;

pub use idset::IdSet;
pub use input::InputFormat;
pub use plan::{
    import_file_name, is_import_file_name, plan, FileReport, MarkedUser, Phase, PlanError,
    PlanOptions, PlanReport, Progress, IMPORT_FILE_LIMIT_BYTES, MARKED_FILE, REPORT_FILE,
    SKIPS_LISTED_PER_REASON,
};
pub use record::SkipReason;
pub use source::SourceKind;
