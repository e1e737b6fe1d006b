//! `trickle sim`, the emulated old tenant, over HTTP: one test binary, a
//! module per API area.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod common;

mod apis;
mod auth;
mod custom_hash;
mod faults;
mod jobs;
mod lifecycle;
mod management;
mod shapes;
mod tls;
