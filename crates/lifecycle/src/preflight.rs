//! Preflight: the calls the generated scripts make, run against the old
//! tenant with inputs that cannot log anyone in (a random address under
//! `.invalid`, a random password), each answer read by the core as the
//! scripts read it, and one check per thing that can be wrong, with the
//! dashboard setting that fixes it. Optionally, the new tenant's connection
//! and the scripts deployed there.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use trickle_core::{
    classify_management_answer, classify_token_answer, ManagementOutcome, TokenBody, TokenOutcome,
};
use trickle_generator::Config;

use crate::drift::{compare_scripts, Drift};
use crate::jwt;
use crate::realm::{self, impossible_email};
use crate::tenant::{Answer, Credentials, Tenant, TenantError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// Works, but worth a look; does not fail the run.
    Warning,
    Failed,
    /// Could not be checked because an earlier check failed.
    Skipped,
}

impl Outcome {
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "ok",
            Outcome::Warning => "warn",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name (for `--json` consumers).
    pub id: &'static str,
    pub title: String,
    pub outcome: Outcome,
    pub detail: String,
    /// The setting that fixes a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The `x-ratelimit-*` headers of a Management API answer.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimit {
    pub limit: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// The new tenant, and what should be deployed there.
pub struct NewTenant {
    pub credentials: Credentials,
    /// `(customScripts key, text)`, as `trickle generate` renders them.
    pub expected: Vec<(String, String)>,
}

pub struct Request<'a> {
    pub config: &'a Config,
    pub old: Credentials,
    pub new: Option<NewTenant>,
    /// users-by-email round trips for the latency check (at least 1).
    pub probes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Every timed round trip to the old tenant, in milliseconds.
    pub round_trips_ms: Vec<u64>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Failed)
    }
}

struct Checks(Vec<Check>);

impl Checks {
    fn push(
        &mut self,
        id: &'static str,
        title: &str,
        outcome: Outcome,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.0.push(Check {
            id,
            title: title.to_owned(),
            outcome,
            detail: detail.into(),
            fix,
        });
    }
    fn pass(&mut self, id: &'static str, title: &str, detail: impl Into<String>) {
        self.push(id, title, Outcome::Passed, detail, None);
    }
    fn fail(
        &mut self,
        id: &'static str,
        title: &str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(id, title, Outcome::Failed, detail, Some(fix.into()));
    }
    fn skip(&mut self, id: &'static str, title: &str, why: &str) {
        self.push(id, title, Outcome::Skipped, why, None);
    }
    fn has_failed(&self, id: &str) -> bool {
        self.0
            .iter()
            .any(|c| c.id == id && c.outcome == Outcome::Failed)
    }
}

fn ms(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
}

fn http_detail(answer: &Answer) -> String {
    if answer.status == 0 {
        return format!(
            "no answer: {}",
            answer.transport.as_deref().unwrap_or("unknown")
        );
    }
    let (code, description) = answer.error();
    let mut text = format!("HTTP {}", answer.status);
    if !code.is_empty() {
        text.push_str(&format!(" {code}"));
    }
    if !description.is_empty() {
        text.push_str(&format!(": {description}"));
    }
    text
}

/// The nearest-rank 95th percentile.
fn p95(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * 95).div_ceil(100).max(1);
    sorted[rank - 1]
}

const APP_GRANTS: &str =
    "Applications → Applications → <the client> → Settings → Advanced Settings → Grant Types";
const APP_API: &str =
    "Applications → APIs → Auth0 Management API → Machine To Machine Applications → <the client>";

/// Runs every check. Never fails: a tenant that cannot answer is a failed check.
pub async fn run(request: Request<'_>) -> Report {
    let config = request.config;
    let mut checks = Checks(Vec::new());
    let mut round_trips = Vec::new();
    let mut rate_limit = None;
    let realm = &config.realm;
    let secret = request.old.secret.clone();
    let redact = |text: String| secret.redact(&text);

    let titles = OldTitles::new(config);
    let old = match Tenant::new(request.old, Duration::from_secs(15)) {
        Ok(old) => {
            checks.pass(
                "domain",
                &titles.domain,
                format!("{} (the scripts accept it)", old.base),
            );
            old
        }
        Err(error) => {
            let (message, fix) = match error {
                TenantError::Domain(message) => (
                    message.to_owned(),
                    "--domain (and the connection's `domain` setting): the old tenant's https:// address, e.g. https://old-tenant.eu.auth0.com",
                ),
                other => (other.to_string(), "--domain"),
            };
            checks.fail("domain", &titles.domain, message, fix);
            titles.skip_after_domain(&mut checks, "needs a usable domain");
            return finish(
                checks,
                rate_limit,
                round_trips,
                request.new,
                &config.connection_name,
            )
            .await;
        }
    };

    // Reachable, and an Auth0 tenant: the discovery document's issuer.
    let discovery = old.get_public("/.well-known/openid-configuration").await;
    if discovery.status == 0 {
        checks.fail(
            "reachable",
            &titles.reachable,
            http_detail(&discovery),
            "--domain: check the name, DNS and the network",
        );
        titles.skip_after_reachable(&mut checks, "the domain does not answer");
        return finish(
            checks,
            rate_limit,
            round_trips,
            request.new,
            &config.connection_name,
        )
        .await;
    }
    checks.pass(
        "reachable",
        &titles.reachable,
        format!("HTTP {} in {} ms", discovery.status, ms(discovery.elapsed)),
    );
    let issuer = discovery
        .json()
        .and_then(|d| d.get("issuer").and_then(Value::as_str).map(str::to_owned));
    let expected_issuer = format!("{}/", old.base);
    match issuer {
        _ if (300..400).contains(&discovery.status) => checks.fail(
            "tenant",
            &titles.tenant,
            format!(
                "HTTP {} redirect to {} (the scripts never follow one)",
                discovery.status,
                discovery.header("location").unwrap_or("?")
            ),
            "--domain: the tenant's own domain, not one that redirects",
        ),
        Some(issuer) if issuer == expected_issuer => {
            checks.pass("tenant", &titles.tenant, format!("issuer {issuer}"))
        }
        Some(issuer) => checks.fail(
            "tenant",
            &titles.tenant,
            format!("the issuer is {issuer}, not {expected_issuer}"),
            "--domain: the domain the issuer names (the tenant's, or its custom domain)",
        ),
        None => checks.fail(
            "tenant",
            &titles.tenant,
            format!(
                "/.well-known/openid-configuration is not an OpenID discovery document ({})",
                http_detail(&discovery)
            ),
            "--domain: an Auth0 tenant's domain",
        ),
    }

    // The login script's call: a password-realm grant for nobody.
    let probe_email = impossible_email();
    let probe = realm::probe(&old, realm, &probe_email).await;
    if probe.status != 0 {
        round_trips.push(ms(probe.elapsed));
    }
    let body: Option<TokenBody> = serde_json::from_str(&probe.body).ok();
    let outcome = classify_token_answer(
        probe.status,
        body.as_ref(),
        probe.header("x-ratelimit-reset"),
    );
    let (code, description) = probe.error();
    let detail = redact(http_detail(&probe));
    let realm_refused = realm::refusal_cause(&code, &description, realm);
    let realm_fix = format!(
        "enable the connection {realm} for the client (Applications → Applications → <the client> → Connections), \
         or set source.realm to the connection the users are in (Authentication → Database)"
    );
    match outcome {
        TokenOutcome::WrongCredentials => {
            checks.pass(
                "client",
                &titles.client,
                "the token endpoint knows the client and its secret",
            );
            checks.pass("password_grant", &titles.password_grant, "a password-realm grant for a random user answers invalid_grant, as for a wrong password");
            checks.pass("realm", &titles.realm, format!("{realm} accepted"));
        }
        _ if code == "invalid_client" => {
            checks.fail("client", &titles.client, detail, "--client-id and $TRICKLE_CLIENT_SECRET: the client's id and secret (Applications → Applications → <the client> → Settings)");
            checks.skip(
                "password_grant",
                &titles.password_grant,
                "needs a known client",
            );
            checks.skip("realm", &titles.realm, "needs a known client");
        }
        TokenOutcome::Misconfigured if code == "unauthorized_client" => {
            checks.pass(
                "client",
                &titles.client,
                "the token endpoint knows the client",
            );
            checks.fail(
                "password_grant",
                &titles.password_grant,
                detail,
                format!("enable Password: {APP_GRANTS}"),
            );
            checks.skip("realm", &titles.realm, "needs the Password grant");
        }
        _ if realm_refused.is_some() => {
            checks.pass(
                "client",
                &titles.client,
                "the token endpoint knows the client",
            );
            checks.pass(
                "password_grant",
                &titles.password_grant,
                "the grant is allowed (the realm is refused)",
            );
            let cause = realm_refused.unwrap_or_default();
            checks.fail(
                "realm",
                &titles.realm,
                format!("{cause}: {detail}"),
                realm_fix,
            );
        }
        TokenOutcome::Misconfigured => {
            checks.pass(
                "client",
                &titles.client,
                "the token endpoint knows the client",
            );
            checks.fail(
                "password_grant",
                &titles.password_grant,
                detail,
                "an Action or Rule may deny the login; check the tenant's logs for this attempt",
            );
            checks.skip("realm", &titles.realm, "the grant is refused");
        }
        other => {
            let why = match other {
                TokenOutcome::Transient => "the old tenant could not answer",
                TokenOutcome::Redirected => "a redirect (never followed)",
                TokenOutcome::RateLimited { .. } | TokenOutcome::TooManyAttempts => {
                    "rate-limited or throttled"
                }
                TokenOutcome::Authenticated => "a random user logged in?!",
                _ => "an answer the scripts do not expect",
            };
            for (id, title) in [
                ("client", &titles.client),
                ("password_grant", &titles.password_grant),
                ("realm", &titles.realm),
            ] {
                checks.fail(
                    id,
                    title,
                    format!("{why}: {detail}"),
                    "see the answer; try again later if the tenant was down",
                );
            }
        }
    }

    // The Management API token (client credentials).
    let token_answer = old
        .token_request(json!({"grant_type": "client_credentials", "audience": old.audience()}))
        .await;
    if token_answer.status != 0 {
        round_trips.push(ms(token_answer.elapsed));
    }
    let token = token_answer.json().and_then(|b| {
        b.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let (code, _) = token_answer.error();
    let detail = redact(http_detail(&token_answer));
    let token = match (classify_management_answer(token_answer.status, None), token) {
        (ManagementOutcome::Ok, Some(token)) => {
            checks.pass(
                "management_token",
                &titles.management_token,
                format!("a token for {}", old.audience()),
            );
            Some(token)
        }
        _ => {
            let fix = match code.as_str() {
                "invalid_client" => {
                    if !checks.has_failed("client") {
                        checks.0.retain(|c| c.id != "client");
                        checks.fail(
                            "client",
                            &titles.client,
                            detail.clone(),
                            "--client-id and $TRICKLE_CLIENT_SECRET",
                        );
                    }
                    "--client-id and $TRICKLE_CLIENT_SECRET".to_owned()
                }
                "unauthorized_client" => format!("enable Client Credentials: {APP_GRANTS}"),
                "access_denied" => {
                    format!("authorize the client for the Management API: {APP_API}")
                }
                _ => "see the answer".to_owned(),
            };
            checks.fail("management_token", &titles.management_token, detail, fix);
            None
        }
    };

    let Some(token) = token else {
        for (id, title) in [
            ("scopes", &titles.scopes),
            ("users_by_email", &titles.users_by_email),
            ("rate_limit", &titles.rate_limit),
        ] {
            checks.skip(id, title, "needs a Management API token");
        }
        latency(&mut checks, &titles, &round_trips, config.timeout_ms);
        return finish(
            checks,
            rate_limit,
            round_trips,
            request.new,
            &config.connection_name,
        )
        .await;
    };

    // The scopes the token carries.
    let answered_scope = token_answer
        .json()
        .and_then(|b| b.get("scope").and_then(Value::as_str).map(str::to_owned));
    let (granted, source) = match jwt::claims(&token) {
        Some(claims) => (jwt::granted_scopes(&claims), "the token's claims"),
        None => (
            answered_scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            "the token answer's scope (the token is not a JWT)",
        ),
    };
    let has = |scope: &str| granted.iter().any(|g| g == scope);
    let mut missing = Vec::new();
    if !has("read:users") {
        missing.push("read:users");
    }
    if config.mark_migrated.is_on() && !has("update:users") && !has("update:users_app_metadata") {
        missing.push("update:users");
    }
    let relevant: Vec<&str> = granted
        .iter()
        .map(String::as_str)
        .filter(|s| s.ends_with(":users") || s.contains("users_app_metadata"))
        .collect();
    let shown = if relevant.is_empty() {
        "none".to_owned()
    } else {
        relevant.join(" ")
    };
    if missing.is_empty() {
        checks.pass("scopes", &titles.scopes, format!("{shown} (from {source})"));
    } else {
        checks.fail(
            "scopes",
            &titles.scopes,
            format!(
                "missing {} (granted: {shown}, from {source})",
                missing.join(", ")
            ),
            format!("grant {} in {APP_API} → Permissions", missing.join(" and ")),
        );
    }

    // The get_user script's call, for nobody.
    let path = format!("/api/v2/users-by-email?email={}", urlencode(&probe_email));
    let mut probes = Vec::new();
    for _ in 0..request.probes.max(1) {
        let answer = old.management(Method::GET, &path, &token, None).await;
        if answer.status != 0 && answer.status != 429 {
            round_trips.push(ms(answer.elapsed));
        }
        probes.push(answer);
    }
    let first = &probes[0];
    let found = first.json();
    match classify_management_answer(first.status, first.header("x-ratelimit-reset")) {
        ManagementOutcome::Ok if found == Some(json!([])) => checks.pass(
            "users_by_email",
            &titles.users_by_email,
            "[] for a random address: read:users works in practice",
        ),
        ManagementOutcome::Ok => checks.fail(
            "users_by_email",
            &titles.users_by_email,
            format!("HTTP 200, but not [] ({} bytes)", first.body.len()),
            "--domain: the old tenant's Management API",
        ),
        ManagementOutcome::Forbidden | ManagementOutcome::Unauthorized => checks.fail(
            "users_by_email",
            &titles.users_by_email,
            redact(http_detail(first)),
            format!("grant read:users in {APP_API} → Permissions"),
        ),
        _ => checks.fail(
            "users_by_email",
            &titles.users_by_email,
            redact(http_detail(first)),
            "see the answer; try again later if the tenant was down",
        ),
    }
    let headers = RateLimit {
        limit: first.header("x-ratelimit-limit").map(str::to_owned),
        remaining: first.header("x-ratelimit-remaining").map(str::to_owned),
        reset: first.header("x-ratelimit-reset").map(str::to_owned),
    };
    match &headers.limit {
        Some(limit) => {
            let small = limit.parse::<u32>().is_ok_and(|l| l <= 2);
            let detail = format!(
                "x-ratelimit-limit {limit}, x-ratelimit-remaining {}, x-ratelimit-reset {}{}",
                headers.remaining.as_deref().unwrap_or("?"),
                headers.reset.as_deref().unwrap_or("?"),
                if small {
                    ": a free tenant's budget (about 2 requests/s): bulk lookups and the scripts' 429 retries will be slow"
                } else {
                    ""
                }
            );
            let outcome = if small {
                Outcome::Warning
            } else {
                Outcome::Passed
            };
            checks.push("rate_limit", &titles.rate_limit, outcome, detail, None);
        }
        None => checks.push(
            "rate_limit",
            &titles.rate_limit,
            Outcome::Warning,
            "no x-ratelimit-* headers: the scripts cannot time their 429 retries",
            None,
        ),
    }
    rate_limit = Some(headers);
    latency(&mut checks, &titles, &round_trips, config.timeout_ms);
    finish(
        checks,
        rate_limit,
        round_trips,
        request.new,
        &config.connection_name,
    )
    .await
}

fn latency(checks: &mut Checks, titles: &OldTitles, round_trips: &[u64], timeout_ms: u32) {
    if round_trips.is_empty() {
        checks.skip("latency", &titles.latency, "no round trip was timed");
        return;
    }
    let p95 = p95(round_trips);
    let max = round_trips.iter().max().copied().unwrap_or(0);
    let timeout = u64::from(timeout_ms);
    let detail = format!(
        "p95 {p95} ms of {} round trips (max {max} ms) against http.timeout_ms = {timeout}",
        round_trips.len()
    );
    if p95 > timeout {
        checks.fail(
            "latency",
            &titles.latency,
            detail,
            "raise http.timeout_ms (at most 15000), or find out why the old tenant is slow",
        );
    } else if p95 * 3 > timeout {
        checks.push(
            "latency",
            &titles.latency,
            Outcome::Warning,
            format!("{detail}: over a third of it, little room for a retry"),
            Some("raise http.timeout_ms".to_owned()),
        );
    } else {
        checks.pass("latency", &titles.latency, detail);
    }
}

struct OldTitles {
    domain: String,
    reachable: String,
    tenant: String,
    client: String,
    password_grant: String,
    realm: String,
    management_token: String,
    scopes: String,
    users_by_email: String,
    rate_limit: String,
    latency: String,
}

impl OldTitles {
    fn new(config: &Config) -> OldTitles {
        OldTitles {
            domain: "old tenant: domain is https (http only for loopback)".to_owned(),
            reachable: "old tenant: domain reachable".to_owned(),
            tenant: "old tenant: answers like an Auth0 tenant (issuer)".to_owned(),
            client: "old tenant: client exists, secret right".to_owned(),
            password_grant: "old tenant: Password grant enabled for the client".to_owned(),
            realm: format!("old tenant: realm {} enabled for the client", config.realm),
            management_token: "old tenant: client credentials for the Management API".to_owned(),
            scopes: format!(
                "old tenant: token carries read:users{}",
                if config.mark_migrated.is_on() {
                    ", update:users"
                } else {
                    ""
                }
            ),
            users_by_email: "old tenant: users-by-email answers [] for nobody".to_owned(),
            rate_limit: "old tenant: rate-limit headers".to_owned(),
            latency: format!(
                "old tenant: round trips within http.timeout_ms ({} ms)",
                config.timeout_ms
            ),
        }
    }

    fn skip_after_reachable(&self, checks: &mut Checks, why: &str) {
        for (id, title) in [
            ("tenant", &self.tenant),
            ("client", &self.client),
            ("password_grant", &self.password_grant),
            ("realm", &self.realm),
            ("management_token", &self.management_token),
            ("scopes", &self.scopes),
            ("users_by_email", &self.users_by_email),
            ("rate_limit", &self.rate_limit),
            ("latency", &self.latency),
        ] {
            checks.skip(id, title, why);
        }
    }

    fn skip_after_domain(&self, checks: &mut Checks, why: &str) {
        checks.skip("reachable", &self.reachable, why);
        self.skip_after_reachable(checks, why);
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn finish(
    mut checks: Checks,
    rate_limit: Option<RateLimit>,
    round_trips: Vec<u64>,
    new: Option<NewTenant>,
    connection: &str,
) -> Report {
    if let Some(new) = new {
        new_tenant(&mut checks, new, connection).await;
    }
    Report {
        checks: checks.0,
        rate_limit,
        round_trips_ms: round_trips,
    }
}

/// The new tenant: the connection the config names, in import mode with
/// custom scripts, enabled for an application, with the generated scripts.
async fn new_tenant(checks: &mut Checks, new: NewTenant, connection: &str) {
    let secret = new.credentials.secret.clone();
    let redact = |text: String| secret.redact(&text);
    let titles = [
        (
            "new_token",
            "new tenant: Management API token with read:connections".to_owned(),
        ),
        (
            "connection",
            format!("new tenant: connection {connection} exists"),
        ),
        (
            "database",
            "new tenant: it is a database connection".to_owned(),
        ),
        (
            "import_mode",
            "new tenant: import mode on (Import Users to Auth0)".to_owned(),
        ),
        (
            "custom_scripts",
            "new tenant: custom database scripts on".to_owned(),
        ),
        (
            "enabled_clients",
            "new tenant: enabled for at least one application".to_owned(),
        ),
        (
            "scripts",
            "new tenant: deployed scripts are what trickle generate makes".to_owned(),
        ),
    ];
    let title = |id: &str| {
        titles
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let skip_from = |checks: &mut Checks, from: usize, why: &str| {
        for (id, title) in &titles[from..] {
            checks.skip(id, title, why);
        }
    };
    let tenant = match Tenant::new(new.credentials, Duration::from_secs(15)) {
        Ok(tenant) => tenant,
        Err(error) => {
            checks.fail(
                "new_token",
                &title("new_token"),
                error.to_string(),
                "--new-domain: the new tenant's https:// address",
            );
            skip_from(checks, 1, "needs the new tenant's token");
            return;
        }
    };
    let token = match tenant.management_token().await {
        Ok(token) => token,
        Err(error) => {
            checks.fail(
                "new_token",
                &title("new_token"),
                redact(error.to_string()),
                format!("--new-client-id and $TRICKLE_NEW_CLIENT_SECRET: a client of the new tenant authorized for its Management API ({APP_API})"),
            );
            skip_from(checks, 1, "needs the new tenant's token");
            return;
        }
    };
    let scopes = jwt::claims(&token).map(|c| jwt::granted_scopes(&c));
    if scopes
        .as_ref()
        .is_some_and(|s| !s.iter().any(|g| g == "read:connections"))
    {
        checks.fail(
            "new_token",
            &title("new_token"),
            "the token lacks read:connections",
            format!("grant read:connections in {APP_API} → Permissions (in the new tenant)"),
        );
        skip_from(checks, 1, "needs read:connections");
        return;
    }
    checks.pass(
        "new_token",
        &title("new_token"),
        format!("a token for {}", tenant.audience()),
    );

    let answer = tenant
        .management(
            Method::GET,
            &format!("/api/v2/connections?name={}", urlencode(connection)),
            &token,
            None,
        )
        .await;
    let found = answer.json().and_then(|list| {
        list.as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == connection).cloned())
    });
    let Some(found) = found else {
        let detail = if answer.status == 200 {
            format!("no connection named {connection}")
        } else {
            redact(http_detail(&answer))
        };
        checks.fail("connection", &title("connection"), detail, format!("create it: deploy the folder trickle generate wrote (database-connections/{connection}/) with deploy-cli, or Authentication → Database → Create DB Connection"));
        skip_from(checks, 2, "no such connection");
        return;
    };
    let id = found["id"].as_str().unwrap_or_default().to_owned();
    checks.pass(
        "connection",
        &title("connection"),
        format!("{connection} ({id})"),
    );
    let strategy = found["strategy"].as_str().unwrap_or("?");
    if strategy == "auth0" {
        checks.pass("database", &title("database"), "strategy auth0");
    } else {
        checks.fail(
            "database",
            &title("database"),
            format!("strategy {strategy}"),
            "the lazy migration needs a database connection (Authentication → Database)",
        );
    }
    let options = &found["options"];
    let page = format!("Authentication → Database → {connection}");
    if options["import_mode"] == true {
        checks.pass(
            "import_mode",
            &title("import_mode"),
            "options.import_mode = true",
        );
    } else {
        checks.fail(
            "import_mode",
            &title("import_mode"),
            format!("options.import_mode = {}", options["import_mode"]),
            format!("{page} → Settings → Import Users to Auth0: on"),
        );
    }
    if options["enabledDatabaseCustomization"] == true {
        checks.pass(
            "custom_scripts",
            &title("custom_scripts"),
            "options.enabledDatabaseCustomization = true",
        );
    } else {
        checks.fail(
            "custom_scripts",
            &title("custom_scripts"),
            format!(
                "options.enabledDatabaseCustomization = {}",
                options["enabledDatabaseCustomization"]
            ),
            format!("{page} → Custom Database → Use my own database: on"),
        );
    }
    let clients = tenant
        .management(
            Method::GET,
            &format!("/api/v2/connections/{}/clients", urlencode(&id)),
            &token,
            None,
        )
        .await;
    let enabled: Option<Vec<String>> = match clients.json() {
        Some(body) if clients.status == 200 => body["clients"].as_array().map(|list| {
            list.iter()
                .filter_map(|c| c["client_id"].as_str().map(str::to_owned))
                .collect()
        }),
        // Older tenants: the list inside the connection.
        _ => found["enabled_clients"].as_array().map(|list| {
            list.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        }),
    };
    match enabled {
        Some(list) if !list.is_empty() => checks.pass(
            "enabled_clients",
            &title("enabled_clients"),
            format!("{} application(s)", list.len()),
        ),
        Some(_) => checks.fail(
            "enabled_clients",
            &title("enabled_clients"),
            "no application uses it: nobody can log in through it",
            format!("{page} → Applications: enable your applications"),
        ),
        None => checks.fail(
            "enabled_clients",
            &title("enabled_clients"),
            redact(http_detail(&clients)),
            "grant read:connections to the new tenant's client",
        ),
    }
    let deployed = &options["customScripts"];
    let mut lines = Vec::new();
    let mut all_identical = true;
    for (key, text) in &new.expected {
        let drift = compare_scripts(deployed[key.as_str()].as_str(), text);
        all_identical &= drift == Drift::Identical;
        lines.push(format!(
            "{key}: {}",
            drift.summary(env!("CARGO_PKG_VERSION"))
        ));
    }
    if all_identical {
        checks.pass("scripts", &title("scripts"), lines.join("; "));
    } else {
        checks.fail("scripts", &title("scripts"), lines.join("; "), format!("deploy the scripts trickle generate wrote from this config (database-connections/{connection}/), and edit the config rather than the dashboard"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95(&[5]), 5);
        assert_eq!(p95(&[1, 2, 3, 4, 100]), 100);
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(p95(&twenty), 19);
    }
}
