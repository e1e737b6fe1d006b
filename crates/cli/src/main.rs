//! `trickle`: the command line over the Trickle libraries. Parsing
//! arguments, reading files and printing reports live here, one module per
//! command; everything else is in the library crates.

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

#[derive(Parser)]
#[command(
    name = "trickle",
    version,
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

/// A reader that goes away (`trickle … | head`) ends trickle as it ends
/// Unix tools, by SIGPIPE, quietly: Rust ignores the signal, and then every
/// `println!` into the closed pipe panics. Sockets are unaffected (their
/// writes never raise it on Linux), and every long run resumes from its
/// journal, as after any kill.
#[cfg(unix)]
fn die_quietly_on_a_closed_pipe() {
    // SAFETY: restores the default disposition of one signal, before any
    // thread starts; nothing else in the process handles SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    #[cfg(unix)]
    die_quietly_on_a_closed_pipe();
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
