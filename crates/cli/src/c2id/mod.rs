//! `trickle c2id …`: Connect2id server to server. One module per
//! subcommand; to add one (e.g. `migrate`), add its module, a variant to
//! [`Command`] and its arm in [`run`].

mod migrate;
mod seed;
mod sim;

use std::process::ExitCode;

/// Connect2id server to server: migrate one to another (`migrate`), run
/// an emulated server (`sim`), make seeds for it (`seed`).
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Migrate(migrate::Args),
    Sim(sim::Args),
    Seed(seed::Args),
}

pub fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Migrate(args) => migrate::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Seed(args) => seed::run(args),
    }
}
