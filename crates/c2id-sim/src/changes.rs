//! Live churn's changes to the store: each one a real change the web APIs'
//! listings show (an authorisation revoked or re-issued, a session logged
//! out or edited, a client edited or deleted, a record added), made the way
//! the server's own APIs make it, one short store lock at a time. Records
//! are picked at random without listing anything (`pick.rs`), from the
//! churn's seeded random stream, so the same seed, store and batches make
//! the same changes.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use trickle_emulator::unix_seconds;

use crate::churn::{ChurnBatch, ChurnDone, Ticker};
use crate::keys::new_sid_key;
use crate::pick::pick;
use crate::state::AppState;
use crate::store::{AuthzFilter, AuthzKey, Client, Store};
use crate::sweep;
use crate::tokens::random_token;

/// How often the rates are turned into changes.
const TICK: Duration = Duration::from_millis(100);

/// Makes `batch`'s changes now; returns what was done (also added to the
/// churn's counters).
pub fn apply(state: &AppState, batch: &ChurnBatch) -> ChurnDone {
    let mut ticker = state.churn.lock();
    apply_locked(state, &mut ticker, batch)
}

/// Runs the rates until the server is gone: idle while every rate is 0,
/// otherwise the changes due every tick.
pub async fn run(state: Weak<AppState>) {
    loop {
        let Some(server) = state.upgrade() else {
            return;
        };
        let (idle, wake) = (server.churn.lock().rates.is_idle(), server.churn.waker());
        drop(server);
        if idle {
            wake.notified().await;
            continue;
        }
        tokio::time::sleep(TICK).await;
        let Some(server) = state.upgrade() else {
            return;
        };
        // Off the async workers: a big batch must not hold up requests.
        let ticked = tokio::task::spawn_blocking(move || {
            let mut ticker = server.churn.lock();
            let batch = ticker.due(Instant::now());
            apply_locked(&server, &mut ticker, &batch);
        });
        if ticked.await.is_err() {
            return;
        }
    }
}

type Change = fn(&AppState, &mut Ticker, &mut ChurnDone) -> bool;

fn apply_locked(state: &AppState, ticker: &mut Ticker, batch: &ChurnBatch) -> ChurnDone {
    let kinds: [(u64, Change); 7] = [
        (batch.revoke_authz, revoke_authz),
        (batch.edit_authz, edit_authz),
        (batch.logout, logout),
        (batch.edit_sessions, edit_session),
        (batch.edit_clients, edit_client),
        (batch.delete_clients, delete_client),
        (batch.add, add),
    ];
    let mut done = ChurnDone::default();
    for (count, change) in kinds {
        for _ in 0..count {
            ticker.serial += 1;
            if !change(state, ticker, &mut done) {
                done.skipped += 1;
            }
        }
    }
    ticker.done.add(&done);
    done
}

fn pick_authz<'s>(store: &'s Store, rng: &mut fastrand::Rng) -> Option<&'s AuthzKey> {
    pick(
        &store.authorizations,
        rng,
        |k| &k.0,
        |t| (t.into(), "".into()),
    )
}

fn pick_id<V>(map: &BTreeMap<Box<str>, V>, rng: &mut fastrand::Rng) -> Option<Box<str>> {
    pick(map, rng, |k| k, |t| t.into()).cloned()
}

/// A stored record's JSON object.
fn object(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

fn revoke_authz(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let mut store = state.store();
    let Some(key) = pick_authz(&store, &mut ticker.rng).cloned() else {
        return false;
    };
    store.authorizations.remove(&key);
    done.revoked_authz += 1;
    true
}

/// Consent given again with another scope: `scp` gets `churn:N`, `iat` now.
fn edit_authz(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let mut store = state.store();
    let Some(key) = pick_authz(&store, &mut ticker.rng).cloned() else {
        return false;
    };
    let json = store.authorizations.get_mut(&key).expect("just picked");
    let mut authz = object(json);
    let mut scope: Vec<Value> = authz
        .get("scp")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    scope.retain(|s| !s.as_str().is_some_and(|s| s.starts_with("churn:")));
    scope.push(Value::from(format!("churn:{}", ticker.serial)));
    authz.insert("scp".to_owned(), Value::from(scope));
    authz.insert("iat".to_owned(), Value::from(unix_seconds()));
    *json = Value::Object(authz).to_string().into();
    done.edited_authz += 1;
    true
}

fn logout(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let mut store = state.store();
    let Some(sid) = pick_id(&store.sessions, &mut ticker.rng) else {
        return false;
    };
    store.sessions.remove(&sid);
    done.logged_out += 1;
    true
}

/// What a login front-end stores in a session: `data.churn` becomes N.
fn edit_session(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let mut store = state.store();
    let Some(sid) = pick_id(&store.sessions, &mut ticker.rng) else {
        return false;
    };
    let json = store.sessions.get_mut(&sid).expect("just picked");
    let mut session = object(json);
    let data = session.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    data["churn"] = Value::from(ticker.serial);
    *json = Value::Object(session).to_string().into();
    done.edited_sessions += 1;
    true
}

/// An RFC 7592 update: the redirect URI moves; credentials stay.
fn edit_client(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let mut store = state.store();
    let Some(id) = pick_id(&store.clients, &mut ticker.rng) else {
        return false;
    };
    let client = store.clients.get_mut(&id).expect("just picked");
    let mut metadata = object(&client.metadata);
    let uri = format!("https://churn-{}.example.com/callback", ticker.serial);
    metadata.insert("redirect_uris".to_owned(), json!([uri]));
    client.metadata = Value::Object(metadata).to_string().into();
    done.edited_clients += 1;
    true
}

/// The client goes, then its authorisations (revoked as by client ID):
/// none is left pointing at a client that is no more.
fn delete_client(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let id = {
        let mut store = state.store();
        let Some(id) = pick_id(&store.clients, &mut ticker.rng) else {
            return false;
        };
        store.clients.remove(&id);
        id
    };
    let filter = AuthzFilter::Client(id.into());
    done.revoked_with_deleted_clients += sweep::remove_authorizations(state, &filter, |_, _| {});
    done.deleted_clients += 1;
    true
}

/// A client, an authorisation (of a new subject, to a client picked at
/// random), a session (of a new subject), in turn.
fn add(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let kind = ticker.added % 3;
    ticker.added += 1;
    let subject = format!("churn-user-{:07}", ticker.serial);
    match kind {
        0 => add_client(state, ticker, done),
        1 => add_authz(state, ticker, done, subject),
        _ => add_session(state, ticker, done, subject),
    }
}

fn add_client(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone) -> bool {
    let rng = &mut ticker.rng;
    let client = Client {
        secret: Some(random_token(rng)),
        issued_at: unix_seconds(),
        registration_token: random_token(rng),
        metadata: json!({
            "client_name": format!("Churn client {}", ticker.serial),
            "redirect_uris": [format!("https://churn-{}.example.com/callback", ticker.serial)],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid email offline_access",
            "token_endpoint_auth_method": "client_secret_basic",
        })
        .to_string()
        .into(),
    };
    let mut store = state.store();
    let mut n = ticker.serial;
    let id = loop {
        let id: Box<str> = format!("churn-client-{n:07}").into();
        if !store.clients.contains_key(&id) {
            break id;
        }
        n += 1;
    };
    store.clients.insert(id, client);
    done.added_clients += 1;
    true
}

fn add_authz(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone, sub: String) -> bool {
    let mut store = state.store();
    let Some(cid) = pick_id(&store.clients, &mut ticker.rng) else {
        return false;
    };
    let authz = json!({
        "sub": sub, "cid": &*cid, "scp": ["openid", "email", "offline_access"],
        "clm": ["email", "email_verified"], "iss": state.issuer, "iat": unix_seconds(),
        "lng": true, "rft": &*random_token(&mut ticker.rng),
    });
    store
        .authorizations
        .insert((sub.into(), cid), authz.to_string().into());
    done.added_authz += 1;
    true
}

fn add_session(state: &AppState, ticker: &mut Ticker, done: &mut ChurnDone, sub: String) -> bool {
    let sid = state.keys.sid(&new_sid_key(&mut ticker.rng));
    let now = unix_seconds();
    let session = json!({
        "sub": sub, "auth_time": now, "creation_time": now, "max_life": 20160,
        "auth_life": 10080, "max_idle": 1440, "amr": ["pwd"], "data": {},
    });
    state
        .store()
        .sessions
        .insert(sid.into(), session.to_string().into());
    done.added_sessions += 1;
    true
}
