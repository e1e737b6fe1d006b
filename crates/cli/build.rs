//! Embeds the WASM core the generated scripts carry: the bundle committed in
//! `crates/cli/wasm/` (made by `scripts/build-wasm.sh --update`, checked
//! against a fresh build by `scripts/test.sh`), so `cargo install` needs no
//! wasm32 target, wasm-bindgen or Node. `TRICKLE_WASM_DIR` (an absolute
//! path) embeds another folder instead, e.g. `target/wasm-dist` while
//! developing. Also hands `trickle --version` the bundle's hashes.
use std::path::{Path, PathBuf};
use std::{env, fs};

use sha2::{Digest, Sha256};

/// Each embedded file and the environment variable its hash goes in.
const FILES: [(&str, &str); 2] = [
    ("trickle_wasm_bg.wasm", "TRICKLE_WASM_SHA256"),
    ("trickle_wasm.js", "TRICKLE_GLUE_SHA256"),
];

fn main() {
    println!("cargo:rerun-if-env-changed=TRICKLE_WASM_DIR");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = env::var_os("TRICKLE_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("wasm"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    for (file, hash_variable) in FILES {
        let source = dir.join(file);
        println!("cargo:rerun-if-changed={}", source.display());
        let bytes = read(&source);
        fs::write(out_dir.join(file), &bytes).expect("OUT_DIR is writable");
        // Twelve hex digits name a build well enough on a version line.
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .take(6)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        println!("cargo:rustc-env={hash_variable}={hex}");
    }
}

fn read(source: &Path) -> Vec<u8> {
    fs::read(source).unwrap_or_else(|error| {
        panic!(
            "\n\nThe WASM bundle is missing ({}: {error}).\n\
             It is committed in crates/cli/wasm/: restore it with `git checkout crates/cli/wasm`, \
             rebuild it with scripts/build-wasm.sh --update, or set TRICKLE_WASM_DIR to an \
             absolute path of a folder holding trickle_wasm_bg.wasm and trickle_wasm.js.\n\n",
            source.display()
        )
    })
}
