//! `trickle-emulator`: what Trickle's emulated servers (`trickle-sim` for
//! Auth0, `trickle-c2id-sim` for Connect2id) share, and nothing of either
//! product: the hyper serve loop on a loopback listener with a deep backlog
//! (so a fault can drop a connection without any answer), HTTPS with a
//! local certificate authority ([`Tls`]), the base URLs clients reach an
//! emulator at ([`Origins`]: scheme, `Host`, `--public-url`), fault injection
//! ([`Faults`]: latency, 503, dropped connections, malformed and truncated
//! bodies, limited by `only`), the fixed-window rate limiter, request
//! counting and logging hooks ([`Emulator`]), the JSON reply helper, and the
//! generic part of the `/__sim/` control API (stats, stats reset, faults,
//! rate limit). Each emulator supplies its own error bodies, counters and
//! routes.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod control;
mod controls;
mod faults;
mod origins;
mod rate;
mod reply;
mod serve;
mod tls;

pub use control::control_routes;
pub use controls::{lock, rate_limit, retry_after, Controls};
pub use faults::Faults;
pub use origins::{parse_public_url, Origins};
pub use rate::{unix_seconds, RateLimiter, RateVerdict};
pub use reply::json;
pub use serve::{listen, Emulator, Serving, CONTROL_PREFIX};
pub use tls::{Tls, TlsError, TlsOptions, CA_CERT_FILE, CA_KEY_FILE};
