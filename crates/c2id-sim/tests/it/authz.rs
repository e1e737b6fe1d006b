//! The authorisation store API over real HTTP: v3 and v2 by server
//! version, listing and lookups, import keeping records as given,
//! replacement per subject and client, deletion, and every refusal.

use crate::common;

use common::{send, Env, AUTHZ, AUTHZ_V2, AUTHZ_V3};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn subjects(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|a| {
            (
                a["sub"].as_str().unwrap().to_owned(),
                a["cid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(s, c)| (s.to_string(), c.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_lists_and_finds_long_lived_authorisations() {
    let env = Env::start("12.3").await;
    let (status, all) = send(env.get(AUTHZ_V3, AUTHZ)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        subjects(&all),
        pairs(&[("alice", "spa"), ("alice", "webapp"), ("bob", "webapp")])
    );
    assert_eq!(all[1]["rft"], "alice-refresh", "kept as seeded");
    let (_, alice) = send(env.get(&format!("{AUTHZ_V3}?subject=alice"), AUTHZ)).await;
    assert_eq!(
        subjects(&alice),
        pairs(&[("alice", "spa"), ("alice", "webapp")])
    );
    let (_, webapp) = send(env.get(&format!("{AUTHZ_V3}?client=webapp"), AUTHZ)).await;
    assert_eq!(
        subjects(&webapp),
        pairs(&[("alice", "webapp"), ("bob", "webapp")])
    );
    let (_, nobody) = send(env.get(&format!("{AUTHZ_V3}?subject=nobody"), AUTHZ)).await;
    assert_eq!(nobody, json!([]));
    let (status, one) =
        send(env.get(&format!("{AUTHZ_V3}?subject=bob&client=webapp"), AUTHZ)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["iat"], 1700000002);
    let (status, body) = send(env.get(&format!("{AUTHZ_V3}?subject=bob&client=spa"), AUTHZ)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_selects_v3_and_v2() {
    // From 10.0 both are served, over the same store.
    let new = Env::start("10.0").await;
    let (status, v3) = send(new.get(AUTHZ_V3, AUTHZ)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v2) = send(new.get(AUTHZ_V2, AUTHZ)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2, v3);
    let stats = new.sim.stats();
    assert_eq!(
        (stats.requests.authz_v3_list, stats.requests.authz_v2_list),
        (1, 1)
    );
    // Before 10.0 there is no v3.
    let old = Env::start("9.5").await;
    let missing = old.get(AUTHZ_V3, AUTHZ).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let (status, v2) = send(old.get(AUTHZ_V2, AUTHZ)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v2.as_array().unwrap().len(), 3);
    let posted = old
        .post(
            &format!("{AUTHZ_V3}?import=true"),
            AUTHZ,
            &json!({"sub": "x", "cid": "spa"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keeps_what_the_source_issued_and_replaces_per_pair() {
    let env = Env::start("12.3").await;
    let exported = json!({"sub": "carol", "cid": "webapp", "scp": ["openid", "offline_access"],
                          "clm": ["email"], "iss": "https://source.example.com", "iat": 1650000000,
                          "lng": true, "rft": "carol-refresh-token", "dat": {"tier": 2}});
    let path = format!("{AUTHZ_V3}?import=true");
    let (status, answer) = send(env.post(&path, AUTHZ, &exported)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, exported);
    let (_, stored) =
        send(env.get(&format!("{AUTHZ_V3}?subject=carol&client=webapp"), AUTHZ)).await;
    assert_eq!(
        stored, exported,
        "identifiers, refresh token and times as given"
    );
    // The same pair again replaces it (a re-run is idempotent).
    let mut changed = exported.clone();
    changed["scp"] = json!(["openid"]);
    send(env.post(&path, AUTHZ, &changed)).await;
    send(env.post(&path, AUTHZ, &changed)).await;
    let (_, all) = send(env.get(AUTHZ_V3, AUTHZ)).await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let (_, stored) =
        send(env.get(&format!("{AUTHZ_V3}?subject=carol&client=webapp"), AUTHZ)).await;
    assert_eq!(stored["scp"], json!(["openid"]));
    // v2 imports the same way.
    let (status, _) = send(env.post(
        &format!("{AUTHZ_V2}?import=true"),
        AUTHZ,
        &json!({"sub": "dave", "cid": "spa", "iat": 5}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.state().await["authorizations"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_import_the_authorisation_is_issued_anew() {
    let env = Env::start("12.3").await;
    let given = json!({"sub": "erin", "cid": "webapp", "scp": ["openid", "email"], "iat": 1, "iss": "https://elsewhere"});
    let (status, answer) = send(env.post(AUTHZ_V3, AUTHZ, &given)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["code"].as_str().is_some_and(|c| c.len() >= 32),
        "{answer}"
    );
    let (_, stored) = send(env.get(&format!("{AUTHZ_V3}?subject=erin&client=webapp"), AUTHZ)).await;
    assert!(
        stored["iat"].as_u64().unwrap() > 1_700_000_000,
        "issued now"
    );
    assert_eq!(stored["iss"], env.sim.issuer());
    let (_, tokens) = send(env.post(&format!("{AUTHZ_V3}?return=tokens"), AUTHZ, &given)).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid email");
    assert!(tokens["refresh_token"].is_string() && tokens["access_token"].is_string());
    // A server before 6.6 has no import: import=true is not honoured.
    let old = Env::start("6.5").await;
    send(old.post(&format!("{AUTHZ_V2}?import=true"), AUTHZ, &given)).await;
    let (_, stored) = send(old.get(&format!("{AUTHZ_V2}?subject=erin&client=webapp"), AUTHZ)).await;
    assert_ne!(stored["iat"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_authorisations_are_refused_and_deletion_works() {
    let env = Env::start("12.3").await;
    for body in [
        json!({"cid": "webapp"}),
        json!({"sub": "a"}),
        json!({"sub": "a", "cid": "webapp", "scp": "openid"}),
        json!({"sub": "a", "cid": "no-such-client"}),
        json!(["not", "an", "object"]),
    ] {
        let (status, answer) =
            send(env.post(&format!("{AUTHZ_V3}?import=true"), AUTHZ, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], "invalid_request");
    }
    let delete = |query: &str| {
        env.http
            .delete(env.url(&format!("{AUTHZ_V3}{query}")))
            .bearer_auth(AUTHZ)
            .send()
    };
    assert_eq!(
        delete("?subject=bob&client=webapp").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete("?subject=bob&client=webapp").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete("?subject=bob").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let (_, all) = send(env.get(AUTHZ_V3, AUTHZ)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let stats = env.sim.stats();
    assert_eq!(stats.requests.authz_v3_create, 5);
    assert_eq!(stats.requests.authz_v3_delete, 3);
}
