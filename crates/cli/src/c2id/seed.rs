//! `trickle c2id seed`: writes a generated seed for `trickle c2id sim`,
//! streamed to disk (100k clients and a million sessions never sit in
//! memory), atomically (a temporary file renamed into place).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use trickle_c2id_sim::Generate;
use trickle_transfer::{Display, PhaseProgress, Unit};

use crate::EXIT_BAD_INPUT;

/// Generate a seed for `trickle c2id sim` with N deterministic clients,
/// authorisations (two per subject, to different clients) and sessions,
/// using the example JWK set and tokens (public test material) unless
/// --jwks-from names a seed or JWK set file. The same --random-seed gives
/// the same file.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 0, value_name = "N")]
    clients: usize,
    #[arg(long, default_value_t = 0, value_name = "N")]
    authorizations: usize,
    #[arg(long, default_value_t = 0, value_name = "N")]
    sessions: usize,
    /// The emulated server version (v3 of the authorisation store from 10.0).
    #[arg(long, default_value = "12.3")]
    version: String,
    /// The issuer's context path, e.g. /c2id (default: none).
    #[arg(long, default_value = "", value_name = "PATH")]
    context_path: String,
    /// Take the JWK set from this file: a seed (its "jwks") or a JWK set.
    #[arg(long, value_name = "FILE")]
    jwks_from: Option<PathBuf>,
    #[arg(long, default_value_t = 1, value_name = "N")]
    random_seed: u64,
    /// Where to write the seed (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

fn read_jwks(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| format!("{}: not JSON: {error}", path.display()))?;
    match value.get("jwks") {
        Some(jwks) => Ok(jwks.clone()),
        None if value.get("keys").is_some() => Ok(value),
        None => Err(format!(
            "{}: neither a seed with \"jwks\" nor a JWK set",
            path.display()
        )),
    }
}

pub fn run(args: Args) -> ExitCode {
    let bad_input = |message: String| {
        eprintln!("trickle c2id seed: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let jwks = match args.jwks_from.as_ref().map(read_jwks).transpose() {
        Ok(jwks) => jwks,
        Err(message) => return bad_input(message),
    };
    let spec = Generate {
        version: args.version.clone(),
        context_path: args.context_path.clone(),
        clients: args.clients,
        authorizations: args.authorizations,
        sessions: args.sessions,
        random_seed: args.random_seed,
        jwks,
    };
    let total = (args.clients + args.authorizations + args.sessions) as u64;
    let mut bar = PhaseProgress::start(
        Display::for_stderr(None),
        "seed",
        Unit::Items("records"),
        Some(total),
        0,
    );
    let dir = match args.out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staged = match tempfile::NamedTempFile::new_in(&dir) {
        Ok(file) => file,
        Err(error) => return bad_input(format!("cannot write in {}: {error}", dir.display())),
    };
    let written = spec.write(staged.as_file(), |written| bar.set_position(written));
    bar.finish();
    if let Err(error) = written {
        return bad_input(error.to_string());
    }
    if let Err(error) = staged.persist(&args.out) {
        return bad_input(format!("cannot write {}: {error}", args.out.display()));
    }
    eprintln!(
        "trickle c2id seed: wrote {} ({} clients, {} authorisations, {} sessions; version {})",
        args.out.display(),
        args.clients,
        args.authorizations,
        args.sessions,
        args.version
    );
    ExitCode::SUCCESS
}
