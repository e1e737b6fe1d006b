//! `trickle c2id sim`'s and `trickle c2id seed`'s own flags as a user meets
//! them: help that describes the Connect2id emulator (not the Auth0 one),
//! live churn from the command line, and seeds whose web API tokens are
//! said, not silently shared.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::emulator::Emulator;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
const EXAMPLE_TOKENS: [&str; 3] = [
    trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN,
    trickle_c2id_sim::AUTHZ_STORE_TOKEN,
    trickle_c2id_sim::SESSION_STORE_TOKEN,
];

fn trickle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(args)
        .output()
        .expect("trickle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn c2id_sim_help_describes_the_connect2id_emulator() {
    let help = text(&trickle(&["c2id", "sim", "--help"]).stdout);
    for expected in [
        "Connect2id server",
        "session store API v2",
        "--churn-logout",
        "--churn-seed",
        "--rotate-registration-token-on-update",
        "POST /c2id/session-store/",
        "The issuer, the registration endpoint and the JWKS URL are then https://",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
    for auth0 in ["Management API", "/api/v2/users", "audience"] {
        assert!(!help.contains(auth0), "Auth0's {auth0:?} in:\n{help}");
    }
    // The Auth0 emulator keeps its own words.
    let auth0 = text(&trickle(&["sim", "--help"]).stdout);
    assert!(auth0.contains("\"PATCH /api/v2/users/\""), "{auth0}");
    assert!(
        auth0.contains("(and the Management API audience) name it"),
        "{auth0}"
    );
    assert!(!auth0.contains("churn"), "{auth0}");
}

#[test]
fn c2id_seed_help_describes_every_flag() {
    let help = text(&trickle(&["c2id", "seed", "-h"]).stdout);
    for flag in [
        "--clients <N>",
        "--authorizations <N>",
        "--sessions <N>",
        "--random-seed <N>",
        "--tokens <TOKENS>",
        "--tokens-from <FILE>",
    ] {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        let described = line.trim_start()[flag.len()..].trim();
        assert!(described.len() > 10, "{flag} has no description: {line:?}");
    }
    let long = text(&trickle(&["c2id", "seed", "--help"]).stdout);
    assert!(long.contains("EXAMPLE tokens"), "{long}");
}

fn seed_file(dir: &Path, name: &str, extra: &[&str]) -> (Value, String) {
    let out = dir.join(name);
    let mut args = vec!["c2id", "seed", "--clients", "2"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let result = trickle(&args);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let seed = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    (seed, text(&result.stderr))
}

fn tokens_of(seed: &Value) -> Vec<String> {
    ["client_registration", "authz_store", "session_store"]
        .iter()
        .map(|api| {
            seed["api_tokens"][api]
                .as_str()
                .expect("a token")
                .to_owned()
        })
        .collect()
}

#[test]
fn seeds_say_whose_tokens_they_carry() {
    let dir = tempfile::tempdir().unwrap();
    let (example, said) = seed_file(dir.path(), "example.json", &[]);
    assert_eq!(tokens_of(&example), EXAMPLE_TOKENS);
    assert!(said.contains("the EXAMPLE web API tokens"), "{said}");

    let (own, said) = seed_file(dir.path(), "own.json", &["--tokens", "random"]);
    let own_tokens = tokens_of(&own);
    assert!(own_tokens
        .iter()
        .all(|t| t.len() == 40 && !EXAMPLE_TOKENS.contains(&t.as_str())));
    assert!(said.contains("tokens of its own"), "{said}");
    let (again, _) = seed_file(dir.path(), "again.json", &["--tokens", "random"]);
    assert_eq!(
        tokens_of(&again),
        own_tokens,
        "the same --random-seed, the same file"
    );
    let (other, _) = seed_file(
        dir.path(),
        "other.json",
        &["--tokens", "random", "--random-seed", "2"],
    );
    assert_ne!(tokens_of(&other), own_tokens);

    let target = format!("{EXAMPLES}/c2id-target-empty.json");
    let (copied, said) = seed_file(dir.path(), "copied.json", &["--tokens-from", &target]);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(copied["api_tokens"], expected["api_tokens"]);
    assert!(said.contains("c2id-target-empty.json"), "{said}");
    for seed_said in [&said] {
        for token in own_tokens.iter().map(String::as_str).chain(EXAMPLE_TOKENS) {
            assert!(!seed_said.contains(token), "a token printed");
        }
    }

    let both = trickle(&[
        "c2id",
        "seed",
        "--tokens",
        "random",
        "--tokens-from",
        &target,
        "--out",
        dir.path().join("x.json").to_str().unwrap(),
    ]);
    assert_eq!(both.status.code(), Some(2));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"api_tokens": {"session_store": "short"}}"#).unwrap();
    let refused = trickle(&[
        "c2id",
        "seed",
        "--tokens-from",
        bad.to_str().unwrap(),
        "--out",
        dir.path().join("y.json").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("at least 32"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!dir.path().join("y.json").exists(), "nothing written");
}

/// `trickle c2id sim` with `args`.
fn start_c2id_sim(args: &[&str]) -> Emulator {
    Emulator::start("trickle c2id sim", &[&["c2id", "sim"][..], args].concat())
}

#[test]
fn churn_flags_start_a_live_source() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = seed_file(dir.path(), "seed.json", &["--sessions", "300"]);
    let seed = dir.path().join("seed.json");
    let sim = start_c2id_sim(&[
        "--seed",
        seed.to_str().unwrap(),
        "--churn-logout",
        "40",
        "--churn-add",
        "0.5",
        "--churn-seed",
        "4",
    ]);
    let status = sim.get_json("/__sim/churn");
    assert_eq!(status["rates"]["logout"], 40.0);
    assert_eq!(status["rates"]["add"], 0.5);
    assert_eq!(status["seed"], 4);
    let deadline = Instant::now() + Duration::from_secs(20);
    let logged_out = loop {
        let done = sim.get_json("/__sim/churn")["done"]["logged_out"]
            .as_u64()
            .unwrap();
        if done >= 5 {
            break done;
        }
        assert!(Instant::now() < deadline, "no churn");
        std::thread::sleep(Duration::from_millis(20));
    };
    let left = sim.get_json("/__sim/sessions").as_object().unwrap().len() as u64;
    assert!(
        left <= 300 - logged_out + 1,
        "{left} sessions left after {logged_out} logouts"
    );

    let bad = trickle(&[
        "c2id",
        "sim",
        "--seed",
        seed.to_str().unwrap(),
        "--churn-logout=-1",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("logout"),
        "{}",
        text(&bad.stderr)
    );
}
