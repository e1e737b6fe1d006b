//! The `trickle` binary as a user runs it, against the emulators and
//! small fakes of documented endpoints: one test binary, a module per area
//! (one binary links once; forty took minutes to link in a cold build).

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod support;

mod api_source;
mod bulk;
mod c2id;
mod c2id_migrate;
mod c2id_sim_cli;
mod c2id_sync;
mod generate;
mod generate_triggers;
mod hostile_export;
mod legacy_roundtrip;
mod lifecycle;
mod pipes;
mod preflight_action;
mod preflight_faults;
mod redirects;
mod script_size;
mod secrets;
mod sim_seed;
mod sim_tls;
mod status_verdicts;
mod unmark_token;
mod version;
