//! `trickle-transfer`: what Trickle's long-running transfers share
//! (`trickle bulk import`, `trickle c2id migrate`), so that each keeps only
//! its own logic.
//!
//! - [`journal`]: an append-only journal of JSON lines, generic over its
//!   entry type, fsynced on demand, replayed as a stream, tolerant of a
//!   torn last line, locked against a second run.
//! - [`retry`]: which failures are worth another try and how long to wait
//!   (`Retry-After` as seconds or a date, Auth0's `x-ratelimit-reset`,
//!   exponential back-off with jitter, a cap on every wait).
//! - [`submit`]: bounded concurrent submission of a stream of items, with
//!   a stop flag honoured between items.
//! - [`progress`]: a bar per phase on a terminal (rate, ETA), plain lines
//!   or nothing elsewhere.
//! - [`transport`]: a failed request in a few words.
//! - [`http`]: the one constructor of every HTTP client (no redirects,
//!   deadlines, user agent).
//! - [`mask`]: a secret masked in text a server sent back, in every form
//!   an echo may take (as sent, URL-encoded, JSON-escaped, base64).
//!
//! It knows nothing of Auth0 or Connect2id beyond header names.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod http;
pub mod journal;
pub mod mask;
pub mod progress;
pub mod retry;
pub mod submit;
pub mod transport;

pub use http::{client as http_client, ClientOptions};
pub use journal::{Journal, JournalError};
pub use mask::{mask_secret, SecretForms};
pub use progress::{thousands, Display, PhaseProgress, Unit};
pub use retry::{is_retryable_status, server_wait, RetryPolicy};
pub use submit::{submit_bounded, Submitted};
pub use transport::describe_transport_error;
