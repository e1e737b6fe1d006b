//! `trickle c2id migrate` as an operator runs it, against two emulated
//! servers (in this process): tokens from the environment, exit codes, the
//! preflight's report, a dry run, SIGKILL then resume, and no secret of
//! the seed in any output, journal or report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use trickle_c2id_sim::{C2idSim, Faults, Generate, Options, Seed, Snapshot};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(EXAMPLES).join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tokens_of(seed: &Value) -> [String; 3] {
    let t = &seed["api_tokens"];
    let one = |name: &str| match &t[name] {
        Value::Array(all) => all[0].as_str().unwrap().to_owned(),
        other => other.as_str().unwrap().to_owned(),
    };
    [
        one("client_registration"),
        one("authz_store"),
        one("session_store"),
    ]
}

/// Two emulators on a runtime of their own; the test drives the CLI.
struct Servers {
    /// Serves the emulators while the test runs the CLI.
    _runtime: tokio::runtime::Runtime,
    source: C2idSim,
    target: C2idSim,
    source_tokens: [String; 3],
    target_tokens: [String; 3],
}

impl Servers {
    fn start(source: &Value, target: &Value) -> Servers {
        Servers::start_seeds(
            Seed::from_json(&source.to_string()).unwrap(),
            Seed::from_json(&target.to_string()).unwrap(),
            tokens_of(source),
            tokens_of(target),
        )
    }

    fn start_seeds(source: Seed, target: Seed, st: [String; 3], tt: [String; 3]) -> Servers {
        Servers::start_with(source, target, st, tt, Options::default)
    }

    fn start_with(
        source: Seed,
        target: Seed,
        st: [String; 3],
        tt: [String; 3],
        options: impl Fn() -> Options,
    ) -> Servers {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (source, target) = runtime.block_on(async {
            (
                C2idSim::start_local(source, options()).await.unwrap(),
                C2idSim::start_local(target, options()).await.unwrap(),
            )
        });
        Servers {
            _runtime: runtime,
            source,
            target,
            source_tokens: st,
            target_tokens: tt,
        }
    }

    /// `trickle c2id migrate --source … --target … ARGS` with the tokens in
    /// the environment, per API.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
        command
            .args(["c2id", "migrate", "--source", self.source.issuer()])
            .args(["--target", self.target.issuer()])
            .args(args)
            .env_remove("TRICKLE_C2ID_SOURCE_TOKEN")
            .env_remove("TRICKLE_C2ID_TARGET_TOKEN");
        for (side, tokens) in [
            ("SOURCE", &self.source_tokens),
            ("TARGET", &self.target_tokens),
        ] {
            for (api, token) in ["CLIENTS", "AUTHZ", "SESSIONS"].iter().zip(tokens.iter()) {
                command.env(format!("TRICKLE_C2ID_{side}_{api}_TOKEN"), token);
            }
        }
        command
    }

    fn migrate(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("trickle runs")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn all_text(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if let Ok(content) = std::fs::read_to_string(entry.path()) {
                text.push_str(&content);
            }
        }
    }
    text
}

/// Every secret a seed holds: API tokens, client secrets and registration
/// access tokens, every string of an authorisation but its names (refresh
/// tokens and data), whole SIDs, every string of a session's claims and
/// data, the JWK set's private members.
fn secrets_of(seed: &Value, snapshot: &Snapshot) -> Vec<String> {
    let mut secrets: Vec<String> = tokens_of(seed).to_vec();
    for client in &snapshot.clients {
        for member in ["client_secret", "registration_access_token"] {
            if let Some(s) = client[member].as_str() {
                secrets.push(s.to_owned());
            }
        }
    }
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(members) => members.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    for authz in &snapshot.authorizations {
        for (name, value) in authz.as_object().unwrap() {
            if !["sub", "cid", "scp", "clm", "iss"].contains(&name.as_str()) {
                strings(value, &mut secrets);
            }
        }
    }
    for (sid, session) in &snapshot.sessions {
        secrets.push(sid.clone());
        strings(&session["claims"], &mut secrets);
        strings(&session["data"], &mut secrets);
    }
    for key in seed["jwks"]["keys"].as_array().unwrap() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if let Some(s) = key[member].as_str() {
                secrets.push(s.to_owned());
            }
        }
    }
    secrets.retain(|s| s.len() >= 6);
    assert!(secrets.len() > 20, "the seed has secrets to look for");
    secrets
}

fn comparable(snapshot: &Snapshot) -> (Vec<Value>, Vec<Value>, Map<String, Value>) {
    let clients = snapshot
        .clients
        .iter()
        .map(|client| {
            let mut client = client.clone();
            for member in [
                "client_id_issued_at",
                "registration_access_token",
                "registration_client_uri",
            ] {
                client.as_object_mut().unwrap().remove(member);
            }
            client
        })
        .collect();
    (
        clients,
        snapshot.authorizations.clone(),
        snapshot.sessions.clone(),
    )
}

#[test]
fn the_examples_migrate_with_exit_0_and_no_secret_reaches_any_output() {
    let source_seed = example("c2id-source.json");
    let mut target_seed = example("c2id-target-empty.json");
    // A conflicting client on the target (another secret), so that a
    // record is reported: its message must not show either secret.
    let mut other = source_seed["clients"][0].clone();
    other["client_secret"] = json!("aDifferentTargetSecretNotReal0123456789");
    // As a target that imported it holds it: a registration token of its own.
    other
        .as_object_mut()
        .unwrap()
        .remove("registration_access_token");
    target_seed["clients"] = json!([other]);
    let servers = Servers::start(&source_seed, &target_seed);
    let mut secrets = secrets_of(&source_seed, &servers.source.state());
    secrets.push("aDifferentTargetSecretNotReal0123456789".to_owned());
    secrets.extend(tokens_of(&target_seed));
    servers
        .target
        .set_faults(Faults {
            error_ratio: 0.2,
            truncate_ratio: 0.2,
            ..Faults::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let journal_arg = journal.to_str().unwrap();

    let dry = servers.migrate(&["--journal", journal_arg, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(1), "a conflict: {}", stderr(&dry));
    assert!(!journal.exists(), "a dry run writes nothing");
    let dry_text = stderr(&dry);
    assert!(
        dry_text.contains("sample sessions record as it would be posted"),
        "{dry_text}"
    );

    let first = servers.migrate(&["--journal", journal_arg, "--verify"]);
    let text = stderr(&first);
    assert_eq!(first.status.code(), Some(1), "{text}");
    assert!(text.contains("conflict: client webapp"), "{text}");
    assert!(text.contains("JWK sets: identical"), "{text}");
    let again = servers.migrate(&["--journal", journal_arg, "--overwrite", "--verify"]);
    let again_text = stderr(&again);
    assert_eq!(again.status.code(), Some(0), "{again_text}");
    assert!(
        again_text.contains("every record migrated and verified"),
        "{again_text}"
    );
    servers.target.set_faults(Faults::default()).unwrap();
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );

    let mut everything = String::new();
    for output in [&dry, &first, &again] {
        everything.push_str(&String::from_utf8_lossy(&output.stdout));
        everything.push_str(&stderr(output));
    }
    everything.push_str(&all_text(&journal));
    assert!(
        everything.contains("\"event\":\"done\""),
        "the journal was read"
    );
    assert!(
        everything.contains("\"problems_total\""),
        "the report was read"
    );
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "{secret:?} appears in an output"
        );
    }
}

#[test]
fn servers_behind_a_private_ca_are_reached_with_ca_file_only() {
    let tls_dir = tempfile::tempdir().unwrap();
    let source_seed = example("c2id-source.json");
    let target_seed = example("c2id-target-empty.json");
    let servers = Servers::start_with(
        Seed::from_json(&source_seed.to_string()).unwrap(),
        Seed::from_json(&target_seed.to_string()).unwrap(),
        tokens_of(&source_seed),
        tokens_of(&target_seed),
        || Options {
            tls: Some(trickle_emulator::TlsOptions {
                dir: Some(tls_dir.path().to_path_buf()),
            }),
            ..Options::default()
        },
    );
    assert!(servers.source.issuer().starts_with("https://"));
    let ca = tls_dir.path().join(trickle_emulator::CA_CERT_FILE);
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("journal");
    let journal_arg = journal.to_str().unwrap();

    let started = Instant::now();
    let untrusted = servers.migrate(&["--journal", journal_arg]);
    assert_eq!(untrusted.status.code(), Some(2), "{}", stderr(&untrusted));
    assert!(
        stderr(&untrusted).contains("certificate is not trusted")
            && stderr(&untrusted).contains("--ca-file"),
        "{}",
        stderr(&untrusted)
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a refused certificate is not retried like an outage"
    );
    assert!(
        servers.target.state().clients.is_empty(),
        "nothing written without trust"
    );

    let not_pem = work.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let bad = servers.migrate(&[
        "--journal",
        journal_arg,
        "--ca-file",
        not_pem.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--ca-file"), "{}", stderr(&bad));

    let trusted = servers.migrate(&[
        "--journal",
        journal_arg,
        "--verify",
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );
}

#[test]
fn tokens_come_from_the_environment_only_and_a_missing_one_is_exit_2() {
    let servers = Servers::start(
        &example("c2id-source.json"),
        &example("c2id-target-empty.json"),
    );
    let mut command = servers.command(&["--journal", "/nonexistent/never-written"]);
    command.env_remove("TRICKLE_C2ID_TARGET_SESSIONS_TOKEN");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("TRICKLE_C2ID_TARGET_TOKEN (or TRICKLE_C2ID_TARGET_SESSIONS_TOKEN)"),
        "{text}"
    );
    assert_eq!(
        servers.source.stats().total,
        0,
        "nothing was asked of the servers"
    );
    // One token for every API works where the server has one for all.
    let mut command = servers.command(&["--only", "clients", "--dry-run"]);
    for api in ["CLIENTS", "AUTHZ", "SESSIONS"] {
        command.env_remove(format!("TRICKLE_C2ID_TARGET_{api}_TOKEN"));
    }
    command.env("TRICKLE_C2ID_TARGET_TOKEN", &servers.target_tokens[0]);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // No token is ever taken as an argument.
    let output = servers.migrate(&["--token", "x"]);
    assert_eq!(output.status.code(), Some(2));
    let output = servers.migrate(&["--concurrency", "0"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_refusing_preflight_says_what_it_found_and_why_and_exits_2() {
    let mut target = example("c2id-target-empty.json");
    target["version"] = json!("11.2");
    let servers = Servers::start(&example("c2id-source.json"), &target);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j");
    let output = servers.migrate(&["--journal", journal.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    for part in [
        "source ",
        "Connect2id Server 12.3 (its splash page)",
        "Connect2id Server 11.2 (its splash page)",
        "versions: target 11.2 < source 12.3",
        "preflight refused the migration; nothing was written",
        "older than the source's 12.3",
    ] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    assert!(!journal.exists());
    // The version given when the splash page cannot tell.
    let output = servers.migrate(&[
        "--journal",
        journal.to_str().unwrap(),
        "--target-version",
        "12.4",
        "--dry-run",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("12.4 (as given; its splash page says 11.2)"));
}

/// The journal folder of a test, in a temporary directory.
fn journal_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal")
}

#[test]
fn killed_mid_run_and_resumed_every_record_lands_exactly_once() {
    let records = 3000;
    let source = Generate {
        clients: 30,
        authorizations: records,
        sessions: records,
        context_path: "/c2id".to_owned(),
        ..Generate::default()
    }
    .seed()
    .unwrap();
    let example_tokens = [
        trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN.to_owned(),
        trickle_c2id_sim::AUTHZ_STORE_TOKEN.to_owned(),
        trickle_c2id_sim::SESSION_STORE_TOKEN.to_owned(),
    ];
    let servers = Servers::start_seeds(
        source,
        Generate::default().seed().unwrap(),
        example_tokens.clone(),
        example_tokens,
    );
    servers
        .target
        .set_faults(Faults {
            latency_ms: 4,
            only: Some("POST /".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let journal_arg = journal.to_str().unwrap();
    let mut child = servers
        .command(&["--journal", journal_arg, "--concurrency", "4"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL once the sessions are a fifth of the way through.
    let deadline = Instant::now() + Duration::from_secs(120);
    while servers.target.stats().requests.session_create < (records / 5) as u64 {
        assert!(
            Instant::now() < deadline,
            "the run did not get to the sessions"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "it finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    servers.target.set_faults(Faults::default()).unwrap();
    let partial = servers.target.state().sessions.len();
    assert!(partial < records, "killed mid-phase: {partial}");

    let resumed = servers.migrate(&["--journal", journal_arg, "--verify"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );
    let stats = servers.target.stats().requests;
    assert_eq!(stats.client_register, 30, "each client posted once");
    assert_eq!(
        stats.authz_v3_create, records as u64,
        "each authorisation posted once"
    );
    assert!(
        stats.session_create <= records as u64 + 4,
        "at most the four in flight at the kill were sent again: {}",
        stats.session_create
    );
    let text = stderr(&resumed);
    assert!(
        text.contains("every record migrated and verified"),
        "{text}"
    );
}

#[test]
fn sigterm_stops_after_the_records_in_flight_with_exit_130_and_the_rerun_finishes() {
    let source = Generate {
        clients: 10,
        authorizations: 2000,
        sessions: 2000,
        context_path: "/c2id".to_owned(),
        ..Generate::default()
    }
    .seed()
    .unwrap();
    let example_tokens = [
        trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN.to_owned(),
        trickle_c2id_sim::AUTHZ_STORE_TOKEN.to_owned(),
        trickle_c2id_sim::SESSION_STORE_TOKEN.to_owned(),
    ];
    let servers = Servers::start_seeds(
        source,
        Generate::default().seed().unwrap(),
        example_tokens.clone(),
        example_tokens,
    );
    servers
        .target
        .set_faults(Faults {
            latency_ms: 4,
            only: Some("POST /".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let journal_arg = journal.to_str().unwrap();
    let child = servers
        .command(&["--journal", journal_arg, "--concurrency", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while servers.target.stats().requests.authz_v3_create < 200 {
        assert!(
            Instant::now() < deadline,
            "the run did not get to the authorisations"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(130), "{text}");
    assert!(text.contains("run the same command to resume"), "{text}");
    assert!(text.contains("(stopped)"), "{text}");
    let posted = servers.target.stats().requests.authz_v3_create;
    assert!(posted < 2000, "stopped early: {posted}");
    let journalled: usize = std::fs::read_to_string(journal.join("journal.ndjson"))
        .unwrap()
        .lines()
        .filter(|line| line.contains("\"phase\":\"authorizations\""))
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["keys"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(
        journalled as u64, posted,
        "every record posted before the stop is journalled"
    );

    servers.target.set_faults(Faults::default()).unwrap();
    let resumed = servers.migrate(&["--journal", journal_arg]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );
    assert_eq!(servers.target.stats().requests.authz_v3_create, 2000);
}

#[test]
fn preflight_prints_every_endpoint_it_will_read_from_and_write_to() {
    let servers = Servers::start(
        &example("c2id-source.json"),
        &example("c2id-target-empty.json"),
    );
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let output = servers.migrate(&["--journal", journal.to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let (source, target) = (servers.source.issuer(), servers.target.issuer());
    for line in [
        format!("reads  {source}/clients"),
        format!("reads  {source}/authz-store/rest/v3/authorizations"),
        format!("reads  {source}/session-store/rest/v2/sessions"),
        format!("writes {target}/clients"),
        format!("writes {target}/authz-store/rest/v3/authorizations"),
        format!("writes {target}/session-store/rest/v2/sessions"),
    ] {
        assert!(text.contains(&line), "{line:?} missing from:\n{text}");
    }
}

#[test]
fn a_token_that_cannot_be_sent_is_refused_at_once_naming_its_variable() {
    let servers = Servers::start(
        &example("c2id-source.json"),
        &example("c2id-target-empty.json"),
    );
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let mut command = servers.command(&["--journal", journal.to_str().unwrap()]);
    command.env(
        "TRICKLE_C2ID_TARGET_SESSIONS_TOKEN",
        format!("{}\r\nX-Injected: 1", servers.target_tokens[2]),
    );
    let started = Instant::now();
    let output = command.output().unwrap();
    let text = stderr(&output);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not retried: {text}"
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("TRICKLE_C2ID_TARGET_SESSIONS_TOKEN"),
        "{text}"
    );
    assert!(!text.contains(&servers.target_tokens[2]), "{text}");
    assert!(!journal.exists());
}

/// The example source with `n` more clients whose secrets its codec hides
/// (each one fails).
fn source_with_hidden_secrets(n: usize) -> Value {
    let mut source = example("c2id-source.json");
    let clients = source["clients"].as_array_mut().unwrap();
    for i in 0..n {
        clients.push(
            json!({"client_id": format!("hidden-{i:05}"), "client_secret": "********",
                            "redirect_uris": ["https://hidden.example.com/cb"]}),
        );
    }
    source
}

#[test]
fn a_phase_that_cannot_go_on_still_shows_and_reports_the_phases_before_it() {
    let source = source_with_hidden_secrets(1);
    let servers = Servers::start(&source, &example("c2id-target-empty.json"));
    // The session listing answers an HTML page (the token check, a 200, passes).
    servers
        .source
        .set_faults(Faults {
            malformed_ratio: 1.0,
            only: Some("GET /c2id/session-store/".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let output = servers.migrate(&["--journal", journal.to_str().unwrap()]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("failed: client hidden-00000"), "{text}");
    assert!(text.contains("HTML"), "{text}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["clean"], false);
    assert_eq!(report["problems"][0]["record"], "client hidden-00000");
    assert!(report.to_string().contains("HTML"), "{report:#}");
}

#[test]
fn more_problems_than_report_json_lists_are_counted_truthfully() {
    let source = source_with_hidden_secrets(10_030);
    let servers = Servers::start(&source, &example("c2id-target-empty.json"));
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let output = servers.migrate(&["--journal", journal.to_str().unwrap(), "--only", "clients"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("… and 10,010 more (report.json lists the first 10,000)"),
        "{text}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(journal.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 10_000);
    assert_eq!(report["problems_total"], 10_030);
}

#[test]
fn a_damaged_locked_or_unwritable_journal_names_the_real_fix() {
    let servers = Servers::start(
        &example("c2id-source.json"),
        &example("c2id-target-empty.json"),
    );
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_in(&dir);
    let journal_arg = journal.to_str().unwrap();
    let first = servers.migrate(&["--journal", journal_arg, "--only", "clients"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let file = journal.join("journal.ndjson");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}not json\n{text}")).unwrap();
    let damaged = servers.migrate(&["--journal", journal_arg]);
    let said = stderr(&damaged);
    assert_eq!(damaged.status.code(), Some(2), "{said}");
    assert!(said.contains("damaged") && said.contains("line"), "{said}");
    assert!(!said.contains("run the same command again"), "{said}");
    assert!(said.contains("move it aside"), "{said}");

    std::fs::write(&file, &text).unwrap();
    let held = trickle_c2id::journal::MigrationJournal::open(
        &journal,
        servers.source.issuer(),
        servers.target.issuer(),
    )
    .unwrap();
    let locked = servers.migrate(&["--journal", journal_arg]);
    let said = stderr(&locked);
    assert_eq!(locked.status.code(), Some(2), "{said}");
    assert!(said.contains("another `trickle c2id migrate`"), "{said}");
    assert!(!said.contains("run the same command again"), "{said}");
    drop(held);

    let unwritable = dir.path().join("file-not-folder");
    std::fs::write(&unwritable, "").unwrap();
    let output = servers.migrate(&["--journal", unwritable.join("j").to_str().unwrap()]);
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("--journal"), "{said}");
    assert!(!said.contains("run the same command again"), "{said}");
}
