//! `bulk plan` and `bulk import` against files and a stand-in tenant: one
//! test binary, a module per area.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod support;

mod import;
mod import_token;
mod plan;
