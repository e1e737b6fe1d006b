//! The requests a cut-over sync makes, as the Connect2id docs describe
//! them: updating one session (`PUT` with the `SID` header), reading one
//! without refreshing its last-used time (`skip_last_used_update`, 15.3),
//! logging out one session or all of a subject's, revoking authorisations
//! (`POST …/revocation`, `quiet=true` from 12.17), and RFC 7592 client
//! updates (full replacement, `client_id` required, credentials kept).

use crate::common;

use common::{send, Env, AUTHZ, AUTHZ_V2, AUTHZ_V3, MASTER, SESSIONS, SESSIONS_PATH};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use trickle_c2id_sim::Options;

const REVOCATION_V3: &str = "/authz-store/rest/v3/revocation";
const REVOCATION_V2: &str = "/authz-store/rest/v2/revocation";

fn sid_of(env: &Env, sub: &str) -> String {
    let state = env.sim.state();
    state
        .sessions
        .iter()
        .find(|(_, session)| session["sub"] == sub)
        .map(|(sid, _)| sid.clone())
        .unwrap_or_else(|| panic!("a session of {sub}"))
}

fn put_session(env: &Env, sid: Option<&str>, body: &Value) -> RequestBuilder {
    let request = env
        .http
        .put(env.url(SESSIONS_PATH))
        .bearer_auth(SESSIONS)
        .json(body);
    match sid {
        Some(sid) => request.header("SID", sid),
        None => request,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_updated_in_place_under_its_sid() {
    let env = Env::start("12.3").await;
    let sid = sid_of(&env, "alice");
    let update = json!({"sub": "alice", "max_idle": 30, "data": {"theme": "dark"}, "ctx": "web"});
    let (status, shown) = send(put_session(&env, Some(&sid), &update)).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    // The whole object is replaced; the server's times stay when omitted.
    let expected = json!({"sub": "alice", "max_idle": 30, "data": {"theme": "dark"}, "ctx": "web",
                          "auth_time": 1700000000, "creation_time": 1700000000});
    assert_eq!(shown, expected);
    assert_eq!(env.sim.state().sessions[&sid], expected);
    assert_eq!(env.sim.state().sessions.len(), 2, "updated, not added");

    let (status, body) = send(put_session(&env, Some(&sid), &json!({"sub": "mallory"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    let unknown = format!("{}x", &sid[..sid.len() - 1]);
    let (status, body) = send(put_session(&env, Some(&unknown), &update)).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    let (status, _) = send(put_session(&env, None, &update)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(put_session(
        &env,
        Some(&sid),
        &json!({"sub": "alice", "max_idle": "x"}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        env.sim.state().sessions[&sid],
        expected,
        "refused updates change nothing"
    );
    let stats = env.sim.stats().requests;
    assert_eq!(stats.session_update, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_one_session_refreshes_it_unless_asked_not_to_from_15_3() {
    for (version, skipped_reads_refresh) in [("15.3", false), ("15.2", true)] {
        let env = Env::start(version).await;
        let sid = sid_of(&env, "bob");
        let read = |query: &str| {
            env.http
                .get(env.url(&format!("{SESSIONS_PATH}{query}")))
                .bearer_auth(SESSIONS)
                .header("SID", &sid)
        };
        let (status, session) = send(read("?skip_last_used_update=true")).await;
        assert_eq!((status, &session["sub"]), (StatusCode::OK, &json!("bob")));
        let after_skip = env.sim.stats().session_last_used_updates;
        assert_eq!(after_skip, u64::from(skipped_reads_refresh), "{version}");
        send(read("")).await;
        send(read("?skip_last_used_update=false")).await;
        let stats = env.sim.stats();
        assert_eq!(stats.session_last_used_updates, after_skip + 2, "{version}");
        assert_eq!(stats.requests.session_read, 3);
        // A listing is not a use of any session.
        send(env.get(SESSIONS_PATH, SESSIONS)).await;
        send(env.get(&format!("{SESSIONS_PATH}?subject=bob"), SESSIONS)).await;
        let stats = env.sim.stats();
        assert_eq!(stats.session_last_used_updates, after_skip + 2);
        assert_eq!(stats.requests.sessions_list, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_is_logged_out_of_one_or_all_sessions() {
    let env = Env::start("12.3").await;
    for key in ["aliceKey0003", "aliceKey0004"] {
        let (status, _) = send(
            env.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "alice"}))
                .header("SID-Key", key),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let delete = || {
        env.http
            .delete(env.url(SESSIONS_PATH))
            .bearer_auth(SESSIONS)
    };
    let one = sid_of(&env, "alice");
    let response = delete().header("SID", &one).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!env.sim.state().sessions.contains_key(&one));
    assert_eq!(env.sim.state().sessions.len(), 3);

    let everywhere = |subject: &str| {
        env.http
            .delete(env.url(&format!("{SESSIONS_PATH}?subject={subject}")))
            .bearer_auth(SESSIONS)
    };
    let response = everywhere("alice").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let left = env.sim.state().sessions;
    assert_eq!(left.len(), 1);
    assert!(left.values().all(|s| s["sub"] == "bob"));
    // Nobody left to log out: still done, nothing else touched.
    let response = everywhere("alice").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(env.sim.state().sessions.len(), 1);

    let (status, _) = send(everywhere("bob").header("SID", &sid_of(&env, "bob"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "SID and subject together");
    let (status, _) = send(delete()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "neither");
    assert_eq!(env.sim.state().sessions.len(), 1);
}

fn revoke(env: &Env, path: &str, form: &[(&str, &str)]) -> RequestBuilder {
    revoke_with(env, AUTHZ, path, form)
}

fn revoke_with(env: &Env, token: &str, path: &str, form: &[(&str, &str)]) -> RequestBuilder {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    env.http
        .post(env.url(path))
        .bearer_auth(token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

fn pairs(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|a| {
            (
                a["sub"].as_str().unwrap().into(),
                a["cid"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pair(sub: &str, cid: &str) -> (String, String) {
    (sub.to_owned(), cid.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_removes_a_subjects_a_clients_or_one_pairs_authorisations() {
    let env = Env::start("12.17").await;
    let (status, removed) = send(revoke(
        &env,
        REVOCATION_V3,
        &[("subject", "alice"), ("client_id", "spa")],
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pairs(&removed), [pair("alice", "spa")]);
    assert_eq!(
        removed[0]["iat"], 1700000001,
        "the removed record as it was"
    );

    let (status, removed) = send(revoke(&env, REVOCATION_V3, &[("client_id", "webapp")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pairs(&removed),
        [pair("alice", "webapp"), pair("bob", "webapp")]
    );
    let (_, listed) = send(env.get(AUTHZ_V3, AUTHZ)).await;
    assert_eq!(listed, json!([]));
    // Nothing matches: an empty array, not an error.
    let (status, removed) = send(revoke(&env, REVOCATION_V3, &[("subject", "alice")])).await;
    assert_eq!((status, removed), (StatusCode::OK, json!([])));

    let (status, body) = send(revoke(&env, REVOCATION_V3, &[])).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_request"))
    );
    assert_eq!(env.sim.stats().requests.authz_v3_revoke, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_revocation_answers_204_from_12_17_and_v2_revokes_too() {
    let env = Env::start("12.17").await;
    let quiet = format!("{REVOCATION_V3}?quiet=true");
    let response = revoke(&env, &quiet, &[("subject", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        pairs(&send(env.get(AUTHZ_V3, AUTHZ)).await.1),
        [pair("bob", "webapp")]
    );
    let (status, removed) = send(revoke(&env, REVOCATION_V2, &[("subject", "bob")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pairs(&removed), [pair("bob", "webapp")]);
    assert_eq!(env.sim.stats().requests.authz_v2_revoke, 1);

    // Before 12.17 quiet=true is not known: the removed records come back.
    let older = Env::start("12.16").await;
    let (status, removed) = send(revoke(&older, &quiet, &[("subject", "bob")])).await;
    assert_eq!(
        (status, pairs(&removed)),
        (StatusCode::OK, vec![pair("bob", "webapp")])
    );
    // v3 (and its revocation) from 10.0 only; v2's is always there.
    let v9 = Env::start("9.5").await;
    let (status, _) = revoke(&v9, REVOCATION_V3, &[("subject", "bob")])
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, removed) = send(revoke(&v9, REVOCATION_V2, &[("subject", "bob")])).await;
    assert_eq!(
        (status, pairs(&removed)),
        (StatusCode::OK, vec![pair("bob", "webapp")])
    );
    let (status, _) = send(revoke_with(
        &v9,
        MASTER,
        REVOCATION_V2,
        &[("subject", "bob")],
    ))
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the authz store's token only"
    );
    assert_eq!(
        send(older.get(AUTHZ_V2, AUTHZ))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn put_client(env: &Env, id: &str, token: &str, body: &Value) -> RequestBuilder {
    env.http
        .put(env.url(&format!("/clients/{id}")))
        .bearer_auth(token)
        .json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_update_replaces_its_metadata_and_keeps_its_credentials() {
    let env = Env::start("12.3").await;
    let (_, before) = send(env.get("/clients/webapp", MASTER)).await;
    // RFC 7592: the body carries client_id; omitted metadata is removed.
    let (status, body) = send(put_client(
        &env,
        "webapp",
        MASTER,
        &json!({"redirect_uris": ["https://new.example.com/cb"]}),
    ))
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_client_metadata"))
    );
    let update = json!({"client_id": "webapp", "redirect_uris": ["https://new.example.com/cb"],
                        "registration_access_token": "ignored", "client_id_issued_at": 1});
    let (status, after) = send(put_client(&env, "webapp", MASTER, &update)).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        after["redirect_uris"],
        json!(["https://new.example.com/cb"])
    );
    assert!(after.get("client_name").is_none(), "omitted: removed");
    assert_eq!(
        after["grant_types"],
        json!(["authorization_code"]),
        "defaults again"
    );
    for kept in [
        "client_id",
        "client_secret",
        "client_id_issued_at",
        "registration_access_token",
        "registration_client_uri",
    ] {
        assert_eq!(after[kept], before[kept], "{kept}");
    }
    assert_eq!(send(env.get("/clients/webapp", MASTER)).await.1, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_token_can_be_rotated_on_update() {
    let options = Options {
        rotate_registration_token_on_update: true,
        ..Options::default()
    };
    let env = Env::with_seed(common::seed("12.3"), options).await;
    let update = json!({"client_id": "webapp", "redirect_uris": ["https://app.example.com/cb"]});
    let (status, after) = send(put_client(&env, "webapp", "webapp-rat", &update)).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = after["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, "webapp-rat");
    assert_eq!(after["client_secret"], "webapp-secret", "the secret stays");
    let (status, _) = send(env.get("/clients/webapp", "webapp-rat")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old token is gone");
    let (status, shown) = send(env.get("/clients/webapp", &rotated)).await;
    assert_eq!(
        (status, &shown["registration_access_token"]),
        (StatusCode::OK, &json!(rotated))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_and_v3_list_by_subject_and_client_over_one_store() {
    let env = Env::start("12.3").await;
    for base in [AUTHZ_V3, AUTHZ_V2] {
        let (_, alice) = send(env.get(&format!("{base}?subject=alice"), AUTHZ)).await;
        assert_eq!(
            pairs(&alice),
            [pair("alice", "spa"), pair("alice", "webapp")]
        );
        let (_, webapp) = send(env.get(&format!("{base}?client=webapp"), AUTHZ)).await;
        assert_eq!(
            pairs(&webapp),
            [pair("alice", "webapp"), pair("bob", "webapp")]
        );
    }
}
