//! What the test modules share.

pub mod fake_tenant;
