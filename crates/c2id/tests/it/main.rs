//! The Connect2id migration between two emulated servers and hostile ones:
//! one test binary, a module per area (the memory check, `memory.rs`,
//! measures this process's peak, so it keeps a binary of its own).

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod migrate;
mod sync;
mod trust;
mod waits;
