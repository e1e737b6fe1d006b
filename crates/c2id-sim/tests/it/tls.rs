//! The emulated server over HTTPS and behind a proxy: the issuer (and so
//! the provider metadata, the registrations' URIs and the authorisations'
//! `iss`) takes the scheme served or the public URL; the metadata names
//! only endpoints that answer.

use crate::common;

use reqwest_tls::{Certificate, Client, StatusCode};
use serde_json::Value;
use trickle_c2id_sim::{C2idSim, Options};
use trickle_emulator::TlsOptions;

async fn start(options: Options) -> (C2idSim, Client) {
    let sim = C2idSim::start_local(common::seed("12.3"), options)
        .await
        .expect("starts");
    let mut builder = Client::builder();
    if let Some(pem) = sim.ca_cert_pem() {
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(Certificate::from_pem(pem.as_bytes()).expect("a PEM"));
    }
    (sim, builder.build().expect("client"))
}

async fn metadata(http: &Client, issuer: &str) -> Value {
    let response = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_issuer_is_https_and_every_api_answers() {
    let (sim, http) = start(Options {
        tls: Some(TlsOptions::default()),
        context_path: Some("/c2id".to_owned()),
        ..Options::default()
    })
    .await;
    let port = sim.addr().port();
    assert_eq!(sim.base_url(), format!("https://127.0.0.1:{port}"));
    assert_eq!(sim.issuer(), format!("https://127.0.0.1:{port}/c2id"));
    let discovered = metadata(&http, sim.issuer()).await;
    assert_eq!(discovered["issuer"], sim.issuer());
    assert_eq!(
        discovered["jwks_uri"],
        format!("{}/jwks.json", sim.issuer())
    );
    let clients = http
        .get(discovered["registration_endpoint"].as_str().unwrap())
        .bearer_auth(common::MASTER)
        .send()
        .await
        .expect("answered");
    assert_eq!(clients.status(), StatusCode::OK);
    let clients: Vec<Value> = clients.json().await.expect("JSON");
    let webapp = clients.iter().find(|c| c["client_id"] == "webapp").unwrap();
    assert_eq!(
        webapp["registration_client_uri"],
        format!("{}/clients/webapp", sim.issuer())
    );
    // A new authorisation is stamped with the issuer.
    let created = http
        .post(format!("{}{}", sim.issuer(), common::AUTHZ_V3))
        .bearer_auth(common::AUTHZ)
        .json(&serde_json::json!({"sub": "carol", "cid": "webapp", "scp": ["openid"]}))
        .send()
        .await
        .expect("answered");
    assert!(created.status().is_success(), "{}", created.status());
    let state = sim.state();
    let carol = state
        .authorizations
        .iter()
        .find(|a| a["sub"] == "carol")
        .expect("stored");
    assert_eq!(carol["iss"], sim.issuer());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_issuer_is_the_public_url_and_the_context_path() {
    let (sim, http) = start(Options {
        public_url: Some("https://idp.example.test".to_owned()),
        context_path: Some("/c2id".to_owned()),
        ..Options::default()
    })
    .await;
    assert_eq!(sim.issuer(), "https://idp.example.test/c2id");
    let base = sim.base_url().to_owned();
    let discovered = metadata(&http, &format!("{base}/c2id")).await;
    assert_eq!(discovered["issuer"], "https://idp.example.test/c2id");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_names_only_endpoints_that_answer() {
    let (sim, http) = start(Options::default()).await;
    let discovered = metadata(&http, sim.issuer()).await;
    let mut checked = 0;
    for (key, value) in discovered.as_object().unwrap() {
        if !(key.ends_with("_endpoint") || key.ends_with("_uri")) {
            continue;
        }
        let url = value.as_str().expect("a URL");
        let status = http.get(url).send().await.expect("answered").status();
        assert_ne!(
            status,
            StatusCode::NOT_FOUND,
            "{key} = {url} is advertised but not served"
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "registration and JWK set: {discovered}");
    sim.shutdown().await;
}
