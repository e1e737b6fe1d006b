//! The lifecycle of a migration around the generated scripts: what to check
//! before deploying them, how far the migration is, and when to close it.
//!
//! - [`preflight`] runs, against the old tenant, exactly the calls the
//!   scripts make (with inputs that cannot log anyone in), and optionally
//!   checks the new tenant's connection and its deployed scripts.
//! - [`status`] counts the users of the source realm, those migrated (by
//!   the marker) per day and those left, from search totals or export
//!   jobs, and gives a verdict: keep the window open, close it and bulk
//!   import the rest, or done — only on the new tenant's proof (every user
//!   found there by id); [`chart`] draws it as a self-contained HTML page.
//!
//! - [`unmark`] clears the marker of users the old tenant has marked but the
//!   new tenant never stored (`bulk plan --exclude-export` lists them), so
//!   their next login migrates them.
//!
//! Auth0's answers are read by `trickle_core` (`classify_token_answer`,
//! `classify_management_answer`), the scripts' own reading. Secrets live in
//! [`Secret`] and never reach a report.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod chart;
mod drift;
mod jwt;
pub mod preflight;
mod realm;
mod secret;
pub mod status;
mod tenant;
pub mod unmark;

pub use drift::{compare_scripts, Drift};
pub use realm::{RealmCheck, RealmOutcome};
pub use secret::Secret;
pub use tenant::{Credentials, TenantError, WaitNotice};
