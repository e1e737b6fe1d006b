//! Before anything is written: the URLs and tokens can be used at all;
//! both servers answer, and every endpoint their discovery documents name
//! is on the origin the operator gave; every token needed is accepted by
//! its API; the versions allow the migration (target ≥ source, target ≥
//! 6.6); both servers publish the same JWK set (else SIDs and tokens made
//! with the source's keys would not survive); and the two are not one
//! server under two names. What was found, and the exact endpoints that
//! will be read and written, are reported whether or not the migration
//! may go on.
//!
//! **The same server** is told apart without writing anything: the same
//! issuer URL (scheme, host, port, path); or, when clients are migrated, a
//! target that holds one of the source's first clients with the very same
//! registration access token (or, when the export has none, the same
//! issue time). A migration target issues both anew for every client it
//! imports, so only the source itself, or a copy of its store, holds them.
//! Servers whose data cannot tell (no clients migrated, none listed) are
//! compared by URL alone.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::{api_name, ApiTokens, AuthzApi, Budget, HttpOptions, Server, ServerError};
use crate::listing::{Listing, Shape, Text};
use crate::origin;
use crate::record::{Key, Phase};
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

/// An endpoint a token will be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUse {
    pub side: &'static str,
    /// Written to (the target), or only read (the source).
    pub writes: bool,
    pub url: String,
    /// The requests, in a few words.
    pub requests: &'static str,
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
    /// Every URL a token will be sent to (when nothing refused).
    pub endpoints: Vec<EndpointUse>,
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
    check_inputs(source, target, &mut report);
    if report.refused() {
        return (report, None);
    }
    let Some((mut servers, mut facts)) = discover(source, target, http, &mut report).await else {
        return (report, None);
    };
    check_versions(&mut servers, source, target, &mut facts, &mut report).await;
    check_keys(&servers, allow_different_keys, &mut facts, &mut report).await;
    check_tokens(&servers, &mut facts, &mut report).await;
    if !report.refused() {
        check_not_the_same(&servers, &mut report).await;
    }
    if report.phases.is_empty() && report.refusals.is_empty() {
        report
            .refusals
            .push("nothing to migrate: no phase left".to_owned());
    }
    let (source_facts, target_facts) = facts;
    report.source = Some(source_facts);
    report.target = Some(target_facts);
    if report.refused() {
        return (report, None);
    }
    report.endpoints = endpoints(&servers, &report.phases);
    (report, Some(servers))
}

/// What can be refused before asking anything: URLs, tokens that could
/// not be sent, the same URL twice.
fn check_inputs(source: &Endpoint, target: &Endpoint, report: &mut PreflightReport) {
    let mut urls = Vec::new();
    for (side, endpoint) in [("source", source), ("target", target)] {
        match origin::parse_issuer(&endpoint.issuer) {
            Ok(url) => urls.push(url),
            Err(why) => report.refusals.push(format!("--{side}: {why}")),
        }
        for phase in endpoint.tokens.unusable() {
            report.refusals.push(format!(
                "the {side}'s {} API token holds characters a bearer token cannot (only \
                 letters, digits and - . _ ~ + / then =): it could not be sent in a header",
                api_name(phase)
            ));
        }
    }
    if let [source_url, target_url] = urls.as_slice() {
        if origin::same_place(source_url, target_url) {
            report.refusals.push(format!(
                "the source and the target are the same server ({source_url}): give the target's \
                 own issuer URL"
            ));
        }
    }
}

type Facts = (ServerFacts, ServerFacts);

async fn discover(
    source: &Endpoint,
    target: &Endpoint,
    http: HttpOptions,
    report: &mut PreflightReport,
) -> Option<(Servers, Facts)> {
    let (found_source, found_target) = tokio::join!(
        Server::discover(
            "source",
            &source.issuer,
            source.tokens.clone(),
            http.clone()
        ),
        Server::discover("target", &target.issuer, target.tokens.clone(), http),
    );
    match (found_source, found_target) {
        (Ok(source), Ok(target)) => {
            let facts = (facts(&source), facts(&target));
            Some((Servers { source, target }, facts))
        }
        (s, t) => {
            for error in [s.err(), t.err()].into_iter().flatten() {
                report.refusals.push(error.to_string());
            }
            None
        }
    }
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

async fn check_versions(
    servers: &mut Servers,
    source: &Endpoint,
    target: &Endpoint,
    facts: &mut Facts,
    report: &mut PreflightReport,
) {
    let (source_version, target_version) = tokio::join!(
        version_of(&servers.source, source.version),
        version_of(&servers.target, target.version)
    );
    for (found, facts, flag) in [
        (source_version, &mut facts.0, "--source-version"),
        (target_version, &mut facts.1, "--target-version"),
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
    let (Some((s, _)), Some((t, _))) = (&facts.0.version, &facts.1.version) else {
        return;
    };
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
    servers.source.set_authz_api(authz);
    servers.target.set_authz_api(authz);
    report.authz_api = Some(authz);
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

async fn check_keys(
    servers: &Servers,
    allow_different_keys: bool,
    facts: &mut Facts,
    report: &mut PreflightReport,
) {
    let (source_keys, target_keys) = tokio::join!(servers.source.jwks(), servers.target.jwks());
    let (s, t) = match (source_keys, target_keys) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            for error in [s.err(), t.err()].into_iter().flatten() {
                report.refusals.push(error.to_string());
            }
            return;
        }
    };
    facts.0.keys = key_labels(&s);
    facts.1.keys = key_labels(&t);
    let identical = canonical_keys(&s) == canonical_keys(&t) && !canonical_keys(&s).is_empty();
    report.keys_identical = Some(identical);
    if identical {
        return;
    }
    let later: Vec<Phase> = report
        .phases
        .iter()
        .copied()
        .filter(|p| *p != Phase::Clients)
        .collect();
    if !allow_different_keys {
        report.refusals.push(
            "the two servers publish different JWK sets: sessions (their SIDs carry an HMAC made \
             with the keys) and tokens would not survive. Give the target the source's JWK set \
             first, or run with --allow-different-keys to migrate client registrations only"
                .to_owned(),
        );
        return;
    }
    report.phases.retain(|p| *p == Phase::Clients);
    if !later.is_empty() {
        report.notes.push(format!(
            "the JWK sets differ: migrating client registrations only, as --allow-different-keys \
             asks ({} left out: they would not survive on the target)",
            names(&later)
        ));
    }
}

/// The tokens of the APIs the phases use, on both sides.
async fn check_tokens(servers: &Servers, facts: &mut Facts, report: &mut PreflightReport) {
    for phase in report.phases.clone() {
        for (server, facts) in [
            (&servers.source, &mut facts.0),
            (&servers.target, &mut facts.1),
        ] {
            if !server.has_token(phase) {
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
}

/// Source clients looked up on the target to tell whether it is the
/// source under another name.
const SAMENESS_PROBES: usize = 3;

/// Refuses when the target holds one of the source's first clients with
/// what a migration target always makes anew (see the module's doc).
async fn check_not_the_same(servers: &Servers, report: &mut PreflightReport) {
    if !report.phases.contains(&Phase::Clients) {
        return;
    }
    let Ok(response) = servers.source.open_listing(Phase::Clients).await else {
        return;
    };
    let mut listing = Listing::read(response, Shape::Array, servers.source.listing_options());
    let mut probes = Vec::new();
    while let Some(Ok(item)) = listing.next().await {
        if let Text::Whole(text) = &item.text {
            if let Ok(Value::Object(client)) = serde_json::from_slice(text) {
                probes.push(client);
            }
        }
        if probes.len() == SAMENESS_PROBES {
            break;
        }
    }
    drop(listing);
    for source_client in probes {
        let Some(id) = source_client.get("client_id").and_then(Value::as_str) else {
            continue;
        };
        let key = Key::Client(id.to_owned());
        let held = servers
            .target
            .get_one(&key, None, &mut Budget::default())
            .await;
        let Ok(Some(Value::Object(target_client))) = held else {
            continue;
        };
        if let Some(evidence) = same_registration(&source_client, &target_client) {
            report.refusals.push(format!(
                "the source and the target are the same server, or the target holds a copy of \
                 the source's store: the target holds client {id} with the source's very \
                 {evidence}, which a migration target always issues anew. Give two different \
                 servers"
            ));
            return;
        }
    }
}

/// What shows two registrations to be one: the same registration access
/// token, or (when the export has none) the same issue time.
fn same_registration(
    source: &serde_json::Map<String, Value>,
    target: &serde_json::Map<String, Value>,
) -> Option<&'static str> {
    let member = |client: &serde_json::Map<String, Value>, name: &str| client.get(name).cloned();
    let token = "registration_access_token";
    match (member(source, token), member(target, token)) {
        (Some(Value::String(s)), Some(Value::String(t))) if !s.is_empty() => {
            return (s == t).then_some("registration access token");
        }
        _ => {}
    }
    let issued = "client_id_issued_at";
    match (member(source, issued), member(target, issued)) {
        (Some(s @ Value::Number(_)), Some(t)) if s == t => Some("issue time (client_id_issued_at)"),
        _ => None,
    }
}

/// Every URL a token will go to, for the phases that run.
fn endpoints(servers: &Servers, phases: &[Phase]) -> Vec<EndpointUse> {
    let mut uses = Vec::new();
    for &phase in phases {
        uses.push(EndpointUse {
            side: "source",
            writes: false,
            url: servers.source.listing_url(phase),
            requests: "GET (the listing)",
        });
    }
    for &phase in phases {
        uses.push(EndpointUse {
            side: "target",
            writes: true,
            url: servers.target.listing_url(phase),
            requests: match phase {
                Phase::Clients => "POST; GET, PUT, DELETE …/{client_id}; GET (the listing)",
                Phase::Authorizations => {
                    "POST ?import=true; GET ?subject=&client=; GET (the listing)"
                }
                Phase::Sessions => {
                    "POST with SID-Key; GET, PUT, DELETE with SID; GET (the listing)"
                }
            },
        });
        if phase == Phase::Authorizations {
            uses.push(EndpointUse {
                side: "target",
                writes: true,
                url: servers.target.revocation_url(),
                requests: "POST subject=&client_id= (a sync's deletes)",
            });
        }
    }
    uses
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

    #[test]
    fn one_registration_is_told_by_what_a_target_makes_anew() {
        let client = |value: Value| value.as_object().unwrap().clone();
        let source = client(
            json!({"client_id": "a", "registration_access_token": "rat1", "client_id_issued_at": 5}),
        );
        let copy = client(
            json!({"client_id": "a", "registration_access_token": "rat1", "client_id_issued_at": 5}),
        );
        let imported = client(
            json!({"client_id": "a", "registration_access_token": "rat2", "client_id_issued_at": 5}),
        );
        assert_eq!(
            same_registration(&source, &copy),
            Some("registration access token")
        );
        assert_eq!(same_registration(&source, &imported), None);
        let bare = client(json!({"client_id": "a", "client_id_issued_at": 5}));
        assert!(same_registration(&bare, &copy).is_some());
        let later = client(json!({"client_id": "a", "client_id_issued_at": 6}));
        assert_eq!(same_registration(&bare, &later), None);
    }
}
