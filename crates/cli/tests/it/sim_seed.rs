//! `trickle sim --seed …` as a user runs it: seeds it must refuse at once
//! (exit code 2, a message saying why), and what it says while it hashes.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

fn sim_command(seed: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
    command
        .args(["sim", "--seed", seed.to_str().unwrap(), "--port", "0"])
        .args(["--exit-on-stdin-close", "--quiet"]);
    command
}

/// Waits at most `limit` for the emulator to exit (a seed it should refuse
/// must never get as far as serving, nor hang).
fn refused_within(seed: &Path, limit: Duration) -> Output {
    let mut child = sim_command(seed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > limit {
            kill(&mut child);
            panic!(
                "`trickle sim --seed {}` still running after {limit:?}",
                seed.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_seed_that_is_not_a_json_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, kind) in [("[]", "an array"), ("1", "a number"), ("\"x\"", "a string")] {
        let seed = dir.path().join("seed.json");
        fs::write(&seed, text).unwrap();
        let output = refused_within(&seed, Duration::from_secs(20));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}: {message}");
        assert!(
            message.contains("must be a JSON object") && message.contains(kind),
            "{text}: {message}"
        );
        assert!(output.stdout.is_empty(), "{text}: it must not listen");
    }
}

#[test]
fn a_bcrypt_cost_that_would_hash_for_hours_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    fs::write(
        &seed,
        json!({"bcrypt_cost": 31, "users": [{"email": "a@x.com", "password": "p"}]}).to_string(),
    )
    .unwrap();
    let output = refused_within(&seed, Duration::from_secs(20));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("bcrypt_cost must be between 4 and 14 (got 31)"),
        "{message}"
    );
}

#[test]
fn an_endless_or_huge_seed_fails_fast() {
    // Not a file at all: refused on its first byte.
    let output = refused_within(Path::new("/dev/zero"), Duration::from_secs(20));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("must be a JSON object"), "{message}");

    // A file over the size limit (sparse: nothing is written).
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("huge.json");
    fs::write(&seed, "{").unwrap();
    fs::File::options()
        .write(true)
        .open(&seed)
        .unwrap()
        .set_len(300 * 1024 * 1024)
        .unwrap();
    let output = refused_within(&seed, Duration::from_secs(20));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("larger than 256 MiB"), "{message}");
}

#[test]
fn slow_hashing_is_announced_before_the_emulator_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    // 17 passwords at Auth0's cost of 10: about a second on one core.
    let users: Vec<_> = (0..17)
        .map(|n| json!({"email": format!("u{n}@x.com"), "password": "p"}))
        .collect();
    fs::write(
        &seed,
        json!({"bcrypt_cost": 10, "users": users}).to_string(),
    )
    .unwrap();
    let mut child = sim_command(&seed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("trickle sim listening on "), "{line:?}");
    drop(child.stdin.take()); // --exit-on-stdin-close
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child.wait().unwrap();
    let hashing = text
        .find("hashing 17 passwords (bcrypt cost 10)")
        .unwrap_or_else(|| panic!("no hashing line in:\n{text}"));
    assert!(hashing < text.find("ready in").unwrap(), "{text}");

    // A quick seed says nothing of it.
    fs::write(
        &seed,
        json!({"bcrypt_cost": 4, "users": [{"email": "a@x.com", "password": "p"}]}).to_string(),
    )
    .unwrap();
    let mut child = sim_command(&seed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(!stderr(&output).contains("hashing"), "{}", stderr(&output));
}
