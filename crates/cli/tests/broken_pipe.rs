//! A reader that goes away (`trickle … | head -c 900`) ends a command the
//! way it ends Unix tools: killed by SIGPIPE (141 in a shell), quietly; no
//! panic, no backtrace. Each command here prints on a stdout whose reading
//! end is already closed.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/tenant-to-tenant.toml"
);

/// Runs trickle with `args`, its stdout a pipe nobody reads any more.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .env_remove("TRICKLE_CLIENT_SECRET")
        .env("TRICKLE_OLD_CLIENT_SECRET", "broken-pipe-test-secret")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("trickle runs")
}

fn assert_quiet_sigpipe(args: &[&str]) {
    let output = into_closed_pipe(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{args:?}: {:?}\n{stderr}",
        output.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args:?}: {stderr}"
    );
}

#[test]
fn preflight_json_into_a_closed_pipe_ends_quietly() {
    // Nothing listens on port 1: every check fails fast, and the report
    // (1 KB or so of JSON) is then printed.
    assert_quiet_sigpipe(&[
        "preflight",
        "--json",
        "--config",
        EXAMPLE,
        "--domain",
        "http://127.0.0.1:1",
        "--client-id",
        "x",
    ]);
}

#[test]
fn generate_and_help_into_a_closed_pipe_end_quietly() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("out");
    assert_quiet_sigpipe(&[
        "generate",
        "--config",
        EXAMPLE,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_quiet_sigpipe(&["bulk", "--help"]);
}
