//! The script generator: a Trickle config plus the built WASM in, Auth0
//! custom-database scripts (`login`, `get_user`), the post-login Action,
//! and their deploy layout (deploy-cli's directory or YAML format) out.
//!
//! Templates live in `templates/` and are compiled in; this crate fills
//! them, measures them, and writes them. It does no HTTP and runs no JS.

// Test code may hold long tables; `scripts/test.sh` holds the rest to 80 lines.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod bundle;
mod config;
mod layout;
mod render;

pub use bundle::{BundleError, BundleRole, Bundles, WasmBundle, WasmBundles};
pub use config::{
    parse_config, ActionConfig, ActionRuntime, ApiSource, Config, ConfigError, GuardConfig,
    MarkMigrated, MfaPolicy, SettingsMode, SourceKind, TIMEOUT_RANGE_MS,
};
pub use layout::{
    action_json, database_json, dropped_bindings, guard_json, setting_keywords, tenant_yaml,
    triggers_json, write_layout, Binding, DeployFormat, Written, API_SETTING_KEYWORDS,
    SETTING_KEYWORDS,
};
pub use render::{
    render, render_action, render_guard, RenderError, Script, ScriptKind, ScriptSizes,
    SCRIPT_LIMIT_BYTES, SCRIPT_TARGET_BYTES,
};

#[cfg(test)]
mod test_support {
    use crate::{parse_config, render, render_action, ActionConfig, Config, Script, WasmBundle};

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

    /// A legacy store behind an API as the source, with its guard.
    pub fn api_config() -> Config {
        parse_config(
            "[connection]\nname = \"legacy-import\"\n[source]\nkind = \"api\"\n\
             url = \"https://legacy.example.com/auth0-migration\"\naudience = \"https://legacy.example.com/api\"\n\
             [migration]\nmark_migrated = true\n",
        )
        .unwrap()
    }

    pub fn rendered(config: &Config) -> Vec<Script> {
        render(config, &bundle()).unwrap()
    }

    /// The Action `config()` gets with `mark_migrated = "action"`.
    pub fn action_config() -> ActionConfig {
        parse_config("[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n[migration]\nmark_migrated = \"action\"\n")
            .unwrap()
            .action
            .unwrap()
    }

    pub fn rendered_action(config: &Config) -> Script {
        render_action(config, &bundle()).unwrap().unwrap()
    }
}
