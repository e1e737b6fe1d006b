//! `trickle --version` names the WASM bundles the binary embeds: the hashes
//! on its version line are those of the committed files in each folder of
//! `crates/cli/wasm/` (or of `TRICKLE_WASM_DIR`'s, when the build embedded
//! another folder).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The first 12 hex digits of a file's SHA-256, as `sha256sum` prints them.
fn short_sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    hex[..12].to_owned()
}

#[test]
fn version_names_the_embedded_bundles_by_the_committed_files_hashes() {
    let bundles = option_env!("TRICKLE_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("wasm"));
    let output = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .arg("--version")
        .output()
        .expect("trickle runs");
    assert!(output.status.success(), "{output:?}");
    let mut names: Vec<String> = std::fs::read_dir(&bundles)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    names.sort();
    // Every role the generator picks from, each named once.
    assert_eq!(names, ["api", "auth0", "auth0-action"]);
    let hashes: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "{name}: wasm sha256:{}, glue sha256:{}",
                short_sha256(&bundles.join(name).join("trickle_wasm_bg.wasm")),
                short_sha256(&bundles.join(name).join("trickle_wasm.js")),
            )
        })
        .collect();
    let expected = format!(
        "trickle {} ({})\n",
        env!("CARGO_PKG_VERSION"),
        hashes.join("; ")
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}
