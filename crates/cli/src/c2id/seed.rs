//! `trickle c2id seed`: writes a generated seed for `trickle c2id sim`,
//! streamed to disk (100k clients and a million sessions never sit in
//! memory), atomically (a temporary file renamed into place).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;
use trickle_c2id_sim::{random_api_tokens, Generate};
use trickle_transfer::{Display, PhaseProgress, Unit};

use crate::EXIT_BAD_INPUT;

/// Generate a seed for `trickle c2id sim` with N deterministic clients,
/// authorisations (two per subject, to different clients) and sessions,
/// using the example JWK set unless --jwks-from names a seed or JWK set
/// file. The same options and --random-seed give the same file.
///
/// Web API tokens: by default the seed carries the EXAMPLE tokens, the
/// same in every seed made without --tokens or --tokens-from (so a source
/// and a target made that way accept each other's tokens). For a target
/// with tokens of its own, pass --tokens random (written into the seed's
/// api_tokens; read them from there) or --tokens-from a seed.
#[derive(clap::Args)]
pub struct Args {
    /// How many clients (client-000000, …), each with a secret, a
    /// registration access token and a redirect URI.
    #[arg(long, default_value_t = 0, value_name = "N")]
    clients: usize,
    /// How many long-lived authorisations: two per subject (user-0000000,
    /// …), to two different clients, each with a refresh token. Needs at
    /// least one client.
    #[arg(long, default_value_t = 0, value_name = "N")]
    authorizations: usize,
    /// How many sessions (about 330 bytes of JSON each), one per subject,
    /// keyed by SIDs made with the seed's JWK set.
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
    /// The web API tokens: "example" (the public example tokens, the same
    /// in every seed made so) or "random" (new ones from --random-seed,
    /// written in the seed's api_tokens).
    #[arg(long, value_enum, default_value_t = Tokens::Example, conflicts_with = "tokens_from")]
    tokens: Tokens,
    /// Take the web API tokens from this seed file (its "api_tokens").
    #[arg(long, value_name = "FILE")]
    tokens_from: Option<PathBuf>,
    /// The random seed the records (and --tokens random) are made from:
    /// the same number gives the same file.
    #[arg(long, default_value_t = 1, value_name = "N")]
    random_seed: u64,
    /// Where to write the seed (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Where a generated seed's web API tokens come from.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Tokens {
    Example,
    Random,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: not JSON: {error}", path.display()))
}

fn read_jwks(path: &Path) -> Result<Value, String> {
    let value = read_json(path)?;
    match value.get("jwks") {
        Some(jwks) => Ok(jwks.clone()),
        None if value.get("keys").is_some() => Ok(value),
        None => Err(format!(
            "{}: neither a seed with \"jwks\" nor a JWK set",
            path.display()
        )),
    }
}

fn read_tokens(path: &Path) -> Result<Value, String> {
    match read_json(path)?.get("api_tokens") {
        Some(tokens) => Ok(tokens.clone()),
        None => Err(format!("{}: a seed without \"api_tokens\"", path.display())),
    }
}

/// The tokens to write, and how to describe them (never by value).
fn tokens(args: &Args) -> Result<(Option<Value>, String), String> {
    Ok(match (&args.tokens_from, args.tokens) {
        (Some(path), _) => (
            Some(read_tokens(path)?),
            format!("the web API tokens of {}", path.display()),
        ),
        (None, Tokens::Random) => (
            Some(random_api_tokens(args.random_seed)),
            "web API tokens of its own (in its api_tokens)".to_owned(),
        ),
        (None, Tokens::Example) => (
            None,
            "the EXAMPLE web API tokens (public, the same in every seed made without --tokens \
             random or --tokens-from)"
                .to_owned(),
        ),
    })
}

fn spec(args: &Args) -> Result<(Generate, String), String> {
    let jwks = args.jwks_from.as_deref().map(read_jwks).transpose()?;
    let (api_tokens, described) = tokens(args)?;
    let spec = Generate {
        version: args.version.clone(),
        context_path: args.context_path.clone(),
        clients: args.clients,
        authorizations: args.authorizations,
        sessions: args.sessions,
        random_seed: args.random_seed,
        jwks,
        api_tokens,
    };
    Ok((spec, described))
}

pub fn run(args: Args) -> ExitCode {
    let bad_input = |message: String| {
        eprintln!("trickle c2id seed: {message}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let (spec, tokens) = match spec(&args) {
        Ok(spec) => spec,
        Err(message) => return bad_input(message),
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
        "trickle c2id seed: wrote {} ({} clients, {} authorisations, {} sessions; version {}; {tokens})",
        args.out.display(),
        args.clients,
        args.authorizations,
        args.sessions,
        args.version
    );
    ExitCode::SUCCESS
}
