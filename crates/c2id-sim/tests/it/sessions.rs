//! The session store API over real HTTP: the listing keyed by SID, SIDs as
//! the README defines them (equal under equal JWK sets, different under
//! different ones), import with SID-Key, lookups, deletion, refusals.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{send, Env, SESSIONS, SESSIONS_PATH};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trickle_c2id_sim::{Options, Seed};

/// The README's SID formula, written again here: SHA-256 over the sorted,
/// member-sorted private/secret JWKs joined by newlines is the HMAC key.
fn expected_sid(jwks: &Value, key: &str) -> String {
    fn sorted(v: &Value) -> String {
        match v {
            Value::Object(map) => {
                let mut members: Vec<_> = map.iter().collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                let inner: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), sorted(v)))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            other => other.to_string(),
        }
    }
    let private = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    let mut parts: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| private.iter().any(|m| k.get(*m).is_some()))
        .map(sorted)
        .collect();
    parts.sort();
    let secret = Sha256::digest(parts.join("\n").as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(key.as_bytes());
    format!(
        "{key}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn seed_with_jwks(jwks: Value) -> Seed {
    let mut seed = common::seed_json("12.3");
    seed["jwks"] = jwks;
    seed["sessions"] = json!({});
    Seed::from_json(&seed.to_string()).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_is_listed_in_one_object_keyed_by_sid() {
    let env = Env::start("12.3").await;
    let (status, all) = send(env.get(SESSIONS_PATH, SESSIONS)).await;
    assert_eq!(status, StatusCode::OK);
    let jwks = common::example_jwks();
    let alice = expected_sid(&jwks, "aliceKey0001");
    let bob = expected_sid(&jwks, "bobKey0002");
    let mut expected = [alice.clone(), bob.clone()];
    expected.sort();
    let listed: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(listed, expected.iter().collect::<Vec<_>>());
    assert_eq!(
        all[&alice],
        json!({"sub": "alice", "auth_time": 1700000000, "creation_time": 1700000000, "max_idle": 15, "data": {"x": 1}})
    );
    // One by SID header, one subject's, and misses.
    let (status, one) = send(env.get(SESSIONS_PATH, SESSIONS).header("SID", &bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["sub"], "bob");
    let (status, _) = send(env.get(SESSIONS_PATH, SESSIONS).header("SID", "nope.nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, of_alice) = send(env.get(&format!("{SESSIONS_PATH}?subject=alice"), SESSIONS)).await;
    assert_eq!(
        of_alice.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&alice]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sid_key_recreates_the_same_sid_only_under_the_same_keys() {
    let source = Env::start("12.3").await;
    let same_keys =
        Env::with_seed(seed_with_jwks(common::example_jwks()), Options::default()).await;
    let other_keys = Env::with_seed(seed_with_jwks(common::other_jwks()), Options::default()).await;
    let (_, exported) = send(source.get(SESSIONS_PATH, SESSIONS)).await;
    for (sid, session) in exported.as_object().unwrap() {
        let key = sid.split_once('.').unwrap().0;
        let (status, created) = send(
            same_keys
                .post(SESSIONS_PATH, SESSIONS, session)
                .header("SID-Key", key),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["sid"], sid.as_str(), "same JWK set, same SID");
        let (status, elsewhere) = send(
            other_keys
                .post(SESSIONS_PATH, SESSIONS, session)
                .header("SID-Key", key),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let elsewhere = elsewhere["sid"].as_str().unwrap();
        assert_ne!(elsewhere, sid, "another JWK set, another SID");
        assert!(elsewhere.starts_with(&format!("{key}.")));
        assert_eq!(elsewhere, expected_sid(&common::other_jwks(), key));
    }
    let (_, copied) = send(same_keys.get(SESSIONS_PATH, SESSIONS)).await;
    assert_eq!(copied, exported, "every session, as exported");
    // Posting again replaces (a re-run is idempotent).
    let (sid, session) = exported.as_object().unwrap().iter().next().unwrap();
    let key = sid.split_once('.').unwrap().0;
    send(
        same_keys
            .post(SESSIONS_PATH, SESSIONS, session)
            .header("SID-Key", key),
    )
    .await;
    let (_, again) = send(same_keys.get(SESSIONS_PATH, SESSIONS)).await;
    assert_eq!(again, exported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sessions_get_new_keys_and_bad_ones_are_refused() {
    let env = Env::start("12.3").await;
    let (status, created) = send(env.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "zoe"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let sid = created["sid"].as_str().unwrap().to_owned();
    let key = sid.split_once('.').unwrap().0;
    assert_eq!(key.len(), 32);
    assert_eq!(sid, expected_sid(&common::example_jwks(), key));
    let (_, stored) = send(env.get(SESSIONS_PATH, SESSIONS).header("SID", &sid)).await;
    assert!(stored["creation_time"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(stored["auth_time"], stored["creation_time"]);
    for (body, key) in [
        (json!({}), None),
        (json!({"sub": 5}), None),
        (json!({"sub": "a", "max_life": "long"}), None),
        (json!({"sub": "a"}), Some("has.dot")),
        (json!({"sub": "a"}), Some("spaces are bad")),
    ] {
        let mut request = env.post(SESSIONS_PATH, SESSIONS, &body);
        if let Some(key) = key {
            request = request.header("SID-Key", key);
        }
        let (status, answer) = send(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} {key:?}");
        assert_eq!(answer["error"], "invalid_request");
    }
    let delete = |sid: Option<&str>| {
        let request = env
            .http
            .delete(env.url(SESSIONS_PATH))
            .bearer_auth(SESSIONS);
        match sid {
            Some(sid) => request.header("SID", sid),
            None => request,
        }
        .send()
    };
    assert_eq!(
        delete(Some(&sid)).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(Some(&sid)).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(None).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // A server before 6.6 does not take SID-Key: a new key.
    let old = Env::start("6.5").await;
    let (_, created) = send(
        old.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "a"}))
            .header("SID-Key", "myKey"),
    )
    .await;
    assert!(!created["sid"].as_str().unwrap().starts_with("myKey."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_whose_sids_were_made_with_other_keys_is_refused() {
    let foreign = expected_sid(&common::other_jwks(), "someKey");
    let mut seed = common::seed_json("12.3");
    seed["sessions"] = json!({ &foreign: {"sub": "x"} });
    let error = Seed::from_json(&seed.to_string())
        .expect_err("refused")
        .to_string();
    assert!(error.contains("not made with this JWK set"), "{error}");
    assert!(!error.contains(&foreign), "never the SID itself: {error}");
    let ours = expected_sid(&common::example_jwks(), "someKey");
    seed["sessions"] = json!({ &ours: {"sub": "x"} });
    let seed = Seed::from_json(&seed.to_string()).expect("made with the seed's keys");
    assert_eq!(seed.counts().2, 1);
}
