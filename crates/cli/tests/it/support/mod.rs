//! What the test modules share.

pub mod fake_auth0;
pub mod run;
