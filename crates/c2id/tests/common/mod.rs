//! Two emulated Connect2id servers (source and target, in this process,
//! on loopback) and what the migration should leave on the target, read
//! through the emulators' control API (`state()`), never through the code
//! under test.
#![allow(dead_code, unused_imports)]

pub mod hostile;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::watch;
use trickle_c2id::{
    migrate, preflight, ApiTokens, Endpoint, HttpOptions, MigrateError, MigrateOptions, Outcome,
    Phase, PreflightReport, SyncRules,
};
use trickle_c2id_sim::{C2idSim, Generate, Options, Seed, Snapshot, EXAMPLE_JWKS};
use trickle_transfer::RetryPolicy;

pub use hostile::{rule, Action, Hostile, Incoming, Reply, Rule};

pub const SOURCE_TOKENS: [&str; 3] = [
    "sourceClientRegistrationToken0123456789",
    "sourceAuthzStoreToken0123456789abcdefghi",
    "sourceSessionStoreToken0123456789abcdefg",
];
pub const TARGET_TOKENS: [&str; 3] = [
    "targetClientRegistrationToken0123456789",
    "targetAuthzStoreToken0123456789abcdefghi",
    "targetSessionStoreToken0123456789abcdefg",
];

pub fn example_jwks() -> Value {
    serde_json::from_str(EXAMPLE_JWKS).unwrap()
}

/// The example keys with the symmetric (`oct`) ones replaced: the same
/// public JWK set, other secret material (so other SIDs).
pub fn same_public_other_secret_jwks() -> Value {
    let mut jwks = example_jwks();
    for key in jwks["keys"].as_array_mut().unwrap() {
        if key["kty"] == "oct" {
            key["k"] = json!("b3RoZXItc2VjcmV0LW1hdGVyaWFsLWZvci10ZXN0cw");
        }
    }
    jwks
}

/// A JWK set with other public keys.
pub fn other_jwks() -> Value {
    json!({"keys": [
        {"kty": "oct", "kid": "hmac", "use": "sig", "alg": "HS256", "k": "b3RoZXItc2VjcmV0LW1hdGVyaWFsLWZvci10ZXN0cy0w"},
        {"kty": "EC", "kid": "other-ec", "crv": "P-256", "x": "WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis",
         "y": "y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE", "d": "Hndv7ZZjs_ke8o9zXYo3iq-Yr8SewI5vrqd0pAvEPqg"}
    ]})
}

/// The hand-written source: every kind of client (secret, public,
/// client-credentials), authorisations with and without refresh tokens,
/// sessions with claims and data. Every secret in it is listed by
/// [`seed_secrets`].
pub fn source_seed_json(version: &str) -> Value {
    json!({
        "version": version,
        "context_path": "/c2id",
        "jwks": example_jwks(),
        "api_tokens": tokens_json(SOURCE_TOKENS),
        "clients": [
            {"client_id": "webapp", "client_secret": "webappSecretNotReal0123456789abcdef",
             "client_id_issued_at": 1600000000, "registration_access_token": "webappRatNotReal0123456789abcdef",
             "client_name": "Web app", "redirect_uris": ["https://app.example.com/cb"],
             "grant_types": ["authorization_code", "refresh_token"], "scope": "openid email offline_access"},
            {"client_id": "spa", "redirect_uris": ["https://spa.example.com/"], "token_endpoint_auth_method": "none",
             "registration_access_token": "spaRatNotReal0123456789abcdefghij"},
            {"client_id": "m2m", "client_secret": "m2mSecretNotReal0123456789abcdefgh",
             "grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "client_secret_post",
             "registration_access_token": "m2mRatNotReal0123456789abcdefghij"}
        ],
        "authorizations": [
            {"sub": "alice", "cid": "webapp", "scp": ["openid", "email", "offline_access"], "clm": ["email"],
             "iat": 1700000000, "lng": true, "rft": "aliceRefreshTokenNotReal0123456789ab"},
            {"sub": "alice", "cid": "spa", "scp": ["openid"], "iat": 1700000001, "lng": true},
            {"sub": "bob", "cid": "webapp", "scp": ["openid"], "iat": 1700000002, "lng": true,
             "rft": "bobRefreshTokenNotReal0123456789abcd", "dat": {"note": "bobAuthzDataNotReal01234"}}
        ],
        "sessions": {
            "aliceSessionKeyNotReal0123": {"sub": "alice", "auth_time": 1700000000, "creation_time": 1700000000,
                "max_life": 20160, "auth_life": 10080, "max_idle": 1440, "acr": "1", "amr": ["pwd"],
                "claims": {"email": "alice.session.claim@example.com"}, "data": {"cart": "aliceSessionDataNotReal0123"}},
            "bobSessionKeyNotReal012345": {"sub": "bob", "auth_time": 1700000100, "creation_time": 1700000100,
                "max_life": -1, "auth_life": -1, "max_idle": -1, "data": {"theme": "bobSessionDataNotReal01234"}}
        }
    })
}

/// Every secret of [`source_seed_json`] (and its tokens and keys): none may
/// appear in any output.
pub fn seed_secrets(source: &Snapshot) -> Vec<String> {
    let mut secrets: Vec<String> = SOURCE_TOKENS
        .iter()
        .chain(TARGET_TOKENS.iter())
        .map(|s| s.to_string())
        .collect();
    for client in &source.clients {
        for member in ["client_secret", "registration_access_token"] {
            if let Some(s) = client.get(member).and_then(Value::as_str) {
                secrets.push(s.to_owned());
            }
        }
    }
    for authz in &source.authorizations {
        for member in ["rft"] {
            if let Some(s) = authz.get(member).and_then(Value::as_str) {
                secrets.push(s.to_owned());
            }
        }
        if let Some(note) = authz.pointer("/dat/note").and_then(Value::as_str) {
            secrets.push(note.to_owned());
        }
    }
    for (sid, session) in &source.sessions {
        secrets.push(sid.clone());
        for pointer in ["/claims/email", "/data/cart", "/data/theme"] {
            if let Some(s) = session.pointer(pointer).and_then(Value::as_str) {
                secrets.push(s.to_owned());
            }
        }
    }
    for key in example_jwks()["keys"].as_array().unwrap() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if let Some(s) = key.get(member).and_then(Value::as_str) {
                secrets.push(s.to_owned());
            }
        }
    }
    secrets
}

fn tokens_json(tokens: [&str; 3]) -> Value {
    json!({"client_registration": tokens[0], "authz_store": tokens[1], "session_store": tokens[2]})
}

/// An empty target with `jwks` (the example's when `None`).
pub fn empty_target_json(version: &str, jwks: Option<Value>) -> Value {
    json!({
        "version": version,
        "jwks": jwks.unwrap_or_else(example_jwks),
        "api_tokens": tokens_json(TARGET_TOKENS),
        "clients": [], "authorizations": [], "sessions": {}
    })
}

pub fn seed(json: &Value) -> Seed {
    Seed::from_json(&json.to_string()).expect("a valid seed")
}

/// A generated source of `n` clients, `4n` authorisations and `4n`
/// sessions, with its own tokens.
pub fn generated_source(clients: usize, records: usize) -> Seed {
    Generate {
        clients,
        authorizations: records,
        sessions: records,
        context_path: "/c2id".to_owned(),
        ..Generate::default()
    }
    .seed()
    .expect("generates")
}

pub struct Pair {
    pub source: C2idSim,
    pub target: C2idSim,
    pub source_tokens: ApiTokens,
    pub target_tokens: ApiTokens,
    pub journal: tempfile::TempDir,
    /// Hostile servers standing in front of the emulators (the migration
    /// is pointed at them), when a test asked for them.
    pub source_front: Option<Hostile>,
    pub target_front: Option<Hostile>,
}

/// Starts an emulator, behind a hostile server playing `rule` when given
/// (the emulator's issuer is then the hostile server's URL).
async fn start_sim(seed: Seed, rule: Option<Rule>) -> (C2idSim, Option<Hostile>) {
    let Some(rule) = rule else {
        return (
            C2idSim::start_local(seed, Options::default())
                .await
                .unwrap(),
            None,
        );
    };
    let (listener, url) = hostile::bind().await;
    let options = Options {
        public_url: Some(url),
        ..Options::default()
    };
    let sim = C2idSim::start_local(seed, options).await.unwrap();
    let front = Hostile::serve(listener, Some(sim.base_url().to_owned()), rule);
    (sim, Some(front))
}

pub fn tokens(t: [&str; 3]) -> ApiTokens {
    ApiTokens {
        clients: Some(t[0].to_owned()),
        authorizations: Some(t[1].to_owned()),
        sessions: Some(t[2].to_owned()),
    }
}

impl Pair {
    pub async fn start(source: Seed, target: Seed) -> Pair {
        Pair::with_tokens(source, target, tokens(SOURCE_TOKENS), tokens(TARGET_TOKENS)).await
    }

    /// Generated seeds carry the emulator's example tokens.
    pub async fn generated(source: Seed, target: Seed) -> Pair {
        let example = ApiTokens {
            clients: Some(trickle_c2id_sim::CLIENT_REGISTRATION_TOKEN.to_owned()),
            authorizations: Some(trickle_c2id_sim::AUTHZ_STORE_TOKEN.to_owned()),
            sessions: Some(trickle_c2id_sim::SESSION_STORE_TOKEN.to_owned()),
        };
        Pair::with_tokens(source, target, example.clone(), example).await
    }

    pub async fn with_tokens(
        source: Seed,
        target: Seed,
        source_tokens: ApiTokens,
        target_tokens: ApiTokens,
    ) -> Pair {
        Pair::fronted(source, target, None, None, source_tokens, target_tokens).await
    }

    /// The hand-written seeds' tokens, with hostile servers in front.
    pub async fn behind(
        source: Seed,
        target: Seed,
        source_rule: Option<Rule>,
        target_rule: Option<Rule>,
    ) -> Pair {
        Pair::fronted(
            source,
            target,
            source_rule,
            target_rule,
            tokens(SOURCE_TOKENS),
            tokens(TARGET_TOKENS),
        )
        .await
    }

    pub async fn fronted(
        source: Seed,
        target: Seed,
        source_rule: Option<Rule>,
        target_rule: Option<Rule>,
        source_tokens: ApiTokens,
        target_tokens: ApiTokens,
    ) -> Pair {
        let (source, source_front) = start_sim(source, source_rule).await;
        let (target, target_front) = start_sim(target, target_rule).await;
        Pair {
            source,
            target,
            source_tokens,
            target_tokens,
            journal: tempfile::tempdir().unwrap(),
            source_front,
            target_front,
        }
    }

    pub fn endpoints(&self) -> (Endpoint, Endpoint) {
        (
            Endpoint {
                issuer: self.source.issuer().to_owned(),
                tokens: self.source_tokens.clone(),
                version: None,
            },
            Endpoint {
                issuer: self.target.issuer().to_owned(),
                tokens: self.target_tokens.clone(),
                version: None,
            },
        )
    }

    pub fn options(&self) -> Run {
        Run {
            phases: Phase::ALL.to_vec(),
            journal_dir: self.journal.path().join("journal"),
            concurrency: 8,
            dry_run: false,
            verify: false,
            overwrite: false,
            allow_different_keys: false,
            max_wait: None,
            notice_waits_over: None,
            notices: None,
            stall_timeout: None,
            memory_bound: 1000,
            sync: None,
        }
    }

    pub async fn preflight(&self, run: &Run) -> PreflightReport {
        let (source, target) = self.endpoints();
        preflight(
            &source,
            &target,
            &run.phases,
            run.allow_different_keys,
            run.http(),
        )
        .await
        .0
    }

    /// Preflight, then the migration (panics when preflight refuses).
    pub async fn migrate(&self, run: &Run) -> Result<Outcome, MigrateError> {
        let (_tx, stop) = watch::channel(false);
        self.migrate_until(run, stop).await
    }

    pub async fn migrate_until(
        &self,
        run: &Run,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, MigrateError> {
        self.migrate_after_preflight(run, stop, || {}).await
    }

    /// Preflight, then `between` (faults that preflight must not meet),
    /// then the migration.
    pub async fn migrate_after_preflight(
        &self,
        run: &Run,
        stop: watch::Receiver<bool>,
        between: impl FnOnce(),
    ) -> Result<Outcome, MigrateError> {
        let (source, target) = self.endpoints();
        let (report, servers) = preflight(
            &source,
            &target,
            &run.phases,
            run.allow_different_keys,
            run.http(),
        )
        .await;
        let servers = servers.unwrap_or_else(|| panic!("preflight refused: {:?}", report.refusals));
        between();
        let options = MigrateOptions {
            phases: report.phases.clone(),
            journal_dir: run.journal_dir.clone(),
            concurrency: run.concurrency,
            dry_run: run.dry_run,
            verify: run.verify,
            overwrite: run.overwrite,
            memory_bound: run.memory_bound,
            sync: run.sync,
        };
        migrate(&servers, &report, &options, &mut |_| {}, stop).await
    }
}

/// What one test run asks for.
#[derive(Debug, Clone)]
pub struct Run {
    pub phases: Vec<Phase>,
    pub journal_dir: std::path::PathBuf,
    pub concurrency: usize,
    pub dry_run: bool,
    pub verify: bool,
    pub overwrite: bool,
    pub allow_different_keys: bool,
    /// The wait budget of a request (the default when `None`).
    pub max_wait: Option<Duration>,
    /// Announce waits longer than this (the default when `None`).
    pub notice_waits_over: Option<Duration>,
    /// Where announced waits are collected.
    pub notices: Option<Arc<Mutex<Vec<String>>>>,
    /// How long a listing may go without a new record.
    pub stall_timeout: Option<Duration>,
    /// Digests kept in memory per table (small: the tests spill to disk).
    pub memory_bound: usize,
    /// A sync pass, under these rules.
    pub sync: Option<SyncRules>,
}

impl Run {
    /// [`fast_http`] with this run's knobs.
    pub fn http(&self) -> HttpOptions {
        let mut http = fast_http();
        if let Some(wait) = self.max_wait {
            http.max_wait = wait;
        }
        if let Some(over) = self.notice_waits_over {
            http.notice_waits_over = over;
        }
        if let Some(notices) = &self.notices {
            let notices = notices.clone();
            http.on_wait = Some(Arc::new(move |notice: &trickle_c2id::WaitNotice| {
                notices.lock().unwrap().push(format!(
                    "{}: {} s before {} ({})",
                    notice.side,
                    notice.wait.as_secs_f64(),
                    notice.url,
                    notice.why
                ));
            }));
        }
        if let Some(stall) = self.stall_timeout {
            http.stall_timeout = stall;
        }
        http
    }
}

/// Quick retries: the emulators answer in microseconds.
pub fn fast_http() -> HttpOptions {
    HttpOptions {
        request_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            first_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(40),
            max_wait: Duration::from_secs(3),
            attempts: 16,
        },
        connections: 16,
        ..HttpOptions::default()
    }
}

/// A source registration as a target that imported it holds it: with a
/// registration access token of its own (a target never holds the
/// source's: only the source itself, or a copy of its store, does).
pub fn as_imported(client: &Value) -> Value {
    let mut client = client.clone();
    client
        .as_object_mut()
        .unwrap()
        .remove("registration_access_token");
    client
}

/// A client registration as the target must hold it: the source's, but
/// for what the target makes anew.
pub fn comparable_client(client: &Value) -> Value {
    let mut client = client.clone();
    let members = client.as_object_mut().unwrap();
    for member in [
        "client_id_issued_at",
        "registration_access_token",
        "registration_client_uri",
    ] {
        members.remove(member);
    }
    client
}

/// Asserts the target holds exactly the source's records of `phases` (and
/// nothing else of those kinds): clients with the same id, secret and
/// metadata, authorisations as they were, sessions under the same SIDs.
pub fn assert_migrated(source: &Snapshot, target: &Snapshot, phases: &[Phase]) {
    if phases.contains(&Phase::Clients) {
        let want: Vec<Value> = source.clients.iter().map(comparable_client).collect();
        let got: Vec<Value> = target.clients.iter().map(comparable_client).collect();
        assert_eq!(got.len(), want.len(), "client count");
        assert_eq!(got, want, "clients");
    }
    if phases.contains(&Phase::Authorizations) {
        assert_eq!(target.authorizations.len(), source.authorizations.len());
        assert_eq!(
            target.authorizations, source.authorizations,
            "authorisations"
        );
    }
    if phases.contains(&Phase::Sessions) {
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&target.sessions), keys(&source.sessions), "same SIDs");
        assert_eq!(target.sessions, source.sessions, "sessions");
    }
}

/// Every write request a server was sent, of every kind (posts, updates,
/// deletes, revocations, logouts): "writes nothing" is this staying put.
pub fn count_writes(sim: &C2idSim) -> u64 {
    let r = sim.stats().requests;
    r.client_register
        + r.client_update
        + r.client_delete
        + r.authz_v3_create
        + r.authz_v3_delete
        + r.authz_v3_revoke
        + r.authz_v2_create
        + r.authz_v2_delete
        + r.authz_v2_revoke
        + r.session_create
        + r.session_update
        + r.session_delete
}

/// Every file under `dir`, as text.
pub fn files_text(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                text.push_str(&files_text(&path));
            } else if let Ok(content) = std::fs::read_to_string(&path) {
                text.push_str(&content);
            }
        }
    }
    text
}
