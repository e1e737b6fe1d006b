//! The script generator: a Trickle config plus the built WASM in, Auth0
//! custom-database scripts (`login`, `get_user`) and their deploy layout out.
//!
//! Templates live in `templates/` and are compiled in; this crate fills
//! them, measures them, and writes them. It does no HTTP and runs no JS.

mod bundle;
mod config;
mod layout;
mod render;

pub use bundle::{BundleError, WasmBundle};
pub use config::{parse_config, Config, ConfigError, MfaPolicy, TIMEOUT_RANGE_MS};
pub use layout::{database_json, write_layout, SETTING_PLACEHOLDERS};
pub use render::{
    render, RenderError, Script, ScriptKind, ScriptSizes, SCRIPT_LIMIT_BYTES, SCRIPT_TARGET_BYTES,
};

#[cfg(test)]
mod test_support {
    use crate::{parse_config, render, Config, Script, WasmBundle};

    /// A stand-in module: these tests check rendering and layout, not the
    /// WASM (the Node tests run the real one).
    pub fn bundle() -> WasmBundle {
        WasmBundle::new(
            b"\0asm\x01\0\0\0 module",
            "let wasm_bindgen = (function(exports) {\n  return exports;\n})({});",
        )
        .unwrap()
    }

    pub fn config() -> Config {
        parse_config("[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n")
            .unwrap()
    }

    pub fn rendered(config: &Config) -> Vec<Script> {
        render(config, &bundle()).unwrap()
    }
}
