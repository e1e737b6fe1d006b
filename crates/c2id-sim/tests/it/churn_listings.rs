//! Listings stay whole while the store churns under them: every streamed
//! listing (clients, authorisations, sessions, `/__sim/state`) is valid
//! JSON, with no torn record and no key twice, in key order, though
//! records are revoked, edited, deleted and added between its chunks.

use crate::common;

use std::fmt;

use common::{Env, AUTHZ, AUTHZ_V3, MASTER, SESSIONS, SESSIONS_PATH};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};
use trickle_c2id_sim::{ChurnRates, Generate, Options};

/// An object's entries in order, duplicates kept (a map would hide them).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct Collect;
        impl<'de> Visitor<'de> for Collect {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Collect)
    }
}

/// `/__sim/state`; a field twice is an error too (serde refuses it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[allow(dead_code)]
    version: String,
    #[allow(dead_code)]
    issuer: String,
    clients: Vec<Value>,
    authorizations: Vec<Value>,
    sessions: Entries,
}

fn strictly_ascending<K: Ord + fmt::Debug>(what: &str, keys: &[K]) {
    if let Some(pair) = keys.windows(2).find(|w| w[0] >= w[1]) {
        panic!(
            "{what}: {:?} then {:?} (a key twice or out of order)",
            pair[0], pair[1]
        );
    }
}

fn check_clients(clients: &[Value]) -> usize {
    let ids: Vec<&str> = clients
        .iter()
        .map(|c| {
            assert!(
                c["registration_client_uri"].is_string() && c["redirect_uris"].is_array(),
                "{c}"
            );
            c["client_id"].as_str().expect("client_id")
        })
        .collect();
    strictly_ascending("clients", &ids);
    ids.len()
}

fn check_authorizations(authorizations: &[Value]) -> usize {
    let keys: Vec<(&str, &str)> = authorizations
        .iter()
        .map(|a| {
            assert!(a["scp"].is_array(), "{a}");
            (
                a["sub"].as_str().expect("sub"),
                a["cid"].as_str().expect("cid"),
            )
        })
        .collect();
    strictly_ascending("authorizations", &keys);
    keys.len()
}

fn check_sessions(sessions: &Entries) -> usize {
    let sids: Vec<&str> = sessions
        .0
        .iter()
        .map(|(sid, s)| {
            assert!(s["sub"].is_string() && s["creation_time"].is_u64(), "{s}");
            sid.as_str()
        })
        .collect();
    strictly_ascending("sessions", &sids);
    sids.len()
}

/// Reads a listing chunk by chunk, making a batch of changes after every
/// few chunks (on top of the churn running at its rates); returns the body
/// and how many changes were made while it streamed.
async fn read_while_changing(env: &Env, request: RequestBuilder) -> (String, u64) {
    let mut response = request.send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.content_length().is_none(), "streamed, not sized");
    let before = env.sim.churn().done;
    let mut body = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = response.chunk().await.expect("a whole answer") {
        body.extend_from_slice(&chunk);
        chunks += 1;
        if chunks % 4 == 1 {
            let batch = json!({"revoke_authz": 10, "edit_authz": 10, "logout": 10,
                               "edit_sessions": 10, "edit_clients": 5, "delete_clients": 1, "add": 15});
            let applied = env
                .http
                .post(env.control("/__sim/churn/apply"))
                .json(&batch)
                .send()
                .await;
            assert_eq!(applied.expect("answered").status(), StatusCode::OK);
        }
    }
    let after = env.sim.churn().done;
    let changes = |d: &trickle_c2id_sim::ChurnDone| {
        d.revoked_authz
            + d.edited_authz
            + d.logged_out
            + d.edited_sessions
            + d.edited_clients
            + d.deleted_clients
            + d.added_clients
            + d.added_authz
            + d.added_sessions
    };
    (
        String::from_utf8(body).expect("UTF-8"),
        changes(&after) - changes(&before),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_stay_whole_while_the_store_churns() {
    let spec = Generate {
        clients: 600,
        authorizations: 8_000,
        sessions: 8_000,
        ..Generate::default()
    };
    let options = Options {
        churn: ChurnRates {
            revoke_authz: 50.0,
            edit_authz: 50.0,
            logout: 50.0,
            edit_sessions: 50.0,
            edit_clients: 10.0,
            delete_clients: 2.0,
            add: 50.0,
        },
        churn_seed: 17,
        ..Options::default()
    };
    let env = Env::with_seed(spec.seed().expect("valid"), options).await;
    for round in 0..2 {
        let (text, changes) = read_while_changing(&env, env.get("/clients", MASTER)).await;
        let clients: Vec<Value> = serde_json::from_str(&text).expect("whole JSON");
        assert!(check_clients(&clients) > 500, "round {round}");
        assert!(changes > 0, "the store changed while the clients streamed");

        let (text, changes) = read_while_changing(&env, env.get(AUTHZ_V3, AUTHZ)).await;
        let authorizations: Vec<Value> = serde_json::from_str(&text).expect("whole JSON");
        assert!(check_authorizations(&authorizations) > 7_000);
        assert!(
            changes > 100,
            "{changes} changes while the authorisations streamed"
        );

        let (text, changes) = read_while_changing(&env, env.get(SESSIONS_PATH, SESSIONS)).await;
        let sessions: Entries = serde_json::from_str(&text).expect("whole JSON");
        assert!(check_sessions(&sessions) > 7_000);
        assert!(
            changes > 100,
            "{changes} changes while the sessions streamed"
        );

        let state = env.http.get(env.control("/__sim/state"));
        let (text, changes) = read_while_changing(&env, state).await;
        let state: State = serde_json::from_str(&text).expect("whole JSON, each field once");
        check_clients(&state.clients);
        check_authorizations(&state.authorizations);
        check_sessions(&state.sessions);
        assert!(changes > 50);
    }
    env.sim.set_churn(ChurnRates::default()).unwrap();
    let done = env.sim.churn().done;
    assert!(done.deleted_clients > 0 && done.added_sessions > 0 && done.logged_out > 0);
}
