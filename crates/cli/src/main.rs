//! `trickle`: the command line over the Trickle libraries. Parsing
//! arguments, reading files and printing reports live here, one module per
//! command; everything else is in the library crates.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod broken_pipe;
mod bulk;
mod c2id;
mod generate;
mod legacy_sim;
mod preflight;
mod secrets;
mod serve;
mod sim;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for input that cannot be used (bad config or data), as for bad arguments.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

/// `trickle --version`: the version and the embedded WASM bundles' hashes
/// (the first 12 hex digits of each file's SHA-256, from build.rs), so a
/// binary names the core its scripts carry.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("TRICKLE_BUNDLE_HASHES"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "trickle",
    version = VERSION,
    about = "Moves an identity server's data without its users noticing: users between Auth0 tenants (lazy migration, then bulk), Connect2id server data between servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Preflight(preflight::Args),
    Generate(generate::Args),
    Status(status::Args),
    Bulk(bulk::Args),
    Sim(sim::Args),
    LegacySim(legacy_sim::Args),
    C2id(c2id::Args),
}

fn main() -> ExitCode {
    broken_pipe::end_quietly_when_the_reader_leaves();
    match Cli::parse().command {
        Command::Preflight(args) => preflight::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Status(args) => status::run(args),
        Command::Bulk(args) => bulk::run(args),
        Command::Sim(args) => sim::run(args),
        Command::LegacySim(args) => legacy_sim::run(args),
        Command::C2id(args) => c2id::run(args),
    }
}
