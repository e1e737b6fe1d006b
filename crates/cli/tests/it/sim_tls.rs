//! `--tls`, `--tls-dir` and `--public-url` of both emulator commands, as a
//! user runs them: the ready line's `https://` URL, the certificate
//! authority named on stderr and kept in the folder, and bad URLs refused
//! with exit code 2.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

/// Starts an emulator command, reads its ready line, stops it (stdin
/// closed); answers the ready line and all of stderr.
fn ready_line(args: &[&str]) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .args(["--port", "0", "--exit-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trickle runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    drop(child.stdin.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{stderr}");
    (line.trim().to_owned(), stderr)
}

fn seed(dir: &Path) -> String {
    let path = dir.join("seed.json");
    std::fs::write(&path, r#"{"bcrypt_cost": 4}"#).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn tls_dir_serves_https_and_keeps_one_authority_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let tls_arg = tls.to_str().unwrap();
    let seed = seed(dir.path());
    let (line, stderr) = ready_line(&["sim", "--seed", &seed, "--tls-dir", tls_arg]);
    assert!(
        line.starts_with("trickle sim listening on https://127.0.0.1:"),
        "{line}"
    );
    let ca = tls.join("ca.pem");
    assert!(
        stderr.contains(&format!("NODE_EXTRA_CA_CERTS={}", ca.display())),
        "{stderr}"
    );
    let first = std::fs::read_to_string(&ca).unwrap();
    let (line, _) = ready_line(&[
        "c2id",
        "sim",
        "--seed",
        "../../examples/c2id-target-empty.json",
        "--tls-dir",
        tls_arg,
    ]);
    assert!(
        line.starts_with("trickle c2id sim listening on https://127.0.0.1:"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(&ca).unwrap(),
        first,
        "the same authority"
    );
}

#[test]
fn tls_alone_uses_a_temporary_authority_removed_on_exit() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(dir.path());
    let (line, stderr) = ready_line(&["sim", "--seed", &seed, "--tls"]);
    assert!(line.contains("https://"), "{line}");
    let path = stderr
        .split("NODE_EXTRA_CA_CERTS=")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the authority is named");
    assert!(
        !Path::new(path).exists(),
        "{path} is removed with the emulator"
    );
}

#[test]
fn a_public_url_is_announced_and_a_bad_one_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(dir.path());
    let (line, stderr) = ready_line(&[
        "sim",
        "--seed",
        &seed,
        "--public-url",
        "https://Old.Example.test/",
    ]);
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    assert!(
        stderr.contains("public URL https://old.example.test"),
        "{stderr}"
    );
    for (command, url) in [
        ("sim", "https://old.example.test/tenant"),
        ("sim", "old.example.test"),
        ("c2id", "ftp://x"),
    ] {
        let mut args = vec![command];
        if command == "c2id" {
            args.extend(["sim", "--seed", "../../examples/c2id-target-empty.json"]);
        } else {
            args.extend(["--seed", &seed]);
        }
        args.extend(["--public-url", url]);
        let output = Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("--public-url"), "{url}: {stderr}");
    }
}
