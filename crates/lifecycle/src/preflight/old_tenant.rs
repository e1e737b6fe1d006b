//! The old tenant, as the scripts use it: its domain, its discovery
//! document, the custom domain token requests go to, the login script's
//! password-realm grant (for nobody), the Management API token and its
//! scopes, the get_user script's users-by-email (for nobody), its rate
//! limit and round trips. Phase by phase; a phase whose failure leaves the
//! next ones nothing to check stops them (they are reported skipped).

use reqwest::Method;
use serde_json::{json, Value};
use trickle_core::{
    classify_management_answer, classify_token_answer, ManagementOutcome, TokenBody, TokenOutcome,
};
use trickle_generator::Config;

use super::model::{
    failed, http_detail, ms, passed, skipped, urlencode, Check, Checks, Outcome, RateLimit,
    Request, Titles, Verdict, APP_API, APP_GRANTS,
};
use crate::jwt;
use crate::realm::{self, impossible_email};
use crate::tenant::{Answer, Tenant, TenantError};
use crate::Secret;

/// What the old tenant's checks leave for the report.
pub(super) struct OldTenant {
    pub checks: Vec<Check>,
    pub rate_limit: Option<RateLimit>,
    pub round_trips: Vec<u64>,
}

/// Why the phases after one cannot run.
struct Stop(&'static str);

/// The old tenant's checks as they go.
struct Run<'a> {
    request: &'a Request<'a>,
    titles: Titles,
    checks: Checks,
    secret: Secret,
    round_trips: Vec<u64>,
    rate_limit: Option<RateLimit>,
}

/// A Management API token and the scope its answer named.
struct Token {
    access_token: String,
    answered_scope: Option<String>,
}

/// Runs the old tenant's checks.
pub(super) async fn check(request: &Request<'_>) -> OldTenant {
    let mut run = Run {
        request,
        titles: titles(request.config, request.custom_domain.is_some()),
        checks: Checks::default(),
        secret: request.old.secret.clone(),
        round_trips: Vec::new(),
        rate_limit: None,
    };
    let stopped = match run.open() {
        Ok(tenant) => run.phases(&tenant).await.err(),
        Err(stop) => Some(stop),
    };
    if let Some(Stop(why)) = stopped {
        run.checks.skip_unrecorded(&run.titles, why, &["latency"]);
    }
    let latency = latency(&run.round_trips, request.config.timeout_ms);
    run.record("latency", latency);
    OldTenant {
        checks: run.checks.into_list(&run.titles),
        rate_limit: run.rate_limit,
        round_trips: run.round_trips,
    }
}

/// The checks, in the order they are reported.
fn titles(config: &Config, custom_domain: bool) -> Titles {
    let mut list = vec![
        (
            "domain",
            "old tenant: domain is https (http only for loopback)".to_owned(),
        ),
        ("reachable", "old tenant: domain reachable".to_owned()),
        (
            "tenant",
            "old tenant: answers like an Auth0 tenant (issuer)".to_owned(),
        ),
    ];
    if custom_domain {
        list.push((
            "custom_domain",
            "old tenant: custom domain answers as the tenant (token requests go there)".to_owned(),
        ));
    }
    let scopes = if config.mark_migrated.is_on() {
        "read:users, update:users"
    } else {
        "read:users"
    };
    list.extend([
        (
            "client",
            "old tenant: client exists, secret right".to_owned(),
        ),
        (
            "password_grant",
            "old tenant: Password grant enabled for the client".to_owned(),
        ),
        (
            "realm",
            format!("old tenant: realm {} enabled for the client", config.realm),
        ),
        (
            "management_token",
            "old tenant: client credentials for the Management API".to_owned(),
        ),
        ("scopes", format!("old tenant: token carries {scopes}")),
        (
            "users_by_email",
            "old tenant: users-by-email answers [] for nobody".to_owned(),
        ),
        ("rate_limit", "old tenant: rate-limit headers".to_owned()),
        (
            "latency",
            format!(
                "old tenant: round trips within http.timeout_ms ({} ms)",
                config.timeout_ms
            ),
        ),
    ]);
    Titles(list)
}

const CUSTOM_DOMAIN_FIX: &str = "--custom-domain (the connection's `custom_domain` setting): the old tenant's custom domain with scheme, as Auth0 serves it (Branding → Custom Domains), e.g. https://login.example.com";

impl Run<'_> {
    fn record(&mut self, id: &'static str, verdict: Verdict) {
        let (outcome, detail, fix) = verdict;
        let detail = self.secret.redact(&detail);
        self.checks.record(&self.titles, id, (outcome, detail, fix));
    }

    fn timed(&mut self, answer: &Answer) {
        if answer.status != 0 && answer.status != 429 {
            self.round_trips.push(ms(answer.elapsed));
        }
    }

    /// The phases after the domain, in the order the scripts need them.
    async fn phases(&mut self, tenant: &Tenant) -> Result<(), Stop> {
        self.discovery(tenant).await?;
        if self.request.custom_domain.is_some() {
            self.custom_domain(tenant).await?;
        }
        self.password_probe(tenant).await;
        let token = self.management_token(tenant).await?;
        self.scopes(&token);
        self.users_by_email(tenant, &token.access_token).await;
        Ok(())
    }

    /// The domain (and the custom domain) as the scripts accept them.
    fn open(&mut self) -> Result<Tenant, Stop> {
        let mut tenant = match self.request.tenant(&self.request.old) {
            Ok(tenant) => tenant,
            Err(error) => {
                let (message, fix) = match error {
                    TenantError::Domain(message) => (
                        message.to_owned(),
                        "--domain (and the connection's `domain` setting): the old tenant's https:// address, e.g. https://old-tenant.eu.auth0.com",
                    ),
                    other => (other.to_string(), "--domain"),
                };
                self.record("domain", failed(message, fix));
                return Err(Stop("needs a usable domain"));
            }
        };
        let detail = format!("{} (the scripts accept it)", tenant.base);
        self.record("domain", passed(detail));
        if let Some(custom) = &self.request.custom_domain {
            if let Err(error) = tenant.set_token_origin(custom) {
                let detail = format!(
                    "{custom}: {}",
                    error
                        .to_string()
                        .replace("configuration.domain", "custom_domain")
                );
                self.record("custom_domain", failed(detail, CUSTOM_DOMAIN_FIX));
            }
        }
        Ok(tenant)
    }

    /// Reachable, and an Auth0 tenant: the discovery document's issuer.
    async fn discovery(&mut self, tenant: &Tenant) -> Result<(), Stop> {
        let answer = tenant.get_public("/.well-known/openid-configuration").await;
        if answer.status == 0 {
            let fix = "--domain: check the name, DNS and the network";
            self.record("reachable", failed(http_detail(&answer), fix));
            return Err(Stop("the domain does not answer"));
        }
        let detail = format!("HTTP {} in {} ms", answer.status, ms(answer.elapsed));
        self.record("reachable", passed(detail));
        let verdict = issuer_verdict(&answer, &tenant.base, "--domain");
        self.record("tenant", verdict);
        Ok(())
    }

    /// The custom domain answers as the same tenant: its own discovery
    /// document, whose issuer is the custom domain.
    async fn custom_domain(&mut self, tenant: &Tenant) -> Result<(), Stop> {
        let stop = Stop("needs a usable custom domain");
        if self.checks.has_failed("custom_domain") {
            return Err(stop);
        }
        let answer = tenant
            .get_public_token_origin("/.well-known/openid-configuration")
            .await;
        let verdict = match answer.status {
            0 => failed(http_detail(&answer), CUSTOM_DOMAIN_FIX),
            _ => issuer_verdict(&answer, &tenant.token_base, "--custom-domain"),
        };
        let usable = verdict.0 == Outcome::Passed;
        self.record("custom_domain", verdict);
        if usable {
            Ok(())
        } else {
            Err(stop)
        }
    }

    /// The login script's call: a password-realm grant for nobody.
    async fn password_probe(&mut self, tenant: &Tenant) {
        let answer = realm::probe(tenant, &self.request.config.realm, &impossible_email()).await;
        self.timed(&answer);
        let probe = Probe::read(&answer);
        let diagnose = PROBE_DIAGNOSES
            .iter()
            .find(|(applies, _)| applies(&probe))
            .map_or(unexpected_answer as Diagnosis, |(_, diagnose)| *diagnose);
        let [client, grant, realm] = diagnose(&probe, &self.request.config.realm);
        self.record("client", client);
        self.record("password_grant", grant);
        self.record("realm", realm);
    }

    /// The Management API token (client credentials), as the scripts ask it.
    async fn management_token(&mut self, tenant: &Tenant) -> Result<Token, Stop> {
        let answer = tenant
            .token_request(
                json!({"grant_type": "client_credentials", "audience": tenant.audience()}),
            )
            .await;
        self.timed(&answer);
        let body = answer.json();
        let access_token = body
            .as_ref()
            .and_then(|b| b.get("access_token").and_then(Value::as_str));
        if let (ManagementOutcome::Ok, Some(token)) = (
            classify_management_answer(answer.status, None),
            access_token,
        ) {
            let detail = format!("a token for {}", tenant.audience());
            self.record("management_token", passed(detail));
            let answered_scope = body
                .as_ref()
                .and_then(|b| b.get("scope").and_then(Value::as_str).map(str::to_owned));
            return Ok(Token {
                access_token: token.to_owned(),
                answered_scope,
            });
        }
        let refusal = Refused::read(&answer);
        if refusal.bad_client() && !self.checks.has_failed("client") {
            let fix = "--client-id and $TRICKLE_OLD_CLIENT_SECRET";
            self.record("client", failed(refusal.detail.clone(), fix));
        }
        let fix = TOKEN_FIXES
            .iter()
            .find(|(applies, _)| applies(&refusal))
            .map_or_else(|| "see the answer".to_owned(), |(_, fix)| fix(&refusal));
        self.record("management_token", failed(refusal.detail, fix));
        Err(Stop("needs a Management API token"))
    }

    /// The scopes the token carries: its claims, else the answer's `scope`.
    fn scopes(&mut self, token: &Token) {
        let (granted, source) = match jwt::claims(&token.access_token) {
            Some(claims) => (jwt::granted_scopes(&claims), "the token's claims"),
            None => (
                token
                    .answered_scope
                    .as_deref()
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                "the token answer's scope (the token is not a JWT)",
            ),
        };
        let verdict = scopes_verdict(&granted, source, self.request.config.mark_migrated.is_on());
        self.record("scopes", verdict);
    }

    /// The get_user script's call, for nobody, `probes` times for the
    /// latency; a probe still rate-limited after its whole wait ends them
    /// (the next ones would only wait as long again).
    async fn users_by_email(&mut self, tenant: &Tenant, token: &str) {
        let path = format!(
            "/api/v2/users-by-email?email={}",
            urlencode(&impossible_email())
        );
        let mut first: Option<Answer> = None;
        for _ in 0..self.request.probes.max(1) {
            let answer = tenant.management(Method::GET, &path, token, None).await;
            self.timed(&answer);
            let exhausted = answer.status == 429;
            first.get_or_insert(answer);
            if exhausted {
                break;
            }
        }
        let first = first.expect("at least one probe");
        let verdict = users_by_email_verdict(&first, tenant.max_wait.as_secs());
        self.record("users_by_email", verdict);
        let (verdict, headers) = rate_limit_verdict(&first);
        self.record("rate_limit", verdict);
        self.rate_limit = Some(headers);
    }
}

/// Whether a discovery document names `base` as its issuer.
fn issuer_verdict(answer: &Answer, base: &str, flag: &str) -> Verdict {
    let issuer = answer
        .json()
        .and_then(|d| d.get("issuer").and_then(Value::as_str).map(str::to_owned));
    let expected = format!("{base}/");
    match issuer {
        _ if (300..400).contains(&answer.status) => failed(
            format!("{} (the scripts never follow one)", http_detail(answer)),
            format!("{flag}: the tenant's own domain, not one that redirects"),
        ),
        Some(issuer) if issuer == expected => passed(format!("issuer {issuer}")),
        Some(issuer) => failed(
            format!("the issuer is {issuer}, not {expected}"),
            format!("{flag}: the domain the issuer names"),
        ),
        None => failed(
            format!(
                "/.well-known/openid-configuration is not an OpenID discovery document ({})",
                http_detail(answer)
            ),
            format!("{flag}: an Auth0 tenant's domain"),
        ),
    }
}

/// The password-realm probe's answer, as the diagnoses read it.
struct Probe {
    outcome: TokenOutcome,
    status: u16,
    code: String,
    /// Auth0's description, lower-cased.
    description: String,
    detail: String,
}

impl Probe {
    fn read(answer: &Answer) -> Probe {
        let body: Option<TokenBody> = serde_json::from_str(&answer.body).ok();
        let outcome = classify_token_answer(
            answer.status,
            body.as_ref(),
            answer.header("x-ratelimit-reset"),
        );
        let (code, description) = answer.error();
        Probe {
            outcome,
            status: answer.status,
            code,
            description: description.to_lowercase(),
            detail: http_detail(answer),
        }
    }

    /// Auth0 answers an unknown client or a wrong secret 401 with
    /// `invalid_client`, or with `access_denied` ("Unauthorized"): both
    /// mean the same here (a Rule or Action cannot deny a login for
    /// nobody, nor a client-credentials grant with 401).
    fn bad_client(&self) -> bool {
        bad_client(self.status, &self.code)
    }

    fn realm_refused(&self) -> bool {
        self.code == "invalid_request"
            && ["realm", "connection"]
                .iter()
                .any(|w| self.description.contains(w))
    }
}

fn bad_client(status: u16, code: &str) -> bool {
    code == "invalid_client" || (status == 401 && code == "access_denied")
}

/// The client, password_grant and realm checks for a probe's answer.
type Diagnosis = fn(&Probe, &str) -> [Verdict; 3];

/// Whether a diagnosis reads a probe's answer.
type ProbeTest = fn(&Probe) -> bool;

/// Which diagnosis reads a probe's answer: the first that applies (none:
/// [`unexpected_answer`]).
const PROBE_DIAGNOSES: [(ProbeTest, Diagnosis); 5] = [
    (
        |p| p.outcome == TokenOutcome::WrongCredentials,
        wrong_password_as_expected,
    ),
    (Probe::bad_client, unknown_client),
    (
        |p| p.outcome == TokenOutcome::Misconfigured && p.code == "unauthorized_client",
        no_password_grant,
    ),
    (Probe::realm_refused, realm_refused),
    (|p| p.outcome == TokenOutcome::Misconfigured, login_denied),
];

fn wrong_password_as_expected(_: &Probe, realm: &str) -> [Verdict; 3] {
    [
        passed("the token endpoint knows the client and its secret"),
        passed("a password-realm grant for a random user answers invalid_grant, as for a wrong password"),
        passed(format!("{realm} accepted")),
    ]
}

fn unknown_client(probe: &Probe, _: &str) -> [Verdict; 3] {
    [
        failed(
            probe.detail.clone(),
            "--client-id and $TRICKLE_OLD_CLIENT_SECRET: the client's id and secret (Applications → Applications → <the client> → Settings)",
        ),
        skipped("needs a known client"),
        skipped("needs a known client"),
    ]
}

fn no_password_grant(probe: &Probe, _: &str) -> [Verdict; 3] {
    [
        passed("the token endpoint knows the client"),
        failed(
            probe.detail.clone(),
            format!("enable Password: {APP_GRANTS}"),
        ),
        skipped("needs the Password grant"),
    ]
}

fn realm_refused(probe: &Probe, realm: &str) -> [Verdict; 3] {
    let cause = realm::refusal_cause(&probe.code, &probe.description, realm).unwrap_or_else(|| {
        format!("{realm} is unknown, or not enabled for this client (Auth0's answer does not say which)")
    });
    let fix = format!(
        "enable the connection {realm} for the client (Applications → Applications → <the client> → Connections), \
         or set source.realm to the connection the users are in (Authentication → Database)"
    );
    [
        passed("the token endpoint knows the client"),
        passed("the grant is allowed (the realm is refused)"),
        failed(format!("{cause}: {}", probe.detail), fix),
    ]
}

fn login_denied(probe: &Probe, _: &str) -> [Verdict; 3] {
    [
        passed("the token endpoint knows the client"),
        failed(
            probe.detail.clone(),
            "an Action or Rule may deny the login; check the tenant's logs for this attempt",
        ),
        skipped("the grant is refused"),
    ]
}

fn unexpected_answer(probe: &Probe, _: &str) -> [Verdict; 3] {
    let why = match probe.outcome {
        TokenOutcome::Transient => "the old tenant could not answer",
        TokenOutcome::Redirected => "a redirect (never followed)",
        TokenOutcome::RateLimited { .. } | TokenOutcome::TooManyAttempts => {
            "rate-limited or throttled"
        }
        TokenOutcome::Authenticated => "a random user logged in?!",
        _ => "an answer the scripts do not expect",
    };
    let verdict = || {
        failed(
            format!("{why}: {}", probe.detail),
            "see the answer; try again later if the tenant was down",
        )
    };
    [verdict(), verdict(), verdict()]
}

/// A refused Management API token request, as the fixes read it.
struct Refused {
    status: u16,
    code: String,
    description: String,
    detail: String,
}

impl Refused {
    fn read(answer: &Answer) -> Refused {
        let (code, description) = answer.error();
        Refused {
            status: answer.status,
            code,
            description,
            detail: http_detail(answer),
        }
    }

    fn bad_client(&self) -> bool {
        bad_client(self.status, &self.code)
    }

    /// Auth0's answer for an audience it does not serve: the audience is
    /// `<--domain>/api/v2/`, so `--domain` is not the canonical domain
    /// (most often, the custom domain put there).
    fn audience_unknown(&self) -> bool {
        self.code == "access_denied"
            && self
                .description
                .contains("Service not enabled within domain")
    }
}

/// Whether a fix is the one for a refused token, and the fix.
type RefusalTest = fn(&Refused) -> bool;
type Fix = fn(&Refused) -> String;

/// The fix for a refused Management API token: the first that applies.
const TOKEN_FIXES: [(RefusalTest, Fix); 4] = [
    (Refused::bad_client, |_| {
        "--client-id and $TRICKLE_OLD_CLIENT_SECRET".to_owned()
    }),
    (
        |r| r.code == "unauthorized_client",
        |_| format!("enable Client Credentials: {APP_GRANTS}"),
    ),
    (Refused::audience_unknown, |_| {
        "--domain must be the old tenant's canonical domain (e.g. https://old-tenant.eu.auth0.com: the Management API and its audience \
         https://<canonical>/api/v2/ live there), not its custom domain: put the canonical name in the `domain` setting (--domain) \
         and the custom one in `custom_domain` (--custom-domain, and `[source] custom_domain = true` in the config), as the README's Settings say"
            .to_owned()
    }),
    (
        |r| r.code == "access_denied",
        |_| format!("authorize the client for the Management API: {APP_API}"),
    ),
];

fn scopes_verdict(granted: &[String], source: &str, marks: bool) -> Verdict {
    let has = |scope: &str| granted.iter().any(|g| g == scope);
    let mut missing = Vec::new();
    if !has("read:users") {
        missing.push("read:users");
    }
    if marks && !has("update:users") && !has("update:users_app_metadata") {
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
        return passed(format!("{shown} (from {source})"));
    }
    failed(
        format!(
            "missing {} (granted: {shown}, from {source})",
            missing.join(", ")
        ),
        format!("grant {} in {APP_API} → Permissions", missing.join(" and ")),
    )
}

fn users_by_email_verdict(first: &Answer, waited_secs: u64) -> Verdict {
    let detail = http_detail(first);
    match classify_management_answer(first.status, first.header("x-ratelimit-reset")) {
        ManagementOutcome::Ok if first.json() == Some(json!([])) => {
            passed("[] for a random address: read:users works in practice")
        }
        ManagementOutcome::Ok => failed(
            format!("HTTP 200, but not [] ({} bytes)", first.body.len()),
            "--domain: the old tenant's Management API",
        ),
        ManagementOutcome::Forbidden | ManagementOutcome::Unauthorized => {
            failed(detail, format!("grant read:users in {APP_API} → Permissions"))
        }
        ManagementOutcome::RateLimited { .. } => failed(
            format!("{detail}: still rate-limited after waiting {waited_secs} s (the other probes were not sent)"),
            "the tenant's Management API budget is used up (other clients share it): run preflight when it is quieter, or raise --rate-limit-wait",
        ),
        _ => failed(detail, "see the answer; try again later if the tenant was down"),
    }
}

fn rate_limit_verdict(first: &Answer) -> (Verdict, RateLimit) {
    let headers = RateLimit {
        limit: first.header("x-ratelimit-limit").map(str::to_owned),
        remaining: first.header("x-ratelimit-remaining").map(str::to_owned),
        reset: first.header("x-ratelimit-reset").map(str::to_owned),
    };
    let Some(limit) = &headers.limit else {
        let detail = "no x-ratelimit-* headers: the scripts cannot time their 429 retries";
        return ((Outcome::Warning, detail.to_owned(), None), headers);
    };
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
    ((outcome, detail, None), headers)
}

fn latency(round_trips: &[u64], timeout_ms: u32) -> Verdict {
    if round_trips.is_empty() {
        return skipped("no round trip was timed");
    }
    let p95 = p95(round_trips);
    let max = round_trips.iter().max().copied().unwrap_or(0);
    let timeout = u64::from(timeout_ms);
    let detail = format!(
        "p95 {p95} ms of {} round trips (max {max} ms) against http.timeout_ms = {timeout}",
        round_trips.len()
    );
    if p95 > timeout {
        failed(
            detail,
            "raise http.timeout_ms (at most 15000), or find out why the old tenant is slow",
        )
    } else if p95 * 3 > timeout {
        (
            Outcome::Warning,
            format!("{detail}: over a third of it, little room for a retry"),
            Some("raise http.timeout_ms".to_owned()),
        )
    } else {
        passed(detail)
    }
}

/// The nearest-rank 95th percentile.
fn p95(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * 95).div_ceil(100).max(1);
    sorted[rank - 1]
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

    #[test]
    fn a_wrong_secret_reads_alike_in_both_of_auth0s_answers() {
        assert!(bad_client(401, "invalid_client"));
        assert!(bad_client(401, "access_denied"));
        assert!(
            !bad_client(403, "access_denied"),
            "403: not authorized for an API"
        );
        assert!(!bad_client(403, "unauthorized_client"));
    }
}
