//! Embeds the built WASM core (scripts/build-wasm.sh) into the binary, so
//! `trickle generate` needs no Rust toolchain, wasm-bindgen or wasm-opt.
use std::path::PathBuf;
use std::{env, fs};

const FILES: [&str; 2] = ["trickle_wasm_bg.wasm", "trickle_wasm.js"];

fn main() {
    println!("cargo:rerun-if-env-changed=TRICKLE_WASM_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = match (
        env::var_os("TRICKLE_WASM_DIR"),
        env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(target)) => manifest_dir.join(target).join("wasm-dist"),
        (None, None) => manifest_dir.join("../../target/wasm-dist"),
    };
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    for file in FILES {
        let source = dir.join(file);
        println!("cargo:rerun-if-changed={}", source.display());
        if let Err(error) = fs::copy(&source, out_dir.join(file)) {
            panic!(
                "\n\nThe WASM core is not built ({}: {error}).\n\
                 Run scripts/build-wasm.sh first (scripts/setup.sh on a new machine), \
                 or set TRICKLE_WASM_DIR to a folder holding {FILES:?}.\n\n",
                source.display()
            );
        }
    }
}
