//! Preflight: the calls the generated scripts make, run against the old
//! tenant with inputs that cannot log anyone in (a random address under
//! `.invalid`, a random password), each answer read by the core as the
//! scripts read it, token requests sent where the scripts send them (the
//! custom domain, when there is one), and one check per thing that can be
//! wrong, with the dashboard setting that fixes it. Optionally, the new
//! tenant: its connection, the scripts deployed there, and the post-login
//! Action.
//!
//! Phases live in their own modules (`old_tenant`, `new_tenant`, `action`),
//! each a table of small checks; what they share is in `model`, which uses
//! none of them.

mod action;
mod model;
mod new_tenant;
mod old_tenant;

pub use model::{Check, ExpectedAction, NewTenant, Outcome, RateLimit, Report, Request};

/// Runs every check. Never fails: a tenant that cannot answer is a failed check.
pub async fn run(request: Request<'_>) -> Report {
    let old = old_tenant::check(&request).await;
    let mut checks = old.checks;
    if let Some(new) = &request.new {
        checks.extend(new_tenant::check(new, &request).await);
    }
    Report {
        checks,
        rate_limit: old.rate_limit,
        round_trips_ms: old.round_trips,
    }
}
