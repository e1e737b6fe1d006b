//! One name per secret, in every command: `TRICKLE_OLD_CLIENT_SECRET` holds
//! the old tenant's client secret, `TRICKLE_NEW_CLIENT_SECRET` the new
//! tenant's. The name used before, `TRICKLE_CLIENT_SECRET`, is still read
//! with one line on stderr saying so (as the new tenant's only in `bulk
//! import`, where it meant that, and saying so); a missing secret names the
//! exact variable to set; `--client-secret-env` reads its variable alone.
//! Against `trickle sim` playing both tenants, with a different secret
//! each, so a secret taken for the wrong tenant is refused.

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use support::run::text;
use trickle_sim::{Options, Seed, Sim};

const REALM: &str = "Username-Password-Authentication";
const CONNECTION: &str = "old-tenant-import";
const CONNECTION_ID: &str = "con_SecretsTest0001";
const OLD_SECRET: &str = "old-tenant-secret-never-shown-51c2";
const NEW_SECRET: &str = "new-tenant-secret-never-shown-8e07";
const MARKED_AT: &str = "2026-01-02T03:04:05.000Z";
const DEPRECATED: &str = "TRICKLE_CLIENT_SECRET";
const OLD_NAME: &str = "TRICKLE_OLD_CLIENT_SECRET";
const NEW_NAME: &str = "TRICKLE_NEW_CLIENT_SECRET";

/// Both tenants emulated, and a folder with a config and a plan's inputs.
struct Tenants {
    old: Sim,
    new: Sim,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Tenants {
    fn start() -> Tenants {
        let old = json!({
            "bcrypt_cost": 4,
            "connections": [{"name": REALM}],
            "clients": [{"client_id": "scripts", "client_secret": OLD_SECRET,
                         "grant_types": ["password", "client_credentials"],
                         "scopes": ["read:users", "update:users"]}],
            "users": [{"id": "ada", "connection": REALM, "email": "ada@example.com",
                       "app_metadata": {"trickle_migrated_at": MARKED_AT}}],
        });
        let new = json!({
            "connections": [{"name": REALM}, {"name": CONNECTION, "id": CONNECTION_ID}],
            "clients": [{"client_id": "importer", "client_secret": NEW_SECRET,
                         "grant_types": ["client_credentials"],
                         "scopes": ["read:connections", "read:users", "create:users"]}],
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let options = || Options {
            rate_limit: 0,
            job_delay: Duration::from_millis(20),
            ..Options::default()
        };
        let start = |seed: Value| {
            let seed = Seed::from_json(&seed.to_string()).unwrap();
            runtime.block_on(Sim::start_local(seed, options())).unwrap()
        };
        let (old, new) = (start(old), start(new));
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("trickle.toml"),
            format!("[connection]\nname = \"{CONNECTION}\"\n[source]\nrealm = \"{REALM}\"\n[migration]\nmark_migrated = true\n"),
        )
        .unwrap();
        let exported = json!({
            "user_id": "auth0|ada", "email": "ada@example.com",
            "identities": [{"provider": "auth0", "connection": REALM, "user_id": "ada", "isSocial": false}],
            "app_metadata": {"trickle_migrated_at": MARKED_AT},
        });
        fs::write(dir.path().join("old.ndjson"), format!("{exported}\n")).unwrap();
        fs::write(dir.path().join("new.ndjson"), "").unwrap();
        Tenants {
            old,
            new,
            dir,
            _runtime: runtime,
        }
    }

    fn config(&self) -> String {
        path(&self.dir.path().join("trickle.toml"))
    }

    /// A fresh plan (Ada, marked on the old tenant and absent from the new
    /// one: planned, and listed for `bulk unmark`).
    fn plan(&self, name: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        let dir = self.dir.path();
        let planned = run(
            &[
                "bulk",
                "plan",
                "--config",
                &self.config(),
                "--input",
                &path(&dir.join("old.ndjson")),
                "--exclude-export",
                &path(&dir.join("new.ndjson")),
                "--out",
                &path(&out),
            ],
            &[],
        );
        assert!(planned.status.success(), "{}", text(&planned));
        out
    }
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Runs trickle with only `env`'s secrets set; no secret may show.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = support::run::trickle(args, env, Duration::from_secs(60));
    let shown = text(&output);
    for secret in [OLD_SECRET, NEW_SECRET] {
        assert!(!shown.contains(secret), "a secret was shown:\n{shown}");
    }
    output
}

/// The lines of stderr that mention `name`.
fn lines_naming(output: &Output, name: &str) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains(&format!("${name}")))
        .map(str::to_owned)
        .collect()
}

/// One line names the deprecated variable, and says which name to set.
fn assert_one_deprecation_line(output: &Output, instead: &str) -> String {
    let lines = lines_naming(output, DEPRECATED);
    assert_eq!(lines.len(), 1, "one line on the old name: {}", text(output));
    assert!(
        lines[0].contains("deprecated") && lines[0].contains(&format!("${instead}")),
        "{}",
        lines[0]
    );
    lines[0].clone()
}

fn assert_missing(output: &Output, name: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", text(output));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!("${name} is not set")),
        "the variable to set, by name: {said}"
    );
}

/// Preflight's checks by id, from --json.
fn checks(output: &Output) -> Value {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("--json prints JSON: {}", text(output)));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["id"].as_str().unwrap().to_owned(),
                check["outcome"].clone(),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn preflight_reads_each_tenants_secret_from_its_own_name() {
    let tenants = Tenants::start();
    let config = tenants.config();
    let args = [
        "preflight",
        "--json",
        "--probes",
        "1",
        "--config",
        &config,
        "--domain",
        tenants.old.base_url(),
        "--client-id",
        "scripts",
        "--new-domain",
        tenants.new.base_url(),
        "--new-client-id",
        "importer",
    ];
    assert_missing(&run(&args, &[]), OLD_NAME);
    assert_missing(&run(&args, &[(OLD_NAME, OLD_SECRET)]), NEW_NAME);
    // The old name is the old tenant's, never the new tenant's.
    assert_missing(&run(&args, &[(DEPRECATED, OLD_SECRET)]), NEW_NAME);

    let both = run(&args, &[(OLD_NAME, OLD_SECRET), (NEW_NAME, NEW_SECRET)]);
    let outcomes = checks(&both);
    assert_eq!(
        (&outcomes["client"], &outcomes["new_token"]),
        (&json!("passed"), &json!("passed")),
        "{}",
        text(&both)
    );
    assert!(
        lines_naming(&both, DEPRECATED).is_empty(),
        "{}",
        text(&both)
    );

    let deprecated = run(&args, &[(DEPRECATED, OLD_SECRET), (NEW_NAME, NEW_SECRET)]);
    let outcomes = checks(&deprecated);
    assert_eq!(
        (&outcomes["client"], &outcomes["new_token"]),
        (&json!("passed"), &json!("passed")),
        "{}",
        text(&deprecated)
    );
    assert_one_deprecation_line(&deprecated, OLD_NAME);
}

#[test]
fn status_reads_each_tenants_secret_from_its_own_name() {
    let tenants = Tenants::start();
    let config = tenants.config();
    let out = path(&tenants.dir.path().join("status"));
    let args = [
        "status",
        "--config",
        &config,
        "--domain",
        tenants.old.base_url(),
        "--client-id",
        "scripts",
        "--new-domain",
        tenants.new.base_url(),
        "--new-client-id",
        "importer",
        "--out",
        &out,
    ];
    assert_missing(&run(&args, &[]), OLD_NAME);
    assert_missing(&run(&args, &[(OLD_NAME, OLD_SECRET)]), NEW_NAME);

    // Counted (Ada marked, the new connection empty: stranded, exit 5),
    // which needs both tenants' tokens.
    let both = run(&args, &[(OLD_NAME, OLD_SECRET), (NEW_NAME, NEW_SECRET)]);
    assert_eq!(both.status.code(), Some(5), "{}", text(&both));
    assert!(
        lines_naming(&both, DEPRECATED).is_empty(),
        "{}",
        text(&both)
    );
    let deprecated = run(&args, &[(DEPRECATED, OLD_SECRET), (NEW_NAME, NEW_SECRET)]);
    assert_eq!(deprecated.status.code(), Some(5), "{}", text(&deprecated));
    assert_one_deprecation_line(&deprecated, OLD_NAME);
}

fn import_args<'a>(tenants: &'a Tenants, plan: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "bulk",
        "import",
        "--plan",
        plan,
        "--domain",
        tenants.new.base_url(),
        "--client-id",
        "importer",
        "--connection-id",
        CONNECTION_ID,
        "--poll-interval-ms",
        "20",
    ];
    args.extend_from_slice(extra);
    args
}

fn assert_imported(output: &Output) {
    assert!(output.status.success(), "{}", text(output));
    assert!(
        text(output).contains("the tenant holds all 1 users of this plan"),
        "{}",
        text(output)
    );
}

#[test]
fn bulk_import_takes_the_new_tenants_secret_and_never_the_old_name_silently() {
    let tenants = Tenants::start();
    let plan = path(&tenants.plan("plan"));
    let args = import_args(&tenants, &plan, &[]);
    assert_missing(&run(&args, &[]), NEW_NAME);
    // The old tenant's variable is not the new tenant's.
    assert_missing(&run(&args, &[(OLD_NAME, NEW_SECRET)]), NEW_NAME);

    // With both tenants' secrets in the environment, the old name holding
    // the old tenant's (as everywhere else), the new tenant's is taken.
    let both = run(&args, &[(DEPRECATED, OLD_SECRET), (NEW_NAME, NEW_SECRET)]);
    assert_imported(&both);
    assert!(
        lines_naming(&both, DEPRECATED).is_empty(),
        "{}",
        text(&both)
    );
}

#[test]
fn bulk_import_says_so_when_it_takes_the_old_name_as_the_new_tenants_secret() {
    let tenants = Tenants::start();
    let plan = path(&tenants.plan("plan"));
    let args = import_args(&tenants, &plan, &[]);
    let output = run(&args, &[(DEPRECATED, NEW_SECRET)]);
    assert_imported(&output);
    let line = assert_one_deprecation_line(&output, NEW_NAME);
    assert!(line.contains("NEW tenant"), "{line}");
}

#[test]
fn bulk_import_reads_client_secret_env_alone() {
    let tenants = Tenants::start();
    let plan = path(&tenants.plan("plan"));
    let args = import_args(
        &tenants,
        &plan,
        &["--client-secret-env", "MY_IMPORT_SECRET"],
    );
    assert_missing(&run(&args, &[(NEW_NAME, NEW_SECRET)]), "MY_IMPORT_SECRET");
    let output = run(&args, &[("MY_IMPORT_SECRET", NEW_SECRET)]);
    assert_imported(&output);
    assert!(lines_naming(&output, DEPRECATED).is_empty());
}

#[test]
fn bulk_unmark_reads_the_old_tenants_secret() {
    let tenants = Tenants::start();
    let plan = path(&tenants.plan("plan"));
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "bulk".to_owned(),
            "unmark".to_owned(),
            "--plan".to_owned(),
            plan.clone(),
            "--domain".to_owned(),
            tenants.old.base_url().to_owned(),
            "--client-id".to_owned(),
            "scripts".to_owned(),
            "--dry-run".to_owned(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let unmark = |extra: &[&'static str], env: &[(&str, &str)]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, env)
    };
    let read = |output: &Output| {
        assert!(output.status.success(), "{}", text(output));
        assert!(
            text(output).contains("1 of 1 users read; markers would clear: 1"),
            "{}",
            text(output)
        );
    };
    assert_missing(&unmark(&[], &[]), OLD_NAME);
    assert_missing(&unmark(&[], &[(NEW_NAME, OLD_SECRET)]), OLD_NAME);

    let output = unmark(&[], &[(OLD_NAME, OLD_SECRET)]);
    read(&output);
    assert!(lines_naming(&output, DEPRECATED).is_empty());
    let output = unmark(&[], &[(DEPRECATED, OLD_SECRET)]);
    read(&output);
    assert_one_deprecation_line(&output, OLD_NAME);

    let named = ["--client-secret-env", "MY_OLD_SECRET"];
    assert_missing(&unmark(&named, &[(OLD_NAME, OLD_SECRET)]), "MY_OLD_SECRET");
    read(&unmark(&named, &[("MY_OLD_SECRET", OLD_SECRET)]));
}

#[test]
fn help_names_each_tenants_variable() {
    for (command, names) in [
        (&["preflight", "--help"][..], &[OLD_NAME, NEW_NAME][..]),
        (&["status", "--help"], &[OLD_NAME, NEW_NAME]),
        (&["bulk", "import", "--help"], &[NEW_NAME]),
        (&["bulk", "unmark", "--help"], &[OLD_NAME]),
    ] {
        let output = run(command, &[]);
        let help = String::from_utf8_lossy(&output.stdout);
        for name in names {
            assert!(help.contains(name), "{command:?}: {name} missing:\n{help}");
        }
        assert!(
            !help.contains(&format!("${DEPRECATED}"))
                && !help.contains(&format!("[default: {DEPRECATED}]")),
            "{command:?} still names the old variable:\n{help}"
        );
    }
}
