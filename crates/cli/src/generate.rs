//! `trickle generate`: config in, deploy layout out, sizes printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use trickle_generator::{
    dropped_bindings, parse_config, render, render_action, render_guard, setting_keywords,
    write_layout, Binding, BundleError, Bundles, Config, DeployFormat, RenderError, Script,
    SettingsMode, SourceKind, WasmBundles, Written, SCRIPT_LIMIT_BYTES, SCRIPT_TARGET_BYTES,
};

use crate::EXIT_BAD_INPUT;

// The WASM bundles built by scripts/build-wasm.sh, embedded by build.rs.
include!(concat!(env!("OUT_DIR"), "/bundles.rs"));

/// The embedded WASM bundles, one per source and script role.
pub(crate) fn embedded_bundles() -> Result<WasmBundles, BundleError> {
    WasmBundles::new(BUNDLES)
}

/// Generate the `login` and `get_user` custom-database scripts for a
/// connection in import mode (and the post-login Action, when configured;
/// with `[source] kind = "api"` the credentials-exchange Action guarding the
/// user store's API), laid out for deploy-cli and the GitHub Deployments
/// extension: OUT/database-connections/<name>/ (+ OUT/actions/,
/// OUT/triggers/), or with --format yaml OUT/tenant.yaml beside
/// OUT/databases/<name>/.
#[derive(clap::Args)]
pub struct Args {
    /// The Trickle config (TOML), e.g. examples/tenant-to-tenant.toml.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The folder to write the deploy layout into (a folder of Trickle's
    /// own: tenant.yaml and triggers/triggers.json are replaced whole).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// deploy-cli's directory format, or its YAML format.
    #[arg(long, value_enum, default_value_t = Format::Directory)]
    format: Format,
    /// Write the end-state pair instead, for when the migration window is
    /// closed and the rest were imported in bulk: login answers "wrong email
    /// or password", get_user "no such user"; no WASM, no network, no
    /// settings; import mode stays on. Same as `[migration] decommission = true`.
    #[arg(long)]
    decommission: bool,
    /// Replace an OUT/triggers/triggers.json that binds Actions this config
    /// does not list in action.post_login_flow (deploy-cli would unbind
    /// them at the next deploy); without it, generate refuses and writes
    /// nothing.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Directory,
    Yaml,
}

pub fn run(args: Args) -> ExitCode {
    let format = match args.format {
        Format::Directory => DeployFormat::Directory,
        Format::Yaml => DeployFormat::Yaml,
    };
    let mut config = match read_config(&args.config) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("trickle: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    config.decommission |= args.decommission;
    if format == DeployFormat::Directory {
        if let Err(message) = check_triggers(&args.out, &config, args.force) {
            eprintln!("trickle: {message}");
            eprintln!("trickle: nothing was written");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    match write(&config, &args.out, format) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trickle: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config, or what is wrong with it (nothing is written then).
fn read_config(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    parse_config(&text)
        .map_err(|error| format!("{}: {error}\ntrickle: nothing was written", path.display()))
}

/// An existing `triggers/triggers.json` that binds Actions this config's
/// would drop: refused without `force`, named with it.
fn check_triggers(out: &Path, config: &Config, force: bool) -> Result<(), String> {
    let file = out.join("triggers").join("triggers.json");
    let Ok(existing) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    let dropped = match dropped_bindings(&existing, config) {
        Ok(dropped) if dropped.is_empty() => return Ok(()),
        Ok(dropped) => dropped,
        Err(why) if force => {
            eprintln!("trickle: warning: replacing {} ({why}; --force)", file.display());
            return Ok(());
        }
        Err(why) => {
            return Err(format!(
                "{} is not a deploy-cli triggers.json ({why}): generate replaces it whole; move it away, or give --force",
                file.display()
            ))
        }
    };
    let named = describe_bindings(&dropped);
    if force {
        eprintln!(
            "trickle: warning: {} replaced (--force): the next deploy unbinds {named}",
            file.display()
        );
        return Ok(());
    }
    Err(format!(
        "{} binds {named}, which this config does not list: deploy-cli replaces each trigger's bindings with the file's, \
         so the next deploy would unbind them. List the post-login ones in action.post_login_flow (in order, this Action included) \
         and keep other triggers' bindings in a deploy repository of your own; or give --force to replace the file anyway",
        file.display()
    ))
}

/// `Add roles (post-login), Audit (credentials-exchange)`.
fn describe_bindings(bindings: &[Binding]) -> String {
    bindings
        .iter()
        .map(|(trigger, action)| format!("{action} ({trigger})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders and writes the layout, and reports it.
fn write(config: &Config, out: &Path, format: DeployFormat) -> anyhow::Result<()> {
    let bundles = embedded_bundles().context("the embedded WASM core is unusable")?;
    let rendered = render(config, &bundles).and_then(|scripts| {
        let actions = render_action(config, &bundles)?
            .into_iter()
            .chain(render_guard(config)?)
            .collect::<Vec<_>>();
        Ok((scripts, actions))
    });
    let (scripts, actions) = match rendered {
        Ok(rendered) => rendered,
        Err(error @ RenderError::TooLarge(_)) => anyhow::bail!("{error}\nnothing was written"),
        Err(error) => return Err(error.into()),
    };
    let written = write_layout(out, config, &scripts, &actions, format)
        .with_context(|| format!("cannot write the deploy layout under {}", out.display()))?;
    if config.decommission {
        print_end_state_report(&written, &scripts);
    } else {
        print_report(config, &written, &bundles, &scripts, &actions);
    }
    for warning in config.warnings() {
        eprintln!("trickle: warning: {warning}");
    }
    Ok(())
}

fn print_report(
    config: &Config,
    written: &Written,
    bundles: &WasmBundles,
    scripts: &[Script],
    actions: &[Script],
) {
    println!("wrote {}/", written.scripts_dir.display());
    print_bundles(bundles, scripts.iter().chain(actions));
    let action_names = written
        .action_code
        .iter()
        .map(|code| code.display().to_string());
    let names = scripts
        .iter()
        .map(|script| script.kind.file_name().to_owned())
        .chain(action_names);
    for (script, name) in scripts.iter().chain(actions).zip(names) {
        let sizes = script.sizes;
        let target = if sizes.total <= SCRIPT_TARGET_BYTES {
            "within"
        } else {
            "OVER"
        };
        println!(
            "  {name:<12} {:>6} bytes = wasm {:>6} + glue {:>5} + template {:>5}  ({target} the {SCRIPT_TARGET_BYTES}-byte target; Auth0 limit {SCRIPT_LIMIT_BYTES})",
            sizes.total,
            sizes.wasm,
            sizes.glue,
            sizes.template
        );
    }
    for file in &written.files {
        println!("  {}", file.display());
    }
    print_settings(config);
}

/// Each WASM bundle the scripts embed, once.
fn print_bundles<'a>(bundles: &WasmBundles, scripts: impl Iterator<Item = &'a Script>) {
    let mut roles = Vec::new();
    for role in scripts.filter_map(|script| script.bundle) {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    for role in roles {
        let bundle = bundles.for_role(role);
        println!(
            "  wasm core ({}): {} bytes, {} brotli-compressed, {} as base64",
            role.name(),
            bundle.wasm_bytes,
            bundle.compressed_bytes,
            bundle.payload_base64.len()
        );
    }
}

/// Where the settings live and, deployed, which keywords every deploy must map.
fn print_settings(config: &Config) {
    let keywords: Vec<&str> = setting_keywords(config)
        .into_iter()
        .map(|(_, keyword)| keyword)
        .collect();
    match config.settings {
        SettingsMode::Deploy => println!(
            "  settings = \"deploy\": the settings are @@KEYWORD@@ placeholders; every deploy must set AUTH0_KEYWORD_REPLACE_MAPPINGS \
             ({}), or it wipes them",
            keywords.join(", ")
        ),
        SettingsMode::Dashboard => println!(
            "  settings = \"dashboard\": no settings in the layout; set them in the dashboard{} (a deploy never touches them)",
            if !written_actions(config) {
                ""
            } else {
                ", and the Actions' secrets"
            }
        ),
    }
    if config.source_kind() == SourceKind::Api {
        println!(
            "  the settings are this tenant's domain and its migration client (client_id, client_secret); \
             the guard Action's secret client_id must name that same client"
        );
    }
}

fn written_actions(config: &Config) -> bool {
    config.action.is_some() || config.api.is_some()
}

fn print_end_state_report(written: &Written, scripts: &[Script]) {
    println!(
        "wrote {}/ (end state: the migration is over)",
        written.scripts_dir.display()
    );
    for script in scripts {
        println!(
            "  {:<12} {:>6} bytes (no WASM, no network, no settings)",
            script.kind.file_name(),
            script.sizes.total
        );
    }
    println!("  import_mode on, no settings: the old tenant's client can be deleted");
    for file in &written.files {
        println!("  {}", file.display());
    }
}
