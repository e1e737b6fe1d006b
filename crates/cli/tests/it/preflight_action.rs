//! `trickle preflight --new-domain` with `mark_migrated = "action"`: the
//! post-login Action is the only thing that marks users, so "ready" needs
//! it to exist, be deployed, run the code `trickle generate` makes, and be
//! bound to the post-login trigger. `trickle sim` has no Actions API, so the
//! new tenant is a fake of the documented Management API endpoints
//! (connections, actions, trigger bindings); the old tenant is `trickle sim`.

use crate::support;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use support::fake_auth0::{management_error, management_ok, management_token, Fake};
use support::run::{text, trickle};
use trickle_sim::{Options, Seed, Sim};

const REALM: &str = "Username-Password-Authentication";
const CONNECTION: &str = "old-tenant-import";
const ACTION: &str = "old-tenant-import-migration";
const OLD_SECRET: &str = "action-test-old-secret-3d7e";
const NEW_SECRET: &str = "action-test-new-secret-81c4";
const ACTION_ID: &str = "910b1053-577f-4d81-a8c8-020e7319a38a";

/// What the new tenant holds.
#[derive(Clone)]
struct NewTenant {
    login: String,
    get_user: String,
    /// The Action's code as deployed (`None`: never deployed), the draft's.
    deployed_code: Option<String>,
    draft_code: String,
    exists: bool,
    /// Bound to post-login (with another Action before it).
    bound: bool,
    scopes: &'static str,
}

type Shared = Arc<Mutex<NewTenant>>;

fn action_object(tenant: &NewTenant) -> Value {
    let deployed = tenant.deployed_code.as_ref().map(|code| {
        json!({"id": "12a3b9e6-06e6-4a29-96bf-90c82fe79a0d", "action_id": ACTION_ID, "code": code,
               "dependencies": [], "deployed": true, "runtime": "node22", "secrets": [],
               "status": "built", "number": 3})
    });
    json!({
        "id": ACTION_ID,
        "name": ACTION,
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "all_changes_deployed": tenant.deployed_code.as_deref() == Some(tenant.draft_code.as_str()),
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-02T00:00:00.000Z",
        "code": tenant.draft_code,
        "dependencies": [],
        "runtime": "node22",
        "secrets": [],
        "deployed_version": deployed,
        "status": "built",
    })
}

async fn actions(
    State(state): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let tenant = state.lock().unwrap().clone();
    let named = query
        .iter()
        .find(|(key, _)| key == "actionName")
        .map(|(_, value)| value.clone());
    let mut list = vec![json!({"id": "0e3f…other", "name": "Add roles",
        "supported_triggers": [{"id": "post-login", "version": "v3"}], "all_changes_deployed": true})];
    if tenant.exists {
        list.push(action_object(&tenant));
    }
    let list: Vec<Value> = list
        .into_iter()
        .filter(|a| named.as_deref().is_none_or(|n| a["name"] == n))
        .collect();
    management_ok(json!({"actions": list, "total": list.len(), "page": 0, "per_page": 50}))
}

async fn bindings(State(state): State<Shared>, UrlPath(trigger): UrlPath<String>) -> Response {
    let tenant = state.lock().unwrap().clone();
    let mut list = vec![
        json!({"id": "b1", "trigger_id": trigger, "display_name": "Add roles",
        "action": {"id": "0e3f…other", "name": "Add roles"},
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"}),
    ];
    if tenant.bound && trigger == "post-login" {
        list.push(
            json!({"id": "b2", "trigger_id": trigger, "display_name": ACTION,
            "action": action_object(&tenant),
            "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"}),
        );
    }
    management_ok(json!({"bindings": list, "total": list.len(), "page": 0, "per_page": 50}))
}

async fn connections(State(state): State<Shared>) -> Response {
    let tenant = state.lock().unwrap().clone();
    management_ok(json!([{
        "id": "con_NewImport00001", "name": CONNECTION, "strategy": "auth0",
        "options": {"import_mode": true, "enabledDatabaseCustomization": true,
                    "customScripts": {"login": tenant.login, "get_user": tenant.get_user}},
        "enabled_clients": ["app"],
    }]))
}

fn new_tenant(state: Shared) -> Fake {
    Fake::start(move |base| {
        let audience = format!("{base}/api/v2/");
        let scopes = state.lock().unwrap().scopes;
        Router::new()
            .route(
                "/oauth/token",
                post(move || {
                    let audience = audience.clone();
                    async move { management_token(&audience, scopes) }
                }),
            )
            .route("/api/v2/connections", get(connections))
            .route(
                "/api/v2/connections/{id}/clients",
                get(|| async { management_ok(json!({"clients": [{"client_id": "app"}]})) }),
            )
            .route("/api/v2/actions/actions", get(actions))
            .route("/api/v2/actions/triggers/{trigger}/bindings", get(bindings))
            .fallback(|| async {
                management_error(404, "Not Found", "Not Found", "inexistent_resource")
            })
            .with_state(state)
    })
}

fn old_tenant() -> (Sim, tokio::runtime::Runtime) {
    let seed = json!({
        "bcrypt_cost": 4,
        "connections": [{"name": REALM}],
        "clients": [{"client_id": "good", "client_secret": OLD_SECRET,
                     "grant_types": ["password", "client_credentials"],
                     "scopes": ["read:users", "update:users"]}],
        "users": [],
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let options = Options {
        rate_limit: 0,
        ..Options::default()
    };
    let sim = runtime
        .block_on(Sim::start_local(
            Seed::from_json(&seed.to_string()).unwrap(),
            options,
        ))
        .unwrap();
    (sim, runtime)
}

/// The config, and what `trickle generate` makes from it.
fn generated(dir: &Path) -> (String, NewTenant) {
    let cfg = dir.join("trickle.toml");
    fs::write(
        &cfg,
        format!(
            "[connection]\nname = \"{CONNECTION}\"\n[source]\nrealm = \"{REALM}\"\n\
             [migration]\nmark_migrated = \"action\"\n[action]\npost_login_flow = [\"Add roles\", \"{ACTION}\"]\n"
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let output = trickle(
        &[
            "generate",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(60),
    );
    assert!(output.status.success(), "{}", text(&output));
    let read = |path: &str| fs::read_to_string(out.join(path)).unwrap();
    let code = read(&format!("actions/{ACTION}/code.js"));
    let tenant = NewTenant {
        login: read(&format!("database-connections/{CONNECTION}/login.js")),
        get_user: read(&format!("database-connections/{CONNECTION}/get_user.js")),
        deployed_code: Some(code.clone()),
        draft_code: code,
        exists: true,
        bound: true,
        scopes: "read:connections read:actions",
    };
    (cfg.to_str().unwrap().to_owned(), tenant)
}

/// One way for the new tenant to be wrong.
type Twist = Box<dyn Fn(&mut NewTenant)>;

const ACTION_IDS: [&str; 4] = ["action", "action_deployed", "action_code", "action_bound"];

fn run(cfg: &str, old: &Sim, new: &Fake) -> (i32, Vec<Value>) {
    let output = trickle(
        &[
            "preflight",
            "--json",
            "--probes",
            "1",
            "--config",
            cfg,
            "--domain",
            old.base_url(),
            "--client-id",
            "good",
            "--new-domain",
            &new.base,
            "--new-client-id",
            "deployer",
        ],
        &[
            ("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET),
            ("TRICKLE_NEW_CLIENT_SECRET", NEW_SECRET),
        ],
        Duration::from_secs(60),
    );
    let shown = text(&output);
    assert!(
        !shown.contains(OLD_SECRET) && !shown.contains(NEW_SECRET),
        "{shown}"
    );
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("--json prints JSON:\n{shown}"));
    (
        output.status.code().unwrap_or(-1),
        report["checks"].as_array().unwrap().clone(),
    )
}

fn outcome<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {checks:#?}"))
}

fn assert_check(checks: &[Value], id: &str, expected: &str, word: &str) {
    let check = outcome(checks, id);
    assert_eq!(check["outcome"], expected, "{id}: {check:#}");
    let shown = format!("{} {}", check["detail"], check["fix"]);
    assert!(shown.contains(word), "{id}: {word:?} not in {shown}");
}

#[test]
fn ready_needs_the_action_deployed_as_generated_and_bound_to_post_login() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, ready) = generated(dir.path());
    let (old, _runtime) = old_tenant();
    let state: Shared = Arc::new(Mutex::new(ready.clone()));
    let new = new_tenant(state.clone());

    let (code, checks) = run(&cfg, &old, &new);
    assert_eq!(code, 0, "{checks:#?}");
    for id in ACTION_IDS {
        assert_eq!(
            outcome(&checks, id)["outcome"],
            "passed",
            "{id}: {checks:#?}"
        );
    }
    assert_check(&checks, "action_code", "passed", "sha256");
    assert_check(&checks, "action_bound", "passed", "2 of 2");

    // One way to be wrong at a time.
    let cases: Vec<(&str, Twist, &str, &str)> = vec![
        (
            "missing",
            Box::new(|t| t.exists = false),
            "action",
            "no post-login Action",
        ),
        (
            "never deployed",
            Box::new(|t| t.deployed_code = None),
            "action_deployed",
            "never deployed",
        ),
        (
            "hand edit",
            Box::new(|t| {
                let edited = t.draft_code.replacen("budgetMs", "budgetMs ", 1);
                t.deployed_code = Some(edited.clone());
                t.draft_code = edited;
            }),
            "action_code",
            "sha256",
        ),
        (
            "unbound",
            Box::new(|t| t.bound = false),
            "action_bound",
            "not bound",
        ),
        (
            "no read:actions",
            Box::new(|t| t.scopes = "read:connections"),
            "new_token",
            "read:actions",
        ),
    ];
    for (case, twist, id, word) in cases {
        let mut tenant = ready.clone();
        twist(&mut tenant);
        *state.lock().unwrap() = tenant;
        let new = new_tenant(state.clone());
        let (code, checks) = run(&cfg, &old, &new);
        assert_eq!(code, 1, "{case}: {checks:#?}");
        assert_check(&checks, id, "failed", word);
    }
}
