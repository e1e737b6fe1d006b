//! The deploy layouts deploy-cli reads (its directory format, or its YAML
//! format with `tenant.yaml`), written atomically piece by piece.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::{ActionRuntime, Config, Script, ScriptKind, SettingsMode};

/// The settings the scripts and the Action read, with the deploy-cli
/// keyword (`AUTH0_KEYWORD_REPLACE_MAPPINGS`) each one is filled from when
/// `settings = "deploy"`. No secret is ever written by Trickle.
pub const SETTING_KEYWORDS: [(&str, &str); 4] = [
    ("domain", "TRICKLE_OLD_TENANT_DOMAIN"),
    ("custom_domain", "TRICKLE_OLD_TENANT_CUSTOM_DOMAIN"),
    ("client_id", "TRICKLE_OLD_TENANT_CLIENT_ID"),
    ("client_secret", "TRICKLE_OLD_TENANT_CLIENT_SECRET"),
];

/// The settings of an API source's scripts with a deploy-cli keyword: the
/// NEW tenant's domain and its migration client. `api_url` and
/// `api_audience` are no secret: deployed, they are the config's values.
pub const API_SETTING_KEYWORDS: [(&str, &str); 3] = [
    ("domain", "TRICKLE_NEW_TENANT_DOMAIN"),
    ("client_id", "TRICKLE_MIGRATION_CLIENT_ID"),
    ("client_secret", "TRICKLE_MIGRATION_CLIENT_SECRET"),
];

/// deploy-cli's layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployFormat {
    /// `database-connections/<name>/database.json`, `actions/<name>.json`,
    /// `triggers/triggers.json`: the directory format (and the GitHub
    /// Deployments extension's).
    Directory,
    /// `tenant.yaml` with the script files beside it.
    Yaml,
}

/// The post-login trigger's id and the version of its `event`/`api` the
/// Action is written for.
const POST_LOGIN_TRIGGER: &str = "post-login";
const POST_LOGIN_VERSION: &str = "v3";
/// The credentials-exchange trigger (Machine to Machine) and its version.
const CREDENTIALS_EXCHANGE_TRIGGER: &str = "credentials-exchange";
const CREDENTIALS_EXCHANGE_VERSION: &str = "v2";

/// The settings with a deploy-cli keyword the generated code reads, in
/// order: `custom_domain` only when the config says the old tenant is
/// reached through one; an API source's own otherwise.
pub fn setting_keywords(config: &Config) -> Vec<(&'static str, &'static str)> {
    if config.api.is_some() {
        return API_SETTING_KEYWORDS.to_vec();
    }
    SETTING_KEYWORDS
        .into_iter()
        .filter(|(setting, _)| *setting != "custom_domain" || config.custom_domain)
        .collect()
}

/// `@@KEY@@`: deploy-cli replaces it (quotes included) with the value
/// JSON-encoded, so any secret survives; `##KEY##` would be pasted raw and
/// a `"` or `\` in a secret would break the file.
fn placeholder(keyword: &str) -> String {
    format!("@@{keyword}@@")
}

/// Plain data in the order it is written (serde_json's `Value` sorts keys),
/// as JSON (through `Serialize`) or YAML.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Flag(bool),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl From<&str> for Node {
    fn from(text: &str) -> Node {
        Node::Text(text.to_owned())
    }
}

impl From<String> for Node {
    fn from(text: String) -> Node {
        Node::Text(text)
    }
}

impl From<bool> for Node {
    fn from(flag: bool) -> Node {
        Node::Flag(flag)
    }
}

fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    Node::Map(
        entries
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

impl Node {
    fn push(&mut self, key: &str, value: Node) {
        if let Node::Map(entries) = self {
            entries.push((key.to_owned(), value));
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Text(text) => serializer.serialize_str(text),
            Node::Flag(flag) => serializer.serialize_bool(*flag),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// The settings as placeholders, or `None` when they live in the dashboard
/// (then the key is absent and a deploy never touches them: deploy-cli
/// merges `options` one level deep, so a `configuration` present but
/// incomplete would replace the dashboard's settings whole).
fn configuration(config: &Config) -> Option<Vec<(&'static str, String)>> {
    (config.settings == SettingsMode::Deploy && !config.decommission).then(|| {
        let mut settings: Vec<(&'static str, String)> = setting_keywords(config)
            .into_iter()
            .map(|(setting, keyword)| (setting, placeholder(keyword)))
            .collect();
        if let Some(api) = &config.api {
            settings.push(("api_url", api.url.clone()));
            settings.push(("api_audience", api.audience.clone()));
        }
        settings
    })
}

/// The guard's secrets when deployed: the migration client it lets through,
/// and the audience the scripts use (the config's).
fn guard_secrets(config: &Config) -> Option<Vec<(&'static str, String)>> {
    let settings = configuration(config)?;
    Some(
        settings
            .into_iter()
            .filter(|(name, _)| *name == "client_id" || *name == "api_audience")
            .collect(),
    )
}

/// The connection as deploy-cli reads it; `script_path` says where each
/// script file is, as the format wants it.
fn database(config: &Config, scripts: &[Script], script_path: impl Fn(&Script) -> String) -> Node {
    let custom_scripts = Node::Map(
        scripts
            .iter()
            .map(|script| (script.kind.key().to_owned(), script_path(script).into()))
            .collect(),
    );
    // Import mode stays on in the end state too: users Auth0 holds are never
    // asked of the scripts.
    let mut options = map([
        ("enabledDatabaseCustomization", true.into()),
        ("import_mode", true.into()),
        ("customScripts", custom_scripts),
    ]);
    if let Some(configuration) = configuration(config) {
        let values = configuration
            .into_iter()
            .map(|(setting, value)| (setting.to_owned(), value.into()))
            .collect();
        options.push("configuration", Node::Map(values));
    }
    let mut database = map([
        ("name", config.connection_name.clone().into()),
        ("strategy", "auth0".into()),
    ]);
    if !config.enabled_clients.is_empty() {
        // Names: deploy-cli resolves them to client ids.
        let names = config
            .enabled_clients
            .iter()
            .map(|name| name.clone().into())
            .collect();
        database.push("enabled_clients", Node::List(names));
    }
    database.push("options", options);
    database
}

/// The `database.json` of deploy-cli's directory format and the GitHub
/// Deployments extension.
pub fn database_json(config: &Config, scripts: &[Script]) -> String {
    pretty(&database(config, scripts, |script| {
        format!("./{}", script.kind.file_name())
    }))
}

/// Where the Action's code lives, relative to the deploy folder (both formats).
fn action_code_path(name: &str) -> String {
    format!("./actions/{name}/code.js")
}

/// An Action of the layout: what deploy-cli needs to create and bind it.
struct ActionEntry<'a> {
    kind: ScriptKind,
    name: &'a str,
    runtime: ActionRuntime,
    trigger: &'static str,
    version: &'static str,
    /// Deployed secrets; `None`: a deploy leaves the dashboard's alone.
    secrets: Option<Vec<(&'static str, String)>>,
    /// Every action bound to the trigger, this one included.
    flow: &'a [String],
}

/// The config's Actions: the post-login one, and an API source's guard.
fn action_entries(config: &Config) -> Vec<ActionEntry<'_>> {
    let mut entries = Vec::new();
    if let Some(action) = &config.action {
        entries.push(ActionEntry {
            kind: ScriptKind::PostLoginAction,
            name: &action.name,
            runtime: action.runtime,
            trigger: POST_LOGIN_TRIGGER,
            version: POST_LOGIN_VERSION,
            secrets: configuration(config),
            flow: &action.post_login_flow,
        });
    }
    if let Some(api) = &config.api {
        entries.push(ActionEntry {
            kind: ScriptKind::CredentialsExchangeAction,
            name: &api.guard.name,
            runtime: api.guard.runtime,
            trigger: CREDENTIALS_EXCHANGE_TRIGGER,
            version: CREDENTIALS_EXCHANGE_VERSION,
            secrets: guard_secrets(config),
            flow: &api.guard.flow,
        });
    }
    entries
}

/// An Action as deploy-cli reads it: deployed, for its trigger, its secrets
/// as placeholders only when the settings are deployed.
fn action_node(entry: &ActionEntry) -> Node {
    let mut node = map([
        ("name", entry.name.into()),
        ("code", action_code_path(entry.name).into()),
        ("runtime", entry.runtime.name().into()),
        ("deployed", true.into()),
        ("dependencies", Node::List(Vec::new())),
        (
            "supported_triggers",
            Node::List(vec![map([
                ("id", entry.trigger.into()),
                ("version", entry.version.into()),
            ])]),
        ),
    ]);
    if let Some(secrets) = &entry.secrets {
        let secrets = secrets
            .iter()
            .map(|(name, value)| map([("name", (*name).into()), ("value", value.clone().into())]))
            .collect();
        node.push("secrets", Node::List(secrets));
    }
    node
}

fn entry_json(config: &Config, kind: ScriptKind) -> Option<String> {
    action_entries(config)
        .iter()
        .find(|entry| entry.kind == kind)
        .map(|entry| pretty(&action_node(entry)))
}

/// `actions/<name>.json` of the directory format: the post-login Action.
pub fn action_json(config: &Config) -> Option<String> {
    entry_json(config, ScriptKind::PostLoginAction)
}

/// `actions/<name>.json` of the API source's guard.
pub fn guard_json(config: &Config) -> Option<String> {
    entry_json(config, ScriptKind::CredentialsExchangeAction)
}

/// Each trigger's bindings: deploy-cli replaces a trigger's whole list with
/// the one given, so it is the config's whole flow (the other bound actions
/// included). In the end state the Actions leave their flows.
fn triggers(config: &Config) -> Option<Node> {
    let mut triggers = Node::Map(Vec::new());
    let mut any = false;
    for entry in action_entries(config) {
        if entry.flow.is_empty() {
            continue;
        }
        let bindings = entry
            .flow
            .iter()
            .filter(|name| !(config.decommission && *name == entry.name))
            .map(|name| {
                map([
                    ("action_name", name.clone().into()),
                    ("display_name", name.clone().into()),
                ])
            })
            .collect();
        triggers.push(entry.trigger, Node::List(bindings));
        any = true;
    }
    any.then_some(triggers)
}

/// `triggers/triggers.json` of the directory format.
pub fn triggers_json(config: &Config) -> Option<String> {
    triggers(config).map(|triggers| pretty(&triggers))
}

/// A binding of an existing `triggers/triggers.json`: the trigger, and the
/// Action's name.
pub type Binding = (String, String);

/// The bindings of `existing` (a `triggers/triggers.json` already in the
/// output folder) that writing this config's file would drop: deploy-cli
/// replaces each trigger's whole list, so they would be unbound at the
/// next deploy. This Action leaving the flow at decommission is no loss.
/// Nothing when this config writes no `triggers.json`. `Err` when
/// `existing` is not a `triggers.json` (what it binds cannot be told).
pub fn dropped_bindings(existing: &str, config: &Config) -> Result<Vec<Binding>, String> {
    let Some(Node::Map(ours)) = triggers(config) else {
        return Ok(Vec::new());
    };
    let kept: Vec<Binding> = ours
        .iter()
        .flat_map(|(trigger, list)| match list {
            Node::List(items) => items
                .iter()
                .filter_map(binding_name)
                .map(|name| (trigger.clone(), name))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let leaving = config
        .action
        .as_ref()
        .filter(|_| config.decommission)
        .map(|action| (POST_LOGIN_TRIGGER.to_owned(), action.name.clone()));
    let theirs = existing_bindings(existing)?;
    Ok(theirs
        .into_iter()
        .filter(|binding| !kept.contains(binding) && leaving.as_ref() != Some(binding))
        .collect())
}

/// `action_name` of one of our bindings.
fn binding_name(item: &Node) -> Option<String> {
    let Node::Map(entries) = item else {
        return None;
    };
    entries
        .iter()
        .find_map(|(key, value)| match (key.as_str(), value) {
            ("action_name", Node::Text(name)) => Some(name.clone()),
            _ => None,
        })
}

/// Every `(trigger, action name)` a deploy-cli `triggers.json` binds.
fn existing_bindings(text: &str) -> Result<Vec<Binding>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON ({error})"))?;
    let triggers = value
        .as_object()
        .ok_or("not an object of triggers and their bindings")?;
    let mut bindings = Vec::new();
    for (trigger, list) in triggers {
        let list = list
            .as_array()
            .ok_or_else(|| format!("`{trigger}` is not a list of bindings"))?;
        for binding in list {
            let name = binding["action_name"]
                .as_str()
                .or_else(|| binding["display_name"].as_str())
                .ok_or_else(|| format!("a binding of `{trigger}` names no action"))?;
            bindings.push((trigger.clone(), name.to_owned()));
        }
    }
    Ok(bindings)
}

/// deploy-cli's YAML format: the connection, the Action and its binding,
/// with the files under `databases/<name>/` and `actions/<name>/`.
pub fn tenant_yaml(config: &Config, scripts: &[Script]) -> String {
    let database = database(config, scripts, |script| {
        format!(
            "./databases/{}/{}",
            config.connection_name,
            script.kind.file_name()
        )
    });
    let mut tenant = map([("databases", Node::List(vec![database]))]);
    let actions: Vec<Node> = action_entries(config).iter().map(action_node).collect();
    if !config.decommission && !actions.is_empty() {
        tenant.push("actions", Node::List(actions));
    }
    if let Some(triggers) = triggers(config) {
        tenant.push("triggers", triggers);
    }
    let mut text = String::from(
        "# Generated by Trickle: deploy with deploy-cli (a0deploy import --input_file tenant.yaml).\n",
    );
    yaml(&tenant, 0, &mut text);
    text
}

fn pretty(node: &Node) -> String {
    let mut text = serde_json::to_string_pretty(node).expect("plain data serializes");
    text.push('\n');
    text
}

fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Block-style YAML. Every string is written as a JSON string, which is
/// also a YAML double-quoted scalar, so nothing needs YAML's own escaping
/// rules (and `"@@KEY@@"` is what deploy-cli replaces).
fn yaml(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Map(entries) => {
            for (key, item) in entries {
                out.push_str(&pad);
                out.push_str(&quoted(key));
                out.push(':');
                yaml_child(item, indent, out);
            }
        }
        Node::List(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Node::Map(entries) if !entries.is_empty() => {
                        // The first key on the dash's line, the others under it.
                        let mut nested = String::new();
                        yaml(item, indent + 2, &mut nested);
                        out.push(' ');
                        out.push_str(nested.trim_start());
                    }
                    _ => yaml_child(item, indent, out),
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(node: &Node) -> String {
    match node {
        Node::Text(text) => quoted(text),
        Node::Flag(flag) => flag.to_string(),
        Node::List(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
    }
}

fn yaml_child(item: &Node, indent: usize, out: &mut String) {
    match item {
        Node::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            yaml(item, indent + 2, out);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            yaml(item, indent + 2, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

/// What `write_layout` wrote, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The folder holding the two scripts.
    pub scripts_dir: PathBuf,
    /// The Actions' code, in the order given.
    pub action_code: Vec<PathBuf>,
    /// The other files: `database.json` or `tenant.yaml`, the Action's
    /// JSON, the trigger binding.
    pub files: Vec<PathBuf>,
}

/// Writes the layout under `out`: the scripts, the connection's
/// description, and the Actions (the post-login one, an API source's
/// guard) with their code, descriptions and bindings. Each folder is built
/// beside its final place and renamed into it, and each file written to a
/// temporary file renamed over it, so a reader sees the old piece or the
/// new one, never half.
pub fn write_layout(
    out: &Path,
    config: &Config,
    scripts: &[Script],
    actions: &[Script],
    format: DeployFormat,
) -> io::Result<Written> {
    let connection = config.connection_name.as_str();
    let mut script_files: Vec<(&str, &[u8])> = scripts
        .iter()
        .map(|script| (script.kind.file_name(), script.text.as_bytes()))
        .collect();
    let mut files = Vec::new();
    let (scripts_dir, database_file) = match format {
        DeployFormat::Directory => {
            let database = database_json(config, scripts);
            script_files.push(("database.json", database.as_bytes()));
            let dir = replace_dir(&out.join("database-connections"), connection, &script_files)?;
            let file = dir.join("database.json");
            (dir, file)
        }
        DeployFormat::Yaml => {
            let dir = replace_dir(&out.join("databases"), connection, &script_files)?;
            let file = out.join("tenant.yaml");
            replace_file(&file, tenant_yaml(config, scripts).as_bytes())?;
            (dir, file)
        }
    };
    files.push(database_file);
    let mut action_code = Vec::new();
    if !config.decommission {
        for entry in action_entries(config) {
            let Some(action) = actions.iter().find(|action| action.kind == entry.kind) else {
                continue;
            };
            let dir = replace_dir(
                &out.join("actions"),
                entry.name,
                &[(action.kind.file_name(), action.text.as_bytes())],
            )?;
            action_code.push(dir.join(action.kind.file_name()));
            if format == DeployFormat::Directory {
                let file = out.join("actions").join(format!("{}.json", entry.name));
                replace_file(&file, pretty(&action_node(&entry)).as_bytes())?;
                files.push(file);
            }
        }
    }
    if format == DeployFormat::Directory {
        if let Some(triggers) = triggers_json(config) {
            let file = out.join("triggers").join("triggers.json");
            replace_file(&file, triggers.as_bytes())?;
            files.push(file);
        }
    }
    Ok(Written {
        scripts_dir,
        action_code,
        files,
    })
}

/// Writes `parent/name/` holding exactly `files`, replacing what was there.
fn replace_dir(parent: &Path, name: &str, files: &[(&str, &[u8])]) -> io::Result<PathBuf> {
    fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".trickle-staging-")
        .tempdir_in(parent)?;
    for (file, bytes) in files {
        fs::write(staging.path().join(file), bytes)?;
    }
    let target = parent.join(name);
    let staged = staging.keep();
    let replace = || -> io::Result<()> {
        if target.exists() {
            let old = tempfile::Builder::new()
                .prefix(".trickle-old-")
                .tempdir_in(parent)?
                .keep();
            fs::rename(&target, &old)?;
            if let Err(error) = fs::rename(&staged, &target) {
                // Put the previous tree back rather than leave nothing.
                let _ = fs::rename(&old, &target);
                return Err(error);
            }
            fs::remove_dir_all(&old)
        } else {
            fs::rename(&staged, &target)
        }
    };
    if let Err(error) = replace() {
        let _ = fs::remove_dir_all(&staged);
        return Err(error);
    }
    Ok(target)
}

/// Writes `path` whole: a temporary file beside it, renamed over it.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut file = tempfile::Builder::new()
        .prefix(".trickle-staging-")
        .tempfile_in(parent)?;
    file.write_all(bytes)?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{action_config, api_config, config, rendered, rendered_action};
    use crate::{ActionConfig, MarkMigrated};

    use serde_json::Value;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn database_json_maps_the_scripts_and_holds_no_secret() {
        let config = config();
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(json["name"], "old-tenant-import");
        assert_eq!(json["strategy"], "auth0");
        assert_eq!(json["options"]["import_mode"], true);
        assert_eq!(json["options"]["enabledDatabaseCustomization"], true);
        assert_eq!(
            json["options"]["customScripts"],
            serde_json::json!({"login": "./login.js", "get_user": "./get_user.js"})
        );
        // Settings in the dashboard (the default): no key a deploy could wipe them with.
        assert!(json["options"].get("configuration").is_none());
        assert!(json.get("enabled_clients").is_none());
    }

    #[test]
    fn deployed_settings_are_json_encoded_placeholders() {
        let mut config = config();
        config.settings = SettingsMode::Deploy;
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(
            json["options"]["configuration"],
            serde_json::json!({
                "domain": "@@TRICKLE_OLD_TENANT_DOMAIN@@",
                "client_id": "@@TRICKLE_OLD_TENANT_CLIENT_ID@@",
                "client_secret": "@@TRICKLE_OLD_TENANT_CLIENT_SECRET@@",
            })
        );
        config.custom_domain = true;
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(
            json["options"]["configuration"]["custom_domain"],
            "@@TRICKLE_OLD_TENANT_CUSTOM_DOMAIN@@"
        );
    }

    #[test]
    fn enabled_clients_are_listed_by_name() {
        let mut config = config();
        config.enabled_clients = vec!["My App".to_owned(), "Admin \"Portal\"".to_owned()];
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(
            json["enabled_clients"],
            serde_json::json!(["My App", "Admin \"Portal\""])
        );
    }

    #[test]
    fn the_end_state_keeps_import_mode_and_has_no_settings() {
        let mut config = config();
        config.settings = SettingsMode::Deploy;
        config.decommission = true;
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(json["options"]["import_mode"], true);
        assert_eq!(json["options"]["enabledDatabaseCustomization"], true);
        assert_eq!(
            json["options"]["customScripts"],
            serde_json::json!({"login": "./login.js", "get_user": "./get_user.js"})
        );
        assert!(json["options"].get("configuration").is_none());
    }

    #[test]
    fn the_action_is_described_for_deploy_cli_with_secrets_only_when_deployed() {
        let mut config = config();
        config.mark_migrated = MarkMigrated::Action;
        config.action = Some(action_config());
        let action = parse(&action_json(&config).unwrap());
        assert_eq!(action["name"], "old-tenant-import-migration");
        assert_eq!(
            action["code"],
            "./actions/old-tenant-import-migration/code.js"
        );
        assert_eq!(action["runtime"], "node22");
        assert_eq!(action["deployed"], true);
        assert_eq!(
            action["supported_triggers"],
            serde_json::json!([{"id": "post-login", "version": "v3"}])
        );
        assert!(action.get("secrets").is_none());
        config.settings = SettingsMode::Deploy;
        let action = parse(&action_json(&config).unwrap());
        assert_eq!(
            action["secrets"],
            serde_json::json!([
                {"name": "domain", "value": "@@TRICKLE_OLD_TENANT_DOMAIN@@"},
                {"name": "client_id", "value": "@@TRICKLE_OLD_TENANT_CLIENT_ID@@"},
                {"name": "client_secret", "value": "@@TRICKLE_OLD_TENANT_CLIENT_SECRET@@"},
            ])
        );
    }

    #[test]
    fn the_binding_is_the_whole_post_login_flow_and_the_end_state_leaves_it() {
        let mut config = config();
        assert!(triggers_json(&config).is_none(), "no Action, no binding");
        config.action = Some(ActionConfig {
            post_login_flow: vec![
                "Add roles".to_owned(),
                "old-tenant-import-migration".to_owned(),
            ],
            ..action_config()
        });
        let names = |config: &Config| -> Vec<Value> {
            parse(&triggers_json(config).unwrap())["post-login"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["action_name"].clone())
                .collect()
        };
        assert_eq!(names(&config), ["Add roles", "old-tenant-import-migration"]);
        config.decommission = true;
        assert_eq!(names(&config), ["Add roles"]);
        config.action.as_mut().unwrap().post_login_flow.clear();
        assert!(triggers_json(&config).is_none());
    }

    #[test]
    fn bindings_a_new_triggers_json_would_drop_are_named() {
        let mut config = config();
        config.action = Some(ActionConfig {
            name: "migrate".into(),
            post_login_flow: vec!["Add roles".into(), "migrate".into()],
            ..action_config()
        });
        let existing = r#"{"post-login": [{"action_name": "Add roles"}, {"action_name": "Geo"}],
                           "credentials-exchange": [{"display_name": "Audit"}]}"#;
        let dropped = dropped_bindings(existing, &config).unwrap();
        let binding = |t: &str, a: &str| (t.to_owned(), a.to_owned());
        assert_eq!(
            dropped,
            [
                binding("credentials-exchange", "Audit"),
                binding("post-login", "Geo")
            ]
        );
        let ours = triggers_json(&config).unwrap();
        assert_eq!(dropped_bindings(&ours, &config).unwrap(), []);
        config.decommission = true;
        assert_eq!(
            dropped_bindings(&ours, &config).unwrap(),
            [],
            "leaving the flow is no loss"
        );
        assert!(dropped_bindings("[]", &config).is_err());
        assert!(dropped_bindings(r#"{"post-login": [{}]}"#, &config).is_err());
        config.action = None;
        assert_eq!(
            dropped_bindings(existing, &config).unwrap(),
            [],
            "no file written, none dropped"
        );
    }

    #[test]
    fn yaml_strings_are_json_strings() {
        let mut out = String::new();
        let node = map([
            (
                "a",
                Node::List(vec![
                    map([("b", "x\"y\\z".into()), ("c", true.into())]),
                    "é\n".into(),
                ]),
            ),
            ("d", Node::Map(Vec::new())),
            ("e", Node::List(Vec::new())),
        ]);
        yaml(&node, 0, &mut out);
        assert_eq!(
            out,
            "\"a\":\n  - \"b\": \"x\\\"y\\\\z\"\n    \"c\": true\n  - \"é\\n\"\n\"d\": {}\n\"e\": []\n"
        );
    }

    #[test]
    fn the_layout_is_written_whole_and_replaced_whole() {
        let out = tempfile::tempdir().unwrap();
        let config = config();
        let scripts = rendered(&config);
        let written =
            write_layout(out.path(), &config, &scripts, &[], DeployFormat::Directory).unwrap();
        let dir = written.scripts_dir;
        assert_eq!(
            dir,
            out.path().join("database-connections/old-tenant-import")
        );
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["database.json", "get_user.js", "login.js"]);
        assert_eq!(
            fs::read_to_string(dir.join("login.js")).unwrap(),
            scripts[0].text
        );

        // A stale file from an earlier run does not survive a new one.
        fs::write(dir.join("stale.js"), "old").unwrap();
        write_layout(out.path(), &config, &scripts, &[], DeployFormat::Directory).unwrap();
        assert!(!dir.join("stale.js").exists());
        let leftovers: Vec<_> = fs::read_dir(out.path().join("database-connections"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            ["old-tenant-import"],
            "no staging folders are left behind"
        );
    }

    #[test]
    fn both_formats_lay_out_the_action_and_its_binding() {
        let mut config = config();
        config.mark_migrated = MarkMigrated::Action;
        config.action = Some(action_config());
        let scripts = rendered(&config);
        let action = rendered_action(&config);

        let out = tempfile::tempdir().unwrap();
        let written = write_layout(
            out.path(),
            &config,
            &scripts,
            std::slice::from_ref(&action),
            DeployFormat::Directory,
        )
        .unwrap();
        let code = out
            .path()
            .join("actions/old-tenant-import-migration/code.js");
        assert_eq!(written.action_code, std::slice::from_ref(&code));
        assert_eq!(fs::read_to_string(&code).unwrap(), action.text);
        assert!(out
            .path()
            .join("actions/old-tenant-import-migration.json")
            .is_file());
        let triggers =
            parse(&fs::read_to_string(out.path().join("triggers/triggers.json")).unwrap());
        assert_eq!(
            triggers["post-login"][0]["action_name"],
            "old-tenant-import-migration"
        );

        let out = tempfile::tempdir().unwrap();
        write_layout(
            out.path(),
            &config,
            &scripts,
            std::slice::from_ref(&action),
            DeployFormat::Yaml,
        )
        .unwrap();
        let yaml = fs::read_to_string(out.path().join("tenant.yaml")).unwrap();
        for expected in [
            "\"login\": \"./databases/old-tenant-import/login.js\"",
            "\"code\": \"./actions/old-tenant-import-migration/code.js\"",
            "\"post-login\":",
        ] {
            assert!(yaml.contains(expected), "{expected} missing from:\n{yaml}");
        }
        assert_eq!(
            fs::read_to_string(out.path().join("databases/old-tenant-import/get_user.js")).unwrap(),
            scripts[1].text
        );
        assert!(out
            .path()
            .join("actions/old-tenant-import-migration/code.js")
            .is_file());
        assert!(!out.path().join("database-connections").exists());
    }

    #[test]
    fn an_api_source_deploys_its_own_settings_and_the_config_s_address() {
        let mut config = api_config();
        let json = parse(&database_json(&config, &rendered(&config)));
        assert!(json["options"].get("configuration").is_none());
        config.settings = SettingsMode::Deploy;
        let json = parse(&database_json(&config, &rendered(&config)));
        assert_eq!(
            json["options"]["configuration"],
            serde_json::json!({
                "domain": "@@TRICKLE_NEW_TENANT_DOMAIN@@",
                "client_id": "@@TRICKLE_MIGRATION_CLIENT_ID@@",
                "client_secret": "@@TRICKLE_MIGRATION_CLIENT_SECRET@@",
                "api_url": "https://legacy.example.com/auth0-migration",
                "api_audience": "https://legacy.example.com/api",
            })
        );
        let keywords: Vec<&str> = setting_keywords(&config).iter().map(|(_, k)| *k).collect();
        assert_eq!(
            keywords,
            [
                "TRICKLE_NEW_TENANT_DOMAIN",
                "TRICKLE_MIGRATION_CLIENT_ID",
                "TRICKLE_MIGRATION_CLIENT_SECRET"
            ]
        );
    }

    #[test]
    fn the_guard_is_laid_out_for_deploy_cli_in_both_formats() {
        let mut config = api_config();
        let guard = parse(&guard_json(&config).unwrap());
        assert_eq!(guard["name"], "legacy-import-api-guard");
        assert_eq!(guard["code"], "./actions/legacy-import-api-guard/code.js");
        assert_eq!(
            guard["supported_triggers"],
            serde_json::json!([{"id": "credentials-exchange", "version": "v2"}])
        );
        assert!(guard.get("secrets").is_none());
        assert_eq!(action_json(&config), None, "no post-login Action");
        config.settings = SettingsMode::Deploy;
        assert_eq!(
            parse(&guard_json(&config).unwrap())["secrets"],
            serde_json::json!([
                {"name": "client_id", "value": "@@TRICKLE_MIGRATION_CLIENT_ID@@"},
                {"name": "api_audience", "value": "https://legacy.example.com/api"},
            ])
        );
        assert_eq!(
            parse(&triggers_json(&config).unwrap()),
            serde_json::json!({"credentials-exchange": [
                {"action_name": "legacy-import-api-guard", "display_name": "legacy-import-api-guard"}
            ]})
        );

        let scripts = rendered(&config);
        let guard_script = crate::render_guard(&config).unwrap().unwrap();
        let out = tempfile::tempdir().unwrap();
        let written = write_layout(
            out.path(),
            &config,
            &scripts,
            std::slice::from_ref(&guard_script),
            DeployFormat::Directory,
        )
        .unwrap();
        let code = out.path().join("actions/legacy-import-api-guard/code.js");
        assert_eq!(written.action_code, std::slice::from_ref(&code));
        assert_eq!(fs::read_to_string(&code).unwrap(), guard_script.text);
        assert!(out
            .path()
            .join("actions/legacy-import-api-guard.json")
            .is_file());
        assert!(out.path().join("triggers/triggers.json").is_file());

        let out = tempfile::tempdir().unwrap();
        write_layout(
            out.path(),
            &config,
            &scripts,
            std::slice::from_ref(&guard_script),
            DeployFormat::Yaml,
        )
        .unwrap();
        let yaml = fs::read_to_string(out.path().join("tenant.yaml")).unwrap();
        for expected in [
            "\"code\": \"./actions/legacy-import-api-guard/code.js\"",
            "\"id\": \"credentials-exchange\"",
            "\"credentials-exchange\":\n    - \"action_name\": \"legacy-import-api-guard\"",
            "\"api_url\": \"https://legacy.example.com/auth0-migration\"",
        ] {
            assert!(yaml.contains(expected), "{expected} missing from:\n{yaml}");
        }
        assert!(out
            .path()
            .join("actions/legacy-import-api-guard/code.js")
            .is_file());

        // The end state: the guard leaves its flow, nothing of it is written.
        config.decommission = true;
        assert_eq!(
            parse(&triggers_json(&config).unwrap()),
            serde_json::json!({"credentials-exchange": []})
        );
    }
}
