//! "Deploying" to the emulated tenant: a folder in deploy-cli's directory
//! format (`database.json` and the script files its `customScripts` maps)
//! becomes one of the seed's connections, as deploy-cli would create or
//! update it. Settings (`configuration`) are not kept: the emulator never
//! holds them, so it can never show them.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::seed::{Seed, SeedConnection};

/// Why a deploy folder cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a connection's database.json: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
struct DatabaseJson {
    name: String,
    #[serde(default)]
    strategy: Option<String>,
    #[serde(default)]
    options: Map<String, Value>,
}

fn read(path: &Path) -> Result<String, DeployError> {
    fs::read_to_string(path).map_err(|source| DeployError::Read {
        path: path.to_owned(),
        source,
    })
}

impl Seed {
    /// Adds (or replaces, by name) the connection deployed from `dir`.
    pub fn deploy(&mut self, dir: &Path) -> Result<(), DeployError> {
        let path = dir.join("database.json");
        let invalid = |message: String| DeployError::Invalid {
            path: path.clone(),
            message,
        };
        let database: DatabaseJson =
            serde_json::from_str(&read(&path)?).map_err(|e| invalid(e.to_string()))?;
        let mut options = database.options;
        options.remove("configuration");
        if let Some(Value::Object(mapping)) = options.remove("customScripts") {
            let mut scripts = Map::new();
            for (key, file) in mapping {
                let Value::String(file) = file else {
                    return Err(invalid(format!("customScripts.{key} is not a file name")));
                };
                scripts.insert(key, Value::String(read(&dir.join(file))?));
            }
            options.insert("customScripts".to_owned(), Value::Object(scripts));
        }
        let mut connections = self
            .connections
            .take()
            .unwrap_or_else(|| vec![SeedConnection::named(crate::DEFAULT_CONNECTION)]);
        let existing = connections.iter_mut().find(|c| c.name == database.name);
        let connection = match existing {
            Some(connection) => connection,
            None => {
                connections.push(SeedConnection::named(&database.name));
                connections.last_mut().expect("just pushed")
            }
        };
        connection.strategy = Some(database.strategy.unwrap_or_else(|| "auth0".to_owned()));
        connection.options = options;
        self.connections = Some(connections);
        self.validate().map_err(|e| invalid(e.to_string()))
    }
}

impl SeedConnection {
    fn named(name: &str) -> SeedConnection {
        SeedConnection {
            name: name.to_owned(),
            id: None,
            strategy: None,
            options: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_folder_becomes_a_connection_with_its_scripts_and_no_settings() {
        let dir = tempdir();
        fs::write(
            dir.join("database.json"),
            r###"{"name": "new-db", "strategy": "auth0", "options": {"import_mode": true,
              "enabledDatabaseCustomization": true,
              "customScripts": {"login": "./login.js"},
              "configuration": {"client_secret": "##SECRET##"}}}"###,
        )
        .unwrap();
        fs::write(dir.join("login.js"), "function login() {}\n").unwrap();
        let mut seed = Seed::from_json("{}").unwrap();
        seed.deploy(&dir).unwrap();
        let connections = seed.connections.as_ref().unwrap();
        assert_eq!(connections.len(), 2, "the default connection stays");
        let deployed = &connections[1];
        assert_eq!(deployed.name, "new-db");
        assert_eq!(deployed.options["import_mode"], true);
        assert_eq!(
            deployed.options["customScripts"]["login"],
            "function login() {}\n"
        );
        assert!(!deployed.options.contains_key("configuration"));
        // Deploying again replaces it.
        fs::write(dir.join("login.js"), "function login() { /* v2 */ }\n").unwrap();
        seed.deploy(&dir).unwrap();
        let connections = seed.connections.as_ref().unwrap();
        assert_eq!(connections.len(), 2);
        assert!(connections[1].options["customScripts"]["login"]
            .as_str()
            .unwrap()
            .contains("v2"));
        fs::remove_file(dir.join("login.js")).unwrap();
        let error = seed.deploy(&dir).unwrap_err().to_string();
        assert!(error.contains("login.js"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trickle-sim-deploy-{}", fastrand::u64(..)));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
