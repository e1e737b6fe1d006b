//! The client registration endpoint over real HTTP: listing, registration
//! with and without preferred credentials, RFC 7592 read / update / delete,
//! every refusal, and the issuer's context path.

use crate::common;

use common::{fresh_client, send, Env, AUTHZ, MASTER, SESSIONS};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_c2id_sim::{Options, Seed};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_shows_every_client_with_its_credentials() {
    let env = Env::start("12.3").await;
    let (status, clients) = send(env.get("/clients", MASTER)).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m2m", "spa", "webapp"], "in client ID order");
    let webapp = &clients[2];
    assert_eq!(webapp["client_secret"], "webapp-secret");
    assert_eq!(webapp["client_secret_expires_at"], 0);
    assert_eq!(webapp["client_id_issued_at"], 1600000000);
    assert_eq!(webapp["registration_access_token"], "webapp-rat");
    assert_eq!(
        webapp["registration_client_uri"],
        env.url("/clients/webapp").as_str()
    );
    assert_eq!(webapp["client_name"], "Web app");
    assert_eq!(webapp["token_endpoint_auth_method"], "client_secret_basic");
    assert!(clients[1].get("client_secret").is_none(), "a public client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_has_its_own_token_and_refuses_others() {
    let env = Env::start("12.3").await;
    let missing = env
        .http
        .get(env.url("/clients"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    for (path, wrong) in [
        ("/clients", AUTHZ),
        ("/clients", SESSIONS),
        ("/clients/webapp", AUTHZ),
        (common::AUTHZ_V3, MASTER),
        (common::AUTHZ_V3, SESSIONS),
        (common::SESSIONS_PATH, MASTER),
        (common::SESSIONS_PATH, AUTHZ),
    ] {
        let response = env.get(path, wrong).send().await.expect("answered");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{path}: {challenge}"
        );
        let (_, body) = common::answer(response).await;
        assert_eq!(body["error"], "invalid_token");
    }
    // Not a bearer token at all: the plain challenge.
    let basic = env
        .http
        .get(env.url("/clients"))
        .basic_auth("webapp", Some("webapp-secret"))
        .send()
        .await
        .expect("answered");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(basic.headers()["www-authenticate"], "Bearer");
    // Each one's own token opens it.
    for (path, token) in [
        ("/clients", MASTER),
        (common::AUTHZ_V3, AUTHZ),
        (common::SESSIONS_PATH, SESSIONS),
    ] {
        assert_eq!(
            env.get(path, token).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_credentials_are_kept_and_the_rest_regenerated() {
    let env = Env::start("12.3").await;
    let started = now();
    // An exported registration, posted back with preferred_* (as a migration does).
    let exported = json!({
        "client_id": "legacy", "client_secret": "ignored-secret", "client_id_issued_at": 1500000000,
        "registration_access_token": "old-rat", "registration_client_uri": "https://old/clients/legacy",
        "client_secret_expires_at": 0,
        "client_name": "Legacy app", "redirect_uris": ["https://legacy.example.com/cb"],
        "grant_types": ["authorization_code"], "scope": "openid",
        "preferred_client_id": "legacy", "preferred_client_secret": "legacy-secret-kept"
    });
    let (status, registered) = send(env.post("/clients", MASTER, &exported)).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(registered["client_id"], "legacy");
    assert_eq!(registered["client_secret"], "legacy-secret-kept");
    let issued = registered["client_id_issued_at"].as_u64().unwrap();
    assert!(issued >= started && issued <= now(), "issued now: {issued}");
    let rat = registered["registration_access_token"].as_str().unwrap();
    assert_ne!(rat, "old-rat");
    assert!(rat.len() >= 32);
    assert_eq!(
        registered["registration_client_uri"],
        env.url("/clients/legacy").as_str()
    );
    assert_eq!(registered["client_name"], "Legacy app");
    assert!(registered.get("preferred_client_id").is_none());
    // What was answered is what is stored.
    let (status, read) = send(env.get("/clients/legacy", MASTER)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, registered);

    // Without preferred_*: new credentials, whatever the body says.
    let (status, fresh) = send(env.post(
        "/clients",
        MASTER,
        &json!({"client_id": "wanted", "client_secret": "wanted", "redirect_uris": ["https://x.example/cb"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(fresh["client_id"], "wanted");
    assert_ne!(fresh["client_secret"], "wanted");
    assert!(fresh["client_secret"].as_str().unwrap().len() >= 32);

    // A preferred_client_id already there is refused, and nothing changes.
    let (status, body) = send(env.post(
        "/clients",
        MASTER,
        &json!({"preferred_client_id": "webapp", "redirect_uris": ["https://evil.example/cb"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
    let (_, webapp) = send(env.get("/clients/webapp", MASTER)).await;
    assert_eq!(
        webapp["redirect_uris"],
        json!(["https://app.example.com/cb"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registrations_are_refused_as_rfc_7591_says() {
    let env = Env::start("12.3").await;
    for (body, error) in [
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["not a uri"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://a/b"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none",
                "preferred_client_secret": "s"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "preferred_client_id": "a/b"}),
            "invalid_client_metadata",
        ),
        (json!([1, 2]), "invalid_client_metadata"),
    ] {
        let (status, answer) = send(env.post("/clients", MASTER, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], error, "{body}: {answer}");
        assert!(answer["error_description"].is_string());
    }
    let not_json = env
        .http
        .post(env.url("/clients"))
        .bearer_auth(MASTER)
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let (status, clients) = send(env.get("/clients", MASTER)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(clients.as_array().unwrap().len(), 3, "nothing registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_update_delete_with_the_master_or_the_clients_own_token() {
    let env = Env::start("12.3").await;
    let (status, own) = send(env.get("/clients/webapp", "webapp-rat")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["client_id"], "webapp");
    // Another client's registration token does not open it.
    let (_, spa) = send(env.get("/clients/spa", MASTER)).await;
    let spa_rat = spa["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = env.get("/clients/webapp", &spa_rat).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = send(env.get("/clients/nobody", MASTER)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());

    // PUT replaces the metadata, keeps the credentials.
    let (status, updated) = send(env.http.put(env.url("/clients/webapp")).bearer_auth("webapp-rat").json(
        &json!({"client_id": "webapp", "client_secret": "webapp-secret", "client_name": "Renamed",
                "redirect_uris": ["https://new.example.com/cb"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://new.example.com/cb"])
    );
    assert_eq!(
        updated["grant_types"],
        json!(["authorization_code"]),
        "replaced, defaults again"
    );
    assert_eq!(updated["client_secret"], "webapp-secret");
    assert_eq!(updated["client_id_issued_at"], 1600000000);
    for body in [
        json!({"client_id": "other", "redirect_uris": ["https://a.example/cb"]}),
        json!({"client_secret": "wrong", "redirect_uris": ["https://a.example/cb"]}),
        json!({"redirect_uris": []}),
    ] {
        let (status, _) = send(
            env.http
                .put(env.url("/clients/webapp"))
                .bearer_auth(MASTER)
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, _) = send(
        env.http
            .put(env.url("/clients/nobody"))
            .bearer_auth(MASTER)
            .json(&json!({"redirect_uris": ["https://a.example/cb"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let deleted = env
        .http
        .delete(env.url("/clients/spa"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = env
        .http
        .delete(env.url("/clients/spa"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let (_, clients) = send(env.get("/clients", MASTER)).await;
    assert_eq!(clients.as_array().unwrap().len(), 2);
    // Wrong method: 405.
    let patch = env
        .http
        .patch(env.url("/clients/webapp"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_before_2_5_ignore_preferred_credentials() {
    let env = Env::start("2.4").await;
    let (status, client) = send(env.post(
        "/clients",
        MASTER,
        &json!({"preferred_client_id": "mine", "redirect_uris": ["https://a.example/cb"]}),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(client["client_id"], "mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_path_prefixes_every_endpoint() {
    let mut seed = common::seed_json("12.3");
    seed["context_path"] = Value::from("/c2id");
    let seed = Seed::from_json(&seed.to_string()).expect("valid");
    let env = Env::with_seed(seed, Options::default()).await;
    assert_eq!(env.sim.issuer(), format!("{}/c2id", env.sim.base_url()));
    let http = fresh_client();
    let (status, metadata) = send(http.get(env.url("/.well-known/openid-configuration"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["issuer"], env.sim.issuer());
    let registration = metadata["registration_endpoint"].as_str().unwrap();
    assert_eq!(registration, format!("{}/c2id/clients", env.sim.base_url()));
    let (status, _) = send(http.get(registration).bearer_auth(MASTER)).await;
    assert_eq!(status, StatusCode::OK);
    let outside = http
        .get(format!("{}/clients", env.sim.base_url()))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    let (_, webapp) = send(
        http.get(format!("{registration}/webapp"))
            .bearer_auth(MASTER),
    )
    .await;
    assert_eq!(
        webapp["registration_client_uri"],
        format!("{registration}/webapp")
    );
    // An option overrides the seed's context path.
    let other = trickle_c2id_sim::C2idSim::start_local(
        common::seed("12.3"),
        Options {
            context_path: Some("/idp/c2id".to_owned()),
            ..Options::default()
        },
    )
    .await
    .expect("starts");
    assert!(other.issuer().ends_with("/idp/c2id"));
    let bad = trickle_c2id_sim::C2idSim::start_local(
        common::seed("12.3"),
        Options {
            context_path: Some("c2id/".to_owned()),
            ..Options::default()
        },
    )
    .await;
    assert!(bad.is_err());
}
