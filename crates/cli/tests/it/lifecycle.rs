//! `trickle preflight` and `trickle status` as a user runs them, against
//! `trickle sim` playing the old tenant (and the new one): every check and
//! every verdict made to pass and made to fail; no secret in any output.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use support::run::text;
use trickle_lifecycle::status::Day;
use trickle_sim::{Faults, Options, Seed, Sim};

const REALM: &str = "Username-Password-Authentication";
const CONNECTION: &str = "old-tenant-import";
const OLD_SECRET: &str = "old-sim-secret-must-never-show-7d1f";
const NEW_SECRET: &str = "new-sim-secret-must-never-show-93ab";

/// A running emulator with its own runtime (the CLI runs beside it).
struct Tenant {
    sim: Sim,
    _runtime: tokio::runtime::Runtime,
}

impl Tenant {
    fn start(seed: Value, options: Options) -> Tenant {
        Tenant::start_seed(
            Seed::from_json(&seed.to_string()).expect("a valid seed"),
            options,
        )
    }

    fn start_seed(seed: Seed, options: Options) -> Tenant {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = runtime
            .block_on(Sim::start_local(seed, options))
            .expect("starts");
        Tenant {
            sim,
            _runtime: runtime,
        }
    }

    fn url(&self) -> &str {
        self.sim.base_url()
    }
}

fn quiet() -> Options {
    Options {
        rate_limit: 0,
        job_delay: Duration::from_millis(40),
        ..Options::default()
    }
}

fn client(id: &str, grants: &[&str], scopes: &[&str]) -> Value {
    json!({"client_id": id, "client_secret": OLD_SECRET, "grant_types": grants, "scopes": scopes})
}

/// The old tenant: a good client and one client per way to be wrong.
fn old_seed(users: Vec<Value>) -> Value {
    let mut realm_off = client(
        "realm-off",
        &["password", "client_credentials"],
        &["read:users", "update:users"],
    );
    realm_off["connections"] = json!(["Other-DB"]);
    json!({
        "bcrypt_cost": 4,
        "connections": [{"name": REALM}, {"name": "Other-DB"}],
        "clients": [
            client("good", &["password", "client_credentials"], &["read:users", "update:users"]),
            client("no-password-grant", &["client_credentials"], &["read:users", "update:users"]),
            client("no-client-credentials", &["password"], &[]),
            client("no-update", &["password", "client_credentials"], &["read:users"]),
            client("no-read", &["password", "client_credentials"], &["update:users"]),
            realm_off,
        ],
        "users": users,
    })
}

fn config(dir: &Path, realm: &str, timeout_ms: u32) -> PathBuf {
    let path = dir.join("trickle.toml");
    fs::write(
        &path,
        format!(
            "[connection]\nname = \"{CONNECTION}\"\n[source]\nrealm = \"{realm}\"\n\
             [migration]\nmark_migrated = true\n[http]\ntimeout_ms = {timeout_ms}\n"
        ),
    )
    .unwrap();
    path
}

/// Runs trickle with nothing inherited from the shell's secrets; fails if
/// either secret shows in what it prints.
fn trickle(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let output = support::run::trickle(args, envs, Duration::from_secs(120));
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [OLD_SECRET, NEW_SECRET] {
            assert!(!text.contains(secret), "a secret in the output:\n{text}");
        }
    }
    output
}

/// Runs preflight with --json; the exit code and the checks by id.
fn preflight(args: &[&str], envs: &[(&str, &str)]) -> (i32, Vec<Value>) {
    let mut all = vec!["preflight", "--json", "--probes", "3"];
    all.extend_from_slice(args);
    let output = trickle(&all, envs);
    let code = output.status.code().unwrap_or(-1);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("--json prints JSON:\n{}", text(&output)));
    (code, report["checks"].as_array().unwrap().clone())
}

fn outcome<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {checks:?}"))
}

fn assert_outcome(checks: &[Value], id: &str, expected: &str, detail_has: &str) {
    let check = outcome(checks, id);
    assert_eq!(check["outcome"], expected, "{id}: {check}");
    let shown = format!("{} {}", check["detail"], check["fix"]);
    assert!(
        shown.contains(detail_has),
        "{id}: {detail_has:?} not in {shown}"
    );
}

/// A check id, its expected outcome, a word of its detail or fix.
type Expectation = (&'static str, &'static str, &'static str);
/// Markers (days ago, how many), users, the verdict, a word of its message.
type VerdictCase = (Vec<(u64, usize)>, usize, &'static str, &'static str);

const OLD_IDS: [&str; 11] = [
    "domain",
    "reachable",
    "tenant",
    "client",
    "password_grant",
    "realm",
    "management_token",
    "scopes",
    "users_by_email",
    "rate_limit",
    "latency",
];

fn old_args<'a>(config: &'a str, domain: &'a str, client: &'a str) -> Vec<&'a str> {
    vec![
        "--config",
        config,
        "--domain",
        domain,
        "--client-id",
        client,
    ]
}

#[test]
fn preflight_passes_each_old_tenant_check_and_fails_each_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let old = Tenant::start(
        old_seed(vec![]),
        Options {
            rate_limit: 16,
            ..quiet()
        },
    );
    let cfg = config(dir.path(), REALM, 5000);
    let cfg = cfg.to_str().unwrap();
    let env = [("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)];

    let (code, checks) = preflight(&old_args(cfg, old.url(), "good"), &env);
    assert_eq!(code, 0, "{checks:?}");
    for id in OLD_IDS {
        assert_eq!(outcome(&checks, id)["outcome"], "passed", "{id}");
    }
    assert_outcome(&checks, "rate_limit", "passed", "x-ratelimit-limit 16");
    assert_outcome(&checks, "scopes", "passed", "read:users update:users");

    // One way to be wrong at a time: the check, its outcome, a word of its detail or fix.
    let cases: Vec<(&str, &str, Vec<Expectation>)> = vec![
        (
            "ftp-domain",
            "good",
            vec![
                ("domain", "failed", "https://"),
                ("reachable", "skipped", ""),
            ],
        ),
        (
            "wrong-secret",
            "good",
            vec![
                ("client", "failed", "invalid_client"),
                ("password_grant", "skipped", ""),
                ("management_token", "failed", "TRICKLE_OLD_CLIENT_SECRET"),
            ],
        ),
        (
            "unknown-client",
            "nobody",
            vec![("client", "failed", "--client-id")],
        ),
        (
            "",
            "no-password-grant",
            vec![
                ("password_grant", "failed", "Grant Types"),
                ("realm", "skipped", ""),
                ("client", "passed", ""),
            ],
        ),
        (
            "",
            "realm-off",
            vec![
                ("realm", "failed", "not enabled for this client"),
                ("password_grant", "passed", ""),
            ],
        ),
        (
            "",
            "no-client-credentials",
            vec![
                ("management_token", "failed", "Client Credentials"),
                ("scopes", "skipped", ""),
                ("users_by_email", "skipped", ""),
            ],
        ),
        (
            "",
            "no-update",
            vec![
                ("scopes", "failed", "missing update:users"),
                ("users_by_email", "passed", ""),
            ],
        ),
        (
            "",
            "no-read",
            vec![
                ("scopes", "failed", "missing read:users"),
                ("users_by_email", "failed", "read:users"),
            ],
        ),
    ];
    for (twist, client, expectations) in cases {
        let mut envs = env.to_vec();
        let domain = match twist {
            "ftp-domain" => "ftp://old.example.com".to_owned(),
            _ => old.url().to_owned(),
        };
        if twist == "wrong-secret" {
            envs = vec![("TRICKLE_OLD_CLIENT_SECRET", "not-the-secret")];
        }
        let (code, checks) = preflight(&old_args(cfg, &domain, client), &envs);
        assert_eq!(code, 1, "{twist} {client}: {checks:?}");
        for (id, expected, detail) in expectations {
            assert_outcome(&checks, id, expected, detail);
        }
    }

    // A realm the old tenant does not have.
    let nope_dir = tempfile::tempdir().unwrap();
    let nope = config(nope_dir.path(), "No-Such-DB", 5000);
    let (code, checks) = preflight(&old_args(nope.to_str().unwrap(), old.url(), "good"), &env);
    assert_eq!(code, 1);
    assert_outcome(&checks, "realm", "failed", "no connection named No-Such-DB");

    // No rate-limit headers: a warning, not a failure.
    old.sim.set_rate_limit(0);
    let (code, checks) = preflight(&old_args(cfg, old.url(), "good"), &env);
    assert_eq!(code, 0);
    assert_outcome(&checks, "rate_limit", "warning", "no x-ratelimit-* headers");
    // A free tenant's budget: shown, and a warning.
    old.sim.set_rate_limit(2);
    let (code, checks) = preflight(&old_args(cfg, old.url(), "good"), &env);
    assert_eq!(code, 0, "{checks:?}");
    assert_outcome(&checks, "rate_limit", "warning", "free tenant");
    old.sim.set_rate_limit(0);

    // Not an Auth0 tenant: the discovery document is an HTML page.
    old.sim
        .set_faults(Faults {
            malformed_ratio: 1.0,
            only: Some("/.well-known/".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let (code, checks) = preflight(&old_args(cfg, old.url(), "good"), &env);
    assert_eq!(code, 1);
    assert_outcome(
        &checks,
        "tenant",
        "failed",
        "not an OpenID discovery document",
    );
    // users-by-email down.
    old.sim
        .set_faults(Faults {
            error_ratio: 1.0,
            only: Some("GET /api/v2/users-by-email".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let (code, checks) = preflight(&old_args(cfg, old.url(), "good"), &env);
    assert_eq!(code, 1);
    assert_outcome(&checks, "users_by_email", "failed", "HTTP 503");
    // Slow: over a third of the timeout warns, over the timeout fails.
    old.sim
        .set_faults(Faults {
            latency_ms: 120,
            ..Faults::default()
        })
        .unwrap();
    let slow_dir = tempfile::tempdir().unwrap();
    let (code, checks) = preflight(
        &old_args(
            config(slow_dir.path(), REALM, 300).to_str().unwrap(),
            old.url(),
            "good",
        ),
        &env,
    );
    assert_eq!(code, 0, "{checks:?}");
    assert_outcome(&checks, "latency", "warning", "over a third");
    let (code, checks) = preflight(
        &old_args(
            config(slow_dir.path(), REALM, 100).to_str().unwrap(),
            old.url(),
            "good",
        ),
        &env,
    );
    assert_eq!(code, 1);
    assert_outcome(&checks, "latency", "failed", "raise http.timeout_ms");
    old.sim.set_faults(Faults::default()).unwrap();

    // Unreachable.
    let (code, checks) = preflight(&old_args(cfg, "http://127.0.0.1:9", "good"), &env);
    assert_eq!(code, 1);
    assert_outcome(&checks, "reachable", "failed", "no answer");
}

#[test]
fn preflight_refuses_bad_arguments_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), REALM, 5000);
    let args = [
        "preflight",
        "--config",
        cfg.to_str().unwrap(),
        "--domain",
        "https://x.example.com",
        "--client-id",
        "c",
    ];
    let output = trickle(&args, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("$TRICKLE_OLD_CLIENT_SECRET is not set"),
        "{}",
        text(&output)
    );
    fs::write(&cfg, "[connection]\nname = \"x\"\n").unwrap();
    let output = trickle(&args, &[("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("source"), "{}", text(&output));
    let output = trickle(&["preflight", "--client-secret", OLD_SECRET], &[]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a secret is never an argument"
    );
}

/// The new tenant's seed, with the folder `trickle generate` wrote deployed.
fn new_tenant(deploy: Option<&Path>, edit: impl FnOnce(&mut Value)) -> Tenant {
    let mut seed = json!({
        "connections": [{"name": "Username-Password-Authentication"}],
        "clients": [{"client_id": "deployer", "client_secret": NEW_SECRET,
                     "grant_types": ["client_credentials"],
                     "scopes": ["read:connections", "read:users", "create:users"]}],
    });
    edit(&mut seed);
    let mut seed = Seed::from_json(&seed.to_string()).unwrap();
    if let Some(dir) = deploy {
        seed.deploy(dir).unwrap();
    }
    Tenant::start_seed(seed, quiet())
}

#[test]
fn preflight_checks_the_new_tenant_connection_and_the_scripts_deployed_there() {
    let dir = tempfile::tempdir().unwrap();
    let old = Tenant::start(old_seed(vec![]), quiet());
    let cfg = config(dir.path(), REALM, 5000);
    let cfg = cfg.to_str().unwrap();
    let out = dir.path().join("out");
    let generated = trickle(
        &["generate", "--config", cfg, "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(generated.status.success(), "{}", text(&generated));
    let folder = out.join("database-connections").join(CONNECTION);
    let env = [
        ("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET),
        ("TRICKLE_NEW_CLIENT_SECRET", NEW_SECRET),
    ];
    let run = |new: &Tenant, client: &str| {
        let mut args = old_args(cfg, old.url(), "good");
        args.extend(["--new-domain", new.url(), "--new-client-id"]);
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(client.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        preflight(&args, &env)
    };

    let ready = new_tenant(Some(&folder), |_| {});
    let (code, checks) = run(&ready, "deployer");
    assert_eq!(code, 0, "{checks:?}");
    for id in [
        "new_token",
        "connection",
        "database",
        "import_mode",
        "custom_scripts",
        "enabled_clients",
        "scripts",
    ] {
        assert_eq!(
            outcome(&checks, id)["outcome"],
            "passed",
            "{id}: {checks:?}"
        );
    }
    assert_outcome(&checks, "scripts", "passed", "login: identical");

    let (code, checks) = run(&ready, "stranger");
    assert_eq!(code, 1);
    assert_outcome(&checks, "new_token", "failed", "TRICKLE_NEW_CLIENT_SECRET");
    assert_outcome(&checks, "scripts", "skipped", "");

    let no_scope = new_tenant(Some(&folder), |seed| {
        seed["clients"][0]["scopes"] = json!(["read:users"])
    });
    let (_, checks) = run(&no_scope, "deployer");
    assert_outcome(&checks, "new_token", "failed", "read:connections");

    let missing = new_tenant(None, |_| {});
    let (code, checks) = run(&missing, "deployer");
    assert_eq!(code, 1);
    assert_outcome(
        &checks,
        "connection",
        "failed",
        "no connection named old-tenant-import",
    );

    // Settings off, another strategy, no application: each named.
    let off = dir.path().join("off");
    copy_dir(&folder, &off);
    let database = fs::read_to_string(off.join("database.json")).unwrap();
    fs::write(
        off.join("database.json"),
        database
            .replace("\"import_mode\": true", "\"import_mode\": false")
            .replace(
                "\"enabledDatabaseCustomization\": true",
                "\"enabledDatabaseCustomization\": false",
            )
            .replace("\"strategy\": \"auth0\"", "\"strategy\": \"google-oauth2\""),
    )
    .unwrap();
    let lonely = new_tenant(Some(&off), |seed| {
        seed["clients"][0]["connections"] = json!([])
    });
    let (code, checks) = run(&lonely, "deployer");
    assert_eq!(code, 1);
    assert_outcome(&checks, "import_mode", "failed", "Import Users to Auth0");
    assert_outcome(&checks, "custom_scripts", "failed", "Use my own database");
    assert_outcome(&checks, "database", "failed", "google-oauth2");
    assert_outcome(&checks, "enabled_clients", "failed", "no application");

    // Drift: a hand edit in the dashboard, and a script never deployed.
    let edited = dir.path().join("edited");
    copy_dir(&folder, &edited);
    let login = fs::read_to_string(edited.join("login.js")).unwrap();
    fs::write(
        edited.join("login.js"),
        login.replacen("budgetMs: 18000", "budgetMs: 19000", 1),
    )
    .unwrap();
    fs::write(
        edited.join("database.json"),
        fs::read_to_string(edited.join("database.json"))
            .unwrap()
            .replace(",\n      \"get_user\": \"./get_user.js\"", "")
            .replace("\"get_user\": \"./get_user.js\",\n      ", ""),
    )
    .unwrap();
    let drifted = new_tenant(Some(&edited), |_| {});
    let (code, checks) = run(&drifted, "deployer");
    assert_eq!(code, 1);
    assert_outcome(&checks, "scripts", "failed", "a hand edit");
    assert_outcome(&checks, "scripts", "failed", "budgetMs: 19000");
    assert_outcome(&checks, "scripts", "failed", "get_user: not deployed");

    // The end state, once deployed, is what --decommission compares with.
    let end = dir.path().join("end");
    let generated = trickle(
        &[
            "generate",
            "--config",
            cfg,
            "--out",
            end.to_str().unwrap(),
            "--decommission",
        ],
        &[],
    );
    assert!(generated.status.success());
    let decommissioned = new_tenant(
        Some(&end.join("database-connections").join(CONNECTION)),
        |_| {},
    );
    let (code, checks) = run(&decommissioned, "deployer");
    assert_eq!(code, 1, "the lazy pair is expected without --decommission");
    assert_outcome(&checks, "scripts", "failed", "differs");
    let mut args: Vec<&str> = old_args(cfg, old.url(), "good");
    args.extend([
        "--new-domain",
        decommissioned.url(),
        "--new-client-id",
        "deployer",
        "--decommission",
    ]);
    let (code, checks) = preflight(&args, &env);
    assert_eq!(code, 0, "{checks:?}");
    assert_outcome(&checks, "scripts", "passed", "identical");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Noon UTC, `days` ago (noon: the same day wherever the second falls).
fn iso_days_ago(days: u64) -> String {
    format!("{}T12:00:00.000Z", Day(Day::today().0 - days))
}

/// `count` users of the realm; `marked[i] = (days ago, how many)`.
fn users(count: usize, marked: &[(u64, usize)]) -> Vec<Value> {
    let mut stamps: Vec<String> = marked
        .iter()
        .flat_map(|(days, n)| std::iter::repeat_n(iso_days_ago(*days), *n))
        .collect();
    (0..count)
        .map(|n| {
            let mut user = json!({"id": format!("user{n:05}"), "connection": REALM, "email": format!("user{n}@example.com")});
            if let Some(stamp) = stamps.pop() {
                user["app_metadata"] = json!({"trickle_migrated_at": stamp, "plan": "pro"});
            }
            user
        })
        .collect()
}

fn status(
    dir: &Path,
    domain: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Output, Value, String) {
    let cfg = config(dir, REALM, 5000);
    let out = dir.join("status");
    let mut args = vec![
        "status",
        "--config",
        cfg.to_str().unwrap(),
        "--domain",
        domain,
        "--client-id",
        "good",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = trickle(&args, envs);
    let json = fs::read_to_string(out.join("status.json")).ok();
    let html = fs::read_to_string(out.join("status.html")).unwrap_or_default();
    for secret in [OLD_SECRET, NEW_SECRET] {
        assert!(!html.contains(secret) && !json.as_deref().unwrap_or("").contains(secret));
    }
    let json = json
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (output, json, html)
}

#[test]
fn status_counts_a_tenant_too_big_to_page_by_search_totals_and_by_export() {
    // 1,500 users (past the 1,000 a search pages through), 700 migrated:
    // many early, few lately: ready to close.
    let marked = [
        (30, 300),
        (20, 250),
        (10, 140),
        (6, 4),
        (4, 3),
        (2, 2),
        (1, 1),
    ];
    let old = Tenant::start(
        old_seed(users(1_500, &marked)),
        Options {
            rate_limit: 50,
            ..quiet()
        },
    );
    // The new connection holds more than the 700 marked (none stranded by
    // the counts), fewer than the realm's 1,500.
    let new = new_tenant(None, |seed| {
        seed["connections"] = json!([{"name": CONNECTION}]);
        seed["users"] = json!((0..742)
            .map(|n| json!({"email": format!("moved{n}@example.com")}))
            .collect::<Vec<_>>());
    });
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET),
        ("TRICKLE_NEW_CLIENT_SECRET", NEW_SECRET),
    ];
    let new_args = [
        "--new-domain",
        new.url(),
        "--new-client-id",
        "deployer",
        "--close-below",
        "5",
    ];

    let (output, json, html) = status(dir.path(), old.url(), &new_args, &env);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(NOT_DONE_YET), "{shown}");
    assert_eq!(json["method"], "search_totals");
    assert_eq!(
        (
            json["users_in_realm"].as_u64(),
            json["migrated"].as_u64(),
            json["remaining"].as_u64()
        ),
        (Some(1500), Some(700), Some(800))
    );
    assert_eq!(json["undated"], 0);
    assert_eq!(json["new_connection"]["users"], 742);
    assert_eq!(json["verdict"]["kind"], "ready_to_close", "{shown}");
    assert!(
        shown.contains("ready to close: 800 users left — run bulk"),
        "{shown}"
    );
    assert!(
        shown.contains("search totals"),
        "says which it used: {shown}"
    );
    let per_day = json["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 31, "from the first migration to today");
    assert_eq!(per_day[0]["migrated"], 300);
    assert_eq!(per_day.last().unwrap()["cumulative"], 700);
    assert!(html.contains("<svg") && html.contains("ready to close"));
    assert!(!html.contains("<script"));

    // Exactly, from an export; the export kept is bulk plan's input.
    let export = dir.path().join("old-export.json.gz");
    let (output, exact, _) = status(
        dir.path(),
        old.url(),
        &[
            "--exact",
            "--keep-export",
            export.to_str().unwrap(),
            "--close-below",
            "5",
        ],
        &env,
    );
    assert_eq!(
        output.status.code(),
        Some(NOT_DONE_YET),
        "{}",
        text(&output)
    );
    assert_eq!(exact["method"], "export");
    assert!(text(&output).contains("an export job"));
    for key in ["users_in_realm", "migrated", "remaining"] {
        assert_eq!(exact[key], json[key], "{key}");
    }
    assert_eq!(exact["per_day"], json["per_day"]);
    let plan = dir.path().join("plan");
    let planned = trickle(
        &[
            "bulk",
            "plan",
            "--config",
            dir.path().join("trickle.toml").to_str().unwrap(),
            "--input",
            export.to_str().unwrap(),
            "--out",
            plan.to_str().unwrap(),
        ],
        &[],
    );
    assert!(planned.status.success(), "{}", text(&planned));
    let report: Value =
        serde_json::from_slice(&fs::read(plan.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["users_written"], 800,
        "the users left, and only them"
    );

    // A rate still high: keep the window open.
    let (output, json, _) = status(dir.path(), old.url(), &["--close-below", "0.5"], &env);
    assert_eq!(output.status.code(), Some(NOT_DONE_YET));
    assert_eq!(json["verdict"]["kind"], "keep_open", "{}", text(&output));
    assert!(text(&output).contains("keep the window open"));
}

/// `trickle status`: not done yet (keep the window open, or close it).
const NOT_DONE_YET: i32 = 3;

#[test]
fn status_says_too_early_nothing_yet_and_marked() {
    let env = [("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)];
    // All marked, without the new tenant asked: no proof, so not "done"
    // (status_verdicts.rs holds every verdict).
    let cases: Vec<VerdictCase> = vec![
        (vec![(2, 5)], 20, "too_early", "the trend needs 7 full days"),
        (vec![], 20, "nothing_migrated", "nobody migrated yet"),
        (vec![(9, 10), (3, 10)], 20, "marked", "--new-domain"),
    ];
    for (marked, count, kind, words) in cases {
        let old = Tenant::start(old_seed(users(count, &marked)), quiet());
        let dir = tempfile::tempdir().unwrap();
        let (output, json, _) = status(dir.path(), old.url(), &[], &env);
        let code = if kind == "marked" { 4 } else { NOT_DONE_YET };
        assert_eq!(output.status.code(), Some(code), "{}", text(&output));
        assert_eq!(json["verdict"]["kind"], kind, "{}", text(&output));
        assert!(text(&output).contains(words), "{}", text(&output));
    }
}

#[test]
fn status_fails_without_a_token_and_names_no_secret() {
    let old = Tenant::start(old_seed(users(3, &[])), quiet());
    let dir = tempfile::tempdir().unwrap();
    let (output, json, _) = status(
        dir.path(),
        old.url(),
        &[],
        &[("TRICKLE_OLD_CLIENT_SECRET", "wrong")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("invalid_client"),
        "{}",
        text(&output)
    );
    assert_eq!(json, Value::Null, "nothing written");
    let (output, _, _) = status(dir.path(), old.url(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn status_counts_markers_it_cannot_date_without_walking_back_a_year() {
    let mut seeded = users(20, &[(2, 5)]);
    seeded[10]["app_metadata"] = json!({"trickle_migrated_at": "2999-01-01T00:00:00.000Z"});
    seeded[11]["app_metadata"] = json!({"trickle_migrated_at": "soon"});
    let old = Tenant::start(old_seed(seeded), quiet());
    let dir = tempfile::tempdir().unwrap();
    let (output, json, _) = status(
        dir.path(),
        old.url(),
        &[],
        &[("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)],
    );
    assert_eq!(
        output.status.code(),
        Some(NOT_DONE_YET),
        "{}",
        text(&output)
    );
    assert_eq!(
        (json["migrated"].as_u64(), json["undated"].as_u64()),
        (Some(7), Some(2))
    );
    assert!(
        text(&output).contains("2 markers are not dates"),
        "{}",
        text(&output)
    );
    let searches = old.sim.stats().requests.search_users;
    assert!(
        searches <= 6,
        "{searches} searches: the walk stops at the last dated marker"
    );
}

// ---- bulk unmark ---------------------------------------------------------

const STRANDED_AT: &str = "2026-10-01T08:00:00.000Z";
const MARKED_AGAIN_AT: &str = "2026-11-20T09:30:00.000Z";

/// An old-tenant user as the sim seeds it and as an export shows it.
fn old_user(id: &str, marked_at: Option<&str>) -> (Value, Value) {
    let mut seeded = json!({"id": id, "connection": REALM, "email": format!("{id}@example.com")});
    let mut exported = json!({
        "user_id": format!("auth0|{id}"),
        "email": format!("{id}@example.com"),
        "identities": [{"provider": "auth0", "connection": REALM, "user_id": id, "isSocial": false}],
    });
    if let Some(at) = marked_at {
        for user in [&mut seeded, &mut exported] {
            user["app_metadata"] = json!({"trickle_migrated_at": at, "plan": "pro"});
        }
    }
    (seeded, exported)
}

/// The sim's users by raw id: their app_metadata.
fn metadata_by_id(sim: &Sim) -> std::collections::BTreeMap<String, Value> {
    sim.users()
        .into_iter()
        .map(|user| {
            let id = user["user_id"].as_str().unwrap();
            let id = id.strip_prefix("auth0|").unwrap_or(id).to_owned();
            (id, user["app_metadata"].clone())
        })
        .collect()
}

fn unmark(plan: &Path, domain: &str, client: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "bulk",
        "unmark",
        "--plan",
        plan.to_str().unwrap(),
        "--domain",
        domain,
        "--client-id",
        client,
    ];
    args.extend_from_slice(extra);
    let output = trickle(&args, &[("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)]);
    let report = fs::read(plan.join("unmark-report.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    (output, report)
}

fn counts(report: &Value) -> [u64; 6] {
    [
        "tried",
        "cleared",
        "already_clear",
        "marked_again",
        "not_in_old_tenant",
        "failed",
    ]
    .map(|key| report[key].as_u64().unwrap_or(u64::MAX))
}

#[test]
fn unmark_clears_only_the_markers_of_users_the_plan_found_stranded() {
    // moved: in the new tenant. migrated: marked, in the new tenant.
    // stranded1/2: marked, absent from the new tenant. relogged: marked in
    // the export, marked again since (a later login migrated them). gone:
    // in the export, deleted from the old tenant since.
    let moved = old_user("moved", None);
    let migrated = old_user("migrated", Some(STRANDED_AT));
    let stranded1 = old_user("stranded1", Some(STRANDED_AT));
    let stranded2 = old_user("stranded2", Some(STRANDED_AT));
    let relogged = old_user("relogged", Some(STRANDED_AT));
    let relogged_now = old_user("relogged", Some(MARKED_AGAIN_AT));
    let gone = old_user("gone", Some(STRANDED_AT));
    let seeded = [&moved, &migrated, &stranded1, &stranded2, &relogged_now]
        .map(|(seeded, _)| seeded.clone())
        .to_vec();
    let old = Tenant::start(old_seed(seeded), quiet());

    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), REALM, 5_000);
    let export = dir.path().join("old.ndjson");
    let lines: Vec<String> = [&moved, &migrated, &stranded1, &stranded2, &relogged, &gone]
        .iter()
        .map(|(_, exported)| exported.to_string())
        .collect();
    fs::write(&export, lines.join("\n")).unwrap();
    let new_export = dir.path().join("new.ndjson");
    fs::write(&new_export, format!("{}\n{}\n", moved.1, migrated.1)).unwrap();
    let plan = dir.path().join("plan");
    let planned = trickle(
        &[
            "bulk",
            "plan",
            "--config",
            config.to_str().unwrap(),
            "--input",
            export.to_str().unwrap(),
            "--exclude-export",
            new_export.to_str().unwrap(),
            "--out",
            plan.to_str().unwrap(),
        ],
        &[],
    );
    assert!(planned.status.success(), "{}", text(&planned));
    assert!(
        text(&planned).contains("bulk unmark"),
        "the summary names the way out: {}",
        text(&planned)
    );
    let listed: Vec<Value> = fs::read_to_string(plan.join("marked-not-in-new-tenant.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ids: Vec<&str> = listed
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "auth0|stranded1",
            "auth0|stranded2",
            "auth0|relogged",
            "auth0|gone"
        ],
        "every marked user absent from the new tenant, by the old tenant's own id"
    );
    let before = metadata_by_id(&old.sim);

    // A dry run reads, counts on stderr, and writes nothing: no report either.
    let (output, report) = unmark(&plan, old.url(), "good", &["--dry-run"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !plan.join("unmark-report.json").exists(),
        "a dry run wrote unmark-report.json: {report}"
    );
    let said = text(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for count in [
        "4 of 4 users read; markers would clear: 2 (dry run: nothing written)",
        "already clear 0",
        "marked again since 1",
        "not in the old tenant 1",
        "failed 0",
    ] {
        assert!(said.contains(count), "{count:?} missing: {said}");
    }
    assert_eq!(metadata_by_id(&old.sim), before);
    assert_eq!(old.sim.stats().requests.patch_user, 0);

    // A client without update:users: refused at once, exit 2, nothing changed.
    let (output, _) = unmark(&plan, old.url(), "no-update", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("update:users"), "{}", text(&output));
    assert_eq!(metadata_by_id(&old.sim), before);

    // Every clearing's answer cut off after it was applied: read back, so
    // counted as cleared, and never written twice.
    let patches = old.sim.stats().requests.patch_user;
    old.sim
        .set_faults(Faults {
            truncate_ratio: 1.0,
            only: Some("PATCH /api/v2/users/".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let (output, report) = unmark(&plan, old.url(), "good", &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(counts(&report), [4, 2, 0, 1, 1, 0], "{report}");
    assert_eq!(
        old.sim.stats().requests.patch_user - patches,
        2,
        "one write per stranded user"
    );
    let after = metadata_by_id(&old.sim);
    for id in ["stranded1", "stranded2"] {
        assert_eq!(
            after[id],
            json!({"plan": "pro"}),
            "only the marker goes: {id}"
        );
    }
    assert_eq!(
        after["migrated"], before["migrated"],
        "in the new tenant: untouched"
    );
    assert_eq!(
        after["relogged"], before["relogged"],
        "marked again since: untouched"
    );
    assert_eq!(after["moved"], before["moved"]);

    // Again: harmless.
    old.sim.set_faults(Faults::default()).unwrap();
    let (output, report) = unmark(&plan, old.url(), "good", &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(counts(&report), [4, 0, 2, 1, 1, 0], "{report}");
    assert_eq!(metadata_by_id(&old.sim), after);
    assert_eq!(
        old.sim.stats().requests.patch_user - patches,
        2,
        "nothing written again"
    );
}

#[test]
fn unmark_reports_users_it_could_not_clear_and_a_rerun_clears_them() {
    let ids: Vec<String> = (0..7).map(|n| format!("stranded{n}")).collect();
    let old = Tenant::start(
        old_seed(
            ids.iter()
                .map(|id| old_user(id, Some(STRANDED_AT)).0)
                .collect(),
        ),
        quiet(),
    );
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan");
    fs::create_dir(&plan).unwrap();
    let list: String = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            format!(
                "{}\n",
                json!({"line": n + 1, "user_id": format!("auth0|{id}"), "email": format!("{id}@example.com"), "marked_at": STRANDED_AT})
            )
        })
        .collect();
    fs::write(plan.join("marked-not-in-new-tenant.jsonl"), list).unwrap();
    // Every clearing dropped before it is applied: each user is failed, with
    // the reason; five in a row and the run stops (the tenant is down),
    // exit 1, the rest untried.
    old.sim
        .set_faults(Faults {
            drop_ratio: 1.0,
            only: Some("PATCH /api/v2/users/".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let (output, report) = unmark(&plan, old.url(), "good", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(counts(&report), [5, 0, 0, 0, 0, 5], "{report}");
    assert_eq!(report["in_list"], 7);
    assert_eq!(report["failures"][0]["user_id"], "auth0|stranded0");
    assert!(
        report["stopped"]
            .as_str()
            .unwrap()
            .contains("stopped answering"),
        "{report}"
    );
    let shown = text(&output);
    assert!(
        shown.contains("auth0|stranded0") && shown.contains("stopped after 5 users"),
        "{shown}"
    );
    let still = metadata_by_id(&old.sim);
    for id in &ids {
        assert_eq!(still[id]["trickle_migrated_at"], STRANDED_AT, "{id}");
    }
    old.sim.set_faults(Faults::default()).unwrap();
    let (output, report) = unmark(&plan, old.url(), "good", &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(counts(&report), [7, 7, 0, 0, 0, 0], "{report}");
    let cleared = metadata_by_id(&old.sim);
    for id in &ids {
        assert_eq!(cleared[id], json!({"plan": "pro"}), "{id}");
    }

    // A plan made without --exclude-export has no list: exit 2, says why.
    let bare = dir.path().join("bare");
    fs::create_dir(&bare).unwrap();
    let (output, _) = unmark(&bare, old.url(), "good", &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("--exclude-export"),
        "{}",
        text(&output)
    );
}
