//! Rendering the handlebars templates in `templates/` into scripts.

use std::fmt;

use handlebars::Handlebars;
use serde_json::json;

use trickle_core::Policy;

use crate::{BundleRole, Bundles, Config, MarkMigrated, MfaPolicy, SourceKind, WasmBundle};

/// Auth0 refuses a custom-database script larger than this.
pub const SCRIPT_LIMIT_BYTES: usize = 100_000;
/// What we aim for, to leave room for features.
pub const SCRIPT_TARGET_BYTES: usize = 32 * 1024;

/// The two scripts an import-mode connection uses, the post-login Action,
/// and the API source's audience guard (a credentials-exchange Action).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Login,
    GetUser,
    PostLoginAction,
    CredentialsExchangeAction,
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
            ScriptKind::CredentialsExchangeAction => "credentials-exchange",
        }
    }

    pub const fn file_name(self) -> &'static str {
        match self {
            ScriptKind::Login => "login.js",
            ScriptKind::GetUser => "get_user.js",
            ScriptKind::PostLoginAction | ScriptKind::CredentialsExchangeAction => "code.js",
        }
    }

    /// Whether this is an Action (its own deploy-cli entry) rather than a
    /// script of the connection.
    pub const fn is_action(self) -> bool {
        matches!(
            self,
            ScriptKind::PostLoginAction | ScriptKind::CredentialsExchangeAction
        )
    }

    /// The WASM bundle this script embeds (its source's, or the Action's own).
    fn bundle_role(self, config: &Config) -> BundleRole {
        match (self, config.source_kind()) {
            (ScriptKind::PostLoginAction, _) => BundleRole::Auth0Action,
            (_, SourceKind::Api) => BundleRole::Api,
            (_, SourceKind::Auth0) => BundleRole::Auth0,
        }
    }

    fn template_name(self, config: &Config) -> String {
        if config.decommission {
            format!("decommission/{}", self.key())
        } else if config.source_kind() == SourceKind::Api {
            format!("api/{}", self.key())
        } else {
            self.key().to_owned()
        }
    }
}

/// Every template, by the name it is rendered under: each source's pair,
/// the end-state pair, the post-login Action and the API's guard.
const TEMPLATES: [(&str, &str); 8] = [
    ("login", include_str!("../../../templates/login.js.hbs")),
    (
        "get_user",
        include_str!("../../../templates/get_user.js.hbs"),
    ),
    (
        "post-login",
        include_str!("../../../templates/post_login.js.hbs"),
    ),
    (
        "api/login",
        include_str!("../../../templates/api/login.js.hbs"),
    ),
    (
        "api/get_user",
        include_str!("../../../templates/api/get_user.js.hbs"),
    ),
    (
        "api/credentials-exchange",
        include_str!("../../../templates/api/guard.js.hbs"),
    ),
    (
        "decommission/login",
        include_str!("../../../templates/decommission/login.js.hbs"),
    ),
    (
        "decommission/get_user",
        include_str!("../../../templates/decommission/get_user.js.hbs"),
    ),
];

/// The partials, by the name the templates include them under.
const PARTIALS: [(&str, &str); 4] = [
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
    (
        "api_runtime",
        include_str!("../../../templates/partials/api_runtime.js.hbs"),
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
    /// The WASM bundle it embeds; none for a script without WASM (the
    /// guard, the end-state pair).
    pub bundle: Option<BundleRole>,
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
            .register_partial(name, unindented(partial))
            .map_err(Box::new)?;
    }
    for (name, template) in TEMPLATES {
        handlebars
            .register_template_string(name, unindented(template))
            .map_err(Box::new)?;
    }
    Ok(handlebars)
}

/// A template without its lines' indentation: the templates stay indented
/// for us, the scripts ship without it (about 1 KB of every script,
/// counted against the 32 KB target). Only whitespace before a line's first token
/// goes: JavaScript reads no meaning into it outside a multi-line string or
/// template literal, and the templates have neither (a test holds them to
/// it); the inserted values (glue, payload, settings) are not touched.
fn unindented(template: &str) -> String {
    let mut text = template
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n");
    if template.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// What every template of a migration shares.
fn common_data(config: &Config, bundle: &WasmBundle) -> serde_json::Value {
    let mut data = json!({
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
        "glue": bundle.glue,
        "payload": bundle.payload_base64,
    });
    if let Some(api) = &config.api {
        data["api_url"] = json_literal(&api.url).into();
        data["api_audience"] = json_literal(&api.audience).into();
        data["retry_after"] = true.into();
    }
    data
}

/// How long a script may spend before it must answer (Auth0 stops it after
/// about 20 s; this leaves room to answer).
const SCRIPT_BUDGET_MS: u32 = 18_000;

fn sizes(text: &str, bundle: Option<&WasmBundle>) -> ScriptSizes {
    let (wasm, glue) = match bundle {
        None => (0, 0),
        Some(bundle) => (bundle.payload_base64.len(), bundle.glue.len()),
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
pub fn render_action<B: Bundles + ?Sized>(
    config: &Config,
    bundles: &B,
) -> Result<Option<Script>, RenderError> {
    let Some(action) = &config.action else {
        return Ok(None);
    };
    if config.decommission {
        return Ok(None);
    }
    let kind = ScriptKind::PostLoginAction;
    let role = kind.bundle_role(config);
    let bundle = bundles.for_role(role);
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
    let text = handlebars.render(kind.key(), &data).map_err(Box::new)?;
    let script = Script {
        kind,
        sizes: sizes(&text, Some(bundle)),
        text,
        bundle: Some(role),
    };
    if script.sizes.total > SCRIPT_LIMIT_BYTES {
        return Err(RenderError::TooLarge(vec![(kind, script.sizes)]));
    }
    Ok(Some(script))
}

/// Renders the API source's audience guard (a credentials-exchange
/// Action: plain JavaScript, no WASM), when the source is an API and the
/// migration is not over.
pub fn render_guard(config: &Config) -> Result<Option<Script>, RenderError> {
    let Some(api) = &config.api else {
        return Ok(None);
    };
    if config.decommission {
        return Ok(None);
    }
    let data = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "connection_name": config.connection_name,
        "api_audience": json_literal(&api.audience),
    });
    let kind = ScriptKind::CredentialsExchangeAction;
    let text = registry()?
        .render(&kind.template_name(config), &data)
        .map_err(Box::new)?;
    Ok(Some(Script {
        kind,
        sizes: sizes(&text, None),
        text,
        bundle: None,
    }))
}

/// Renders both scripts: the lazy-migration pair, or with
/// `config.decommission` the end-state pair (no WASM, no network, no
/// settings). Fails, with a per-part breakdown, when either is over Auth0's
/// limit; the same inputs always give the same bytes.
pub fn render<B: Bundles + ?Sized>(
    config: &Config,
    bundles: &B,
) -> Result<Vec<Script>, RenderError> {
    let handlebars = registry()?;
    let scripts = ScriptKind::ALL
        .into_iter()
        .map(|kind| {
            let bundle = bundles.for_role(kind.bundle_role(config));
            let data = common_data(config, bundle);
            let text = handlebars
                .render(&kind.template_name(config), &data)
                .map_err(Box::new)?;
            // The end-state pair embeds no WASM.
            let embedded = (!config.decommission).then_some(bundle);
            Ok(Script {
                kind,
                sizes: sizes(&text, embedded),
                text,
                bundle: embedded.map(|_| kind.bundle_role(config)),
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        action_config, api_config, bundle, config, rendered, rendered_action,
    };

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
        assert!(!plain.contains("verdictByUsername"));
        config.mark_migrated = MarkMigrated::Login;
        config.mfa = MfaPolicy::Allow;
        let full = &rendered(&config)[0].text;
        assert!(full.contains("markerPatch"));
        assert!(full.contains("verdictByUsername"));
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
    fn an_api_source_gets_its_own_pair_on_the_shared_runtime() {
        let mut config = api_config();
        let scripts = rendered(&config);
        let (login, get_user) = (&scripts[0].text, &scripts[1].text);
        assert!(login.starts_with("function login(email, password, callback) {\n"));
        assert!(get_user.starts_with("function getByEmail(email, callback) {\n"));
        for text in [login, get_user] {
            assert!(text.ends_with("}\n"));
            assert!(text.contains("apiUrl: \"https://legacy.example.com/auth0-migration\","));
            assert!(text.contains("audience: \"https://legacy.example.com/api\","));
            assert!(text.contains(&format!("policy: {},", config.policy.encode())));
            // The shared pieces: WASM loading, HTTP with Retry-After, the token.
            assert!(text.contains("function trickleCore()"));
            assert!(text.contains("redirect: 'manual'"));
            assert!(text.contains("retryAfter: response.headers.get('retry-after')"));
            assert!(text.contains("audience: s.audience,"));
            assert!(text.contains(&bundle().payload_base64));
            // Nothing of the Auth0 source's.
            for absent in [
                "/api/v2/",
                "realm",
                "managementToken",
                "classifyToken",
                "{{",
            ] {
                assert!(!text.contains(absent), "{absent}");
            }
        }
        assert!(login.contains("'/users/verify'"));
        assert!(login.contains("legacyMarkerWrite"));
        assert!(get_user.contains("'/users?email='"));
        config.mark_migrated = MarkMigrated::Off;
        assert!(!rendered(&config)[0].text.contains("legacyMarkerWrite"));
        // The Auth0 source's scripts read no Retry-After.
        assert!(!rendered(&crate::test_support::config())[0]
            .text
            .contains("retry-after"));
    }

    #[test]
    fn the_guard_denies_the_audience_to_all_but_the_migration_client() {
        let mut config = api_config();
        let guard = render_guard(&config).unwrap().unwrap();
        assert_eq!(guard.kind, ScriptKind::CredentialsExchangeAction);
        assert_eq!(guard.sizes.template, guard.text.len());
        let text = &guard.text;
        assert!(text.contains("exports.onExecuteCredentialsExchange = async (event, api) => {"));
        assert!(text.contains("audience === \"https://legacy.example.com/api\""));
        assert!(text.contains("secrets.client_id"));
        assert!(text.contains("api.access.deny('invalid_request'"));
        assert!(text.ends_with("};\n"));
        for absent in ["{{", "fetch", "require"] {
            assert!(!text.contains(absent), "{absent}");
        }
        config.decommission = true;
        assert_eq!(render_guard(&config).unwrap(), None);
        assert_eq!(render_guard(&crate::test_support::config()).unwrap(), None);
    }

    #[test]
    fn an_api_source_decommissions_to_the_same_end_state() {
        let mut config = api_config();
        config.decommission = true;
        let mut auth0 = crate::test_support::config();
        auth0.decommission = true;
        auth0.connection_name = config.connection_name.clone();
        assert_eq!(rendered(&config), rendered(&auth0));
    }

    #[test]
    fn each_script_embeds_the_bundle_of_its_source_and_role() {
        let glue = "let wasm_bindgen = (function(exports) {\n  return exports;\n})({});";
        let modules: Vec<(&str, Vec<u8>)> = BundleRole::ALL
            .into_iter()
            .map(|role| {
                (
                    role.name(),
                    [b"\0asm\x01\0\0\0 ", role.name().as_bytes()].concat(),
                )
            })
            .collect();
        let bundles = crate::WasmBundles::new(
            modules
                .iter()
                .map(|(name, wasm)| (*name, wasm.as_slice(), glue)),
        )
        .unwrap();
        let payload = |role: BundleRole| bundles.for_role(role).payload_base64.clone();

        let mut config = config();
        config.mark_migrated = MarkMigrated::Action;
        config.action = Some(action_config());
        let scripts = render(&config, &bundles).unwrap();
        let action = render_action(&config, &bundles).unwrap().unwrap();
        let api = render(&api_config(), &bundles).unwrap();
        for (script, role) in [
            (&scripts[0], BundleRole::Auth0),
            (&scripts[1], BundleRole::Auth0),
            (&action, BundleRole::Auth0Action),
            (&api[0], BundleRole::Api),
            (&api[1], BundleRole::Api),
        ] {
            assert_eq!(script.bundle, Some(role), "{:?}", script.kind);
            assert!(script.text.contains(&payload(role)), "{:?}", script.kind);
            assert!(script.text.contains(&bundles.for_role(role).cache_key));
            assert_eq!(script.sizes.wasm, payload(role).len());
            for other in BundleRole::ALL.into_iter().filter(|other| *other != role) {
                assert!(
                    !script.text.contains(&payload(other)),
                    "{:?} holds {other:?}",
                    script.kind
                );
            }
        }
        assert_eq!(render_guard(&api_config()).unwrap().unwrap().bundle, None);
        config.decommission = true;
        assert!(render(&config, &bundles)
            .unwrap()
            .iter()
            .all(|script| script.bundle.is_none()));
    }

    #[test]
    fn scripts_ship_unindented_from_templates_without_multi_line_literals() {
        // Leading whitespace is content only inside a template literal (or
        // a string continued with a backslash): none may span lines.
        for (name, template) in TEMPLATES.iter().chain(PARTIALS.iter()) {
            let mut code = String::new();
            for (index, piece) in template.split("{{!--").enumerate() {
                // Each piece after the first starts inside a comment.
                let after = if index == 0 {
                    Some(piece)
                } else {
                    piece.split_once("--}}").map(|(_, rest)| rest)
                };
                code.push_str(after.unwrap_or_else(|| panic!("{name}: an unclosed comment")));
            }
            assert!(!code.contains('`'), "{name}: a template literal");
            assert!(
                !code.lines().any(|line| line.trim_end().ends_with('\\')),
                "{name}: a string continued on the next line"
            );
        }
        let mut config = config();
        config.mark_migrated = MarkMigrated::Login;
        config.mfa = MfaPolicy::Allow;
        config.action = Some(action_config());
        let scripts = rendered(&config)
            .into_iter()
            .chain([rendered_action(&config)]);
        for script in scripts.chain(rendered(&api_config())) {
            // The glue is inserted as built (the stand-in's has an indented line).
            let own = script.text.replace(&bundle().glue, "");
            assert!(
                !own.lines().any(|line| line.starts_with([' ', '\t'])),
                "{:?} ships indented",
                script.kind
            );
        }
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
