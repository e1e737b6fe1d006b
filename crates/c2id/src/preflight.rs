//! Before anything is written: both servers answer, every token needed is
//! accepted by its API, the versions allow the migration (target ≥ source,
//! target ≥ 6.6), and both servers publish the same JWK set (else SIDs and
//! tokens made with the source's keys would not survive). What was found
//! is reported whether or not the migration may go on.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::{api_name, ApiTokens, AuthzApi, HttpOptions, Server, ServerError};
use crate::record::Phase;
use crate::version::{self, Version};

/// A server to migrate from or to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The issuer URL (`https://c2id.example.com/c2id`).
    pub issuer: String,
    pub tokens: ApiTokens,
    /// The version, when the operator gives it (else read from the splash
    /// page, which a deployment can switch off).
    pub version: Option<Version>,
}

/// Where a version came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFrom {
    SplashPage,
    Given,
    /// Given, and the splash page shows another one (the given one is used).
    GivenOverSplash(Version),
}

/// What preflight found about one server.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    pub side: &'static str,
    pub issuer: String,
    pub version: Option<(Version, VersionFrom)>,
    pub registration_endpoint: String,
    pub jwks_uri: String,
    /// The public keys: `kty` and `kid` of each.
    pub keys: Vec<String>,
    /// The APIs whose token was checked and accepted.
    pub tokens_accepted: Vec<Phase>,
}

/// Everything preflight found, and why the migration may not go on
/// (`refusals`, empty when it may).
#[derive(Debug, Clone, Default)]
pub struct PreflightReport {
    pub source: Option<ServerFacts>,
    pub target: Option<ServerFacts>,
    pub authz_api: Option<AuthzApi>,
    /// `None` when the sets could not be read.
    pub keys_identical: Option<bool>,
    /// The phases that will run, in order.
    pub phases: Vec<Phase>,
    pub notes: Vec<String>,
    pub refusals: Vec<String>,
}

impl PreflightReport {
    pub fn refused(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// The two servers, ready.
pub struct Servers {
    pub source: Server,
    pub target: Server,
}

/// Checks both servers; the servers come back only when nothing refuses
/// the migration.
pub async fn preflight(
    source: &Endpoint,
    target: &Endpoint,
    phases: &[Phase],
    allow_different_keys: bool,
    http: HttpOptions,
) -> (PreflightReport, Option<Servers>) {
    let mut report = PreflightReport {
        phases: Phase::ALL
            .into_iter()
            .filter(|phase| phases.contains(phase))
            .collect(),
        ..PreflightReport::default()
    };
    let (found_source, found_target) = tokio::join!(
        Server::discover(
            "source",
            &source.issuer,
            source.tokens.clone(),
            http.clone()
        ),
        Server::discover("target", &target.issuer, target.tokens.clone(), http),
    );
    let (mut source_server, mut target_server) = match (found_source, found_target) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            for error in [s.err(), t.err()].into_iter().flatten() {
                report.refusals.push(error.to_string());
            }
            return (report, None);
        }
    };
    let mut source_facts = facts(&source_server);
    let mut target_facts = facts(&target_server);

    // Versions.
    let (source_version, target_version) = tokio::join!(
        version_of(&source_server, source.version),
        version_of(&target_server, target.version)
    );
    for (found, facts, flag) in [
        (source_version, &mut source_facts, "--source-version"),
        (target_version, &mut target_facts, "--target-version"),
    ] {
        match found {
            Ok(Some(version)) => facts.version = Some(version),
            Ok(None) => report.refusals.push(format!(
                "the {} server's version cannot be read (its splash page at {} does not show \
                 \"Connect2id Server X.Y\"; it may be switched off): give it with {flag}",
                facts.side, facts.issuer
            )),
            Err(error) => report.refusals.push(error.to_string()),
        }
    }
    if let (Some((s, _)), Some((t, _))) = (&source_facts.version, &target_facts.version) {
        if t < s {
            report.refusals.push(format!(
                "the target runs {t}, older than the source's {s}: Connect2id supports migrating \
                 only to the same version or a newer one"
            ));
        }
        if *t < version::MIN_TARGET {
            report.refusals.push(format!(
                "the target runs {t}: importing authorisations and sessions needs {} or newer \
                 (older servers import client registrations only)",
                version::MIN_TARGET
            ));
        }
        let authz = AuthzApi::for_version(*s);
        source_server.set_authz_api(authz);
        target_server.set_authz_api(authz);
        report.authz_api = Some(authz);
    }

    // JWK sets.
    let (source_keys, target_keys) = tokio::join!(source_server.jwks(), target_server.jwks());
    match (source_keys, target_keys) {
        (Ok(s), Ok(t)) => {
            source_facts.keys = key_labels(&s);
            target_facts.keys = key_labels(&t);
            let identical =
                canonical_keys(&s) == canonical_keys(&t) && !canonical_keys(&s).is_empty();
            report.keys_identical = Some(identical);
            if !identical {
                let later: Vec<Phase> = report
                    .phases
                    .iter()
                    .copied()
                    .filter(|p| *p != Phase::Clients)
                    .collect();
                if allow_different_keys {
                    report.phases.retain(|p| *p == Phase::Clients);
                    if !later.is_empty() {
                        report.notes.push(format!(
                            "the JWK sets differ: migrating client registrations only, as \
                             --allow-different-keys asks ({} left out: they would not survive \
                             on the target)",
                            names(&later)
                        ));
                    }
                } else {
                    report.refusals.push(
                        "the two servers publish different JWK sets: sessions (their SIDs carry \
                         an HMAC made with the keys) and tokens would not survive. Give the \
                         target the source's JWK set first, or run with --allow-different-keys \
                         to migrate client registrations only"
                            .to_owned(),
                    );
                }
            }
        }
        (s, t) => {
            for error in [s.err(), t.err()].into_iter().flatten() {
                report.refusals.push(error.to_string());
            }
        }
    }

    // Tokens of the APIs the phases use.
    for phase in report.phases.clone() {
        for (server, endpoint, facts) in [
            (&source_server, source, &mut source_facts),
            (&target_server, target, &mut target_facts),
        ] {
            if endpoint.tokens.get(phase).is_none() {
                report.refusals.push(format!(
                    "no token for the {} server's {} API",
                    server.side,
                    api_name(phase)
                ));
                continue;
            }
            match server.check_token(phase).await {
                Ok(()) => facts.tokens_accepted.push(phase),
                Err(error) => report.refusals.push(error.to_string()),
            }
        }
    }
    if report.phases.is_empty() && report.refusals.is_empty() {
        report
            .refusals
            .push("nothing to migrate: no phase left".to_owned());
    }
    report.source = Some(source_facts);
    report.target = Some(target_facts);
    if report.refused() {
        return (report, None);
    }
    (
        report,
        Some(Servers {
            source: source_server,
            target: target_server,
        }),
    )
}

fn facts(server: &Server) -> ServerFacts {
    ServerFacts {
        side: server.side,
        issuer: server.issuer.clone(),
        version: None,
        registration_endpoint: server.registration_endpoint.clone(),
        jwks_uri: server.jwks_uri.clone(),
        keys: Vec::new(),
        tokens_accepted: Vec::new(),
    }
}

async fn version_of(
    server: &Server,
    given: Option<Version>,
) -> Result<Option<(Version, VersionFrom)>, ServerError> {
    let shown = server.splash_version().await?;
    Ok(match (given, shown) {
        (Some(given), Some(shown)) if given != shown => {
            Some((given, VersionFrom::GivenOverSplash(shown)))
        }
        (Some(given), _) => Some((given, VersionFrom::Given)),
        (None, Some(shown)) => Some((shown, VersionFrom::SplashPage)),
        (None, None) => None,
    })
}

fn names(phases: &[Phase]) -> String {
    phases
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each key of a JWK set as compact JSON with sorted members, as a set:
/// two JWK sets are identical when they hold the same keys, in any order.
pub fn canonical_keys(jwks: &Value) -> BTreeSet<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().map(canonical_json).collect())
        .unwrap_or_default()
}

fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort();
            let parts: Vec<String> = names
                .into_iter()
                .map(|name| {
                    format!(
                        "{}:{}",
                        Value::String(name.clone()),
                        canonical_json(&members[name])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_json)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

fn key_labels(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .map(|key| {
                    let text = |name| key.get(name).and_then(Value::as_str).unwrap_or("?");
                    format!("{} {}", text("kty"), text("kid"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn jwk_sets_are_the_same_in_any_order_of_keys_and_members() {
        let a = json!({"keys": [{"kty": "RSA", "kid": "1", "n": "x", "e": "AQAB"}, {"kty": "EC", "kid": "2", "x": "1"}]});
        let b = json!({"keys": [{"kid": "2", "x": "1", "kty": "EC"}, {"e": "AQAB", "n": "x", "kid": "1", "kty": "RSA"}]});
        assert_eq!(canonical_keys(&a), canonical_keys(&b));
        let c = json!({"keys": [{"kty": "RSA", "kid": "1", "n": "y", "e": "AQAB"}, {"kty": "EC", "kid": "2", "x": "1"}]});
        assert_ne!(canonical_keys(&a), canonical_keys(&c));
        assert!(canonical_keys(&json!({})).is_empty());
        assert_eq!(key_labels(&a), ["RSA 1", "EC 2"]);
    }
}
