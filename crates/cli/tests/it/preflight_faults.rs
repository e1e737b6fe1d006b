//! `trickle preflight` where the old tenant is reached through a custom
//! domain (token requests go where the scripts send them), where a wrong
//! secret is answered either way Auth0 answers it, and under a storm of
//! 429s: each against `trickle sim` when it can play the case, else a small
//! fake of the documented endpoints (tests/support/fake_auth0.rs).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use support::fake_auth0::{
    auth_error, discovery, management_ok, management_token, rate_limited, Fake,
};
use support::run::{text, trickle};
use trickle_sim::{Options, Seed, Sim};

const REALM: &str = "Username-Password-Authentication";
const SECRET: &str = "preflight-faults-secret-never-shown-5e0c";
const DEADLINE: Duration = Duration::from_secs(60);

/// `trickle sim` with its own runtime, its canonical host `localhost`:
/// reached at 127.0.0.1 it plays the tenant's custom domain.
struct CustomDomainTenant {
    sim: Sim,
    _runtime: tokio::runtime::Runtime,
}

impl CustomDomainTenant {
    fn start() -> CustomDomainTenant {
        let seed = json!({
            "bcrypt_cost": 4,
            "connections": [{"name": REALM}],
            "clients": [{"client_id": "good", "client_secret": SECRET,
                         "grant_types": ["password", "client_credentials"],
                         "scopes": ["read:users", "update:users"]}],
            "users": [],
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let options = Options {
            rate_limit: 0,
            canonical_host: Some("localhost".to_owned()),
            ..Options::default()
        };
        let sim = runtime
            .block_on(Sim::start_local(
                Seed::from_json(&seed.to_string()).unwrap(),
                options,
            ))
            .unwrap();
        CustomDomainTenant {
            sim,
            _runtime: runtime,
        }
    }

    /// `http://localhost:PORT`: the canonical domain.
    fn canonical(&self) -> String {
        self.sim.base_url().replace("127.0.0.1", "localhost")
    }

    /// `http://127.0.0.1:PORT`: the custom domain.
    fn custom(&self) -> String {
        self.sim.base_url().to_owned()
    }
}

fn config(dir: &Path, custom_domain: bool) -> PathBuf {
    let path = dir.join("trickle.toml");
    fs::write(
        &path,
        format!(
            "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"{REALM}\"\ncustom_domain = {custom_domain}\n\
             [migration]\nmark_migrated = true\n[http]\ntimeout_ms = 5000\n"
        ),
    )
    .unwrap();
    path
}

/// preflight --json: the exit code, the checks by id, and all it printed.
fn preflight(args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["preflight", "--json"];
    if !args.contains(&"--probes") {
        all.extend(["--probes", "2"]);
    }
    all.extend_from_slice(args);
    let output = trickle(&all, &[("TRICKLE_OLD_CLIENT_SECRET", SECRET)], DEADLINE);
    let shown = text(&output);
    assert!(!shown.contains(SECRET), "the secret was printed:\n{shown}");
    let checks = serde_json::from_slice::<Value>(&output.stdout)
        .ok()
        .and_then(|report| report["checks"].as_array().cloned())
        .unwrap_or_default();
    (output.status.code().unwrap_or(-1), checks, shown)
}

fn check<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {checks:#?}"))
}

fn assert_check(checks: &[Value], id: &str, outcome: &str, words: &[&str]) {
    let found = check(checks, id);
    assert_eq!(found["outcome"], outcome, "{id}: {found:#}");
    let shown = format!("{} {}", found["detail"], found["fix"]);
    for word in words {
        assert!(shown.contains(word), "{id}: {word:?} not in {shown}");
    }
}

#[test]
fn token_requests_go_to_the_custom_domain_as_the_scripts_send_them() {
    let old = CustomDomainTenant::start();
    let dir = tempfile::tempdir().unwrap();
    let with_custom = config(dir.path(), true);
    let with_custom = with_custom.to_str().unwrap();
    let (canonical, custom) = (old.canonical(), old.custom());
    let base = ["--config", with_custom, "--client-id", "good"];

    // Canonical domain and custom domain: every check passes.
    let mut args = base.to_vec();
    args.extend(["--domain", &canonical, "--custom-domain", &custom]);
    let (code, checks, shown) = preflight(&args);
    assert_eq!(code, 0, "{shown}");
    assert_check(&checks, "custom_domain", "passed", &[&custom]);
    for id in [
        "client",
        "password_grant",
        "realm",
        "management_token",
        "users_by_email",
    ] {
        assert_check(&checks, id, "passed", &[]);
    }

    // A broken custom domain fails, though the canonical one is fine:
    // every login would fail there.
    let mut args = base.to_vec();
    args.extend([
        "--domain",
        &canonical,
        "--custom-domain",
        "http://127.0.0.1:9",
    ]);
    let (code, checks, shown) = preflight(&args);
    assert_eq!(code, 1, "{shown}");
    assert_check(
        &checks,
        "custom_domain",
        "failed",
        &["no answer", "--custom-domain"],
    );
    assert_ne!(check(&checks, "client")["outcome"], "passed");
    assert_ne!(check(&checks, "management_token")["outcome"], "passed");

    // The config says the settings carry a custom domain: preflight needs
    // to know it, or it would test a path no login takes.
    let mut args = base.to_vec();
    args.extend(["--domain", &canonical]);
    let (code, _, shown) = preflight(&args);
    assert_eq!(code, 2, "{shown}");
    assert!(shown.contains("--custom-domain"), "{shown}");
    assert!(shown.contains("custom_domain = true"), "{shown}");
}

#[test]
fn a_custom_domain_given_as_domain_is_named_with_the_readme_fix() {
    let old = CustomDomainTenant::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), false);
    let custom = old.custom();
    let (code, checks, shown) = preflight(&[
        "--config",
        cfg.to_str().unwrap(),
        "--client-id",
        "good",
        "--domain",
        &custom,
    ]);
    assert_eq!(code, 1, "{shown}");
    assert_check(
        &checks,
        "management_token",
        "failed",
        &["canonical", "custom_domain", "--custom-domain"],
    );
    let fix = check(&checks, "management_token")["fix"].to_string();
    assert!(!fix.contains("Machine To Machine"), "{fix}");
}

/// An old tenant whose token endpoint answers a wrong secret as `answer`.
fn refusing_tenant(answer: fn() -> Response) -> Fake {
    Fake::start(move |base| {
        let base = base.to_owned();
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let base = base.clone();
                    async move { discovery(&base) }
                }),
            )
            .route("/oauth/token", post(move || async move { answer() }))
    })
}

#[test]
fn a_wrong_secret_is_diagnosed_alike_whether_auth0_says_invalid_client_or_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), false);
    let answers: [fn() -> Response; 2] = [
        || auth_error(401, "invalid_client", "Client authentication failed"),
        || auth_error(401, "access_denied", "Unauthorized"),
    ];
    for answer in answers {
        let old = refusing_tenant(answer);
        let (code, checks, shown) = preflight(&[
            "--config",
            cfg.to_str().unwrap(),
            "--client-id",
            "c",
            "--domain",
            &old.base,
        ]);
        assert_eq!(code, 1, "{shown}");
        assert_check(
            &checks,
            "client",
            "failed",
            &["--client-id", "TRICKLE_OLD_CLIENT_SECRET"],
        );
        assert_check(&checks, "password_grant", "skipped", &[]);
        assert_check(
            &checks,
            "management_token",
            "failed",
            &["TRICKLE_OLD_CLIENT_SECRET"],
        );
    }
}

/// An old tenant whose Management API answers 429 to everything.
fn storming_tenant() -> Fake {
    Fake::start(|base| {
        let base = base.to_owned();
        let audience = format!("{base}/api/v2/");
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move |State(base): State<String>| async move { discovery(&base) }),
            )
            .route(
                "/oauth/token",
                post(move |body: axum::Json<Value>| {
                    let audience = audience.clone();
                    async move {
                        if body["grant_type"] == "client_credentials" {
                            management_token(&audience, "read:users update:users")
                        } else {
                            auth_error(403, "invalid_grant", "Wrong email or password.")
                        }
                    }
                }),
            )
            .route("/api/v2/users-by-email", get(|| async { rate_limited(2) }))
            .fallback(|| async { management_ok(json!({})) })
            .with_state(base)
    })
}

#[test]
fn a_429_storm_stops_after_the_first_probe_and_every_long_wait_is_told() {
    let old = storming_tenant();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), false);
    let started = Instant::now();
    let (code, checks, shown) = preflight(&[
        "--config",
        cfg.to_str().unwrap(),
        "--client-id",
        "c",
        "--domain",
        &old.base,
        "--probes",
        "5",
        "--rate-limit-wait",
        "3",
    ]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{shown}");
    assert_check(&checks, "users_by_email", "failed", &["429"]);
    // One probe waited its 3 s out; the four others were never sent.
    let probes = old.count("GET /api/v2/users-by-email");
    assert!((2..=5).contains(&probes), "{probes} requests:\n{shown}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    let told = shown.lines().filter(|l| l.contains("waiting")).count();
    assert!(told >= 1, "no line for the waits:\n{shown}");
}
