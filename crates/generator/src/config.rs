//! The TOML configuration: parsing, validation, and errors that name the
//! key and the line.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use trickle_core::{AppMetadataKey, Field, FieldSet, Policy};

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The custom database connection in the new tenant (folder name too).
    pub connection_name: String,
    /// The connection (realm) in the old tenant users log in against
    /// (empty for an API source: its users have no realm).
    pub realm: String,
    /// The old tenant is reached through a custom domain: the settings carry
    /// `custom_domain` beside `domain` (the canonical one).
    pub custom_domain: bool,
    pub policy: Policy,
    /// Who writes the migration marker to the old user, if anyone.
    pub mark_migrated: MarkMigrated,
    pub mfa: MfaPolicy,
    /// Timeout of each HTTP request to the old tenant.
    pub timeout_ms: u32,
    /// Generate the end-state scripts (the migration window is closed).
    pub decommission: bool,
    /// Where the connection's settings live.
    pub settings: SettingsMode,
    /// The applications (by name) the connection is enabled for.
    pub enabled_clients: Vec<String>,
    /// The post-login Action, when generated.
    pub action: Option<ActionConfig>,
    /// `[source] kind = "api"`: a legacy user store behind an API, instead
    /// of an old Auth0 tenant.
    pub api: Option<ApiSource>,
}

/// A legacy user store behind an API (the contract in
/// `docs/legacy-api.openapi.yaml`), reached with a token of the NEW tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSource {
    /// The API's base URL (`[source] url`): the scripts' default for the
    /// `api_url` setting.
    pub url: String,
    /// The API's identifier in the new tenant (`[source] audience`): the
    /// scripts' default for `api_audience`, and what the guard guards.
    pub audience: String,
    /// The credentials-exchange Action that keeps other clients from
    /// getting tokens for the audience.
    pub guard: GuardConfig,
}

/// The audience guard: a credentials-exchange Action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// The Action's name in the new tenant (also its file names).
    pub name: String,
    pub runtime: ActionRuntime,
    /// Every action bound to the credentials-exchange trigger, in order,
    /// this one included: deploy-cli replaces the trigger's bindings with
    /// this list. Empty: no binding is written (bind it in the dashboard).
    pub flow: Vec<String>,
}

/// Where the users come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Another Auth0 tenant (`[source] realm`).
    Auth0,
    /// A legacy user store behind an API (`[source] url`, `audience`).
    Api,
}

impl Config {
    /// Where the users come from.
    pub fn source_kind(&self) -> SourceKind {
        if self.api.is_some() {
            SourceKind::Api
        } else {
            SourceKind::Auth0
        }
    }
}

/// Who writes the migration marker (`app_metadata.trickle_migrated_at`) to
/// the old user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkMigrated {
    /// Nobody.
    Off,
    /// The login script, just before it hands the profile to Auth0
    /// (`mark_migrated = true`, as before).
    Login,
    /// The post-login Action, once Auth0 has stored the user.
    Action,
}

impl MarkMigrated {
    /// Whether anyone writes the marker (the client then needs `update:users`).
    pub const fn is_on(self) -> bool {
        !matches!(self, MarkMigrated::Off)
    }
}

/// Where the connection's settings (`options.configuration`) live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsMode {
    /// In `database.json`, as deploy-cli keyword placeholders (`@@KEY@@`):
    /// every deploy sets them, so every deploy needs the mappings.
    Deploy,
    /// In the dashboard only: `database.json` has no `configuration`, so no
    /// deploy ever touches them.
    Dashboard,
}

/// The Action runtimes Auth0 offers (and the testkit models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionRuntime {
    Node18,
    Node22,
}

impl ActionRuntime {
    /// As deploy-cli and the Management API name it.
    pub const fn name(self) -> &'static str {
        match self {
            ActionRuntime::Node18 => "node18",
            ActionRuntime::Node22 => "node22",
        }
    }
}

/// The post-login Action that backfills metadata and (with
/// `mark_migrated = "action"`) marks users in the old tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionConfig {
    /// The Action's name in the new tenant (also its file names).
    pub name: String,
    pub runtime: ActionRuntime,
    /// The most time one login may spend in the Action asking the old tenant.
    pub budget_ms: u32,
    /// Every action bound to the post-login trigger, in order, this one
    /// included: deploy-cli replaces the trigger's bindings with this list.
    /// Empty: no binding is written (bind it in the dashboard).
    pub post_login_flow: Vec<String>,
}

impl Config {
    /// Things worth saying about a config that is valid but probably not
    /// what the user wants.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.enabled_clients.is_empty() {
            warnings.push(
                "connection.enabled_clients is empty: the connection is enabled for no application, so no login reaches it \
                 (and bulk import refuses it) until it is enabled in the dashboard; list the applications by name to have deploy-cli enable it"
                    .to_owned(),
            );
        }
        if let Some(api) = &self.api {
            if api.guard.flow.is_empty() {
                warnings.push(format!(
                    "guard.credentials_exchange_flow is empty: no trigger binding is written; add the Action {} to the \
                     Machine to Machine (credentials-exchange) flow in the dashboard, or any application may get tokens for {}",
                    api.guard.name, api.audience
                ));
            }
        }
        if let Some(action) = &self.action {
            if action.post_login_flow.is_empty() {
                warnings.push(format!(
                    "action.post_login_flow is empty: no trigger binding is written; add the Action {} to the post-login flow in the dashboard",
                    action.name
                ));
            }
        }
        warnings
    }
}

/// What login does with a user whose password is right but who has MFA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Not migrated: the user is left for bulk import.
    Reject,
    /// Migrated on the strength of the password.
    Allow,
}

/// A configuration that cannot be used, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The dotted key, when known (`connection.name`).
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

pub const TIMEOUT_RANGE_MS: Range<u32> = 100..15_001;
const MAX_NAME_LEN: usize = 128;
/// The default time one login may spend in the Action asking the old tenant.
const DEFAULT_ACTION_BUDGET_MS: u32 = 5000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    connection: RawConnection,
    source: Spanned<RawSource>,
    #[serde(default)]
    profile: RawProfile,
    #[serde(default)]
    migration: RawMigration,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    action: RawAction,
    #[serde(default)]
    guard: Option<Spanned<RawGuard>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: Spanned<String>,
    #[serde(default)]
    settings: Option<Spanned<SettingsMode>>,
    #[serde(default)]
    enabled_clients: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawAction {
    enabled: Option<Spanned<bool>>,
    name: Option<Spanned<String>>,
    runtime: Option<ActionRuntime>,
    budget_ms: Option<Spanned<i64>>,
    post_login_flow: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSource {
    kind: Option<Spanned<String>>,
    realm: Option<Spanned<String>>,
    custom_domain: Option<Spanned<bool>>,
    url: Option<Spanned<String>>,
    audience: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawGuard {
    name: Option<Spanned<String>>,
    runtime: Option<ActionRuntime>,
    credentials_exchange_flow: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default = "default_app_metadata_key")]
    app_metadata_key: Spanned<String>,
    fields: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMigration {
    mark_migrated: Spanned<toml::Value>,
    skip_marked: bool,
    mfa: MfaPolicy,
    decommission: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHttp {
    timeout_ms: Spanned<i64>,
}

fn default_app_metadata_key() -> Spanned<String> {
    Spanned::new(0..0, AppMetadataKey::Metadata.name().to_owned())
}

impl Default for RawProfile {
    fn default() -> Self {
        RawProfile {
            app_metadata_key: default_app_metadata_key(),
            fields: None,
        }
    }
}

impl Default for RawMigration {
    fn default() -> Self {
        RawMigration {
            mark_migrated: Spanned::new(0..0, toml::Value::Boolean(false)),
            skip_marked: true,
            mfa: MfaPolicy::Reject,
            decommission: false,
        }
    }
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            timeout_ms: Spanned::new(0..0, 5000),
        }
    }
}

/// Parses and validates a configuration file's text.
pub fn parse_config(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError {
        line: error.span().map(|span| line_of(text, span.start)),
        key: key_of(&error),
        message: error.message().trim_end().to_owned(),
    })?;
    let at = |key: &str, span: Range<usize>, message: String| ConfigError {
        line: (span.end > 0).then(|| line_of(text, span.start)),
        key: Some(key.to_owned()),
        message,
    };

    let connection_name = raw.connection.name.get_ref();
    check_connection_name(connection_name)
        .map_err(|m| at("connection.name", raw.connection.name.span(), m))?;
    let source = source_config(&raw, &at)?;

    let key_name = raw.profile.app_metadata_key.get_ref();
    let app_metadata_key = AppMetadataKey::from_name(key_name).ok_or_else(|| {
        at(
            "profile.app_metadata_key",
            raw.profile.app_metadata_key.span(),
            format!("`{key_name}` is not one of `metadata`, `app_metadata`"),
        )
    })?;

    let fields = profile_fields(raw.profile.fields.as_deref(), &at)?;

    let timeout_ms = timeout_ms(&raw.http.timeout_ms, &at)?;

    let mark_migrated = mark_migrated(&raw.migration.mark_migrated, &at)?;

    let settings = raw
        .connection
        .settings
        .map(Spanned::into_inner)
        .unwrap_or(SettingsMode::Dashboard);
    let enabled_clients = enabled_clients(&raw.connection.enabled_clients, &at)?;

    let action = action_config(&raw.action, connection_name, mark_migrated, &at)?;

    Ok(Config {
        connection_name: connection_name.clone(),
        realm: source.realm,
        custom_domain: source.custom_domain,
        policy: Policy {
            fields,
            app_metadata_key,
            skip_marked: raw.migration.skip_marked,
        },
        mark_migrated,
        mfa: raw.migration.mfa,
        timeout_ms,
        decommission: raw.migration.decommission,
        settings,
        enabled_clients,
        action,
        api: source.api,
    })
}

/// The `[source]` section, as read for its kind.
struct SourceConfig {
    realm: String,
    custom_domain: bool,
    api: Option<ApiSource>,
}

type At<'a> = &'a dyn Fn(&str, Range<usize>, String) -> ConfigError;

/// `profile.fields`: the profile fields returned (all when not given).
fn profile_fields(names: Option<&[Spanned<String>]>, at: At) -> Result<FieldSet, ConfigError> {
    let Some(names) = names else {
        return Ok(FieldSet::all());
    };
    names
        .iter()
        .map(|name| {
            Field::from_name(name.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = Field::ALL.iter().map(|field| field.name()).collect();
                at(
                    "profile.fields",
                    name.span(),
                    format!(
                        "`{}` is not a profile field (user_id and email are always returned; known: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// `http.timeout_ms`, within [`TIMEOUT_RANGE_MS`].
fn timeout_ms(timeout_ms: &Spanned<i64>, at: At) -> Result<u32, ConfigError> {
    let timeout = *timeout_ms.get_ref();
    u32::try_from(timeout)
        .ok()
        .filter(|ms| TIMEOUT_RANGE_MS.contains(ms))
        .ok_or_else(|| {
            at(
                "http.timeout_ms",
                timeout_ms.span(),
                format!(
                    "{timeout} is out of range: {}..={} (Auth0 stops a script after about 20 s)",
                    TIMEOUT_RANGE_MS.start,
                    TIMEOUT_RANGE_MS.end - 1
                ),
            )
        })
}

/// `migration.mark_migrated`: false, true or "login", "action".
fn mark_migrated(value: &Spanned<toml::Value>, at: At) -> Result<MarkMigrated, ConfigError> {
    match value.get_ref() {
        toml::Value::Boolean(false) => Ok(MarkMigrated::Off),
        toml::Value::Boolean(true) => Ok(MarkMigrated::Login),
        toml::Value::String(who) if who == "login" => Ok(MarkMigrated::Login),
        toml::Value::String(who) if who == "action" => Ok(MarkMigrated::Action),
        other => Err(at(
            "migration.mark_migrated",
            value.span(),
            format!("{other} is not one of false, \"login\" (or true), \"action\""),
        )),
    }
}

/// `connection.enabled_clients`: application names, each once, without
/// blanks at either end.
fn enabled_clients(names: &[Spanned<String>], at: At) -> Result<Vec<String>, ConfigError> {
    let mut enabled_clients: Vec<String> = Vec::new();
    for name in names {
        let text = name.get_ref().trim();
        if text.is_empty() || text != name.get_ref() {
            return Err(at(
                "connection.enabled_clients",
                name.span(),
                format!(
                    "`{}` is not an application name (empty, or blank at either end)",
                    name.get_ref()
                ),
            ));
        }
        if enabled_clients.iter().any(|known| known == text) {
            return Err(at(
                "connection.enabled_clients",
                name.span(),
                format!("`{text}` is listed twice"),
            ));
        }
        enabled_clients.push(text.to_owned());
    }
    Ok(enabled_clients)
}

/// `[source]`: an old Auth0 tenant's realm (the default kind), or a legacy
/// store's API (`kind = "api"`) with the `[guard]` Action; a key of the
/// other kind is refused rather than silently ignored.
fn source_config(raw: &RawConfig, at: At) -> Result<SourceConfig, ConfigError> {
    let source = raw.source.get_ref();
    let kind = match &source.kind {
        None => SourceKind::Auth0,
        Some(kind) => match kind.get_ref().as_str() {
            "auth0" => SourceKind::Auth0,
            "api" => SourceKind::Api,
            other => {
                return Err(at(
                    "source.kind",
                    kind.span(),
                    format!("`{other}` is not one of \"auth0\" (another Auth0 tenant), \"api\" (a user store behind an API)"),
                ))
            }
        },
    };
    let (own, foreign) = match kind {
        SourceKind::Auth0 => (["realm", "custom_domain"], ["url", "audience"]),
        SourceKind::Api => (["url", "audience"], ["realm", "custom_domain"]),
    };
    let spans = [
        ("realm", source.realm.as_ref().map(Spanned::span)),
        (
            "custom_domain",
            source.custom_domain.as_ref().map(Spanned::span),
        ),
        ("url", source.url.as_ref().map(Spanned::span)),
        ("audience", source.audience.as_ref().map(Spanned::span)),
    ];
    for (key, span) in spans {
        if let (true, Some(span)) = (foreign.contains(&key), span) {
            return Err(at(
                &format!("source.{key}"),
                span,
                format!(
                    "only for kind = \"{}\" (this source is kind = \"{}\", which uses {} and {})",
                    if kind == SourceKind::Api {
                        "auth0"
                    } else {
                        "api"
                    },
                    if kind == SourceKind::Api {
                        "api"
                    } else {
                        "auth0"
                    },
                    own[0],
                    own[1]
                ),
            ));
        }
    }
    match kind {
        SourceKind::Auth0 => auth0_source(raw, at),
        SourceKind::Api => api_source(raw, at).map(|api| SourceConfig {
            realm: String::new(),
            custom_domain: false,
            api: Some(api),
        }),
    }
}

fn auth0_source(raw: &RawConfig, at: At) -> Result<SourceConfig, ConfigError> {
    let source = raw.source.get_ref();
    if let Some(guard) = &raw.guard {
        return Err(at(
            "guard",
            guard.span(),
            "the credentials-exchange guard is for [source] kind = \"api\"".to_owned(),
        ));
    }
    let Some(realm) = &source.realm else {
        return Err(at(
            "source.realm",
            raw.source.span(),
            "missing: the connection in the old tenant whose users are migrated (or kind = \"api\" with url and audience)".to_owned(),
        ));
    };
    check_connection_name(realm.get_ref()).map_err(|m| at("source.realm", realm.span(), m))?;
    Ok(SourceConfig {
        realm: realm.get_ref().clone(),
        custom_domain: source.custom_domain.as_ref().is_some_and(|c| *c.get_ref()),
        api: None,
    })
}

/// The longest API identifier taken (Auth0 allows 600 characters).
const MAX_AUDIENCE_LEN: usize = 600;

fn api_source(raw: &RawConfig, at: At) -> Result<ApiSource, ConfigError> {
    let source = raw.source.get_ref();
    let required = |value: &Option<Spanned<String>>, key: &str, what: &str| match value {
        Some(value) => Ok(value.clone()),
        None => Err(at(key, raw.source.span(), format!("missing: {what}"))),
    };
    let url = required(
        &source.url,
        "source.url",
        "the API's base URL, e.g. https://legacy.example.com/auth0-migration",
    )?;
    let audience = required(
        &source.audience,
        "source.audience",
        "the API's identifier in the new tenant (APIs → Identifier)",
    )?;
    let base = trickle_core::api_base_url(url.get_ref()).map_err(|error| {
        at(
            "source.url",
            url.span(),
            error.message().replace("configuration.domain", "the url"),
        )
    })?;
    let text = audience.get_ref();
    if text.is_empty()
        || text.trim() != text
        || text.len() > MAX_AUDIENCE_LEN
        || text.chars().any(char::is_control)
    {
        return Err(at(
            "source.audience",
            audience.span(),
            format!("`{text}` is not an API identifier (1 to {MAX_AUDIENCE_LEN} characters, no blanks at either end, no control characters)"),
        ));
    }
    if let Some(action) = &raw.action.enabled {
        return Err(at("action.enabled", action.span(), "the post-login Action reads an old Auth0 tenant; it is not generated for kind = \"api\"".to_owned()));
    }
    if let toml::Value::String(who) = raw.migration.mark_migrated.get_ref() {
        if who == "action" {
            return Err(at("migration.mark_migrated", raw.migration.mark_migrated.span(),
                "\"action\" is for an old Auth0 tenant; with kind = \"api\" the login marks (true or \"login\")".to_owned()));
        }
    }
    let default_name = format!("{}-api-guard", raw.connection.name.get_ref());
    Ok(ApiSource {
        url: base.to_owned(),
        audience: text.clone(),
        guard: guard_config(raw.guard.as_ref(), &default_name, at)?,
    })
}

/// `[guard]`: the credentials-exchange Action's name, runtime and the
/// trigger's whole flow (default: this Action alone).
fn guard_config(
    raw: Option<&Spanned<RawGuard>>,
    default_name: &str,
    at: At,
) -> Result<GuardConfig, ConfigError> {
    let empty = RawGuard::default();
    let guard = raw.map_or(&empty, Spanned::get_ref);
    let name = match &guard.name {
        Some(name) => {
            check_action_name(name.get_ref()).map_err(|m| at("guard.name", name.span(), m))?;
            name.get_ref().clone()
        }
        None => {
            check_action_name(default_name).map_err(|m| {
                at(
                    "guard.name",
                    0..0,
                    format!("the default name is too long ({m}): set guard.name"),
                )
            })?;
            default_name.to_owned()
        }
    };
    let flow = match &guard.credentials_exchange_flow {
        None => vec![name.clone()],
        Some(flow) => action_flow(
            flow,
            &name,
            "guard.credentials_exchange_flow",
            "credentials-exchange",
            at,
        )?,
    };
    Ok(GuardConfig {
        name,
        runtime: guard.runtime.unwrap_or(ActionRuntime::Node22),
        flow,
    })
}

/// A trigger's whole list of bound actions: no blank or repeated name, and
/// `name` among them unless the list is empty.
fn action_flow(
    flow: &[Spanned<String>],
    name: &str,
    key: &str,
    trigger: &str,
    at: At,
) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = Vec::new();
    for entry in flow {
        let text = entry.get_ref();
        if text.trim().is_empty() || names.contains(text) {
            return Err(at(
                key,
                entry.span(),
                format!("`{text}` is empty or listed twice"),
            ));
        }
        names.push(text.clone());
    }
    if !names.is_empty() && !names.iter().any(|n| n == name) {
        let span = flow.first().map(Spanned::span).unwrap_or(0..0);
        return Err(at(
            key,
            span,
            format!(
                "must list this Action (`{name}`) among the {trigger} flow's actions, or be empty"
            ),
        ));
    }
    Ok(names)
}

/// The `[action]` section: generated when `enabled` says so, or by default
/// when the Action is the one marking users.
fn action_config(
    raw: &RawAction,
    connection_name: &str,
    mark_migrated: MarkMigrated,
    at: At,
) -> Result<Option<ActionConfig>, ConfigError> {
    let enabled = match &raw.enabled {
        Some(enabled) if !*enabled.get_ref() && mark_migrated == MarkMigrated::Action => {
            return Err(at(
                "action.enabled",
                enabled.span(),
                "false, but migration.mark_migrated = \"action\" needs the Action".to_owned(),
            ))
        }
        Some(enabled) => *enabled.get_ref(),
        None => mark_migrated == MarkMigrated::Action,
    };
    if !enabled {
        return Ok(None);
    }
    let name = match &raw.name {
        Some(name) => {
            check_action_name(name.get_ref()).map_err(|m| at("action.name", name.span(), m))?;
            name.get_ref().clone()
        }
        None => {
            let name = format!("{connection_name}-migration");
            check_action_name(&name).map_err(|m| {
                at(
                    "action.name",
                    0..0,
                    format!("the default name is too long ({m}): set action.name"),
                )
            })?;
            name
        }
    };
    let budget_ms = match &raw.budget_ms {
        None => DEFAULT_ACTION_BUDGET_MS,
        Some(budget) => u32::try_from(*budget.get_ref())
            .ok()
            .filter(|ms| TIMEOUT_RANGE_MS.contains(ms))
            .ok_or_else(|| {
                at(
                    "action.budget_ms",
                    budget.span(),
                    format!(
                        "{} is out of range: {}..={} (a login waits for it; Auth0 stops the flow after 20 s)",
                        budget.get_ref(),
                        TIMEOUT_RANGE_MS.start,
                        TIMEOUT_RANGE_MS.end - 1
                    ),
                )
            })?,
    };
    let post_login_flow = match &raw.post_login_flow {
        None => vec![name.clone()],
        Some(flow) => action_flow(flow, &name, "action.post_login_flow", "post-login", at)?,
    };
    Ok(Some(ActionConfig {
        name,
        runtime: raw.runtime.unwrap_or(ActionRuntime::Node22),
        budget_ms,
        post_login_flow,
    }))
}

/// Action names become file names (deploy-cli's `actions/<name>.json`):
/// letters, digits, `-` and `_`, not starting with `-`, at most 128.
fn check_action_name(name: &str) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.starts_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid Action name (letters, digits, - and _, 1 to {MAX_NAME_LEN} characters)"
        ))
    }
}

/// Auth0 connection names: letters, digits and inner hyphens, at most 128.
/// The same rule keeps the name safe as a folder name.
fn check_connection_name(name: &str) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid connection name (letters, digits and inner hyphens, 1 to {MAX_NAME_LEN} characters)"
        ))
    }
}

/// The dotted key a TOML error is about (`migration.mfa`), when it knows:
/// toml keeps it private and shows it only when it has no input to quote.
fn key_of(error: &toml::de::Error) -> Option<String> {
    let mut bare = error.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let key = shown
        .lines()
        .last()?
        .strip_prefix("in `")?
        .strip_suffix('`')?;
    Some(key.to_owned())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n";

    fn error(text: &str) -> ConfigError {
        parse_config(text).expect_err("config must be refused")
    }

    #[test]
    fn defaults_fill_everything_but_the_two_names() {
        let config = parse_config(MINIMAL).unwrap();
        assert_eq!(config.connection_name, "old-tenant-import");
        assert_eq!(config.realm, "Username-Password-Authentication");
        assert_eq!(config.policy, Policy::default());
        assert_eq!(config.mark_migrated, MarkMigrated::Off);
        assert_eq!(config.mfa, MfaPolicy::Reject);
        assert_eq!(config.timeout_ms, 5000);
        assert!(!config.decommission);
        assert_eq!(config.settings, SettingsMode::Dashboard);
        assert!(config.enabled_clients.is_empty());
        assert!(!config.custom_domain);
        assert_eq!(config.action, None);
    }

    #[test]
    fn every_setting_is_read() {
        let text = format!(
            "{MINIMAL}[profile]\napp_metadata_key = \"app_metadata\"\nfields = [\"name\", \"user_metadata\"]\n\
             [migration]\nmark_migrated = true\nskip_marked = false\nmfa = \"allow\"\ndecommission = true\n[http]\ntimeout_ms = 2500\n"
        );
        let config = parse_config(&text).unwrap();
        assert_eq!(config.policy.app_metadata_key, AppMetadataKey::AppMetadata);
        assert_eq!(
            config.policy.fields,
            FieldSet::empty()
                .with(Field::Name)
                .with(Field::UserMetadata)
        );
        assert!(!config.policy.skip_marked);
        assert_eq!(config.mark_migrated, MarkMigrated::Login);
        assert_eq!(config.mfa, MfaPolicy::Allow);
        assert_eq!(config.timeout_ms, 2500);
        assert!(config.decommission);
    }

    #[test]
    fn a_missing_section_or_key_is_named() {
        let e = error("[connection]\nname = \"x\"\n");
        assert!(e.message.contains("source"), "{e}");
        let e = error("[connection]\n[source]\nrealm = \"r\"\n");
        assert!(e.message.contains("name"), "{e}");
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let e = error(&format!("{MINIMAL}[migration]\nmark_migrate = true\n"));
        assert!(e.message.contains("mark_migrate"), "{e}");
        assert_eq!(e.line, Some(6), "{e}");
    }

    #[test]
    fn bad_values_are_named_with_key_and_line() {
        let e = error("[connection]\nname = \"../etc\"\n[source]\nrealm = \"r\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("connection.name"), Some(2)),
            "{e}"
        );
        let e = error("[connection]\nname = \"ok\"\n[source]\nrealm = \"\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("source.realm"), Some(4)),
            "{e}"
        );
        let e = error(&format!(
            "{MINIMAL}[profile]\napp_metadata_key = \"meta\"\n"
        ));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("profile.app_metadata_key"), Some(6)),
            "{e}"
        );
        let e = error(&format!(
            "{MINIMAL}[profile]\nfields = [\n  \"name\",\n  \"identities\",\n]\n"
        ));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("profile.fields"), Some(8)),
            "{e}"
        );
        let e = error(&format!("{MINIMAL}[http]\ntimeout_ms = 60000\n"));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("http.timeout_ms"), Some(6)),
            "{e}"
        );
        let e = error(&format!("{MINIMAL}[http]\ntimeout_ms = -1\n"));
        assert_eq!(e.key.as_deref(), Some("http.timeout_ms"), "{e}");
        let e = error(&format!("{MINIMAL}[migration]\nmfa = \"maybe\"\n"));
        assert!(e.message.contains("maybe") && e.line == Some(6), "{e}");
        let e = error(&format!("{MINIMAL}[migration]\nmark_migrated = \"yes\"\n"));
        assert_eq!(e.line, Some(6), "{e}");
    }

    #[test]
    fn mark_migrated_says_who_marks_and_true_still_means_the_login() {
        let mark = |value: &str| {
            parse_config(&format!("{MINIMAL}[migration]\nmark_migrated = {value}\n"))
                .map(|config| config.mark_migrated)
        };
        assert_eq!(mark("false"), Ok(MarkMigrated::Off));
        assert_eq!(mark("true"), Ok(MarkMigrated::Login));
        assert_eq!(mark("\"login\""), Ok(MarkMigrated::Login));
        assert_eq!(mark("\"action\""), Ok(MarkMigrated::Action));
        let e = mark("\"script\"").unwrap_err();
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("migration.mark_migrated"), Some(6)),
            "{e}"
        );
        assert!(e.message.contains("\"action\""), "{e}");
    }

    #[test]
    fn the_action_comes_with_mark_migrated_action_or_when_enabled() {
        let config = parse_config(&format!(
            "{MINIMAL}[migration]\nmark_migrated = \"action\"\n"
        ))
        .unwrap();
        let action = config.action.unwrap();
        assert_eq!(action.name, "old-tenant-import-migration");
        assert_eq!(action.runtime, ActionRuntime::Node22);
        assert_eq!(action.budget_ms, 5000);
        assert_eq!(action.post_login_flow, ["old-tenant-import-migration"]);

        let config = parse_config(&format!(
            "{MINIMAL}[action]\nenabled = true\nname = \"backfill\"\nruntime = \"node18\"\nbudget_ms = 3000\n\
             post_login_flow = [\"Add roles\", \"backfill\"]\n"
        ))
        .unwrap();
        assert_eq!(config.mark_migrated, MarkMigrated::Off);
        let action = config.action.unwrap();
        assert_eq!(
            (action.name.as_str(), action.runtime, action.budget_ms),
            ("backfill", ActionRuntime::Node18, 3000)
        );
        assert_eq!(action.post_login_flow, ["Add roles", "backfill"]);

        let e = error(&format!(
            "{MINIMAL}[migration]\nmark_migrated = \"action\"\n[action]\nenabled = false\n"
        ));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("action.enabled"), Some(8)),
            "{e}"
        );
        let e = error(&format!(
            "{MINIMAL}[action]\nenabled = true\nname = \"a/b\"\n"
        ));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("action.name"), Some(7)),
            "{e}"
        );
        let e = error(&format!(
            "{MINIMAL}[action]\nenabled = true\npost_login_flow = [\"other\"]\n"
        ));
        assert_eq!(e.key.as_deref(), Some("action.post_login_flow"), "{e}");
        let e = error(&format!(
            "{MINIMAL}[action]\nenabled = true\nbudget_ms = 30000\n"
        ));
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("action.budget_ms"), Some(7)),
            "{e}"
        );
        assert!(parse_config(&format!(
            "{MINIMAL}[action]\nenabled = true\npost_login_flow = []\n"
        ))
        .unwrap()
        .warnings()
        .iter()
        .any(|w| w.contains("post_login_flow")));
    }

    #[test]
    fn settings_mode_and_enabled_clients_are_read_and_an_empty_list_warns() {
        let config = parse_config(
            "[connection]\nname = \"c\"\nsettings = \"deploy\"\nenabled_clients = [\"My App\", \"Admin\"]\n\
             [source]\nrealm = \"r\"\ncustom_domain = true\n",
        )
        .unwrap();
        assert_eq!(config.settings, SettingsMode::Deploy);
        assert_eq!(config.enabled_clients, ["My App", "Admin"]);
        assert!(config.custom_domain);
        assert!(config.warnings().is_empty());
        let warnings = parse_config(MINIMAL).unwrap().warnings();
        assert!(
            warnings.iter().any(|w| w.contains("enabled_clients")),
            "{warnings:?}"
        );
        let e = error("[connection]\nname = \"c\"\nsettings = \"repo\"\n[source]\nrealm = \"r\"\n");
        assert_eq!(e.line, Some(3), "{e}");
        let e = error("[connection]\nname = \"c\"\nenabled_clients = [\"A\", \"A\"]\n[source]\nrealm = \"r\"\n");
        assert_eq!(
            (e.key.as_deref(), e.line),
            (Some("connection.enabled_clients"), Some(3)),
            "{e}"
        );
        let e = error(
            "[connection]\nname = \"c\"\nenabled_clients = [\" A\"]\n[source]\nrealm = \"r\"\n",
        );
        assert_eq!(e.key.as_deref(), Some("connection.enabled_clients"), "{e}");
    }

    #[test]
    fn connection_names_follow_auth0_rules() {
        for good in [
            "a",
            "old-tenant-import",
            "Username-Password-Authentication",
            "db2",
        ] {
            assert!(check_connection_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", "-a", "a-", "a b", "a/b", "..", "a_b", long.as_str()] {
            assert!(check_connection_name(bad).is_err(), "{bad}");
        }
    }

    const API: &str = "[connection]\nname = \"legacy-import\"\n[source]\nkind = \"api\"\n\
        url = \"https://legacy.example.com/auth0-migration/\"\naudience = \"https://legacy.example.com/api\"\n";

    #[test]
    fn an_api_source_reads_url_audience_and_its_guard() {
        let config = parse_config(API).unwrap();
        assert_eq!(config.source_kind(), SourceKind::Api);
        assert_eq!(config.realm, "");
        let api = config.api.unwrap();
        assert_eq!(api.url, "https://legacy.example.com/auth0-migration");
        assert_eq!(api.audience, "https://legacy.example.com/api");
        assert_eq!(
            api.guard,
            GuardConfig {
                name: "legacy-import-api-guard".to_owned(),
                runtime: ActionRuntime::Node22,
                flow: vec!["legacy-import-api-guard".to_owned()],
            }
        );
        assert_eq!(
            parse_config(MINIMAL).unwrap().source_kind(),
            SourceKind::Auth0
        );
        let explicit = format!("{}kind = \"auth0\"\n", MINIMAL);
        assert_eq!(parse_config(&explicit).unwrap().api, None);

        let config = parse_config(&format!(
            "{API}[guard]\nname = \"api-guard\"\nruntime = \"node18\"\ncredentials_exchange_flow = [\"Add claims\", \"api-guard\"]\n\
             [migration]\nmark_migrated = \"login\"\n"
        ))
        .unwrap();
        assert_eq!(config.mark_migrated, MarkMigrated::Login);
        let guard = config.api.unwrap().guard;
        assert_eq!(
            (guard.name.as_str(), guard.runtime),
            ("api-guard", ActionRuntime::Node18)
        );
        assert_eq!(guard.flow, ["Add claims", "api-guard"]);
        let unbound =
            parse_config(&format!("{API}[guard]\ncredentials_exchange_flow = []\n")).unwrap();
        assert!(unbound
            .warnings()
            .iter()
            .any(|w| w.contains("credentials_exchange_flow")));
    }

    #[test]
    fn an_api_source_is_refused_with_key_and_line_when_incomplete_or_mixed() {
        let cases = [
            ("[connection]\nname = \"c\"\n[source]\nkind = \"ldap\"\n", "source.kind", 4),
            ("[connection]\nname = \"c\"\n[source]\nkind = \"api\"\naudience = \"a\"\n", "source.url", 3),
            ("[connection]\nname = \"c\"\n[source]\nkind = \"api\"\nurl = \"https://l.example\"\n", "source.audience", 3),
            (&format!("{API}realm = \"db\"\n"), "source.realm", 7),
            (&format!("{API}custom_domain = true\n"), "source.custom_domain", 7),
            (&format!("{MINIMAL}url = \"https://l.example\"\n"), "source.url", 5),
            ("[connection]\nname = \"c\"\n[source]\ncustom_domain = true\n", "source.realm", 3),
            (&format!("{MINIMAL}[guard]\nname = \"g\"\n"), "guard", 5),
            (&API.replace("https://legacy.example.com/auth0-migration/", "http://legacy.example.com/api"), "source.url", 5),
            (&API.replace("https://legacy.example.com/auth0-migration/", "https://legacy.example.com/a?b=1"), "source.url", 5),
            (&API.replace("https://legacy.example.com/api", " padded"), "source.audience", 6),
            (&format!("{API}[migration]\nmark_migrated = \"action\"\n"), "migration.mark_migrated", 8),
            (&format!("{API}[action]\nenabled = true\n"), "action.enabled", 8),
            (&format!("{API}[guard]\nname = \"a/b\"\n"), "guard.name", 8),
            (&format!("{API}[guard]\ncredentials_exchange_flow = [\"other\"]\n"), "guard.credentials_exchange_flow", 8),
        ];
        for (text, key, line) in cases {
            let e = error(text);
            assert_eq!(
                (e.key.as_deref(), e.line),
                (Some(key), Some(line)),
                "{e}\n{text}"
            );
        }
        let e = error(&API.replace(
            "https://legacy.example.com/auth0-migration/",
            "http://legacy.example.com/api",
        ));
        assert!(
            e.message
                .contains("the url may use http:// only for localhost"),
            "{e}"
        );
        assert!(!e.message.contains("configuration."), "{e}");
    }

    #[test]
    fn not_toml_at_all_is_an_error_with_a_line() {
        let e = error("[connection\nname = 1");
        assert_eq!(e.line, Some(1), "{e}");
    }
}
