//! The emulated Connect2id server over HTTP: one test binary, a module per
//! API (the load check, `load.rs`, measures this process's peak memory, so
//! it keeps a binary of its own).

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod authz;
mod churn;
mod churn_listings;
mod clients;
mod control;
mod sessions;
mod sync_api;
mod tls;
