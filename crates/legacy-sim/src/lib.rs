//! `trickle-legacy-sim`: an offline emulator of a team's legacy user store
//! behind the small API Trickle's contract defines
//! (`docs/legacy-api.openapi.yaml`): verify a password, look a user up by
//! email or id, mark and unmark migrated. Passwords are stored as legacy
//! stores store them (bcrypt, argon2, PBKDF2, salted MD5/SHA-1/SHA-256/
//! SHA-512); every request must carry a client-credentials token of the NEW
//! Auth0 tenant (RS256 against its JWKS, issuer, audience, expiry,
//! `@clients` subject). Faults, rate limit, counters and the `/__sim/`
//! control API come from `trickle-emulator`. It knows nothing of Trickle's
//! core: it is the independent party the generated scripts are tested
//! against. Its README is the contract, guesses included.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod api;
mod auth;
mod control;
mod hashes;
mod reply;
mod seed;
mod server;
mod state;
mod store;

pub use hashes::{HashSpec, StoredHash, ALGORITHMS};
pub use seed::{Seed, SeedError, SeedUser, DEFAULT_BCRYPT_COST, MAX_SEED_BYTES};
pub use server::{LegacySim, Options, StartError, ROUTES};
pub use state::{Counters, Stats};
pub use store::{Store, User};
pub use trickle_emulator::Faults;
