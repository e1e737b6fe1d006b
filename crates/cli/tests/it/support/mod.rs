//! What the test modules share.

pub mod emulator;
pub mod fake_auth0;
pub mod run;
