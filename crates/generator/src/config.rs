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
    /// The connection (realm) in the old tenant users log in against.
    pub realm: String,
    pub policy: Policy,
    /// Write the migration marker to the old user at login.
    pub mark_migrated: bool,
    pub mfa: MfaPolicy,
    /// Timeout of each HTTP request to the old tenant.
    pub timeout_ms: u32,
    /// Generate the end-state scripts (the migration window is closed).
    pub decommission: bool,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    connection: RawConnection,
    source: RawSource,
    #[serde(default)]
    profile: RawProfile,
    #[serde(default)]
    migration: RawMigration,
    #[serde(default)]
    http: RawHttp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    realm: Spanned<String>,
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
    mark_migrated: bool,
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
            mark_migrated: false,
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
        key: None,
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
    let realm = raw.source.realm.get_ref();
    check_connection_name(realm).map_err(|m| at("source.realm", raw.source.realm.span(), m))?;

    let key_name = raw.profile.app_metadata_key.get_ref();
    let app_metadata_key = AppMetadataKey::from_name(key_name).ok_or_else(|| {
        at(
            "profile.app_metadata_key",
            raw.profile.app_metadata_key.span(),
            format!("`{key_name}` is not one of `metadata`, `app_metadata`"),
        )
    })?;

    let fields = match &raw.profile.fields {
        None => FieldSet::all(),
        Some(names) => names
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
            .collect::<Result<FieldSet, _>>()?,
    };

    let timeout = *raw.http.timeout_ms.get_ref();
    let timeout_ms = u32::try_from(timeout)
        .ok()
        .filter(|ms| TIMEOUT_RANGE_MS.contains(ms))
        .ok_or_else(|| {
            at(
                "http.timeout_ms",
                raw.http.timeout_ms.span(),
                format!(
                    "{timeout} is out of range: {}..={} (Auth0 stops a script after about 20 s)",
                    TIMEOUT_RANGE_MS.start,
                    TIMEOUT_RANGE_MS.end - 1
                ),
            )
        })?;

    Ok(Config {
        connection_name: connection_name.clone(),
        realm: realm.clone(),
        policy: Policy {
            fields,
            app_metadata_key,
            skip_marked: raw.migration.skip_marked,
        },
        mark_migrated: raw.migration.mark_migrated,
        mfa: raw.migration.mfa,
        timeout_ms,
        decommission: raw.migration.decommission,
    })
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
        assert!(!config.mark_migrated);
        assert_eq!(config.mfa, MfaPolicy::Reject);
        assert_eq!(config.timeout_ms, 5000);
        assert!(!config.decommission);
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
        assert!(config.mark_migrated);
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

    #[test]
    fn not_toml_at_all_is_an_error_with_a_line() {
        let e = error("[connection\nname = 1");
        assert_eq!(e.line, Some(1), "{e}");
    }
}
