//! `trickle c2id sim` and `trickle c2id seed` as a user runs them: the
//! ready line, the example seeds, generated seeds, exit codes, messages.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::emulator::Emulator;

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

/// `trickle c2id sim` serving `seed`.
fn start_c2id_sim(seed: &Path) -> Emulator {
    Emulator::start(
        "trickle c2id sim",
        &["c2id", "sim", "--seed", seed.to_str().unwrap()],
    )
}

/// A GET: status and body.
fn get(sim: &Emulator, path: &str) -> (u16, String) {
    sim.request("GET", path, None)
}

#[test]
fn the_example_source_serves_its_data_under_its_context_path() {
    let sim = start_c2id_sim(&Path::new(EXAMPLES).join("c2id-source.json"));
    let (status, splash) = get(&sim, "/c2id");
    assert_eq!(status, 200);
    assert!(splash.contains("Connect2id Server 12.3"), "{splash}");
    let (status, body) = get(&sim, "/__sim/state");
    assert_eq!(status, 200);
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["issuer"], format!("{}/c2id", sim.base));
    assert_eq!(state["clients"].as_array().unwrap().len(), 3);
    assert_eq!(state["authorizations"].as_array().unwrap().len(), 4);
    assert_eq!(state["sessions"].as_object().unwrap().len(), 3);
    let (status, _) = get(&sim, "/c2id/clients");
    assert_eq!(status, 401, "no token");
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
    let sim = start_c2id_sim(&out);
    let (_, splash) = get(&sim, "/");
    assert!(splash.contains("Connect2id Server 9.5"), "{splash}");
    let (_, body) = get(&sim, "/__sim/state");
    let state: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["authorizations"].as_array().unwrap().len(), 30);
    let (status, _) = get(&sim, "/authz-store/rest/v3/authorizations");
    assert_eq!(status, 404, "9.5 has no v3");
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
