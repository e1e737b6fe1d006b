//! Embeds the WASM bundles the generated scripts carry, one per source and
//! script role: every folder of `crates/cli/wasm/` (made by
//! `scripts/build-wasm.sh --update`, checked against a fresh build by
//! `scripts/test.sh`), so `cargo install` needs no wasm32 target,
//! wasm-bindgen or Node. `TRICKLE_WASM_DIR` (an absolute path) embeds
//! another folder of bundles instead, e.g. `target/wasm-dist/bundles` while
//! developing. Writes `$OUT_DIR/bundles.rs` (each bundle's name, module and
//! glue) and hands `trickle --version` the bundles' hashes.
use std::path::{Path, PathBuf};
use std::{env, fs};

use sha2::{Digest, Sha256};

const MODULE: &str = "trickle_wasm_bg.wasm";
const GLUE: &str = "trickle_wasm.js";

fn main() {
    println!("cargo:rerun-if-env-changed=TRICKLE_WASM_DIR");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = env::var_os("TRICKLE_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("wasm"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed={}", dir.display());
    let names = bundle_names(&dir);
    let mut entries = String::new();
    let mut hashes = Vec::new();
    for name in &names {
        let hash_of = |file: &str| {
            let source = dir.join(name).join(file);
            println!("cargo:rerun-if-changed={}", source.display());
            let bytes = read(&source);
            let copy = out_dir.join(format!("{name}-{file}"));
            fs::write(&copy, &bytes).expect("OUT_DIR is writable");
            (copy, short_sha256(&bytes))
        };
        let (module, module_hash) = hash_of(MODULE);
        let (glue, glue_hash) = hash_of(GLUE);
        entries.push_str(&format!(
            "    ({name:?}, include_bytes!({module:?}), include_str!({glue:?})),\n"
        ));
        hashes.push(format!(
            "{name}: wasm sha256:{module_hash}, glue sha256:{glue_hash}"
        ));
    }
    let code = format!(
        "/// Each embedded WASM bundle: its name, module and glue.\n\
         pub(crate) const BUNDLES: [(&str, &[u8], &str); {}] = [\n{entries}];\n",
        names.len()
    );
    fs::write(out_dir.join("bundles.rs"), code).expect("OUT_DIR is writable");
    println!(
        "cargo:rustc-env=TRICKLE_BUNDLE_HASHES={}",
        hashes.join("; ")
    );
}

/// The bundles' folder names, sorted (the same build, the same bytes).
fn bundle_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|error| missing(dir, &error.to_string()))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        missing(dir, "no bundle folders");
    }
    names
}

/// Twelve hex digits name a build well enough on a version line.
fn short_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn read(source: &Path) -> Vec<u8> {
    fs::read(source).unwrap_or_else(|error| missing(source, &error.to_string()))
}

fn missing(path: &Path, why: &str) -> ! {
    panic!(
        "\n\nThe WASM bundles are missing ({}: {why}).\n\
         They are committed in crates/cli/wasm/ (a folder per bundle): restore them with \
         `git checkout crates/cli/wasm`, rebuild them with scripts/build-wasm.sh --update, or set \
         TRICKLE_WASM_DIR to an absolute path of a folder holding one folder per bundle, each with \
         {MODULE} and {GLUE} (e.g. target/wasm-dist/bundles).\n\n",
        path.display()
    )
}
