//! What the migration lifecycle (preflight, status) reads from a tenant:
//! realms enabled per client, search totals past the paging cap, date
//! ranges on the marker, users-export jobs, and connections.

use crate::common;

use std::io::Read;
use std::time::Duration;

use common::{answer, Env, REALM};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trickle_sim::{Seed, PASSWORD_REALM_GRANT};

fn seed(users: usize) -> Seed {
    let users: Vec<Value> = (0..users)
        .map(|n| {
            let mut user = json!({"id": format!("u{n}"), "connection": REALM, "email": format!("user{n}@example.com")});
            if n % 3 == 0 {
                let day = 1 + n % 5;
                user["app_metadata"] =
                    json!({"trickle_migrated_at": format!("2026-01-0{day}T12:00:00.000Z")});
            }
            user
        })
        .collect();
    Seed::from_json(
        &json!({
            "bcrypt_cost": 4,
            "connections": [
                {"name": REALM},
                {"name": "new-db", "id": "con_NewDatabase000001", "strategy": "auth0",
                 "options": {"import_mode": true, "customScripts": {"login": "function login() {}"}}},
                {"name": "unused", "strategy": "auth0"}
            ],
            "clients": [
                {"client_id": "app", "client_secret": "app-secret",
                 "grant_types": ["password", "client_credentials"],
                 "scopes": ["read:users", "read:connections"]},
                {"client_id": "elsewhere", "client_secret": "elsewhere-secret",
                 "grant_types": ["password"], "connections": ["new-db"]}
            ],
            "users": users,
        })
        .to_string(),
    )
    .expect("valid seed")
}

#[tokio::test]
async fn a_realm_not_enabled_for_the_client_is_told_apart_from_an_unknown_one() {
    let env = Env::with_seed(seed(0), common::quiet()).await;
    let try_realm = |client: &'static str, secret: &'static str, realm: &'static str| {
        env.post_json(
            "/oauth/token",
            json!({"grant_type": PASSWORD_REALM_GRANT, "realm": realm, "username": "nobody@example.invalid",
                   "password": "x", "client_id": client, "client_secret": secret}),
        )
    };
    let (status, body) = answer(try_realm("elsewhere", "elsewhere-secret", REALM).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not enabled for this client"),
        "{body}"
    );
    let (status, body) = answer(try_realm("elsewhere", "elsewhere-secret", "nope").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Unknown realm"));
    let (status, body) = answer(try_realm("elsewhere", "elsewhere-secret", "new-db").await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_grant"))
    );
    let (_, body) = answer(try_realm("app", "app-secret", REALM).await).await;
    assert_eq!(body["error"], "invalid_grant", "no list: every connection");
}

#[tokio::test]
async fn search_totals_count_past_the_paging_cap_and_date_ranges_bucket_the_marker() {
    let env = Env::with_seed(seed(1_500), common::quiet()).await;
    let token = env.token_for("app", "app-secret").await;
    let search = |q: &str, page: usize, per_page: usize| {
        let url = format!(
            "/api/v2/users?q={}&search_engine=v3&include_totals=true&page={page}&per_page={per_page}",
            urlencode(q)
        );
        let env = &env;
        let token = token.clone();
        async move { answer(env.get(&url, &token).await).await }
    };
    let (status, body) = search(&format!("identities.connection:\"{REALM}\""), 0, 1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1_500);
    let (status, body) = search("", 9, 100).await;
    assert_eq!(
        (status, body["length"].as_u64()),
        (StatusCode::OK, Some(100))
    );
    let (status, body) = search("", 10, 100).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "invalid_paging");
    let (_, body) = search("_exists_:app_metadata.trickle_migrated_at", 0, 1).await;
    assert_eq!(body["total"], 500);
    let mut per_day = 0;
    for day in 1..=5 {
        let q = format!(
            "app_metadata.trickle_migrated_at:[2026-01-0{day} TO 2026-01-0{}}}",
            day + 1
        );
        let (_, body) = search(&q, 0, 1).await;
        assert_eq!(body["total"], 100, "{q}");
        per_day += body["total"].as_u64().unwrap();
    }
    assert_eq!(per_day, 500);
}

#[tokio::test]
async fn an_export_job_ends_with_a_download_that_refuses_a_bearer_token() {
    let env = Env::with_seed(seed(30), common::quiet()).await;
    let token = env.token_for("app", "app-secret").await;
    let created = env
        .http
        .post(env.url("/api/v2/jobs/users-exports"))
        .bearer_auth(&token)
        .json(&json!({"format": "json", "fields": [
            {"name": "user_id"},
            {"name": "identities[0].connection", "export_as": "connection"},
            {"name": "app_metadata.trickle_migrated_at", "export_as": "trickle_migrated_at"}]}))
        .send()
        .await
        .unwrap();
    let (status, job) = answer(created).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!(
        (job["type"].as_str(), job["status"].as_str()),
        (Some("users_export"), Some("pending"))
    );
    let id = job["id"].as_str().unwrap().to_owned();
    let job = loop {
        let (_, job) = answer(env.get(&format!("/api/v2/jobs/{id}"), &token).await).await;
        if job["status"] == "completed" {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let location = job["location"].as_str().unwrap();
    let refused = env
        .http
        .get(location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let forged = env
        .http
        .get(location.replace("key=", "key=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let file = env
        .http
        .get(location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&file[..])
        .read_to_string(&mut text)
        .unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    assert_eq!(
        lines[0],
        json!({"user_id": "auth0|u0", "connection": REALM,
        "trickle_migrated_at": "2026-01-01T12:00:00.000Z"})
    );
    assert_eq!(
        lines[1],
        json!({"user_id": "auth0|u1", "connection": REALM})
    );

    // By connection, and with the default fields (what bulk plan reads).
    let created = env
        .http
        .post(env.url("/api/v2/jobs/users-exports"))
        .bearer_auth(&token)
        .json(&json!({"format": "json", "connection_id": "con_NewDatabase000001"}))
        .send()
        .await
        .unwrap();
    let (status, job) = answer(created).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(job["connection"], "new-db");
}

#[tokio::test]
async fn connections_show_their_options_scripts_and_enabled_clients() {
    let env = Env::with_seed(seed(0), common::quiet()).await;
    let token = env.token_for("app", "app-secret").await;
    let (status, found) = answer(env.get("/api/v2/connections?name=new-db", &token).await).await;
    assert_eq!(status, StatusCode::OK);
    let connection = &found[0];
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(connection["strategy"], "auth0");
    assert_eq!(connection["options"]["import_mode"], true);
    assert_eq!(
        connection["options"]["customScripts"]["login"],
        "function login() {}"
    );
    assert_eq!(connection["enabled_clients"], json!(["app", "elsewhere"]));
    let (_, clients) = answer(
        env.get("/api/v2/connections/con_NewDatabase000001/clients", &token)
            .await,
    )
    .await;
    assert_eq!(
        clients,
        json!({"clients": [{"client_id": "app"}, {"client_id": "elsewhere"}]})
    );
    let (_, unused) = answer(env.get("/api/v2/connections?name=unused", &token).await).await;
    assert_eq!(unused[0]["enabled_clients"], json!(["app"]));
    let reader = env.admin_token_without_connections().await;
    let (status, _) = answer(env.get("/api/v2/connections", &reader).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "read:connections is needed");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

trait NoConnections {
    async fn admin_token_without_connections(&self) -> String;
}

impl NoConnections for Env {
    /// A token of a client that lacks `read:connections`: the test seed's
    /// `app` with a narrower scope request.
    async fn admin_token_without_connections(&self) -> String {
        let response = self
            .post_json(
                "/oauth/token",
                json!({"grant_type": "client_credentials", "client_id": "app",
                       "client_secret": "app-secret", "audience": self.audience(),
                       "scope": "read:users"}),
            )
            .await;
        let (_, body) = answer(response).await;
        body["access_token"].as_str().unwrap().to_owned()
    }
}
