//! The built WASM bundles and their glue, made ready to embed in a script:
//! one per role (`BundleRole`), each with only the exports its scripts call.

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

/// Which WASM bundle a script embeds: one per source and script role, each
/// holding only the exports its scripts call. `scripts/build-wasm.sh` builds
/// them under these names, from crates/wasm's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BundleRole {
    /// The Auth0 source's `login` and `get_user`: one module for both, so a
    /// container that runs both compiles it once.
    Auth0,
    /// The post-login Action (it runs apart, and asks for no password grant).
    Auth0Action,
    /// The API source's `login` and `get_user`.
    Api,
}

impl BundleRole {
    pub const ALL: [BundleRole; 3] = [BundleRole::Auth0, BundleRole::Auth0Action, BundleRole::Api];

    /// The bundle's folder name in `crates/cli/wasm/`.
    pub const fn name(self) -> &'static str {
        match self {
            BundleRole::Auth0 => "auth0",
            BundleRole::Auth0Action => "auth0-action",
            BundleRole::Api => "api",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Where a script finds its bundle: a single `WasmBundle` serves every role
/// (a build with every export, or a test's stand-in), `WasmBundles` one each.
pub trait Bundles {
    fn for_role(&self, role: BundleRole) -> &WasmBundle;
}

impl Bundles for WasmBundle {
    fn for_role(&self, _: BundleRole) -> &WasmBundle {
        self
    }
}

/// One bundle per role, as the CLI embeds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmBundles([WasmBundle; 3]);

impl WasmBundles {
    /// From each bundle's name, module and glue; every role must be there
    /// once, and nothing else.
    pub fn new<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a [u8], &'a str)>,
    ) -> Result<Self, BundleError> {
        let mut found: [Option<WasmBundle>; 3] = [None, None, None];
        for (name, wasm, glue) in files {
            let role = BundleRole::ALL
                .into_iter()
                .find(|role| role.name() == name)
                .ok_or_else(|| BundleError::UnknownBundle(name.to_owned()))?;
            let bundle = WasmBundle::new(wasm, glue).map_err(|error| BundleError::Invalid {
                name: role.name(),
                error: Box::new(error),
            })?;
            if found[role.index()].replace(bundle).is_some() {
                return Err(BundleError::Duplicate(role.name()));
            }
        }
        let [auth0, action, api] = found;
        let missing = |role: BundleRole| BundleError::Missing(role.name());
        Ok(WasmBundles([
            auth0.ok_or_else(|| missing(BundleRole::Auth0))?,
            action.ok_or_else(|| missing(BundleRole::Auth0Action))?,
            api.ok_or_else(|| missing(BundleRole::Api))?,
        ]))
    }
}

impl Bundles for WasmBundles {
    fn for_role(&self, role: BundleRole) -> &WasmBundle {
        &self.0[role.index()]
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the WASM bundle {name}: {error}")]
    Invalid {
        name: &'static str,
        error: Box<BundleError>,
    },
    #[error("the WASM bundles lack {0} (rebuild them: scripts/build-wasm.sh --update)")]
    Missing(&'static str),
    #[error("the WASM bundle {0} is given twice")]
    Duplicate(&'static str),
    #[error("{0:?} is no WASM bundle this trickle knows (auth0, auth0-action, api): rebuild them with scripts/build-wasm.sh --update")]
    UnknownBundle(String),
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
    fn each_role_gets_its_own_bundle_and_every_role_must_be_there() {
        let (auth0, action, api) = (
            b"\0asm\x01\0\0\0 auth0".as_slice(),
            b"\0asm\x01\0\0\0 action".as_slice(),
            b"\0asm\x01\0\0\0 api".as_slice(),
        );
        let bundles = WasmBundles::new([
            ("api", api, GLUE),
            ("auth0", auth0, GLUE),
            ("auth0-action", action, GLUE),
        ])
        .unwrap();
        for (role, wasm) in [
            (BundleRole::Auth0, auth0),
            (BundleRole::Auth0Action, action),
            (BundleRole::Api, api),
        ] {
            assert_eq!(
                bundles.for_role(role),
                &WasmBundle::new(wasm, GLUE).unwrap()
            );
        }
        // A single bundle serves every role.
        let single = WasmBundle::new(WASM, GLUE).unwrap();
        assert!(BundleRole::ALL
            .into_iter()
            .all(|role| single.for_role(role) == &single));

        assert_eq!(
            WasmBundles::new([("auth0", auth0, GLUE), ("api", api, GLUE)]),
            Err(BundleError::Missing("auth0-action"))
        );
        assert_eq!(
            WasmBundles::new([("auth0", auth0, GLUE), ("auth0", auth0, GLUE)]),
            Err(BundleError::Duplicate("auth0"))
        );
        assert_eq!(
            WasmBundles::new([("all", WASM, GLUE)]),
            Err(BundleError::UnknownBundle("all".to_owned()))
        );
        let error = WasmBundles::new([("api", b"not wasm".as_slice(), GLUE)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the WASM bundle api: the embedded WASM is not a WebAssembly module (no \\0asm header)"
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
