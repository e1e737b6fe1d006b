//! The migration logic of Trickle, pure: what the generated Auth0 scripts
//! compute (through the WASM façade) and what the CLI computes natively for
//! bulk import, from the old tenant's answers.
//!
//! No IO, no clock, no wasm, no HTTP: callers bring the data in and act on
//! the answers. Everything that reaches the WASM stays free of float
//! formatting and panics; errors carry static messages. `no_std` (alloc
//! only) so the WASM needs none of std's panic and formatting machinery.

#![cfg_attr(not(test), no_std)]
// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

extern crate alloc;

mod domain;
mod email;
mod import;
mod legacy;
mod lowercase;
mod management;
mod marker;
mod metadata;
mod policy;
mod profile;
mod token;
mod user;

pub use domain::{api_base_url, base_url, DomainError};
pub use email::{email_key, select_by_email, select_by_name, select_by_username, NameKind};
pub use import::{
    import_policy, import_profile, is_reserved_app_metadata_key, is_valid_metadata_key,
    IMPORT_FIELDS, IMPORT_FIELD_MFA_FACTORS, RESERVED_APP_METADATA_KEYS,
};
pub use legacy::{
    check_legacy_marker, classify_legacy_answer, classify_legacy_marker_write, decide_legacy,
    decide_legacy_by_email, LegacyOutcome, LegacyUser,
};
pub use lowercase::to_lowercase;
pub use management::{classify_management_answer, ManagementOutcome};
pub use marker::{
    check_marker, classify_marker_write, marker_clear, marker_patch, migrated_at, MarkerCheck,
    MarkerClear, MarkerPatch, MarkerWrite, MARKER_KEY,
};
pub use metadata::{is_own_key, Metadata, OWN_KEYS};
pub use policy::{AppMetadataKey, Field, FieldSet, Policy};
pub use profile::{
    decide, decide_by_email, decide_by_name, normalise, raw_user_id, Profile, ProfileValue,
    UserError, Verdict,
};
pub use token::{classify_token_answer, parse_ratelimit_reset, TokenBody, TokenOutcome};
pub use user::{Identity, IdentityUserId, SourceUser};

/// The prefix Auth0 puts before the id a custom database returns.
pub const AUTH0_PREFIX: &str = "auth0|";
