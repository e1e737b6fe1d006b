//! The built WASM and its glue, made ready to embed in a script.

use std::io::Write;

use base64::Engine;
use sha2::{Digest, Sha256};

/// Brotli settings: the strongest, and deterministic for the same input.
const BROTLI_QUALITY: u32 = 11;
const BROTLI_WINDOW_BITS: u32 = 22;

/// The WASM core as the scripts embed it: the wasm-bindgen glue as text,
/// the module brotli-compressed and base64-encoded (Node's built-in zlib
/// inflates it), and a cache key unique to this exact build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmBundle {
    pub glue: String,
    pub payload_base64: String,
    pub wasm_bytes: usize,
    pub compressed_bytes: usize,
    pub cache_key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the embedded WASM is not a WebAssembly module (no \\0asm header)")]
    NotWasm,
    #[error(
        "the embedded glue does not define wasm_bindgen (was it built with --target no-modules?)"
    )]
    NotNoModulesGlue,
}

impl WasmBundle {
    pub fn new(wasm: &[u8], glue: &str) -> Result<Self, BundleError> {
        if !wasm.starts_with(b"\0asm") {
            return Err(BundleError::NotWasm);
        }
        if !glue.contains("wasm_bindgen") {
            return Err(BundleError::NotNoModulesGlue);
        }
        let compressed = compress(wasm);
        let digest = Sha256::new()
            .chain_update(env!("CARGO_PKG_VERSION"))
            .chain_update(wasm)
            .chain_update(glue)
            .finalize();
        let hex: String = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok(WasmBundle {
            glue: glue.trim_end().to_owned(),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&compressed),
            wasm_bytes: wasm.len(),
            compressed_bytes: compressed.len(),
            cache_key: format!("trickle:{}:{hex}", env!("CARGO_PKG_VERSION")),
        })
    }
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW_BITS);
        writer
            .write_all(bytes)
            .expect("writing to a Vec cannot fail");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const WASM: &[u8] = b"\0asm\x01\0\0\0 pretend module body, repeated repeated repeated";
    const GLUE: &str = "let wasm_bindgen = (function(exports) { return exports; })({});\n";

    #[test]
    fn the_payload_decompresses_to_the_module() {
        let bundle = WasmBundle::new(WASM, GLUE).unwrap();
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(&bundle.payload_base64)
            .unwrap();
        assert_eq!(compressed.len(), bundle.compressed_bytes);
        let mut inflated = Vec::new();
        brotli::Decompressor::new(compressed.as_slice(), 4096)
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, WASM);
        assert_eq!(bundle.wasm_bytes, WASM.len());
    }

    #[test]
    fn the_same_build_gives_the_same_bundle_and_another_build_another_key() {
        assert_eq!(WasmBundle::new(WASM, GLUE), WasmBundle::new(WASM, GLUE));
        let other = WasmBundle::new(b"\0asm\x01\0\0\0 another", GLUE).unwrap();
        assert_ne!(
            other.cache_key,
            WasmBundle::new(WASM, GLUE).unwrap().cache_key
        );
    }

    #[test]
    fn wrong_inputs_are_refused() {
        assert_eq!(
            WasmBundle::new(b"not wasm", GLUE),
            Err(BundleError::NotWasm)
        );
        assert_eq!(
            WasmBundle::new(WASM, "export function x() {}"),
            Err(BundleError::NotNoModulesGlue)
        );
    }
}
