//! `trickle c2id sim` and `trickle c2id seed` as a user runs them: the
//! ready line, the example seeds, generated seeds, exit codes, messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");

fn trickle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .output()
        .expect("trickle runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `trickle c2id sim`, stopped when dropped (its stdin closes).
struct C2idSim {
    _child: Child,
    _stdin: ChildStdin,
    base: String,
}

impl C2idSim {
    fn start(seed: &Path) -> C2idSim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args([
                "c2id",
                "sim",
                "--seed",
                seed.to_str().unwrap(),
                "--port",
                "0",
            ])
            .args(["--exit-on-stdin-close", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("trickle c2id sim listening on http://127.0.0.1:")
            .map(|port| format!("http://127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        C2idSim {
            _child: child,
            _stdin: stdin,
            base,
        }
    }

    /// A GET over HTTP/1.0 (so a streamed answer comes unchunked): status line and body.
    fn get(&self, path: &str) -> (String, String) {
        let authority = self.base.strip_prefix("http://").unwrap();
        let mut stream = TcpStream::connect(authority).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }
}

#[test]
fn the_example_source_serves_its_data_under_its_context_path() {
    let sim = C2idSim::start(&Path::new(EXAMPLES).join("c2id-source.json"));
    let (status, splash) = sim.get("/c2id");
    assert!(status.contains(" 200"), "{status}");
    assert!(splash.contains("Connect2id Server 12.3"), "{splash}");
    let (status, body) = sim.get("/__sim/state");
    assert!(status.contains(" 200"), "{status}");
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["issuer"], format!("{}/c2id", sim.base));
    assert_eq!(state["clients"].as_array().unwrap().len(), 3);
    assert_eq!(state["authorizations"].as_array().unwrap().len(), 4);
    assert_eq!(state["sessions"].as_object().unwrap().len(), 3);
    let (status, _) = sim.get("/c2id/clients");
    assert!(status.contains(" 401"), "no token: {status}");
}

#[test]
fn a_generated_seed_is_written_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.json");
    let result = trickle(&[
        "c2id",
        "seed",
        "--clients",
        "20",
        "--authorizations",
        "30",
        "--sessions",
        "40",
        "--version",
        "9.5",
        "--jwks-from",
        &format!("{EXAMPLES}/c2id-target-empty.json"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(stderr(&result).contains("wrote"), "{}", stderr(&result));
    let seed: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(seed["sessions"].as_object().unwrap().len(), 40);
    let sim = C2idSim::start(&out);
    let (_, splash) = sim.get("/");
    assert!(splash.contains("Connect2id Server 9.5"), "{splash}");
    let (_, body) = sim.get("/__sim/state");
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["authorizations"].as_array().unwrap().len(), 30);
    let (status, _) = sim.get("/authz-store/rest/v3/authorizations");
    assert!(status.contains(" 404"), "9.5 has no v3: {status}");
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("bad.json");
    std::fs::write(&seed, r#"{"version": "12.3", "jwks": {"keys": []}, "clients": [{"client_secret": "hidden-secret-value"}]}"#).unwrap();
    let result = trickle(&["c2id", "sim", "--seed", seed.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("clients[0]: client_id is required"),
        "{}",
        stderr(&result)
    );
    assert!(!stderr(&result).contains("hidden-secret-value"));
    let missing = trickle(&["c2id", "sim", "--seed", "/nonexistent/seed.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let remote = trickle(&[
        "c2id",
        "sim",
        "--seed",
        seed.to_str().unwrap(),
        "--host",
        "0.0.0.0",
    ]);
    assert_eq!(remote.status.code(), Some(2));
    assert!(stderr(&remote).contains("--allow-remote"));
    let faults = trickle(&[
        "c2id",
        "sim",
        "--seed",
        seed.to_str().unwrap(),
        "--drop-ratio",
        "3",
    ]);
    assert_eq!(faults.status.code(), Some(2));
    let orphan = trickle(&[
        "c2id",
        "seed",
        "--authorizations",
        "5",
        "--out",
        dir.path().join("x.json").to_str().unwrap(),
    ]);
    assert_eq!(orphan.status.code(), Some(2), "{}", stderr(&orphan));
    assert!(!dir.path().join("x.json").exists(), "nothing written");
}

#[test]
fn help_lists_the_c2id_subcommands() {
    let result = trickle(&["c2id", "--help"]);
    let help = String::from_utf8(result.stdout).unwrap();
    assert!(help.contains("sim") && help.contains("seed"), "{help}");
    let result = trickle(&["c2id", "sim", "--help"]);
    let help = String::from_utf8(result.stdout).unwrap();
    assert!(
        help.contains("--seed")
            && help.contains("--faults-only")
            && help.contains("--context-path"),
        "{help}"
    );
}
