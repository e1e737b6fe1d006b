//! Faults, the rate limit, counters, the `/__sim/` state, discovery, and
//! seeds (the examples, the generator, refusals) over real HTTP.

use crate::common;

use std::time::{Duration, Instant};

use common::{answer, fresh_client, send, Env, AUTHZ, MASTER, SESSIONS, SESSIONS_PATH};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_c2id_sim::{C2idSim, Faults, Generate, Options, Seed, Snapshot, Stats};

async fn put_faults(env: &Env, faults: Value) -> StatusCode {
    env.http
        .put(env.control("/__sim/faults"))
        .json(&faults)
        .send()
        .await
        .expect("answered")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_hit_the_apis_but_never_the_control_api() {
    let env = Env::start("12.3").await;
    assert_eq!(
        put_faults(&env, json!({"error_ratio": 1.0})).await,
        StatusCode::OK
    );
    let (status, body) = send(env.get("/clients", MASTER)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].is_string() && body["error_description"].is_string());
    assert_eq!(env.state().await["clients"].as_array().unwrap().len(), 3);
    // A faulted POST changed nothing.
    let (status, _) = send(env.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "x"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(env.sim.state().sessions.len(), 2);

    put_faults(&env, json!({"drop_ratio": 1.0})).await;
    let dropped = fresh_client().get(env.url("/jwks.json")).send().await;
    assert!(dropped.expect_err("no answer at all").status().is_none());

    put_faults(&env, json!({"malformed_ratio": 1.0})).await;
    let response = env.get("/clients", MASTER).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    put_faults(&env, json!({"latency_ms": 250})).await;
    let started = Instant::now();
    env.get("/clients", MASTER).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    env.http
        .get(env.control("/__sim/stats"))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "/__sim/ never delayed"
    );

    // Invalid faults are refused and change nothing.
    for bad in [
        json!({"drop_ratio": 2}),
        json!({"typo": 1}),
        json!({"only": "POST"}),
    ] {
        assert_eq!(
            put_faults(&env, bad.clone()).await,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        env.sim
            .set_faults(Faults {
                truncate_ratio: 3.0,
                ..Faults::default()
            })
            .map_err(|_| ()),
        Err(())
    );
    let (_, current) = send(env.http.get(env.control("/__sim/faults"))).await;
    assert_eq!(current["latency_ms"], 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_cuts_small_and_streamed_answers() {
    let sessions = Generate {
        clients: 1,
        sessions: 3000,
        ..Generate::default()
    }
    .seed()
    .expect("valid");
    let env = Env::with_seed(sessions, Options::default()).await;
    put_faults(&env, json!({"truncate_ratio": 1.0})).await;
    // A streamed listing (well over one chunk): part of it, then the connection closes.
    let response = fresh_client()
        .get(env.url(SESSIONS_PATH))
        .bearer_auth(SESSIONS)
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.is_err(), "the body is cut short");
    // A small answer keeps its full Content-Length and loses half of it.
    let response = fresh_client()
        .get(env.url("/clients/client-000000"))
        .bearer_auth(MASTER)
        .send()
        .await
        .expect("the head arrives");
    let declared: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(declared > 100);
    assert!(response.bytes().await.is_err());
    // Faults limited to one kind of request: the others are served.
    put_faults(
        &env,
        json!({"error_ratio": 1.0, "only": format!("POST {}", SESSIONS_PATH)}),
    )
    .await;
    let read = env.get(SESSIONS_PATH, SESSIONS).send().await.unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&read.bytes().await.unwrap()).is_ok());
    let (status, _) = send(env.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "a"}))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after() {
    let env = Env::with_seed(
        common::seed("12.3"),
        Options {
            rate_limit: 2,
            ..Options::default()
        },
    )
    .await;
    // Six requests cannot all fall in windows of two per second.
    let mut retry_after = None;
    for _ in 0..6 {
        let response = env.get("/clients", MASTER).send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = Some(
                response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
            let (_, body) = answer(response).await;
            assert_eq!(body["error"], "too_many_requests");
        } else {
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let retry_after = retry_after.expect("some request was refused");
    assert!(
        retry_after
            .parse::<u64>()
            .is_ok_and(|n| (1..=2).contains(&n)),
        "{retry_after}"
    );
    // The control API is never limited, and turns the limit off.
    for _ in 0..5 {
        assert_eq!(
            env.http
                .get(env.control("/__sim/rate-limit"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let (status, limit) = send(
        env.http
            .put(env.control("/__sim/rate-limit"))
            .json(&json!({"rps": 0})),
    )
    .await;
    assert_eq!((status, limit), (StatusCode::OK, json!({"rps": 0})));
    for _ in 0..5 {
        assert_eq!(
            env.get("/clients", MASTER).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_count_each_endpoint_and_reset() {
    let env = Env::start("12.3").await;
    let http = &env.http;
    env.get("/clients", MASTER).send().await.unwrap();
    env.post(
        "/clients",
        MASTER,
        &json!({"redirect_uris": ["https://a.example/cb"]}),
    )
    .send()
    .await
    .unwrap();
    env.get("/clients/webapp", MASTER).send().await.unwrap();
    http.put(env.url("/clients/webapp"))
        .bearer_auth(MASTER)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    http.delete(env.url("/clients/nobody"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    env.get(common::AUTHZ_V3, AUTHZ).send().await.unwrap();
    env.post(common::AUTHZ_V3, AUTHZ, &json!({}))
        .send()
        .await
        .unwrap();
    env.get(common::AUTHZ_V2, AUTHZ).send().await.unwrap();
    env.get(SESSIONS_PATH, SESSIONS).send().await.unwrap();
    env.post(SESSIONS_PATH, SESSIONS, &json!({"sub": "a"}))
        .send()
        .await
        .unwrap();
    http.delete(env.url(SESSIONS_PATH))
        .bearer_auth(SESSIONS)
        .send()
        .await
        .unwrap();
    http.get(env.url("/jwks.json")).send().await.unwrap();
    http.get(env.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    http.get(env.url("/")).send().await.unwrap();
    http.get(env.url("/nowhere")).send().await.unwrap();
    let (_, stats) = send(http.get(env.control("/__sim/stats"))).await;
    assert_eq!(
        stats,
        json!({"total": 15, "requests": {
            "clients_list": 1, "client_register": 1, "client_read": 1, "client_update": 1, "client_delete": 1,
            "authz_v3_list": 1, "authz_v3_create": 1, "authz_v3_delete": 0, "authz_v3_revoke": 0,
            "authz_v2_list": 1, "authz_v2_create": 0, "authz_v2_delete": 0, "authz_v2_revoke": 0,
            "sessions_list": 1, "session_read": 0, "session_create": 1, "session_update": 0,
            "session_delete": 1, "discovery": 3},
            "session_last_used_updates": 0})
    );
    assert_eq!(
        env.sim.stats(),
        serde_json::from_value::<Stats>(stats).unwrap()
    );
    let (status, reset) = send(http.post(env.control("/__sim/stats/reset"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reset["total"], 0);
    env.state().await;
    assert_eq!(env.sim.stats(), Stats::default(), "/__sim/ is not counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_shows_everything_with_its_secrets() {
    let env = Env::start("12.3").await;
    let state = env.state().await;
    let snapshot: Snapshot = serde_json::from_value(state.clone()).expect("the same shape");
    assert_eq!(snapshot, env.sim.state());
    assert_eq!(state["version"], "12.3");
    assert_eq!(state["issuer"], env.sim.issuer());
    assert_eq!(state["clients"][2]["client_secret"], "webapp-secret");
    assert_eq!(state["authorizations"].as_array().unwrap().len(), 3);
    assert_eq!(state["sessions"].as_object().unwrap().len(), 2);
    for (path, key) in [
        ("/__sim/clients", "clients"),
        ("/__sim/authorizations", "authorizations"),
        ("/__sim/sessions", "sessions"),
    ] {
        let (_, part) = send(env.http.get(env.control(path))).await;
        assert_eq!(part, state[key], "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_shows_the_issuer_public_keys_and_version() {
    let env = Env::start("11.6").await;
    let (status, metadata) = send(env.http.get(env.url("/.well-known/openid-configuration"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        metadata["registration_endpoint"],
        env.url("/clients").as_str()
    );
    assert_eq!(metadata["jwks_uri"], env.url("/jwks.json").as_str());
    let (status, jwks) = send(env.http.get(env.url("/jwks.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let keys = jwks["keys"].as_array().unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["example-rsa-1", "example-ec-1"], "no symmetric keys");
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
    let splash = env.http.get(env.url("/")).send().await.unwrap();
    assert_eq!(splash.status(), StatusCode::OK);
    assert!(splash.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(splash
        .text()
        .await
        .unwrap()
        .contains("<h1>Connect2id Server 11.6</h1>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_without_a_token_is_disabled() {
    let mut seed = common::seed_json("12.3");
    seed["api_tokens"] = json!({"client_registration": MASTER});
    let env = Env::with_seed(
        Seed::from_json(&seed.to_string()).unwrap(),
        Options::default(),
    )
    .await;
    let (status, body) = send(env.get(SESSIONS_PATH, SESSIONS)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        env.get("/clients", MASTER).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_seeds_load_and_share_one_jwk_set() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let source =
        Seed::from_path(&root.join("c2id-source.json")).expect("the source example is valid");
    let target =
        Seed::from_path(&root.join("c2id-target-empty.json")).expect("the target example is valid");
    assert_eq!(source.counts(), (3, 4, 3));
    assert_eq!(target.counts(), (0, 0, 0));
    assert_eq!(source.context_path(), "/c2id");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap()
    };
    assert_eq!(
        read("c2id-source.json")["jwks"],
        read("c2id-target-empty.json")["jwks"]
    );
    assert_eq!(read("c2id-source.json")["jwks"], common::example_jwks());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_file_holds_the_same_records_as_the_generated_seed() {
    let spec = Generate {
        clients: 30,
        authorizations: 70,
        sessions: 50,
        random_seed: 9,
        context_path: "/c2id".into(),
        ..Generate::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    let mut progress = Vec::new();
    spec.write(std::fs::File::create(&path).unwrap(), |n| progress.push(n))
        .expect("written");
    assert_eq!(progress.last(), Some(&150));
    let from_file = C2idSim::start_local(
        Seed::from_path(&path).expect("the file loads"),
        Options::default(),
    )
    .await
    .unwrap();
    let in_memory = C2idSim::start_local(spec.seed().expect("valid"), Options::default())
        .await
        .unwrap();
    let (a, b) = (from_file.state(), in_memory.state());
    assert_eq!(
        a.clients,
        b.clients
            .iter()
            .map(|c| retarget(c, in_memory.issuer(), from_file.issuer()))
            .collect::<Vec<_>>()
    );
    assert_eq!(a.authorizations, b.authorizations);
    assert_eq!(a.sessions, b.sessions);
    assert_eq!(
        (a.clients.len(), a.authorizations.len(), a.sessions.len()),
        (30, 70, 50)
    );
    // Another random seed, other secrets.
    let other = Generate {
        random_seed: 10,
        ..spec.clone()
    }
    .seed()
    .unwrap();
    let other = C2idSim::start_local(other, Options::default())
        .await
        .unwrap()
        .state();
    assert_ne!(
        other.clients[0]["client_secret"],
        b.clients[0]["client_secret"]
    );
    assert!(
        Generate {
            authorizations: 1,
            ..Generate::default()
        }
        .seed()
        .is_err(),
        "no client to belong to"
    );
}

fn retarget(client: &Value, from: &str, to: &str) -> Value {
    let mut client = client.clone();
    let uri = client["registration_client_uri"]
        .as_str()
        .unwrap()
        .replace(from, to);
    client["registration_client_uri"] = Value::from(uri);
    client
}

#[test]
fn bad_seeds_list_every_problem_without_secrets() {
    let mut seed = common::seed_json("12.x");
    seed["api_tokens"]["authz_store"] = json!("short-secret-token");
    seed["clients"].as_array_mut().unwrap().push(json!({"client_id": "webapp", "client_secret": "dup-secret-value", "redirect_uris": ["https://a/b"]}));
    seed["clients"]
        .as_array_mut()
        .unwrap()
        .push(json!({"client_id": "nosecret", "grant_types": ["client_credentials"]}));
    seed["authorizations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"sub": "zed", "cid": "ghost"}));
    seed["authorizations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"sub": "alice", "cid": "webapp"}));
    seed["sessions"]["bad key!"] = json!({"sub": "x"});
    let error = Seed::from_json(&seed.to_string())
        .expect_err("refused")
        .to_string();
    for expected in [
        "version must be",
        "api_tokens.authz_store",
        "clients[3]: (webapp) client_id is used twice",
        "clients[4]: (nosecret) client_secret is required",
        "(sub \"zed\", cid \"ghost\"): cid is not a registered client",
        "authorizations[4]: sub \"alice\" and cid \"webapp\" are there twice",
        "sessions entry 1: must be keyed by a SID or a session key",
    ] {
        assert!(error.contains(expected), "{expected:?} in:\n{error}");
    }
    for secret in ["short-secret-token", "dup-secret-value", "webapp-secret"] {
        assert!(!error.contains(secret), "{secret} leaked:\n{error}");
    }
    let unknown = Seed::from_json(r#"{"version": "12.3", "users": []}"#)
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("unknown seed key \"users\""), "{unknown}");
    let syntax = Seed::from_json("{\"version\": ").unwrap_err().to_string();
    assert!(syntax.contains("line 1"), "{syntax}");
}
