//! A config value of the wrong kind (the ones serde refuses before the
//! generator's own checks run) is named by its key as well as its line.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

use trickle_generator::parse_config;

const MINIMAL: &str =
    "[connection]\nname = \"old-tenant-import\"\n[source]\nrealm = \"Username-Password-Authentication\"\n";

#[test]
fn a_value_of_the_wrong_kind_names_its_key_and_line() {
    for (tail, key) in [
        ("[migration]\nmfa = \"maybe\"\n", "migration.mfa"),
        ("[http]\ntimeout_ms = \"fast\"\n", "http.timeout_ms"),
        ("[action]\nruntime = \"node99\"\n", "action.runtime"),
        (
            "[migration]\nskip_marked = \"yes\"\n",
            "migration.skip_marked",
        ),
        // An unknown key: its table (the message names the key itself).
        ("[migration]\nmark_migrate = true\n", "migration"),
    ] {
        let error = parse_config(&format!("{MINIMAL}{tail}")).unwrap_err();
        assert_eq!(
            (error.key.as_deref(), error.line),
            (Some(key), Some(6)),
            "{error}"
        );
        assert!(
            error.to_string().starts_with(&format!("line 6: {key}: ")),
            "{error}"
        );
    }
}

#[test]
fn toml_that_does_not_parse_still_names_the_line() {
    let error = parse_config(&format!("{MINIMAL}[http\n")).unwrap_err();
    assert_eq!(error.line, Some(5), "{error}");
}
