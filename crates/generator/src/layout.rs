//! Writing the deploy layout (`database-connections/<name>/`) atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Config, Script};

/// Keyword placeholders that deploy-cli (`AUTH0_KEYWORD_REPLACE_MAPPINGS`)
/// or the dashboard fill in; no secret is ever written by Trickle.
pub const SETTING_PLACEHOLDERS: [(&str, &str); 3] = [
    ("domain", "##TRICKLE_OLD_TENANT_DOMAIN##"),
    ("client_id", "##TRICKLE_OLD_TENANT_CLIENT_ID##"),
    ("client_secret", "##TRICKLE_OLD_TENANT_CLIENT_SECRET##"),
];

#[derive(Serialize)]
struct DatabaseJson<'a> {
    name: &'a str,
    strategy: &'static str,
    options: DatabaseOptions,
}

#[derive(Serialize)]
struct DatabaseOptions {
    #[serde(rename = "enabledDatabaseCustomization")]
    enabled_database_customization: bool,
    import_mode: bool,
    #[serde(rename = "customScripts")]
    custom_scripts: serde_json::Map<String, serde_json::Value>,
    /// None for the end state: its scripts read no settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The `database.json` of deploy-cli's directory format and the GitHub
/// Deployments extension. Import mode stays on in the end state too (users
/// Auth0 holds are never asked of the scripts), which has no settings.
pub fn database_json(config: &Config, scripts: &[Script]) -> String {
    let custom_scripts = scripts
        .iter()
        .map(|script| {
            (
                script.kind.key().to_owned(),
                format!("./{}", script.kind.file_name()).into(),
            )
        })
        .collect();
    let configuration = SETTING_PLACEHOLDERS
        .iter()
        .map(|(key, placeholder)| ((*key).to_owned(), (*placeholder).into()))
        .collect();
    let database = DatabaseJson {
        name: &config.connection_name,
        strategy: "auth0",
        options: DatabaseOptions {
            enabled_database_customization: true,
            import_mode: true,
            custom_scripts,
            configuration: (!config.decommission).then_some(configuration),
        },
    };
    let mut text = serde_json::to_string_pretty(&database).expect("plain data serializes");
    text.push('\n');
    text
}

/// Writes `out/database-connections/<name>/` with the scripts and
/// `database.json`. The folder is built beside its final place and renamed
/// into it, so a reader sees the old tree or the new one, never half.
pub fn write_layout(out: &Path, config: &Config, scripts: &[Script]) -> io::Result<PathBuf> {
    let parent = out.join("database-connections");
    fs::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".trickle-staging-")
        .tempdir_in(&parent)?;
    for script in scripts {
        fs::write(staging.path().join(script.kind.file_name()), &script.text)?;
    }
    fs::write(
        staging.path().join("database.json"),
        database_json(config, scripts),
    )?;

    let target = parent.join(&config.connection_name);
    let staged = staging.keep();
    let replace = || -> io::Result<()> {
        if target.exists() {
            let old = tempfile::Builder::new()
                .prefix(".trickle-old-")
                .tempdir_in(&parent)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{config, rendered};

    #[test]
    fn database_json_maps_the_scripts_and_holds_no_secret() {
        let config = config();
        let json: serde_json::Value =
            serde_json::from_str(&database_json(&config, &rendered(&config))).unwrap();
        assert_eq!(json["name"], "old-tenant-import");
        assert_eq!(json["strategy"], "auth0");
        assert_eq!(json["options"]["import_mode"], true);
        assert_eq!(json["options"]["enabledDatabaseCustomization"], true);
        assert_eq!(
            json["options"]["customScripts"],
            serde_json::json!({"login": "./login.js", "get_user": "./get_user.js"})
        );
        for (key, value) in json["options"]["configuration"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                value.starts_with("##") && value.ends_with("##"),
                "{key} = {value}"
            );
        }
    }

    #[test]
    fn the_end_state_keeps_import_mode_and_has_no_settings() {
        let mut config = config();
        config.decommission = true;
        let json: serde_json::Value =
            serde_json::from_str(&database_json(&config, &rendered(&config))).unwrap();
        assert_eq!(json["options"]["import_mode"], true);
        assert_eq!(json["options"]["enabledDatabaseCustomization"], true);
        assert_eq!(
            json["options"]["customScripts"],
            serde_json::json!({"login": "./login.js", "get_user": "./get_user.js"})
        );
        assert!(json["options"].get("configuration").is_none());
    }

    #[test]
    fn the_layout_is_written_whole_and_replaced_whole() {
        let out = tempfile::tempdir().unwrap();
        let config = config();
        let scripts = rendered(&config);
        let dir = write_layout(out.path(), &config, &scripts).unwrap();
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
        write_layout(out.path(), &config, &scripts).unwrap();
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
}
