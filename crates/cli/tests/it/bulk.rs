//! `trickle bulk` as a user runs it: exit codes, messages, files; and a
//! plan imported into the real emulator (`trickle sim`).

use crate::support;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::emulator::Emulator;

const REALM: &str = "Username-Password-Authentication";
const NEW_CONNECTION: &str = "New-Users";
const NEW_CONNECTION_ID: &str = "con_NewUsers0000001";
const BULK_CLIENT: &str = "bulk-importer";
const BULK_SECRET: &str = "sim-only-bulk-secret";

/// Runs trickle with nothing inherited from the shell's secrets.
fn trickle(args: &[&str], env: &[(&str, &str)]) -> Output {
    support::run::trickle(args, env, Duration::from_secs(180))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("trickle.toml");
    fs::write(
        &path,
        format!("[connection]\nname = \"{NEW_CONNECTION}\"\n[source]\nrealm = \"{REALM}\"\n"),
    )
    .unwrap();
    path
}

fn export_user(n: usize) -> Value {
    json!({
        "user_id": format!("auth0|{n:024x}"),
        "email": format!("Person.{n}@Example.com"),
        "email_verified": n.is_multiple_of(2),
        "name": format!("Person {n}"),
        "identities": [{"provider": "auth0", "connection": REALM, "user_id": format!("{n:024x}"), "isSocial": false}],
        "app_metadata": {"plan": "pro", "n": n, "created_at": "2020-01-01"},
        "user_metadata": {"lang": "fr", "bio": "x".repeat(200 + n % 400)},
        "created_at": "2020-01-01T00:00:00.000Z",
        "logins_count": n
    })
}

fn write_export(dir: &Path, users: usize) -> PathBuf {
    let mut lines: Vec<String> = (0..users).map(|n| export_user(n).to_string()).collect();
    lines.insert(3, "{ this line is broken".to_owned());
    let mut marked = export_user(users + 1);
    marked["app_metadata"]["trickle_migrated_at"] = json!("2026-01-01T00:00:00.000Z");
    lines.push(marked.to_string());
    let path = dir.join("export.json");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn plan_args<'a>(config: &'a Path, input: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "bulk",
        "plan",
        "--config",
        config.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
}

#[test]
fn plan_writes_files_and_a_report_and_is_quiet_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let input = write_export(dir.path(), 50);
    let out = dir.path().join("plan");
    let result = trickle(&plan_args(&config, &input, &out), &[]);
    let text = stderr(&result);
    assert!(result.status.success(), "{text}");
    assert!(result.stdout.is_empty());
    assert!(
        !text.contains('\r') && !text.contains('\u{1b}'),
        "no progress bar in a pipe: {text:?}"
    );
    for part in [
        "planned 50 users",
        "already_migrated",
        "unreadable",
        "created_at ×50",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    let report: Value =
        serde_json::from_slice(&fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["users_written"], 50);
    assert_eq!(report["already_migrated"], 1);
    assert_eq!(report["skipped_records"][0]["line"], 4);
    let users: Vec<Value> =
        serde_json::from_slice(&fs::read(out.join("users-00001.json")).unwrap()).unwrap();
    assert_eq!(users[0]["user_id"], format!("{:024x}", 0));
    assert_eq!(users[0]["email"], "person.0@example.com");
    assert_eq!(users[0]["app_metadata"], json!({"plan": "pro", "n": 0}));
}

#[test]
fn plan_refuses_unusable_input_with_exit_code_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let input = write_export(dir.path(), 5);
    let out = dir.path().join("plan");

    let bad_config = dir.path().join("bad.toml");
    fs::write(&bad_config, "[connection]\nname = \"x\"\n").unwrap();
    let result = trickle(&plan_args(&bad_config, &input, &out), &[]);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(stderr(&result).contains("source"), "{}", stderr(&result));

    let missing = dir.path().join("missing.json");
    let result = trickle(&plan_args(&config, &missing, &out), &[]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("missing.json"));

    let not_an_export = dir.path().join("photo.json");
    fs::write(&not_an_export, [0u8, 159, 146, 150, b'\n', 1, 2, 3]).unwrap();
    let result = trickle(&plan_args(&config, &not_an_export, &out), &[]);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(!out.exists());

    assert!(trickle(&plan_args(&config, &input, &out), &[])
        .status
        .success());
    let result = trickle(&plan_args(&config, &input, &out), &[]);
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("--force"), "{}", stderr(&result));
    let mut forced = plan_args(&config, &input, &out);
    forced.push("--force");
    assert!(trickle(&forced, &[]).status.success());
}

#[test]
fn import_checks_its_arguments_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let input = write_export(dir.path(), 3);
    let out = dir.path().join("plan");
    assert!(trickle(&plan_args(&config, &input, &out), &[])
        .status
        .success());
    let args = |domain: &'static str| {
        vec![
            "bulk".to_owned(),
            "import".to_owned(),
            "--plan".to_owned(),
            out.to_str().unwrap().to_owned(),
            "--domain".to_owned(),
            domain.to_owned(),
            "--client-id".to_owned(),
            "c".to_owned(),
            "--connection-id".to_owned(),
            "con_x".to_owned(),
        ]
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        trickle(&args, env)
    };
    let result = run(args("https://new.example.com"), &[]);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains("$TRICKLE_NEW_CLIENT_SECRET is not set"),
        "{}",
        stderr(&result)
    );
    let result = run(
        args("http://new.example.com"),
        &[("TRICKLE_NEW_CLIENT_SECRET", "s3cr3t")],
    );
    assert_eq!(result.status.code(), Some(2));
    assert!(stderr(&result).contains("--domain"), "{}", stderr(&result));
    assert!(!stderr(&result).contains("s3cr3t"));
    let mut not_a_plan = args("https://new.example.com");
    not_a_plan[3] = dir.path().to_str().unwrap().to_owned();
    let result = run(not_a_plan, &[("TRICKLE_NEW_CLIENT_SECRET", "s3cr3t")]);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("no import files"),
        "{}",
        stderr(&result)
    );
}

/// `trickle sim`, stopped when dropped (and when this process ends: its
/// stdin closes).
struct Sim {
    emulator: Emulator,
    /// Where `bulk import` is pointed: the emulator, or a proxy before it.
    base: String,
}

impl Sim {
    fn start(dir: &Path) -> Sim {
        Sim::start_with_job_delay(dir, 60)
    }

    fn start_with_job_delay(dir: &Path, job_delay_ms: u64) -> Sim {
        Sim::start_with(dir, &["--job-delay-ms", &job_delay_ms.to_string()])
    }

    /// With more `trickle sim` flags (faults, rate limit, job delay).
    fn start_with(dir: &Path, flags: &[&str]) -> Sim {
        let seed = dir.join("seed.json");
        fs::write(
            &seed,
            json!({
                "bcrypt_cost": 4,
                "connections": [{"name": REALM}, {"name": NEW_CONNECTION, "id": NEW_CONNECTION_ID}],
                "clients": [{
                    "client_id": BULK_CLIENT,
                    "client_secret": BULK_SECRET,
                    "grant_types": ["client_credentials"],
                    "scopes": ["read:users", "update:users", "create:users"]
                }],
                "users": []
            })
            .to_string(),
        )
        .unwrap();
        let seed = seed.to_str().unwrap();
        let args = [&["sim", "--seed", seed][..], flags].concat();
        let emulator = Emulator::start("trickle sim", &args);
        let base = emulator.base.clone();
        Sim { emulator, base }
    }

    /// `GET /__sim/users`, from the emulator itself.
    fn users(&self) -> Vec<Value> {
        serde_json::from_value(self.emulator.get_json("/__sim/users")).unwrap()
    }

    fn import(&self, plan: &Path, env: &[(&str, &str)], extra: &[&str]) -> Output {
        self.import_command(plan, env, extra)
            .output()
            .expect("trickle runs")
    }

    fn import_command(&self, plan: &Path, env: &[(&str, &str)], extra: &[&str]) -> Command {
        let mut args = vec![
            "bulk",
            "import",
            "--plan",
            plan.to_str().unwrap(),
            "--domain",
            &self.base,
            "--client-id",
            BULK_CLIENT,
            "--connection-id",
            NEW_CONNECTION_ID,
            "--poll-interval-ms",
            "40",
        ];
        args.extend_from_slice(extra);
        let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
        command
            .args(args)
            .env_remove("TRICKLE_BULK_TEST_HALT")
            .env("TRICKLE_NEW_CLIENT_SECRET", BULK_SECRET);
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }
}

/// Plans `users` export users (about 650 bytes each) into files of 500 KB.
fn make_plan(dir: &Path, users: usize) -> (PathBuf, Vec<Value>) {
    let config = write_config(dir);
    let input = write_export(dir, users);
    let out = dir.join("plan");
    let result = trickle(&plan_args(&config, &input, &out), &[]);
    assert!(result.status.success(), "{}", stderr(&result));
    let mut planned = Vec::new();
    let mut names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("users-"))
        .collect();
    names.sort();
    for name in names {
        let users: Vec<Value> = serde_json::from_slice(&fs::read(out.join(name)).unwrap()).unwrap();
        planned.extend(users);
    }
    (out, planned)
}

/// Every planned user is in the new connection exactly once, with the
/// planned id, email and metadata.
fn assert_imported_once(sim: &Sim, planned: &[Value]) {
    let users = sim.users();
    let mut by_email: HashMap<String, Vec<&Value>> = HashMap::new();
    for user in &users {
        if user["identities"][0]["connection"] == NEW_CONNECTION {
            by_email
                .entry(user["email"].as_str().unwrap().to_owned())
                .or_default()
                .push(user);
        }
    }
    assert_eq!(
        by_email.len(),
        planned.len(),
        "every planned user, nothing else"
    );
    for want in planned {
        let got = &by_email[want["email"].as_str().unwrap()];
        assert_eq!(got.len(), 1, "{} imported more than once", want["email"]);
        assert_eq!(got[0]["identities"][0]["user_id"], want["user_id"]);
        assert_eq!(
            got[0]["user_id"],
            format!("auth0|{}", want["user_id"].as_str().unwrap())
        );
        assert_eq!(got[0]["app_metadata"], want["app_metadata"]);
        assert_eq!(got[0]["user_metadata"], want["user_metadata"]);
    }
}

/// The number of import files in a plan.
fn import_files(plan: &Path) -> usize {
    fs::read_dir(plan)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("users-")
        })
        .count()
}

fn journal_submissions(plan: &Path) -> HashMap<String, usize> {
    let text = fs::read_to_string(plan.join("import-state.ndjson")).unwrap();
    let mut counts = HashMap::new();
    for line in text.lines() {
        // A line being written while this reads it may be incomplete.
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry["event"] == "submitted" {
            *counts
                .entry(entry["file"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    counts
}

#[test]
fn a_plan_imports_into_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path());
    let (plan, planned) = make_plan(dir.path(), 2000);
    let files = import_files(&plan);
    assert!(files >= 3, "{files} files");
    let result = sim.import(&plan, &[], &[]);
    let text = stderr(&result);
    assert!(result.status.success(), "{text}");
    assert!(
        text.contains(&format!("{files} of {files} files completed")),
        "{text}"
    );
    assert!(text.contains("2,000 inserted"), "{text}");
    assert_imported_once(&sim, &planned);
    // Nothing left: a second run changes nothing.
    let again = sim.import(&plan, &[], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_imported_once(&sim, &planned);
}

#[test]
fn a_crashed_import_resumes_and_imports_every_file_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path());
    let (plan, planned) = make_plan(dir.path(), 3000);
    assert!(import_files(&plan) >= 4);
    // Crash right after the second job is recorded, jobs still running.
    let crashed = sim.import(&plan, &[("TRICKLE_BULK_TEST_HALT", "after-submit:2")], &[]);
    assert_eq!(crashed.status.code(), Some(86), "{}", stderr(&crashed));
    let resumed = sim.import(&plan, &[], &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_imported_once(&sim, &planned);
    let submissions = journal_submissions(&plan);
    assert!(submissions.values().all(|&n| n == 1), "{submissions:?}");

    // A crash during an upload: that file is uncertain until the operator decides.
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(dir.path());
    let (plan, planned) = make_plan(dir.path(), 1500);
    let crashed = sim.import(&plan, &[("TRICKLE_BULK_TEST_HALT", "before-submit:2")], &[]);
    assert_eq!(crashed.status.code(), Some(86));
    let resumed = sim.import(&plan, &[], &[]);
    assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("--resubmit-uncertain"),
        "{}",
        stderr(&resumed)
    );
    let decided = sim.import(&plan, &[], &["--resubmit-uncertain"]);
    assert!(decided.status.success(), "{}", stderr(&decided));
    assert_imported_once(&sim, &planned);
}

#[test]
fn an_import_killed_while_jobs_run_resumes_without_resubmitting() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs take 1.5 s: once two are recorded, the process only polls.
    let sim = Sim::start_with_job_delay(dir.path(), 1500);
    let (plan, planned) = make_plan(dir.path(), 3000);
    assert!(import_files(&plan) >= 4);
    let mut child = sim
        .import_command(&plan, &[], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while journal_submissions_if_any(&plan).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "two jobs never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let resumed = sim.import(&plan, &[], &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_imported_once(&sim, &planned);
    let submissions = journal_submissions(&plan);
    assert_eq!(submissions.len(), import_files(&plan));
    assert!(submissions.values().all(|&n| n == 1), "{submissions:?}");
}

fn journal_submissions_if_any(plan: &Path) -> HashMap<String, usize> {
    if plan.join("import-state.ndjson").exists() {
        journal_submissions(plan)
    } else {
        HashMap::new()
    }
}

/// A TCP proxy in front of the emulator that passes requests on at once and
/// holds every answer back for `delay_ms` (while that is not 0): a slow
/// network, where the tenant has an upload well before its answer arrives.
struct SlowAnswers {
    base: String,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SlowAnswers {
    fn start(upstream: &str, delay_ms: u64) -> SlowAnswers {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let upstream = upstream.strip_prefix("http://").unwrap().to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let delay = Arc::new(AtomicU64::new(delay_ms));
        let shared = delay.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = TcpStream::connect(&upstream) else {
                    return;
                };
                let (mut client_reader, mut server_writer) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_reader, &mut server_writer);
                    let _ = server_writer.shutdown(std::net::Shutdown::Write);
                });
                let delay = shared.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 64 * 1024];
                    while let Ok(n) = server.read(&mut buffer) {
                        if n == 0 {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(
                            delay.load(Ordering::SeqCst),
                        ));
                        if client.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        SlowAnswers {
            base,
            delay_ms: delay,
        }
    }

    fn set_delay_ms(&self, delay_ms: u64) {
        self.delay_ms
            .store(delay_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

fn journal_events(plan: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(plan.join("import-state.ndjson")) else {
        return Vec::new();
    };
    // A line being written while this reads it may be incomplete.
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn an_import_killed_while_an_upload_answer_is_slow_finds_that_file_on_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    // Lookups are not rate limited here (see the README for real tenants).
    let mut sim = Sim::start_with(dir.path(), &["--rate-limit", "0"]);
    // Answers take 2.5 s to come back: the tenant has each upload (and
    // makes its job) long before the client hears of it.
    let network = SlowAnswers::start(&sim.base, 2500);
    let direct = std::mem::replace(&mut sim.base, network.base.clone());
    let (plan, planned) = make_plan(dir.path(), 3000);
    let files = import_files(&plan);
    assert!(files >= 4, "{files} files");
    let lost = "users-00002.json";
    let lost_users: Vec<Value> =
        serde_json::from_slice(&fs::read(plan.join(lost)).unwrap()).unwrap();

    let mut child = sim
        .import_command(&plan, &[], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !journal_events(&plan)
        .iter()
        .any(|e| e["event"] == "submitting" && e["file"] == lost)
    {
        assert!(std::time::Instant::now() < deadline, "{lost} never sent");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Well inside the 2.5 s the answer takes.
    std::thread::sleep(std::time::Duration::from_millis(800));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !journal_submissions(&plan).contains_key(lost),
        "killed before the answer came"
    );
    network.set_delay_ms(0);
    // The tenant made the job all the same; wait until it has run.
    let lost_emails: Vec<&str> = lost_users
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    while {
        let users = sim.users();
        !lost_emails
            .iter()
            .all(|email| users.iter().any(|u| u["email"] == *email))
    } {
        assert!(
            std::time::Instant::now() < deadline,
            "the lost job never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // A plain resume: the file is uncertain, and the summary says what that means.
    let resumed = sim.import(&plan, &[], &[]);
    let text = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{text}");
    let known = planned.len() - lost_users.len();
    for part in [
        format!("uncertain: {lost} ({} users)", thousands(lost_users.len())),
        format!("{} inserted", thousands(known)),
        format!(
            "the tenant holds {} of this plan's {} users as far as trickle knows",
            thousands(known),
            thousands(planned.len())
        ),
        "--resubmit-uncertain".to_owned(),
    ] {
        assert!(text.contains(&part), "{part:?} missing from:\n{text}");
    }

    // Resubmitting looks the file's users up first: all there, so the file
    // is not sent again and nobody is reported failed.
    let decided = sim.import(&plan, &[], &["--resubmit-uncertain"]);
    let text = stderr(&decided);
    assert!(decided.status.success(), "{text}");
    for part in [
        format!("{files} of {files} files completed"),
        "0 failed".to_owned(),
        format!("{} already on the tenant", thousands(lost_users.len())),
        format!(
            "the tenant holds all {} users of this plan",
            thousands(planned.len())
        ),
    ] {
        assert!(text.contains(&part), "{part:?} missing from:\n{text}");
    }
    assert!(
        !journal_submissions(&plan).contains_key(lost),
        "{lost} was sent again"
    );
    sim.base = direct;
    assert_imported_once(&sim, &planned);
}

/// 1234567 → "1,234,567", as the summaries print numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Sends `signal` to a `bulk plan` reading a named pipe that is fed slowly,
/// once the plan has written its first import file (so it is mid-way, for
/// sure, without a huge input).
fn plan_stopped_by(signal: libc::c_int) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let input = dir.path().join("export.json");
    let fifo = std::ffi::CString::new(input.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let out = dir.path().join("plan");
    let child = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(plan_args(&config, &input, &out))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder_input = input.clone();
    let feeder = std::thread::spawn(move || {
        let mut pipe = fs::OpenOptions::new()
            .write(true)
            .open(feeder_input)
            .unwrap();
        // Enough for a first 500 KB file, then a trickle until the plan stops reading.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for n in 0.. {
            let line = export_user(n).to_string() + "\n";
            if pipe.write_all(line.as_bytes()).is_err() || std::time::Instant::now() > deadline {
                return;
            }
            if n > 2_000 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    });
    let staging_file = || {
        fs::read_dir(dir.path()).unwrap().find_map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name.starts_with(".plan.staging-") && path.join("users-00001.json").exists())
                .then_some(path)
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while staging_file().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan never wrote a file"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let left: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "export.json" && name != "trickle.toml")
        .collect();
    (output, left)
}

#[test]
fn a_plan_stopped_by_sigint_or_sigterm_removes_its_staging_folder() {
    for (signal, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let (output, left) = plan_stopped_by(signal);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{name}: {text}");
        assert!(
            text.contains(&format!("interrupted ({name})")) && text.contains("no plan was written"),
            "{name}: {text}"
        );
        assert!(left.is_empty(), "{name}: left behind: {left:?}");
    }
}
