//! Live churn: a rehearsal's source keeps changing (consents revoked,
//! sessions logged out or edited, clients edited or deleted, records
//! added), at set rates or in one-shot batches, reproducibly from a seed;
//! every change is a real change that the web APIs' listings show.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{send, Env, AUTHZ, AUTHZ_V3, MASTER, SESSIONS, SESSIONS_PATH};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_c2id_sim::{ChurnBatch, ChurnDone, ChurnRates, Generate, Options};

fn generated(clients: usize, authorizations: usize, sessions: usize) -> Generate {
    Generate {
        clients,
        authorizations,
        sessions,
        ..Generate::default()
    }
}

async fn start(spec: &Generate, churn_seed: u64) -> Env {
    let options = Options {
        churn_seed,
        ..Options::default()
    };
    Env::with_seed(spec.seed().expect("a valid seed"), options).await
}

async fn apply(env: &Env, batch: Value) -> (ChurnDone, ChurnDone) {
    let (status, body) = send(
        env.http
            .post(env.control("/__sim/churn/apply"))
            .json(&batch),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let applied = serde_json::from_value(body["applied"].clone()).expect("the counters");
    let done = serde_json::from_value(body["done"].clone()).expect("the counters");
    (applied, done)
}

/// What the web APIs list, keyed.
struct Listed {
    clients: BTreeMap<String, Value>,
    authorizations: BTreeMap<(String, String), Value>,
    sessions: BTreeMap<String, Value>,
}

async fn listed(env: &Env) -> Listed {
    let (_, clients) = send(env.get("/clients", MASTER)).await;
    let (_, authorizations) = send(env.get(AUTHZ_V3, AUTHZ)).await;
    let (_, sessions) = send(env.get(SESSIONS_PATH, SESSIONS)).await;
    let text = |v: &Value, k: &str| v[k].as_str().expect(k).to_owned();
    Listed {
        clients: clients
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (text(c, "client_id"), c.clone()))
            .collect(),
        authorizations: authorizations
            .as_array()
            .unwrap()
            .iter()
            .map(|a| ((text(a, "sub"), text(a, "cid")), a.clone()))
            .collect(),
        sessions: sessions.as_object().unwrap().clone().into_iter().collect(),
    }
}

fn changed<K: Ord + Clone, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> Vec<K> {
    a.iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.clone())
        .collect()
}

fn gone<K: Ord + Clone, V>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> Vec<K> {
    a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_change_is_a_real_change_the_listings_show() {
    let env = start(&generated(20, 200, 100), 7).await;
    let before = listed(&env).await;

    let (applied, _) = apply(&env, json!({"revoke_authz": 3, "logout": 2})).await;
    assert_eq!((applied.revoked_authz, applied.logged_out), (3, 2));
    let after = listed(&env).await;
    assert_eq!(gone(&before.authorizations, &after.authorizations).len(), 3);
    assert_eq!(gone(&before.sessions, &after.sessions).len(), 2);
    assert_eq!(after.authorizations.len(), 197);
    assert_eq!(after.sessions.len(), 98);

    let before = after;
    let (applied, _) = apply(
        &env,
        json!({"edit_clients": 2, "edit_authz": 2, "edit_sessions": 2}),
    )
    .await;
    assert_eq!(
        (
            applied.edited_clients,
            applied.edited_authz,
            applied.edited_sessions
        ),
        (2, 2, 2)
    );
    let after = listed(&env).await;
    let edited = changed(&before.clients, &after.clients);
    assert_eq!(edited.len(), 2, "{edited:?}");
    for id in &edited {
        let (old, new) = (&before.clients[id], &after.clients[id]);
        assert_ne!(old["redirect_uris"], new["redirect_uris"]);
        for kept in [
            "client_secret",
            "registration_access_token",
            "client_id_issued_at",
            "client_name",
        ] {
            assert_eq!(old[kept], new[kept], "{kept}: an edit as PUT makes it");
        }
    }
    let edited = changed(&before.authorizations, &after.authorizations);
    assert_eq!(edited.len(), 2);
    for key in &edited {
        assert_ne!(
            before.authorizations[key]["scp"],
            after.authorizations[key]["scp"]
        );
    }
    let edited = changed(&before.sessions, &after.sessions);
    assert_eq!(edited.len(), 2);
    for sid in &edited {
        let (old, new) = (&before.sessions[sid], &after.sessions[sid]);
        assert_eq!(
            (&old["sub"], &old["auth_time"]),
            (&new["sub"], &new["auth_time"])
        );
        assert_ne!(old["data"], new["data"]);
    }
    assert_eq!(after.clients.len(), 20, "edits add nothing");

    let before = after;
    let (applied, _) = apply(&env, json!({"delete_clients": 1, "add": 6})).await;
    assert_eq!(applied.deleted_clients, 1);
    assert_eq!(
        (
            applied.added_clients,
            applied.added_authz,
            applied.added_sessions
        ),
        (2, 2, 2)
    );
    let after = listed(&env).await;
    let deleted = gone(&before.clients, &after.clients);
    assert_eq!(deleted.len(), 1);
    let orphans = before
        .authorizations
        .keys()
        .filter(|(_, cid)| *cid == deleted[0])
        .count();
    assert!(
        orphans > 0,
        "the generated seed gives every client authorisations"
    );
    assert_eq!(applied.revoked_with_deleted_clients, orphans as u64);
    assert!(after
        .authorizations
        .keys()
        .all(|(_, cid)| after.clients.contains_key(cid)));
    let added: Vec<_> = after
        .clients
        .keys()
        .filter(|id| !before.clients.contains_key(*id))
        .collect();
    assert_eq!(added.len(), 2);
    for id in added {
        let (status, shown) = send(env.get(&format!("/clients/{id}"), MASTER)).await;
        assert_eq!(status, StatusCode::OK, "a registered client");
        assert!(shown["client_secret"].is_string() && shown["redirect_uris"].is_array());
    }
    let new_sessions: Vec<_> = after
        .sessions
        .keys()
        .filter(|sid| !before.sessions.contains_key(*sid))
        .collect();
    assert_eq!(new_sessions.len(), 2);
    for sid in new_sessions {
        let read = env.get(SESSIONS_PATH, SESSIONS).header("SID", sid.as_str());
        assert_eq!(send(read).await.0, StatusCode::OK, "a SID this server made");
    }
    assert_eq!(
        after.authorizations.len(),
        before.authorizations.len() - orphans + 2
    );
    // The API's own counters saw none of it: churn is the server's doing.
    assert_eq!(common::writes(&env.sim.stats().requests), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_skips_what_it_cannot_change() {
    let env = start(&generated(0, 0, 0), 1).await;
    let (applied, done) = apply(
        &env,
        json!({"revoke_authz": 1, "logout": 1, "edit_clients": 1, "delete_clients": 1}),
    )
    .await;
    assert_eq!(applied.skipped, 4);
    assert_eq!(done, applied);
    // Adding starts with a client, so the authorisation has one to belong to.
    let (applied, _) = apply(&env, json!({"add": 3})).await;
    assert_eq!(
        (
            applied.added_clients,
            applied.added_authz,
            applied.added_sessions
        ),
        (1, 1, 1)
    );
    let state = env.sim.state();
    assert_eq!(
        state.authorizations[0]["cid"],
        state.clients[0]["client_id"]
    );
}

/// The listings with the changeable times taken out.
async fn timeless(env: &Env) -> Value {
    let mut state = serde_json::to_value(env.sim.state()).unwrap();
    state.as_object_mut().unwrap().remove("issuer");
    let strip = |v: &mut Value, fields: &[&str]| {
        for f in fields {
            v.as_object_mut().unwrap().remove(*f);
        }
    };
    for c in state["clients"].as_array_mut().unwrap() {
        strip(c, &["client_id_issued_at", "registration_client_uri"]);
    }
    for a in state["authorizations"].as_array_mut().unwrap() {
        strip(a, &["iat", "iss"]);
    }
    for s in state["sessions"].as_object_mut().unwrap().values_mut() {
        strip(s, &["auth_time", "creation_time"]);
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_churn_seed_makes_the_same_changes() {
    let spec = generated(30, 300, 300);
    let batch = json!({"revoke_authz": 5, "edit_authz": 5, "logout": 5, "edit_sessions": 5,
                       "edit_clients": 3, "delete_clients": 2, "add": 9});
    let (a, b, c) = (
        start(&spec, 42).await,
        start(&spec, 42).await,
        start(&spec, 43).await,
    );
    for env in [&a, &b, &c] {
        apply(env, batch.clone()).await;
        apply(env, batch.clone()).await;
    }
    assert_eq!(timeless(&a).await, timeless(&b).await);
    assert_ne!(
        timeless(&a).await,
        timeless(&c).await,
        "another seed, other changes"
    );
    // Re-seeding replays the same changes from the same store.
    let d = start(&spec, 1).await;
    let (status, _) = send(
        d.http
            .put(d.control("/__sim/churn"))
            .json(&json!({"seed": 42})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    apply(&d, batch.clone()).await;
    apply(&d, batch).await;
    assert_eq!(timeless(&d).await, timeless(&a).await);
}

async fn status(env: &Env) -> Value {
    let (status, body) = send(env.http.get(env.control("/__sim/churn"))).await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_change_the_store_every_second_until_stopped() {
    let env = start(&generated(10, 2000, 2000), 3).await;
    let idle = status(&env).await;
    assert_eq!(idle["rates"]["logout"], 0.0);
    assert_eq!(idle["seed"], 3);
    let (code, set) = send(
        env.http
            .post(env.control("/__sim/churn"))
            .json(&json!({"logout": 100, "revoke_authz": 50.5})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{set}");
    assert_eq!(set["rates"]["logout"], 100.0);
    assert_eq!(set["rates"]["edit_clients"], 0.0, "omitted: 0");
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(&env).await["done"]["logged_out"].as_u64().unwrap() < 20 {
        assert!(Instant::now() < deadline, "the churn never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, stopped) = send(env.http.put(env.control("/__sim/churn")).json(&json!({}))).await;
    assert_eq!(code, StatusCode::OK);
    let done = stopped["done"].clone();
    assert!(done["revoked_authz"].as_u64().unwrap() > 0);
    let state = env.sim.state();
    assert_eq!(
        state.sessions.len() as u64,
        2000 - done["logged_out"].as_u64().unwrap()
    );
    assert_eq!(
        state.authorizations.len() as u64,
        2000 - done["revoked_authz"].as_u64().unwrap()
    );
    // Stopped means stopped: three ticks later nothing more has changed.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(status(&env).await["done"], done);
    assert_eq!(env.sim.state().sessions.len(), state.sessions.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_settings_are_checked_and_bad_ones_change_nothing() {
    let env = start(&generated(1, 0, 0), 5).await;
    let rates = ChurnRates {
        edit_clients: 0.5,
        ..ChurnRates::default()
    };
    env.sim.set_churn(rates.clone()).expect("valid");
    for bad in [
        json!({"logout": -1}),
        json!({"logout": "fast"}),
        json!({"typo": 1}),
        json!({"add": 1e9}),
        json!([]),
    ] {
        let (code, body) = send(env.http.put(env.control("/__sim/churn")).json(&bad)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"].is_string(), "{body}");
    }
    for bad in [
        json!({"logout": -1}),
        json!({"add": 2_000_000}),
        json!({"nope": 1}),
    ] {
        let (code, _) = send(env.http.post(env.control("/__sim/churn/apply")).json(&bad)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(env.sim.churn().rates, rates);
    assert_eq!(env.sim.churn().done, ChurnDone::default());
    let applied = env.sim.apply_churn(&ChurnBatch {
        edit_clients: 1,
        ..ChurnBatch::default()
    });
    assert_eq!(applied.edited_clients, 1);
    assert_eq!(env.sim.churn().done.edited_clients, 1);
    assert!(env
        .sim
        .set_churn(ChurnRates {
            logout: f64::NAN,
            ..ChurnRates::default()
        })
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_from_the_start_options() {
    let options = Options {
        churn: ChurnRates {
            logout: 200.0,
            ..ChurnRates::default()
        },
        churn_seed: 9,
        ..Options::default()
    };
    let env = Env::with_seed(generated(1, 0, 500).seed().unwrap(), options).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.sim.churn().done.logged_out == 0 {
        assert!(Instant::now() < deadline, "the churn never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(env.sim.state().sessions.len() < 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_is_reachable_by_the_random_picks() {
    // Keys with long shared prefixes (client-0000NN) must not all go to the
    // first key after a gap: 40 edits over 40 clients touch many of them.
    let env = start(&generated(40, 0, 0), 11).await;
    let before = listed(&env).await;
    apply(&env, json!({"edit_clients": 40})).await;
    let after = listed(&env).await;
    let touched: BTreeSet<_> = changed(&before.clients, &after.clients)
        .into_iter()
        .collect();
    assert!(
        touched.len() >= 15,
        "only {} of 40 clients ever picked",
        touched.len()
    );
}
