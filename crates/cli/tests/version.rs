//! `trickle --version` names the WASM bundle the binary embeds: the hashes on
//! its version line are those of the committed files in `crates/cli/wasm/`
//! (or of `TRICKLE_WASM_DIR`'s, when the build embedded another folder).

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
fn version_names_the_embedded_bundle_by_the_committed_files_hashes() {
    let bundle = option_env!("TRICKLE_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("wasm"));
    let output = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .arg("--version")
        .output()
        .expect("trickle runs");
    assert!(output.status.success(), "{output:?}");
    let expected = format!(
        "trickle {} (wasm sha256:{}, glue sha256:{})\n",
        env!("CARGO_PKG_VERSION"),
        short_sha256(&bundle.join("trickle_wasm_bg.wasm")),
        short_sha256(&bundle.join("trickle_wasm.js")),
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}
