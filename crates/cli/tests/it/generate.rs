//! `trickle generate` as a user runs it: exit codes, messages, files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/tenant-to-tenant.toml"
);

fn trickle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .output()
        .expect("trickle runs")
}

fn generate(config: &Path, out: &Path) -> Output {
    trickle(&[
        "generate",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn the_example_generates_the_deploy_layout_and_reports_sizes() {
    let out = tempfile::tempdir().unwrap();
    let result = generate(Path::new(EXAMPLE), out.path());
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let dir = out.path().join("database-connections/old-tenant-import");
    for file in ["login.js", "get_user.js", "database.json"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let report = String::from_utf8(result.stdout).unwrap();
    for part in ["login.js", "get_user.js", "wasm", "glue", "template"] {
        assert!(
            report.contains(part),
            "{part} missing from the report:\n{report}"
        );
    }
}

#[test]
fn the_same_config_gives_the_same_bytes() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    assert!(generate(Path::new(EXAMPLE), first.path()).status.success());
    assert!(generate(Path::new(EXAMPLE), second.path()).status.success());
    for file in ["login.js", "get_user.js", "database.json"] {
        let path = |root: &Path| {
            root.join("database-connections/old-tenant-import")
                .join(file)
        };
        assert_eq!(
            fs::read(path(first.path())).unwrap(),
            fs::read(path(second.path())).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn a_bad_config_exits_2_naming_key_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    fs::write(&config, "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n[http]\ntimeout_ms = 99999\n").unwrap();
    let out = dir.path().join("out");
    let result = generate(&config, &out);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(
        stderr.contains("http.timeout_ms") && stderr.contains("line 6"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!out.exists(), "the output folder must not be created");
}

#[test]
fn an_unknown_key_exits_2_and_leaves_an_earlier_tree_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert!(generate(Path::new(EXAMPLE), &out).status.success());
    let login = out.join("database-connections/old-tenant-import/login.js");
    let before = fs::read(&login).unwrap();

    let config = dir.path().join("typo.toml");
    let text = fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("skip_marked", "skip_marks");
    fs::write(&config, text).unwrap();
    let result = generate(&config, &out);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(
        stderr.contains("skip_marks") && stderr.contains("line "),
        "{stderr}"
    );
    assert_eq!(fs::read(&login).unwrap(), before);
}

#[test]
fn a_missing_config_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let result = generate(&dir.path().join("nope.toml"), &dir.path().join("out"));
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("nope.toml"));
}

#[test]
fn help_describes_the_command() {
    let result = trickle(&["generate", "--help"]);
    assert!(result.status.success());
    let help = String::from_utf8(result.stdout).unwrap();
    assert!(
        help.contains("--config")
            && help.contains("--out")
            && help.contains("database-connections"),
        "{help}"
    );
}

#[test]
fn an_action_config_lays_out_the_action_and_yaml_is_offered_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("action.toml");
    fs::write(
        &config,
        "[connection]\nname = \"old-tenant-import\"\nenabled_clients = [\"My App\"]\n\
         [source]\nrealm = \"Username-Password-Authentication\"\n[migration]\nmark_migrated = \"action\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let result = generate(&config, &out);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report = String::from_utf8(result.stdout).unwrap();
    assert!(report.contains("code.js"), "{report}");
    assert!(report.contains("settings = \"dashboard\""), "{report}");
    assert!(
        String::from_utf8(result.stderr).unwrap().is_empty(),
        "no warning"
    );
    for file in [
        "database-connections/old-tenant-import/database.json",
        "actions/old-tenant-import-migration.json",
        "actions/old-tenant-import-migration/code.js",
        "triggers/triggers.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }

    let yaml_out = dir.path().join("yaml");
    let result = trickle(&[
        "generate",
        "--config",
        config.to_str().unwrap(),
        "--out",
        yaml_out.to_str().unwrap(),
        "--format",
        "yaml",
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for file in [
        "tenant.yaml",
        "databases/old-tenant-import/login.js",
        "actions/old-tenant-import-migration/code.js",
    ] {
        assert!(yaml_out.join(file).is_file(), "{file} missing");
    }
    assert_eq!(
        fs::read(out.join("actions/old-tenant-import-migration/code.js")).unwrap(),
        fs::read(yaml_out.join("actions/old-tenant-import-migration/code.js")).unwrap()
    );
}

#[test]
fn a_connection_enabled_for_no_application_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("plain.toml");
    fs::write(
        &config,
        "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n",
    )
    .unwrap();
    let result = generate(&config, &dir.path().join("out"));
    assert!(result.status.success());
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(
        stderr.contains("warning") && stderr.contains("enabled_clients"),
        "{stderr}"
    );
}
