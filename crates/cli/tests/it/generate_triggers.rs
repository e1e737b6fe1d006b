//! `trickle generate` and an existing `triggers/triggers.json`: deploy-cli
//! replaces a trigger's whole list of bindings with the file's, so a file
//! that binds Actions the config does not list must not be replaced
//! silently (those Actions would be unbound at the next deploy). Refused
//! without --force, nothing written; with --force, replaced and each
//! dropped binding named.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

const ACTION: &str = "old-tenant-import-migration";

fn generate(config: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trickle"))
        .args(["generate", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("trickle runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &Path, flow: &str) -> std::path::PathBuf {
    let path = dir.join("action.toml");
    fs::write(
        &path,
        format!(
            "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n\
             [migration]\nmark_migrated = \"action\"\n[action]\npost_login_flow = {flow}\n"
        ),
    )
    .unwrap();
    path
}

fn triggers(out: &Path) -> Value {
    serde_json::from_slice(&fs::read(out.join("triggers/triggers.json")).unwrap()).unwrap()
}

#[test]
fn bindings_the_config_does_not_list_are_never_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = write_config(dir.path(), &format!("[\"{ACTION}\"]"));
    let first = generate(&config, &out, &[]);
    assert!(first.status.success(), "{}", stderr(&first));

    // The same bindings again: nothing to say.
    let again = generate(&config, &out, &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("triggers.json"),
        "{}",
        stderr(&again)
    );

    // Someone's file binds two other Actions, one on another trigger.
    let theirs = json!({
        "post-login": [
            {"action_name": "Add roles", "display_name": "Add roles"},
            {"action_name": ACTION, "display_name": ACTION}
        ],
        "credentials-exchange": [{"action_name": "Audit M2M", "display_name": "Audit M2M"}]
    });
    let file = out.join("triggers/triggers.json");
    fs::write(&file, serde_json::to_string_pretty(&theirs).unwrap()).unwrap();
    let login = out.join("database-connections/old-tenant-import/login.js");
    fs::write(&login, "// an older login.js").unwrap();
    let refused = generate(&config, &out, &[]);
    let said = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    for word in [
        "Add roles",
        "Audit M2M",
        "credentials-exchange",
        "--force",
        "post_login_flow",
    ] {
        assert!(said.contains(word), "{word:?} not in: {said}");
    }
    assert_eq!(triggers(&out), theirs, "the file was replaced");
    assert_eq!(
        fs::read_to_string(&login).unwrap(),
        "// an older login.js",
        "something was written"
    );

    // --force replaces it, naming what it drops.
    let forced = generate(&config, &out, &["--force"]);
    let said = stderr(&forced);
    assert!(forced.status.success(), "{said}");
    assert!(
        said.contains("Add roles") && said.contains("Audit M2M"),
        "{said}"
    );
    assert_eq!(triggers(&out)["post-login"][0]["action_name"], ACTION);

    // Listed in the config's flow, they are kept, and nothing is said.
    fs::write(&file, serde_json::to_string_pretty(&theirs).unwrap()).unwrap();
    let listed = write_config(dir.path(), &format!("[\"Add roles\", \"{ACTION}\"]"));
    let kept = generate(&listed, &out, &[]);
    let said = stderr(&kept);
    assert_eq!(
        kept.status.code(),
        Some(2),
        "another trigger is still dropped: {said}"
    );
    assert!(!said.contains("Add roles"), "{said}");
    assert!(said.contains("Audit M2M"), "{said}");

    // A file that is not deploy-cli's triggers.json: refused as well.
    fs::write(&file, "{ not json").unwrap();
    let unreadable = generate(&config, &out, &[]);
    assert_eq!(unreadable.status.code(), Some(2), "{}", stderr(&unreadable));
    assert!(
        stderr(&unreadable).contains("--force"),
        "{}",
        stderr(&unreadable)
    );
}
