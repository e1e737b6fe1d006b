//! Running the `trickle` binary as a user does, with a deadline: a command
//! still running past it hangs, and the test fails saying so.

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Variables a test never inherits from the shell that runs it.
const CLEARED: [&str; 6] = [
    "TRICKLE_CLIENT_SECRET",
    "TRICKLE_OLD_CLIENT_SECRET",
    "TRICKLE_NEW_CLIENT_SECRET",
    "TRICKLE_C2ID_SOURCE_TOKEN",
    "TRICKLE_C2ID_TARGET_TOKEN",
    "TRICKLE_BULK_TEST_HALT",
];

/// Runs trickle with `args` and `env`, killing it (and failing) past `deadline`.
pub fn trickle(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trickle"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in CLEARED {
        command.env_remove(var);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("trickle runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "trickle {args:?} still runs after {deadline:?}:\n{}",
                text(&output)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// stdout and stderr together.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
