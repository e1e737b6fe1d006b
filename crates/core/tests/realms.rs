//! Users of realms other than a database connection, as Auth0 shows them:
//! an AD/LDAP connection's user is `ad|<connection>|<id>` with an identity
//! of provider `ad` whose id is `<connection>|<id>`. Login (by id), get_user
//! (by email) and bulk import must give them one id, from that identity.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

use serde_json::{json, Value};
use trickle_core::{decide, decide_by_email, import_profile, Policy, SourceUser, Verdict};

const REALM: &str = "corp-ad";

fn ad_user() -> Value {
    json!({
        "user_id": "ad|corp-ad|jdoe",
        "email": "John.Doe@Corp.Example",
        "name": "John Doe",
        "identities": [{"provider": "ad", "connection": REALM, "user_id": "corp-ad|jdoe", "isSocial": false}],
        "app_metadata": {"department": "Finance"},
    })
}

fn user(value: Value) -> SourceUser<Value> {
    serde_json::from_value(value).unwrap()
}

fn migrated(verdict: Verdict<Value>) -> (String, Option<String>) {
    match verdict {
        Verdict::Migrate {
            profile,
            source_user_id,
        } => (profile.user_id, source_user_id),
        other => panic!("not migrated: {}", other.kind()),
    }
}

#[test]
fn an_ad_user_gets_the_identity_s_id_by_every_path_and_is_marked_by_its_own() {
    let policy = Policy::default();
    let by_id = migrated(decide(user(ad_user()), REALM, &policy).unwrap());
    assert_eq!(
        by_id,
        (
            "corp-ad|jdoe".to_owned(),
            Some("ad|corp-ad|jdoe".to_owned())
        )
    );
    let database_twin = json!({
        "user_id": "auth0|99", "email": "john.doe@corp.example",
        "identities": [{"provider": "auth0", "connection": "Username-Password-Authentication", "user_id": "99"}],
    });
    let candidates = vec![user(database_twin), user(ad_user())];
    let by_email =
        migrated(decide_by_email(candidates, "JOHN.DOE@corp.example", REALM, &policy).unwrap());
    assert_eq!(by_email, by_id);
    let bulk = import_profile(user(ad_user()), REALM, &policy).unwrap();
    assert_eq!(bulk.user_id, by_id.0);
}

#[test]
fn the_identity_s_id_is_kept_whole_with_no_prefix_added_or_stripped() {
    let policy = Policy::default();
    for (identity_id, expected) in [("corp-ad|auth0|svc", "corp-ad|auth0|svc"), ("jdoe", "jdoe")] {
        let mut value = ad_user();
        value["identities"][0]["user_id"] = json!(identity_id);
        let (id, _) = migrated(decide(user(value), REALM, &policy).unwrap());
        assert_eq!(id, expected, "the identity's id is the raw id, kept whole");
    }
}
