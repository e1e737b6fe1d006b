//! `trickle-c2id-sim`: an offline emulator of a Connect2id server, built
//! from Connect2id's documented behaviour, to rehearse and test a
//! server-to-server migration and its cut-over sync. It serves, on
//! loopback, the client registration endpoint (with `preferred_client_id` /
//! `preferred_client_secret`, RFC 7592 update and delete), the
//! authorisation store API (v3 from 10.0, v2 always, `import=true`,
//! revocation), the session store API v2 (`SID-Key`, SIDs HMAC'd with a
//! secret derived from the JWK set, update, logout by SID or subject,
//! `skip_last_used_update`), the public JWK set, the OpenID provider
//! metadata and a splash page with the version; each web API behind its own
//! bearer token. It is seeded from a JSON file read as a stream, lists big
//! answers as streams, can churn like a live server (seeded, at set rates
//! or in batches), and has the shared faults, rate limit, counters and
//! `/__sim/` control API (with the whole state). Its README is the
//! contract, deviations from the real server included.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod api;
mod authz;
mod changes;
mod churn;
mod clients;
mod control;
mod discovery;
mod generate;
mod keys;
mod paths;
mod pick;
mod seed;
mod server;
mod sessions;
mod state;
mod store;
mod stream;
mod sweep;
mod tokens;
mod version;

pub use churn::{ChurnBatch, ChurnDone, ChurnRates, ChurnStatus};
pub use generate::{
    random_api_tokens, Generate, AUTHZ_STORE_TOKEN, CLIENT_REGISTRATION_TOKEN, EXAMPLE_JWKS,
    SESSION_STORE_TOKEN,
};
pub use keys::{canonical, MAX_SID_KEY_LEN};
pub use seed::{Seed, SeedError};
pub use server::{C2idSim, Options, Snapshot, StartError};
pub use state::{Counters, Stats};
pub use trickle_emulator::Faults;
