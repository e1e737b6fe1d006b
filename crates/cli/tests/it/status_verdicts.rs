//! `trickle status` never says "done" without the new tenant's proof: each
//! verdict, its exit code and its words, as an operator meets them, against
//! `trickle sim` playing both tenants, and against a small hostile tenant
//! (below) for what the emulator does not play: an export that is not NDJSON,
//! a line of 100 MiB.
//!
//! Exit codes: 0 done (proven), 1 could not count, 2 bad input, 3 not done
//! yet, 4 unknown (no proof), 5 stranded.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trickle_lifecycle::status::Day;
use trickle_sim::{Options, Seed, Sim};

use crate::hostile_export::{config, gzip, marked_line, Hostile, CONNECTION, REALM};

const OLD_SECRET: &str = "old-sim-secret-verdicts-never-shown-41c2";
const NEW_SECRET: &str = "new-sim-secret-verdicts-never-shown-8e07";

const DONE: i32 = 0;
const COULD_NOT_COUNT: i32 = 1;
const NOT_DONE_YET: i32 = 3;
const UNKNOWN: i32 = 4;
const STRANDED: i32 = 5;

/// A running emulator with its own runtime (the CLI runs beside it).
struct Tenant {
    sim: Sim,
    _runtime: tokio::runtime::Runtime,
}

impl Tenant {
    fn start(seed: Value, job_delay: Duration) -> Tenant {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seed = Seed::from_json(&seed.to_string()).expect("a valid seed");
        let options = Options {
            rate_limit: 0,
            job_delay,
            ..Options::default()
        };
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

/// Noon UTC, `days` ago.
fn iso_days_ago(days: u64) -> String {
    format!("{}T12:00:00.000Z", Day(Day::today().0 - days))
}

/// A user of `connection` with raw id `user{n}`, marked `days` ago if given.
fn user(n: usize, connection: &str, marked_days_ago: Option<u64>) -> Value {
    let mut user = json!({"id": format!("user{n:05}"), "connection": connection,
                          "email": format!("user{n}@example.com")});
    if let Some(days) = marked_days_ago {
        user["app_metadata"] = json!({"trickle_migrated_at": iso_days_ago(days)});
    }
    user
}

/// The old tenant: users 0..count of the realm, the first `marked` marked
/// (spread over the last three weeks).
fn old_tenant(count: usize, marked: usize) -> Tenant {
    let users: Vec<Value> = (0..count)
        .map(|n| user(n, REALM, (n < marked).then_some(1 + (n as u64 % 20))))
        .collect();
    Tenant::start(
        json!({
            "bcrypt_cost": 4,
            "connections": [{"name": REALM}, {"name": "Other-DB"}],
            "clients": [{"client_id": "good", "client_secret": OLD_SECRET,
                         "grant_types": ["password", "client_credentials"],
                         "scopes": ["read:users", "update:users"]}],
            "users": users,
        }),
        Duration::from_millis(40),
    )
}

/// The new tenant: the old users `ids` (same raw ids) in the new connection,
/// plus `others` who signed up there and never existed in the old tenant.
fn new_tenant(ids: impl Iterator<Item = usize>, others: usize) -> Tenant {
    let mut users: Vec<Value> = ids.map(|n| user(n, CONNECTION, None)).collect();
    users.extend((0..others).map(|n| {
        json!({"id": format!("fresh{n}"), "connection": CONNECTION,
               "email": format!("fresh{n}@example.com")})
    }));
    Tenant::start(
        json!({
            "connections": [{"name": CONNECTION}],
            "clients": [{"client_id": "reader", "client_secret": NEW_SECRET,
                         "grant_types": ["client_credentials"], "scopes": ["read:users"]}],
            "users": users,
        }),
        Duration::from_millis(40),
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What one `trickle status` run left: exit code, all it printed, status.json.
struct Run {
    code: i32,
    shown: String,
    json: Value,
    html: String,
}

impl Run {
    fn kind(&self) -> &str {
        self.json["verdict"]["kind"]
            .as_str()
            .unwrap_or("(no status.json)")
    }

    fn expect(&self, code: i32, kind: &str, words: &[&str]) {
        assert_eq!(
            (self.code, self.kind()),
            (code, kind),
            "exit code and verdict:\n{}",
            self.shown
        );
        for word in words {
            assert!(
                self.shown.contains(word),
                "{word:?} not in:\n{}",
                self.shown
            );
        }
        if code != DONE {
            for never in ["decommission", "done:"] {
                assert!(!self.shown.contains(never), "{never:?} in:\n{}", self.shown);
            }
        }
        assert_eq!(
            self.json["verdict"]["exit_code"], code,
            "status.json says the code"
        );
    }
}

fn status(dir: &Path, realm: &str, old: &str, new: Option<&str>, extra: &[&str]) -> Run {
    let cfg = config(dir, realm);
    let out = dir.join("status");
    let _ = fs::remove_dir_all(&out);
    let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
    command
        .args(["status", "--config"])
        .arg(&cfg)
        .args(["--domain", old, "--client-id", "good", "--out"])
        .arg(&out)
        .args(extra)
        .env("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET)
        .env("TRICKLE_NEW_CLIENT_SECRET", NEW_SECRET);
    if let Some(new) = new {
        command.args(["--new-domain", new, "--new-client-id", "reader"]);
    }
    let output = command.output().expect("trickle runs");
    let shown = text(&output);
    let json = fs::read_to_string(out.join("status.json")).unwrap_or_default();
    let html = fs::read_to_string(out.join("status.html")).unwrap_or_default();
    for secret in [OLD_SECRET, NEW_SECRET] {
        assert!(!shown.contains(secret) && !json.contains(secret) && !html.contains(secret));
    }
    Run {
        code: output.status.code().unwrap_or(-1),
        shown,
        json: serde_json::from_str(&json).unwrap_or(Value::Null),
        html,
    }
}

#[test]
fn marked_users_missing_from_the_new_tenant_are_stranded_never_done() {
    // The tenant: 50 users, all marked; the new connection has 40.
    let old = old_tenant(50, 50);
    let new = new_tenant(0..40, 0);
    let dir = tempfile::tempdir().unwrap();
    let (d, o) = (dir.path(), old.url());

    let counted = status(d, REALM, o, Some(new.url()), &[]);
    counted.expect(
        STRANDED,
        "stranded",
        &["at least 10", "bulk plan --exclude-export", "bulk unmark"],
    );
    assert!(counted.html.contains("verdict stranded"), "a red box");

    let (old_export, new_export) = (d.join("old.json.gz"), d.join("new.json.gz"));
    let keep = [
        "--exact",
        "--keep-export",
        old_export.to_str().unwrap(),
        "--keep-new-export",
        new_export.to_str().unwrap(),
    ];
    let exact = status(d, REALM, o, Some(new.url()), &keep);
    exact.expect(
        STRANDED,
        "stranded",
        &[
            "10 marked users",
            "bulk plan --exclude-export",
            "bulk unmark",
        ],
    );
    assert_eq!(
        (
            exact.json["proof"]["found"].as_u64(),
            exact.json["proof"]["missing"].as_u64(),
            exact.json["proof"]["missing_marked"].as_u64()
        ),
        (Some(40), Some(10), Some(10)),
        "{}",
        exact.json
    );

    // The remedy the verdict names finds the same ten from the kept exports.
    let plan = d.join("plan");
    let planned = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(["bulk", "plan", "--config"])
        .arg(d.join("trickle.toml"))
        .arg("--input")
        .arg(&old_export)
        .arg("--exclude-export")
        .arg(&new_export)
        .arg("--out")
        .arg(&plan)
        .output()
        .unwrap();
    assert!(planned.status.success(), "{}", text(&planned));
    let report: Value =
        serde_json::from_slice(&fs::read(plan.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["marked_not_in_new_tenant"], 10, "{report}");

    // Without the new tenant, all marked is "marked", never done.
    for extra in [&[][..], &["--exact"][..]] {
        status(d, REALM, o, None, extra).expect(UNKNOWN, "marked", &["--new-domain"]);
    }
}

#[test]
fn counts_say_at_most_probably_done_and_only_ids_prove_done() {
    let old = old_tenant(50, 50);
    let dir = tempfile::tempdir().unwrap();
    let (d, o) = (dir.path(), old.url());

    let all = new_tenant(0..50, 0);
    status(d, REALM, o, Some(all.url()), &[]).expect(
        UNKNOWN,
        "probably_done",
        &["probably done", "--exact"],
    );
    let proven = status(d, REALM, o, Some(all.url()), &["--exact"]);
    proven.expect(DONE, "done", &["decommission"]);
    assert!(proven.html.contains("verdict done"), "the only green box");

    // New ≥ marked, yet 5 marked users are missing: 5 fresh sign-ups make
    // up the count. Counts cannot tell; the ids can.
    let masked = new_tenant(0..45, 5);
    status(d, REALM, o, Some(masked.url()), &[]).expect(UNKNOWN, "probably_done", &["--exact"]);
    status(d, REALM, o, Some(masked.url()), &["--exact"]).expect(
        STRANDED,
        "stranded",
        &["5 marked users"],
    );
}

#[test]
fn users_stored_unmarked_count_as_migrated_by_id() {
    // 45 marked; the other 5 reached the new tenant unmarked (a password
    // reset through get_user): all 50 are there, so it is done.
    let old = old_tenant(50, 45);
    let new = new_tenant(0..50, 0);
    let dir = tempfile::tempdir().unwrap();
    status(dir.path(), REALM, old.url(), Some(new.url()), &["--exact"]).expect(
        DONE,
        "done",
        &["decommission"],
    );
    // Only 30 there, none of them stranded: not done yet, 20 left.
    let partial = new_tenant(0..30, 0);
    let old = old_tenant(50, 30);
    let run = status(
        dir.path(),
        REALM,
        old.url(),
        Some(partial.url()),
        &["--exact"],
    );
    assert_eq!(run.code, NOT_DONE_YET, "{}", run.shown);
    assert_eq!(run.json["proof"]["missing"], 20, "{}", run.json);
    assert!(run.shown.contains("20 users left"), "{}", run.shown);
}

#[test]
fn a_search_total_of_1000_gives_no_verdict() {
    let old = old_tenant(1000, 1000);
    let new = new_tenant(0..1000, 0);
    let dir = tempfile::tempdir().unwrap();
    status(dir.path(), REALM, old.url(), Some(new.url()), &[]).expect(
        UNKNOWN,
        "unknown",
        &["may be capped", "rerun with --exact"],
    );
    status(dir.path(), REALM, old.url(), None, &[]).expect(
        UNKNOWN,
        "unknown",
        &["rerun with --exact"],
    );
    // The export counts past it.
    status(dir.path(), REALM, old.url(), Some(new.url()), &["--exact"]).expect(DONE, "done", &[]);
}

#[test]
fn a_misspelt_or_empty_realm_is_unknown_not_done() {
    let old = old_tenant(20, 20);
    let dir = tempfile::tempdir().unwrap();
    let misspelt = status(
        dir.path(),
        "Username-Password-Authentcation",
        old.url(),
        None,
        &[],
    );
    misspelt.expect(
        UNKNOWN,
        "unknown",
        &[
            "unknown realm or empty: check source.realm",
            "no connection named",
        ],
    );
    assert_eq!(misspelt.json["realm_check"]["outcome"], "refused");
    let exact = status(
        dir.path(),
        "Username-Password-Authentcation",
        old.url(),
        None,
        &["--exact"],
    );
    exact.expect(UNKNOWN, "unknown", &["check source.realm"]);
    // A realm that exists but holds nobody.
    let empty = status(dir.path(), "Other-DB", old.url(), None, &[]);
    empty.expect(
        UNKNOWN,
        "unknown",
        &["unknown realm or empty: check source.realm"],
    );
    assert_eq!(empty.json["realm_check"]["outcome"], "accepted");
}

#[test]
fn an_export_job_stuck_in_pending_stops_at_the_deadline_naming_it() {
    let old = Tenant::start(
        json!({"connections": [{"name": REALM}],
               "clients": [{"client_id": "good", "client_secret": OLD_SECRET,
                            "grant_types": ["password", "client_credentials"],
                            "scopes": ["read:users"]}],
               "users": [user(1, REALM, Some(3))]}),
        // Pending for half an hour.
        Duration::from_secs(3600),
    );
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = status(
        dir.path(),
        REALM,
        old.url(),
        None,
        &["--exact", "--export-deadline", "2"],
    );
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");
    assert_eq!(run.code, COULD_NOT_COUNT, "{}", run.shown);
    let job = run
        .shown
        .split_whitespace()
        .find(|word| word.starts_with("job_"))
        .unwrap_or_else(|| panic!("names the job:\n{}", run.shown));
    assert!(
        run.shown.contains("still pending") && run.shown.contains("--export-deadline"),
        "{}",
        run.shown
    );
    assert!(
        run.shown
            .contains(&format!("waiting for the old tenant's export job {job}")),
        "a line while it waits:\n{}",
        run.shown
    );
}

#[test]
fn bulk_plan_without_exclude_export_warns_about_the_marked_users_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), REALM);
    let export = dir.path().join("old.json");
    let lines: Vec<String> = (0..6)
        .map(|n| {
            let mut line = json!({"user_id": format!("auth0|u{n}"), "email": format!("u{n}@example.com"),
                                  "identities": [{"provider": "auth0", "connection": REALM, "user_id": format!("u{n}")}]});
            if n < 4 {
                line["app_metadata"] = json!({"trickle_migrated_at": "2026-01-05T10:00:00.000Z"});
            }
            line.to_string()
        })
        .collect();
    fs::write(&export, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("plan");
    let output = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(["bulk", "plan", "--config"])
        .arg(&cfg)
        .arg("--input")
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: 4 users carry the migration marker")
            && stderr.contains("--exclude-export"),
        "{stderr}"
    );
    let report: Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["already_migrated"], 4);
    assert_eq!(report["users_written"], 2);
}

#[test]
fn an_export_with_unreadable_lines_or_none_is_no_count() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!("user_id,connection,trickle_migrated_at\nauth0|h1,{REALM},2026-01-05\n");
    let mixed = format!("{}\nnot json at all\n{}\n", marked_line(1), marked_line(2));
    for (export, words) in [
        (
            csv.as_str(),
            &["2 unreadable lines", "rerun with --exact"][..],
        ),
        (mixed.as_str(), &["1 unreadable line"][..]),
        ("", &["no records"][..]),
    ] {
        let hostile = Hostile::start(gzip(&[export.as_bytes()]));
        let run = status(dir.path(), REALM, &hostile.url, None, &["--exact"]);
        run.expect(UNKNOWN, "unknown", words);
    }
}
