//! `trickle generate`: config in, deploy layout out, sizes printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use trickle_generator::{
    parse_config, render, write_layout, RenderError, Script, WasmBundle, SCRIPT_LIMIT_BYTES,
    SCRIPT_TARGET_BYTES,
};

use crate::EXIT_BAD_INPUT;

/// The WASM core built by scripts/build-wasm.sh, embedded by build.rs.
pub(crate) const WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trickle_wasm_bg.wasm"));
pub(crate) const GLUE: &str = include_str!(concat!(env!("OUT_DIR"), "/trickle_wasm.js"));

/// Generate the `login` and `get_user` custom-database scripts for a
/// connection in import mode, laid out for deploy-cli and the GitHub
/// Deployments extension: OUT/database-connections/<name>/.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML), e.g. examples/tenant-to-tenant.toml.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The folder to write database-connections/<name>/ into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write the end-state pair instead, for when the migration window is
    /// closed and the rest were imported in bulk: login answers "wrong email
    /// or password", get_user "no such user"; no WASM, no network, no
    /// settings; import mode stays on. Same as `[migration] decommission = true`.
    #[arg(long)]
    decommission: bool,
}

pub fn run(args: Args) -> ExitCode {
    let Args {
        config: config_path,
        out,
        decommission,
    } = args;
    let text = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("trickle: cannot read {}: {error}", config_path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut config = match parse_config(&text) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("trickle: {}: {error}", config_path.display());
            eprintln!("trickle: nothing was written");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    config.decommission |= decommission;
    let result = (|| -> anyhow::Result<()> {
        let bundle = WasmBundle::new(WASM, GLUE).context("the embedded WASM core is unusable")?;
        let scripts = match render(&config, &bundle) {
            Ok(scripts) => scripts,
            Err(error @ RenderError::TooLarge(_)) => anyhow::bail!("{error}\nnothing was written"),
            Err(error) => return Err(error.into()),
        };
        let dir = write_layout(&out, &config, &scripts)
            .with_context(|| format!("cannot write the scripts under {}", out.display()))?;
        if config.decommission {
            print_end_state_report(&dir, &scripts);
        } else {
            print_report(&dir, &bundle, &scripts);
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trickle: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_report(dir: &Path, bundle: &WasmBundle, scripts: &[Script]) {
    println!("wrote {}/", dir.display());
    println!(
        "  wasm core: {} bytes, {} brotli-compressed, {} as base64",
        bundle.wasm_bytes,
        bundle.compressed_bytes,
        bundle.payload_base64.len()
    );
    for script in scripts {
        let sizes = script.sizes;
        let target = if sizes.total <= SCRIPT_TARGET_BYTES {
            "within"
        } else {
            "OVER"
        };
        println!(
            "  {:<12} {:>6} bytes = wasm {:>6} + glue {:>5} + template {:>5}  ({target} the {SCRIPT_TARGET_BYTES}-byte target; Auth0 limit {SCRIPT_LIMIT_BYTES})",
            script.kind.file_name(),
            sizes.total,
            sizes.wasm,
            sizes.glue,
            sizes.template
        );
    }
    println!("  database.json (settings are ##KEYWORD## placeholders: fill them via deploy-cli or the dashboard)");
}

fn print_end_state_report(dir: &Path, scripts: &[Script]) {
    println!(
        "wrote {}/ (end state: the migration is over)",
        dir.display()
    );
    for script in scripts {
        println!(
            "  {:<12} {:>6} bytes (no WASM, no network, no settings)",
            script.kind.file_name(),
            script.sizes.total
        );
    }
    println!(
        "  database.json (import_mode on, no settings: the old tenant's client can be deleted)"
    );
}
