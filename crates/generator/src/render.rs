//! Rendering the handlebars templates in `templates/` into scripts.

use std::fmt;

use handlebars::Handlebars;
use serde_json::json;

use trickle_core::Policy;

use crate::{Config, MarkMigrated, MfaPolicy, WasmBundle};

/// Auth0 refuses a custom-database script larger than this.
pub const SCRIPT_LIMIT_BYTES: usize = 100_000;
/// What we aim for, to leave room for features.
pub const SCRIPT_TARGET_BYTES: usize = 32 * 1024;

/// The two scripts an import-mode connection uses, and the post-login Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Login,
    GetUser,
    PostLoginAction,
}

impl ScriptKind {
    /// The connection's scripts (the Action is not one of them).
    pub const ALL: [ScriptKind; 2] = [ScriptKind::Login, ScriptKind::GetUser];

    /// The key in `options.customScripts` (the Action: its trigger).
    pub const fn key(self) -> &'static str {
        match self {
            ScriptKind::Login => "login",
            ScriptKind::GetUser => "get_user",
            ScriptKind::PostLoginAction => "post-login",
        }
    }

    pub const fn file_name(self) -> &'static str {
        match self {
            ScriptKind::Login => "login.js",
            ScriptKind::GetUser => "get_user.js",
            ScriptKind::PostLoginAction => "code.js",
        }
    }

    const fn template(self) -> &'static str {
        match self {
            ScriptKind::Login => include_str!("../../../templates/login.js.hbs"),
            ScriptKind::GetUser => include_str!("../../../templates/get_user.js.hbs"),
            ScriptKind::PostLoginAction => include_str!("../../../templates/post_login.js.hbs"),
        }
    }

    /// The end-state script: no old tenant behind it (the Action has none).
    const fn decommission_template(self) -> &'static str {
        match self {
            ScriptKind::Login => include_str!("../../../templates/decommission/login.js.hbs"),
            ScriptKind::GetUser | ScriptKind::PostLoginAction => {
                include_str!("../../../templates/decommission/get_user.js.hbs")
            }
        }
    }

    fn template_name(self, decommission: bool) -> String {
        if decommission {
            format!("decommission/{}", self.key())
        } else {
            self.key().to_owned()
        }
    }
}

/// The partials, by the name the templates include them under.
const PARTIALS: [(&str, &str); 3] = [
    (
        "runtime",
        include_str!("../../../templates/partials/runtime.js.hbs"),
    ),
    (
        "wasm_core",
        include_str!("../../../templates/partials/wasm_core.js.hbs"),
    ),
    (
        "http",
        include_str!("../../../templates/partials/http.js.hbs"),
    ),
];

/// Where a script's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptSizes {
    pub total: usize,
    /// The base64 text of the compressed module.
    pub wasm: usize,
    /// The wasm-bindgen glue.
    pub glue: usize,
    /// Everything else: the template's own code.
    pub template: usize,
}

impl fmt::Display for ScriptSizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes (wasm {}, glue {}, template {})",
            self.total, self.wasm, self.glue, self.template
        )
    }
}

/// One rendered script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub kind: ScriptKind,
    pub text: String,
    pub sizes: ScriptSizes,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template error: {0}")]
    Template(#[from] Box<handlebars::RenderError>),
    #[error("template error: {0}")]
    TemplateSyntax(#[from] Box<handlebars::TemplateError>),
    #[error("{}", too_large_message(.0))]
    TooLarge(Vec<(ScriptKind, ScriptSizes)>),
}

fn too_large_message(scripts: &[(ScriptKind, ScriptSizes)]) -> String {
    let mut message = format!("Auth0 refuses scripts over {SCRIPT_LIMIT_BYTES} bytes:");
    for (kind, sizes) in scripts {
        let verdict = if sizes.total > SCRIPT_LIMIT_BYTES {
            "TOO LARGE"
        } else {
            "ok"
        };
        message.push_str(&format!("\n  {}: {sizes} {verdict}", kind.file_name()));
    }
    message
}

fn registry() -> Result<Handlebars<'static>, RenderError> {
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    // JavaScript, not HTML: values are JSON-encoded before they get here.
    handlebars.register_escape_fn(handlebars::no_escape);
    for (name, partial) in PARTIALS {
        handlebars
            .register_partial(name, partial)
            .map_err(Box::new)?;
    }
    for kind in ScriptKind::ALL {
        handlebars
            .register_template_string(kind.key(), kind.template())
            .map_err(Box::new)?;
        handlebars
            .register_template_string(&kind.template_name(true), kind.decommission_template())
            .map_err(Box::new)?;
    }
    let action = ScriptKind::PostLoginAction;
    handlebars
        .register_template_string(action.key(), action.template())
        .map_err(Box::new)?;
    Ok(handlebars)
}

/// What every template of a migration shares.
fn common_data(config: &Config, bundle: &WasmBundle) -> serde_json::Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "connection_name": config.connection_name,
        "connection_literal": json_literal(&config.connection_name),
        "cache_key": json_literal(&bundle.cache_key),
        "realm": json_literal(&config.realm),
        "policy": config.policy.encode(),
        "timeout_ms": config.timeout_ms,
        "mfa_allow": config.mfa == MfaPolicy::Allow,
        "mark_migrated": config.mark_migrated == MarkMigrated::Login,
        "mark_by_action": config.mark_migrated == MarkMigrated::Action,
        "update_users": config.mark_migrated.is_on(),
        "settings_object": "typeof configuration === 'object' && configuration !== null ? configuration : {}",
        "settings_name": "configuration.",
        "budget_ms": SCRIPT_BUDGET_MS,
        "retry_after": false,
        "glue": indent(&bundle.glue, "    "),
        "payload": bundle.payload_base64,
    })
}

/// How long a script may spend before it must answer (Auth0 stops it after
/// about 20 s; this leaves room to answer).
const SCRIPT_BUDGET_MS: u32 = 18_000;

fn sizes(text: &str, bundle: Option<&WasmBundle>) -> ScriptSizes {
    let (wasm, glue) = match bundle {
        None => (0, 0),
        Some(bundle) => (
            bundle.payload_base64.len(),
            indent(&bundle.glue, "    ").len(),
        ),
    };
    ScriptSizes {
        total: text.len(),
        wasm,
        glue,
        template: text.len() - wasm - glue,
    }
}

/// Renders the post-login Action when the config has one (not in the end
/// state: the old tenant is gone then). It embeds the same WASM and calls
/// the same normaliser as the scripts, reads its settings from
/// `event.secrets`, and never skips marked users (they are the migrated
/// ones). Fails like `render` when over Auth0's 100 KB.
pub fn render_action(config: &Config, bundle: &WasmBundle) -> Result<Option<Script>, RenderError> {
    let Some(action) = &config.action else {
        return Ok(None);
    };
    if config.decommission {
        return Ok(None);
    }
    let handlebars = registry()?;
    let mut data = common_data(config, bundle);
    let policy = Policy {
        skip_marked: false,
        ..config.policy
    };
    data["policy"] = policy.encode().into();
    data["settings_object"] =
        "event.secrets && typeof event.secrets === 'object' ? event.secrets : {}".into();
    data["settings_name"] = "event.secrets.".into();
    data["budget_ms"] = action.budget_ms.into();
    data["app_metadata_key"] = json_literal(config.policy.app_metadata_key.name()).into();
    let kind = ScriptKind::PostLoginAction;
    let text = handlebars.render(kind.key(), &data).map_err(Box::new)?;
    let script = Script {
        kind,
        sizes: sizes(&text, Some(bundle)),
        text,
    };
    if script.sizes.total > SCRIPT_LIMIT_BYTES {
        return Err(RenderError::TooLarge(vec![(kind, script.sizes)]));
    }
    Ok(Some(script))
}

/// Renders both scripts: the lazy-migration pair, or with
/// `config.decommission` the end-state pair (no WASM, no network, no
/// settings). Fails, with a per-part breakdown, when either is over Auth0's
/// limit; the same inputs always give the same bytes.
pub fn render(config: &Config, bundle: &WasmBundle) -> Result<Vec<Script>, RenderError> {
    let handlebars = registry()?;
    let data = common_data(config, bundle);
    let scripts = ScriptKind::ALL
        .into_iter()
        .map(|kind| {
            let name = kind.template_name(config.decommission);
            let text = handlebars.render(&name, &data).map_err(Box::new)?;
            let sizes = sizes(&text, (!config.decommission).then_some(bundle));
            Ok(Script { kind, text, sizes })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    if scripts
        .iter()
        .any(|script| script.sizes.total > SCRIPT_LIMIT_BYTES)
    {
        return Err(RenderError::TooLarge(
            scripts.iter().map(|s| (s.kind, s.sizes)).collect(),
        ));
    }
    Ok(scripts)
}

/// A string as a JavaScript literal (JSON is a subset of JavaScript).
fn json_literal(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Indents every line after the first, so the glue sits inside the function.
fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{prefix}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{action_config, bundle, config, rendered, rendered_action};

    #[test]
    fn each_script_is_one_named_function() {
        let scripts = rendered(&config());
        assert!(scripts[0]
            .text
            .starts_with("function login(email, password, callback) {\n"));
        assert!(scripts[1]
            .text
            .starts_with("function getByEmail(email, callback) {\n"));
        for script in &scripts {
            assert!(
                script.text.ends_with("}\n"),
                "{:?} ends outside its function",
                script.kind
            );
        }
    }

    #[test]
    fn settings_are_baked_in_as_literals() {
        let mut config = config();
        config.timeout_ms = 1234;
        let login = &rendered(&config)[0].text;
        assert!(login.contains("realm: \"Username-Password-Authentication\","));
        assert!(login.contains("timeoutMs: 1234,"));
        assert!(login.contains(&format!("policy: {},", config.policy.encode())));
        assert!(login.contains(&bundle().payload_base64));
        assert!(login.contains(&bundle().cache_key));
    }

    #[test]
    fn optional_behaviour_is_rendered_only_when_configured() {
        let mut config = config();
        let plain = &rendered(&config)[0].text;
        assert!(!plain.contains("markerPatch"));
        assert!(!plain.contains("verdict = await verdictByEmail"));
        config.mark_migrated = MarkMigrated::Login;
        config.mfa = MfaPolicy::Allow;
        let full = &rendered(&config)[0].text;
        assert!(full.contains("markerPatch"));
        assert!(full.contains("verdict = await verdictByEmail"));
    }

    #[test]
    fn the_end_state_pair_needs_no_wasm_no_network_and_no_settings() {
        let mut config = config();
        config.decommission = true;
        let scripts = rendered(&config);
        assert!(scripts[0]
            .text
            .starts_with("function login(email, password, callback) {\n"));
        assert!(scripts[1]
            .text
            .starts_with("function getByEmail(email, callback) {\n"));
        for script in &scripts {
            assert_eq!((script.sizes.wasm, script.sizes.glue), (0, 0));
            assert_eq!(script.sizes.template, script.text.len());
            assert!(script.text.ends_with("}\n"));
            for absent in ["fetch", "configuration", "require", "{{", "global"] {
                assert!(
                    !script.text.contains(absent),
                    "{absent} in {:?}",
                    script.kind
                );
            }
        }
        assert!(scripts[0]
            .text
            .contains("WrongUsernameOrPasswordError(email)"));
        assert!(scripts[1].text.contains("callback(null);"));
    }

    #[test]
    fn the_login_marks_only_when_it_is_the_one_marking() {
        let mut config = config();
        config.mark_migrated = MarkMigrated::Action;
        let login = &rendered(&config)[0].text;
        assert!(!login.contains("markerPatch"));
        assert!(login.contains("update:users"), "the client still needs it");
    }

    #[test]
    fn custom_domains_take_tokens_and_the_audience_stays_canonical() {
        let login = &rendered(&config())[0].text;
        assert!(login.contains("sendPatiently(s.tokenUrl + '/oauth/token'"));
        assert!(login.contains("audience: s.baseUrl + '/api/v2/'"));
        assert!(login.contains("origin(core, 'custom_domain', config.custom_domain)"));
    }

    #[test]
    fn the_action_shares_the_runtime_reads_secrets_and_never_skips_marked_users() {
        let mut config = config();
        config.mark_migrated = MarkMigrated::Action;
        config.action = Some(action_config());
        let action = rendered_action(&config);
        assert_eq!(action.kind, ScriptKind::PostLoginAction);
        let text = &action.text;
        assert!(text.contains("exports.onExecutePostLogin = async (event, api) => {"));
        assert!(text.ends_with("};\n"));
        assert!(text.contains("event.connection.name !== \"old-tenant-import\""));
        assert!(text.contains("event.secrets && typeof event.secrets === 'object'"));
        assert!(
            !text.contains("typeof configuration"),
            "settings come from event.secrets only"
        );
        let policy = Policy {
            skip_marked: false,
            ..config.policy
        };
        assert!(text.contains(&format!("policy: {},", policy.encode())));
        assert!(text.contains("budgetMs: 5000,"));
        assert!(text.contains("markerPatch"));
        assert!(text.contains(&bundle().payload_base64));
        assert_eq!(action.sizes.wasm, bundle().payload_base64.len());
        assert_eq!(
            action.sizes.wasm + action.sizes.glue + action.sizes.template,
            action.sizes.total
        );
        for absent in ["{{", "WrongUsernameOrPasswordError"] {
            assert!(!text.contains(absent), "{absent}");
        }

        // Backfilling only: nothing is marked.
        config.mark_migrated = MarkMigrated::Login;
        assert!(!rendered_action(&config).text.contains("markerPatch"));
        // Gone in the end state.
        config.decommission = true;
        assert_eq!(render_action(&config, &bundle()).unwrap(), None);
        config.decommission = false;
        config.action = None;
        assert_eq!(render_action(&config, &bundle()).unwrap(), None);
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(rendered(&config()), rendered(&config()));
    }

    #[test]
    fn sizes_add_up() {
        for script in rendered(&config()) {
            let sizes = script.sizes;
            assert_eq!(sizes.total, script.text.len());
            assert_eq!(sizes.wasm + sizes.glue + sizes.template, sizes.total);
            assert_eq!(sizes.wasm, bundle().payload_base64.len());
        }
    }

    #[test]
    fn an_oversized_script_fails_with_a_breakdown() {
        // Random-looking bytes do not compress: the payload exceeds the limit.
        let mut state = 0x2545_f491_u32;
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend((0..120_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        }));
        let bundle = WasmBundle::new(&wasm, "let wasm_bindgen;").unwrap();
        let error = render(&config(), &bundle).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, RenderError::TooLarge(_)));
        for part in [
            "login.js",
            "get_user.js",
            "wasm ",
            "glue ",
            "template ",
            "TOO LARGE",
        ] {
            assert!(message.contains(part), "{part} missing from: {message}");
        }
    }
}
