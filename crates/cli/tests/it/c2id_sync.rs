//! `trickle c2id migrate --sync` / `--watch` as an operator runs them,
//! against two emulators (the source with live churn): the cut-over
//! (copy during churn, a sync pass, verify), a dry run's counts, a watch
//! stopped by SIGTERM (exit 130), a pass killed mid-way and rerun (each
//! change made once), a refused mass delete (exit 1), and no secret or
//! SID in any output, the journal or the report.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use trickle_c2id_sim::{
    C2idSim, ChurnBatch, ChurnRates, Faults, Generate, Options, Seed, Snapshot,
};

const TOKENS: [&str; 3] = [
    trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN,
    trickle_c2id_sim::AUTHZ_STORE_TOKEN,
    trickle_c2id_sim::SESSION_STORE_TOKEN,
];

/// Two emulators on a runtime of their own; the test drives the CLI.
struct Servers {
    _runtime: tokio::runtime::Runtime,
    source: C2idSim,
    target: C2idSim,
    journal: tempfile::TempDir,
}

impl Servers {
    /// A generated source (`clients`, `n` authorisations and sessions) and
    /// an empty target.
    fn start(clients: usize, n: usize) -> Servers {
        let source = Generate {
            clients,
            authorizations: n,
            sessions: n,
            context_path: "/c2id".to_owned(),
            ..Generate::default()
        }
        .seed()
        .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let start = |seed: Seed| C2idSim::start_local(seed, Options::default());
        let (source, target) = runtime.block_on(async {
            let target = Generate::default().seed().unwrap();
            (start(source).await.unwrap(), start(target).await.unwrap())
        });
        Servers {
            _runtime: runtime,
            source,
            target,
            journal: tempfile::tempdir().unwrap(),
        }
    }

    fn journal(&self) -> String {
        self.journal.path().join("journal").display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
        command
            .args(["c2id", "migrate", "--source", self.source.issuer()])
            .args(["--target", self.target.issuer(), "--journal"])
            .arg(self.journal())
            .args(args)
            .env_remove("TRICKLE_C2ID_SOURCE_TOKEN")
            .env_remove("TRICKLE_C2ID_TARGET_TOKEN");
        for side in ["SOURCE", "TARGET"] {
            for (api, token) in ["CLIENTS", "AUTHZ", "SESSIONS"].iter().zip(TOKENS) {
                command.env(format!("TRICKLE_C2ID_{side}_{api}_TOKEN"), token);
            }
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("trickle runs")
    }

    fn writes(&self) -> u64 {
        let r = self.target.stats().requests;
        r.client_register
            + r.client_update
            + r.client_delete
            + r.authz_v3_create
            + r.authz_v3_delete
            + r.authz_v3_revoke
            + r.authz_v2_create
            + r.authz_v2_delete
            + r.authz_v2_revoke
            + r.session_create
            + r.session_update
            + r.session_delete
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A snapshot as the target must hold it: clients without what a target
/// makes anew.
fn comparable(snapshot: &Snapshot) -> (Vec<Value>, Vec<Value>, Value) {
    let clients = snapshot
        .clients
        .iter()
        .map(|client| {
            let mut client = client.clone();
            let members = client.as_object_mut().unwrap();
            for member in [
                "client_id_issued_at",
                "registration_access_token",
                "registration_client_uri",
            ] {
                members.remove(member);
            }
            client
        })
        .collect();
    (
        clients,
        snapshot.authorizations.clone(),
        Value::Object(snapshot.sessions.clone()),
    )
}

/// Every secret of the snapshots: tokens, client secrets, registration
/// tokens, refresh tokens and other non-name members of authorisations,
/// whole SIDs, sessions' claims and data.
fn secrets(snapshots: &[Snapshot]) -> Vec<String> {
    let mut secrets: Vec<String> = TOKENS.iter().map(|t| t.to_string()).collect();
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(members) => members.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    for snapshot in snapshots {
        for client in &snapshot.clients {
            for member in ["client_secret", "registration_access_token"] {
                strings(&client[member], &mut secrets);
            }
        }
        for authz in &snapshot.authorizations {
            for (name, value) in authz.as_object().unwrap() {
                if !["sub", "cid", "scp", "clm", "iss", "iat", "lng"].contains(&name.as_str()) {
                    strings(value, &mut secrets);
                }
            }
        }
        for (sid, session) in &snapshot.sessions {
            secrets.push(sid.clone());
            strings(&session["claims"], &mut secrets);
            strings(&session["data"], &mut secrets);
        }
    }
    secrets.retain(|s| s.len() >= 12);
    secrets.sort();
    secrets.dedup();
    secrets
}

fn files_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(content) = std::fs::read_to_string(entry.path()) {
            text.push_str(&content);
        }
    }
    text
}

fn assert_no_secret(outputs: &str, secrets: &[String]) {
    assert!(
        secrets.len() > 100,
        "secrets to look for: {}",
        secrets.len()
    );
    for secret in secrets {
        assert!(
            !outputs.contains(secret.as_str()),
            "a secret shows: {secret}"
        );
    }
}

/// Records to add, replace or delete to make `target` hold `source`'s
/// (each once, however many churn changes made it).
fn differences(source: &Snapshot, target: &Snapshot) -> u64 {
    fn keyed(records: Vec<(String, Value)>) -> std::collections::BTreeMap<String, Value> {
        records.into_iter().collect()
    }
    let of = |snapshot: &Snapshot| {
        let (clients, authz, sessions) = comparable(snapshot);
        let id = |v: &Value, m: &str| v[m].as_str().unwrap_or_default().to_owned();
        [
            keyed(
                clients
                    .into_iter()
                    .map(|c| (id(&c, "client_id"), c))
                    .collect(),
            ),
            keyed(
                authz
                    .into_iter()
                    .map(|a| (id(&a, "sub") + " " + &id(&a, "cid"), a))
                    .collect(),
            ),
            keyed(sessions.as_object().unwrap().clone().into_iter().collect()),
        ]
    };
    let (source, target) = (of(source), of(target));
    let mut count = 0;
    for (s, t) in source.iter().zip(&target) {
        count += s.iter().filter(|(k, v)| t.get(*k) != Some(*v)).count() as u64;
        count += t.keys().filter(|k| !s.contains_key(*k)).count() as u64;
    }
    count
}

fn report(servers: &Servers) -> Value {
    let path = Path::new(&servers.journal()).join("report.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_cut_over_copy_sync_dry_run_and_watch_leave_the_target_equal_and_no_secret_shown() {
    let servers = Servers::start(40, 300);
    let before = servers.source.state();
    let churn = ChurnRates {
        revoke_authz: 20.0,
        edit_authz: 20.0,
        logout: 20.0,
        edit_sessions: 20.0,
        edit_clients: 4.0,
        add: 20.0,
        ..ChurnRates::default()
    };
    servers.source.set_churn(churn).unwrap();
    let started = Instant::now();
    let copy = servers.run(&[]);
    std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
    servers.source.set_churn(ChurnRates::default()).unwrap();
    let mut outputs = text(&copy);

    let synced = servers.run(&["--sync", "--verify", "--max-delete-ratio", "0.5"]);
    outputs += &text(&synced);
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced));
    assert!(text(&synced).contains("the target equals the source (synced and verified)"));
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );
    assert_eq!(report(&servers)["sync_pass"]["number"], 1);

    servers.source.apply_churn(&ChurnBatch {
        logout: 3,
        edit_authz: 2,
        add: 3,
        ..ChurnBatch::default()
    });
    let writes = servers.writes();
    let dry = servers.run(&["--sync", "--dry-run"]);
    outputs += &text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert_eq!(servers.writes(), writes, "a dry run writes nothing");
    let table = text(&dry);
    for header in [
        "to add",
        "to replace",
        "to delete",
        "unchanged",
        "left alone (unknown)",
    ] {
        assert!(table.contains(header), "{header}: {table}");
    }
    let row = |kind: &str| -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap();
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(row("sessions")[2..5], ["1", "0", "3"], "{table}");
    assert_eq!(row("authorizations")[2..4], ["1", "2"], "{table}");

    let mut watching = servers
        .command(&["--sync", "--watch", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while report(&servers)["sync_pass"]["number"].as_u64() < Some(3) {
        assert!(Instant::now() < deadline, "no third pass");
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("kill")
        .args(["-TERM", &watching.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = watching.wait().unwrap();
    let mut watched = String::new();
    std::io::Read::read_to_string(watching.stderr.as_mut().unwrap(), &mut watched).unwrap();
    outputs += &watched;
    assert_eq!(status.code(), Some(130), "{watched}");
    let line = |n: &str| {
        watched
            .lines()
            .find(|l| l.contains(n))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("pass 1: ").contains(" 8 changes (3 added, 2 replaced, 3 deleted)"),
        "{watched}"
    );
    assert!(line("pass 2: ").contains(" 0 changes "), "{watched}");
    assert!(
        watched.contains("UTC ("),
        "the age of the source read: {watched}"
    );
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );

    outputs += &files_text(Path::new(&servers.journal()));
    let snapshots = [before, servers.source.state(), servers.target.state()];
    assert_no_secret(&outputs, &secrets(&snapshots));
}

#[test]
fn a_pass_killed_mid_way_and_run_again_makes_each_change_exactly_once() {
    let servers = Servers::start(20, 1000);
    let copy = servers.run(&[]);
    assert_eq!(copy.status.code(), Some(0), "{}", text(&copy));
    let done = servers.source.apply_churn(&ChurnBatch {
        revoke_authz: 30,
        edit_authz: 30,
        logout: 60,
        edit_sessions: 60,
        add: 90,
        ..ChurnBatch::default()
    });
    assert_eq!(
        done.added_sessions + done.logged_out + done.edited_sessions,
        150
    );
    let changes = differences(&servers.source.state(), &servers.target.state());
    assert!(changes > 250, "{changes}");
    let writes = servers.writes();
    servers
        .target
        .set_faults(Faults {
            latency_ms: 10,
            only: Some("PUT /".to_owned()),
            ..Faults::default()
        })
        .unwrap();
    let mut child = servers
        .command(&["--sync", "--concurrency", "2"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while servers.target.stats().requests.session_update < 20 {
        assert!(Instant::now() < deadline, "no session updated");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    servers.target.set_faults(Faults::default()).unwrap();
    assert_ne!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state()),
        "killed mid-pass"
    );

    let rerun = servers.run(&["--sync", "--verify"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    assert_eq!(
        comparable(&servers.target.state()),
        comparable(&servers.source.state())
    );
    // A write the kill cut short may have reached the target unapplied
    // (counted, not made): at most the two in flight are made again.
    let written = servers.writes() - writes;
    assert!(
        (changes..=changes + 2).contains(&written),
        "each change written once over both runs: {written} writes for {changes} changes"
    );
}

#[test]
fn a_sync_that_would_delete_too_much_refuses_with_exit_1_and_the_counts() {
    let servers = Servers::start(10, 50);
    let copy = servers.run(&[]);
    assert_eq!(copy.status.code(), Some(0), "{}", text(&copy));
    servers.source.apply_churn(&ChurnBatch {
        logout: 20,
        ..ChurnBatch::default()
    });
    let writes = servers.writes();
    let refused = servers.run(&["--sync", "--only", "sessions"]);
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains("REFUSED to delete 20 of the target's 50 (40%"),
        "{said}"
    );
    assert_eq!(servers.writes(), writes, "nothing deleted");
    assert_eq!(report(&servers)["phases"][0]["deletes_refused"], 20);
    let allowed = servers.run(&["--sync", "--only", "sessions", "--allow-mass-delete"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));
    assert_eq!(servers.target.state().sessions.len(), 30);
}
