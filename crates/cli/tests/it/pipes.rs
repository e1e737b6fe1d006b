//! A reader that goes away early (`trickle preflight --json | head -c 900`)
//! must end every command quietly, as it ends `cat`: killed by SIGPIPE (the
//! shell's 141) or exit 0, and no panic or backtrace on stderr (issue 20).
//! Each command here runs with its stdout a pipe whose reading end is
//! already closed, so its first write fails every time, whatever its size.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use trickle_c2id_sim::C2idSim;
use trickle_sim::{Options, Seed, Sim};

const SECRET: &str = "pipe-test-secret-3b7e";
const REALM: &str = "Username-Password-Authentication";

/// Runs trickle with stdout a pipe nobody reads; its exit status and stderr.
fn run_with_closed_stdout(args: &[&str], envs: &[(String, String)]) -> (ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .envs(envs.iter().cloned())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        // A panic would print its backtrace: make sure it would show.
        .env("RUST_BACKTRACE", "1")
        .env("TRICKLE_OLD_CLIENT_SECRET", SECRET)
        .output()
        .expect("trickle runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

fn assert_quiet(args: &[&str]) {
    assert_quiet_with(args, &[]);
}

fn assert_quiet_with(args: &[&str], envs: &[(String, String)]) {
    let (status, stderr) = run_with_closed_stdout(args, envs);
    for noise in ["panicked", "backtrace", "Broken pipe", "os error 32"] {
        assert!(
            !stderr.contains(noise),
            "trickle {args:?}: {noise:?} on stderr ({status}):\n{stderr}"
        );
    }
    assert!(
        status.code() == Some(0) || status.signal() == Some(libc::SIGPIPE),
        "trickle {args:?}: ended with {status}, not 0 or SIGPIPE:\n{stderr}"
    );
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn config(dir: &Path) -> String {
    let file = dir.join("trickle.toml");
    let text =
        format!("[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"{REALM}\"\n");
    std::fs::write(&file, text).unwrap();
    path(&file).to_owned()
}

fn seed() -> Value {
    json!({
        "bcrypt_cost": 4,
        "connections": [{"name": REALM}],
        "clients": [{"client_id": "good", "client_secret": SECRET,
                     "grant_types": ["password", "client_credentials"],
                     "scopes": ["read:users", "update:users"]}],
        "users": [{"id": "1", "connection": REALM, "email": "ann@example.com", "password": "correct horse"}],
    })
}

#[test]
fn help_and_version_end_quietly() {
    assert_quiet(&["--version"]);
    assert_quiet(&["--help"]);
    assert_quiet(&["sim", "--help"]);
    assert_quiet(&["c2id", "seed", "--help"]);
}

#[test]
fn generate_ends_quietly_and_still_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_quiet(&[
        "generate",
        "--config",
        "../../examples/tenant-to-tenant.toml",
        "--out",
        path(&out),
    ]);
    // The files are written before the report is printed: nothing is lost.
    let scripts = out.join("database-connections/old-tenant-import");
    for file in ["login.js", "get_user.js", "database.json"] {
        assert!(scripts.join(file).is_file(), "{file} was not written");
    }
}

#[test]
fn bulk_plan_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.json");
    let user = json!({"user_id": "auth0|1", "email": "ann@example.com", "email_verified": true});
    std::fs::write(&export, format!("{user}\n")).unwrap();
    let out = dir.path().join("plan");
    let config = config(dir.path());
    let args = [
        "bulk",
        "plan",
        "--config",
        &config,
        "--input",
        path(&export),
    ];
    assert_quiet(&[&args[..], &["--out", path(&out)]].concat());
}

#[test]
fn emulators_end_quietly_when_nobody_reads_their_ready_line() {
    let dir = tempfile::tempdir().unwrap();
    let seed_file = dir.path().join("seed.json");
    std::fs::write(&seed_file, seed().to_string()).unwrap();
    assert_quiet(&["sim", "--seed", path(&seed_file)]);
    assert_quiet(&[
        "c2id",
        "sim",
        "--seed",
        "../../examples/c2id-target-empty.json",
    ]);
}

#[test]
fn preflight_and_status_end_quietly_against_an_emulated_tenant() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = Options {
        rate_limit: 0,
        job_delay: Duration::from_millis(40),
        ..Options::default()
    };
    let seed = Seed::from_json(&seed().to_string()).expect("a valid seed");
    let sim: Sim = runtime
        .block_on(Sim::start_local(seed, options))
        .expect("starts");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let tenant = [
        "--config",
        &config,
        "--domain",
        sim.base_url(),
        "--client-id",
        "good",
    ];
    for json in [&["--json"][..], &[]] {
        assert_quiet(&[&["preflight", "--probes", "1"][..], &tenant, json].concat());
        let out = dir.path().join("status");
        let status = ["status", "--out", path(&out)];
        assert_quiet(&[&status[..], &tenant, json].concat());
    }
}

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("../../examples/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `TRICKLE_C2ID_<SIDE>_<API>_TOKEN` for each web API of a seed.
fn c2id_tokens(side: &str, seed: &Value) -> Vec<(String, String)> {
    let apis = [
        ("CLIENTS", "client_registration"),
        ("AUTHZ", "authz_store"),
        ("SESSIONS", "session_store"),
    ];
    let token = |name: &str| match &seed["api_tokens"][name] {
        Value::Array(all) => all[0].as_str().unwrap().to_owned(),
        other => other.as_str().unwrap().to_owned(),
    };
    let var = |api: &str| format!("TRICKLE_C2ID_{side}_{api}_TOKEN");
    apis.iter()
        .map(|(api, name)| (var(api), token(name)))
        .collect()
}

#[test]
fn c2id_migrate_ends_quietly_between_two_emulated_servers() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (source_seed, target_seed) = (
        example("c2id-source.json"),
        example("c2id-target-empty.json"),
    );
    let start = |seed: &Value| {
        let seed = trickle_c2id_sim::Seed::from_json(&seed.to_string()).unwrap();
        runtime
            .block_on(C2idSim::start_local(
                seed,
                trickle_c2id_sim::Options::default(),
            ))
            .unwrap()
    };
    let (source, target) = (start(&source_seed), start(&target_seed));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let mut envs = c2id_tokens("SOURCE", &source_seed);
    envs.extend(c2id_tokens("TARGET", &target_seed));
    let servers = ["--source", source.issuer(), "--target", target.issuer()];
    for extra in [&["--dry-run"][..], &["--verify"]] {
        let run = [
            &["c2id", "migrate", "--journal", path(&journal)][..],
            &servers,
            extra,
        ];
        assert_quiet_with(&run.concat(), &envs);
    }
}
