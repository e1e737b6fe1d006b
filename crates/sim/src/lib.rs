//! `trickle-sim`: an offline emulator of the OLD Auth0 tenant that Trickle
//! migrates users from. It serves, on loopback, the documented subset of
//! Auth0's Authentication API (`/oauth/token`: password-realm and client
//! credentials, RS256 tokens, JWKS) and Management API (users by email, by
//! id, PATCH, a deliberately loose search, bulk import jobs, rate limits),
//! seeded from a JSON file, with injectable faults (latency, 503, dropped
//! connections, malformed and truncated answers) and a `/__sim/` control
//! API. It can also play the NEW tenant for the lifecycle checks: its
//! connections (with deployed scripts, `--deploy`), users-export jobs, and
//! search totals. It is a rehearsal and test double, not a security product: its
//! signing key is fixed and public.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod api_grants;
mod apis;
mod auth;
mod clock;
mod connections;
mod control;
mod custom_hash;
mod deploy;
mod exports;
mod import_schema;
mod jobs;
mod keys;
mod management;
mod model;
mod records;
mod reply;
mod search;
mod seed;
mod server;
mod state;
mod store;
mod text;
mod token;

pub use api_grants::{SeedApi, SeedClientGrant, DEFAULT_API_TOKEN_LIFETIME};
pub use deploy::DeployError;
pub use keys::KEY_ID;
pub use model::SeedClient;
pub use seed::{
    connection_id_for, Seed, SeedConnection, SeedError, SeedUser, BCRYPT_COSTS,
    DEFAULT_BCRYPT_COST, DEFAULT_BRUTE_FORCE_THRESHOLD, DEFAULT_CONNECTION, MAX_SEED_BYTES,
};
pub use server::{Options, Sim, StartError};
pub use state::{Counters, Stats};
pub use trickle_emulator::Faults;

/// The password-realm grant type (`grant_type` of the login script's token request).
pub const PASSWORD_REALM_GRANT: &str = store::PASSWORD_REALM_GRANT;
/// Largest users file an import job accepts (bytes); above it, 413.
pub const MAX_IMPORT_FILE_BYTES: usize = jobs::MAX_FILE_BYTES;
/// The most results a user search pages through.
pub const MAX_SEARCH_RESULTS: usize = management::MAX_SEARCH_RESULTS;
