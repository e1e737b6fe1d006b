//! `[source] kind = "api"` as a user runs the CLI with it: `generate` lays
//! out the scripts and the guard Action and prints every size and the
//! keywords to map; the commands that read an old Auth0 tenant refuse the
//! config rather than read nothing.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/legacy-api.toml"
);

fn trickle(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("trickle runs")
}

fn generate(config: &Path, out: &Path, format: &str) -> Output {
    let (config, out) = (config.to_str().unwrap(), out.to_str().unwrap());
    trickle(
        &[
            "generate", "--config", config, "--out", out, "--format", format,
        ],
        &[],
    )
}

#[test]
fn the_example_lays_out_both_scripts_and_the_guard_with_their_sizes() {
    let out = tempfile::tempdir().unwrap();
    let result = generate(Path::new(EXAMPLE), out.path(), "directory");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let report = String::from_utf8(result.stdout).unwrap();
    for line in [
        "login.js",
        "get_user.js",
        "actions/legacy-import-api-guard/code.js",
    ] {
        let found = report.lines().any(|l| {
            l.contains(line) && l.contains(" bytes = wasm ") && l.contains("32768-byte target")
        });
        assert!(found, "no size line for {line}:\n{report}");
    }
    assert!(report.contains("migration client"), "{report}");
    let dir = out.path().join("database-connections/legacy-import");
    let login = fs::read_to_string(dir.join("login.js")).unwrap();
    assert!(login.contains("'/users/verify'"));
    let guard = out.path().join("actions/legacy-import-api-guard/code.js");
    assert!(fs::read_to_string(guard)
        .unwrap()
        .contains("exports.onExecuteCredentialsExchange"));
    let triggers = fs::read_to_string(out.path().join("triggers/triggers.json")).unwrap();
    assert!(triggers.contains("\"credentials-exchange\""), "{triggers}");
}

#[test]
fn deployed_settings_print_the_new_tenant_s_keywords_and_yaml_has_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deploy.toml");
    let text = fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("settings = \"dashboard\"", "settings = \"deploy\"");
    fs::write(&config, text).unwrap();
    let out = dir.path().join("out");
    let result = generate(&config, &out, "yaml");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report = String::from_utf8(result.stdout).unwrap();
    assert!(
        report.contains(
            "TRICKLE_NEW_TENANT_DOMAIN, TRICKLE_MIGRATION_CLIENT_ID, TRICKLE_MIGRATION_CLIENT_SECRET"
        ),
        "{report}"
    );
    assert!(!report.contains("TRICKLE_OLD_TENANT"), "{report}");
    let yaml = fs::read_to_string(out.join("tenant.yaml")).unwrap();
    for expected in [
        "\"client_secret\": \"@@TRICKLE_MIGRATION_CLIENT_SECRET@@\"",
        "\"api_url\": \"https://legacy.example.com/auth0-migration\"",
        "\"id\": \"credentials-exchange\"",
        "\"credentials-exchange\":",
    ] {
        assert!(yaml.contains(expected), "{expected} missing:\n{yaml}");
    }
}

#[test]
fn a_bad_api_source_exits_2_naming_key_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let text = fs::read_to_string(EXAMPLE).unwrap().replace(
        "https://legacy.example.com/auth0-migration",
        "http://legacy.example.com/auth0-migration",
    );
    fs::write(&config, text).unwrap();
    let out = dir.path().join("out");
    let result = generate(&config, &out, "directory");
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("source.url") && stderr.contains("line 27"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn preflight_and_status_refuse_an_api_source_rather_than_read_an_auth0_tenant() {
    for command in ["preflight", "status"] {
        let result = trickle(
            &[
                command,
                "--config",
                EXAMPLE,
                "--domain",
                "https://old.example.com",
                "--client-id",
                "x",
            ],
            &[("TRICKLE_OLD_CLIENT_SECRET", "never-used-secret")],
        );
        assert_eq!(result.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(
            stderr.contains("kind = \"api\"") && stderr.contains("legacy-sim"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("never-used-secret"));
    }
}
