//! The legacy user-store emulator over HTTP, held to its OpenAPI contract:
//! one test binary, a module per area.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod common;

mod api;
mod openapi;
mod tokens;
