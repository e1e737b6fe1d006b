//! Every script `trickle generate` writes stays within the 32,768-byte
//! target (issue 19): each example config as it is, and each Auth0 one with
//! every option that adds code turned on (the post-login Action, login by
//! username under MFA, a custom domain), with the WASM bundles the binary
//! really embeds.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET_BYTES: u64 = 32_768;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `text` with each `(line, replacement)` swapped; each line must be there.
fn with_lines(text: &str, swaps: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (line, replacement) in swaps {
        assert!(
            text.lines().any(|l| l == *line),
            "the example no longer has {line:?}"
        );
        text = text.replace(line, replacement);
    }
    text
}

/// The configs to generate: every example, and the Auth0 ones at their largest.
fn configs() -> Vec<(String, String)> {
    let mut configs = Vec::new();
    let mut paths: Vec<PathBuf> = fs::read_dir(examples())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&path).unwrap();
        if !text.lines().any(|line| line == "kind = \"api\"") {
            let largest = [
                ("mfa = \"reject\"", "mfa = \"allow\""),
                ("custom_domain = false", "custom_domain = true"),
            ];
            let login_marks = with_lines(&text, &largest);
            let action_marks = with_lines(
                &login_marks,
                &[("mark_migrated = true", "mark_migrated = \"action\"")],
            );
            configs.push((format!("{name}, largest login"), login_marks));
            configs.push((format!("{name}, with the Action marking"), action_marks));
        }
        configs.push((name, text));
    }
    configs
}

fn scripts_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scripts_under(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "js") {
            found.push(path);
        }
    }
}

#[test]
fn every_generated_script_is_within_the_32_kb_target() {
    let mut seen = Vec::new();
    let mut over = Vec::new();
    for (name, config) in configs() {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.toml");
        fs::write(&config_path, &config).unwrap();
        let out = dir.path().join("out");
        let result = Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args(["generate", "--config"])
            .arg(&config_path)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("trickle runs");
        assert!(
            result.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let mut scripts = Vec::new();
        scripts_under(&out, &mut scripts);
        for script in scripts {
            let bytes = fs::metadata(&script).unwrap().len();
            let file = script.strip_prefix(&out).unwrap().display().to_string();
            if bytes > TARGET_BYTES {
                over.push(format!("{name}: {file} {bytes} bytes"));
            }
            seen.push(file);
        }
    }
    assert!(
        over.is_empty(),
        "over {TARGET_BYTES} bytes:\n{}",
        over.join("\n")
    );
    // Both sources' scripts, the post-login Action and the guard were measured.
    for expected in [
        "database-connections/old-tenant-import/login.js",
        "database-connections/old-tenant-import/get_user.js",
        "actions/old-tenant-import-migration/code.js",
        "database-connections/legacy-import/login.js",
        "database-connections/legacy-import/get_user.js",
        "actions/legacy-import-api-guard/code.js",
    ] {
        assert!(
            seen.iter().any(|file| file == expected),
            "{expected} not generated: {seen:?}"
        );
    }
}
