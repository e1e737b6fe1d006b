//! The new tenant: a Management API token that can read what preflight
//! checks, the connection the config names (in import mode with custom
//! scripts, enabled for an application, running the generated scripts),
//! and the post-login Action when the config has one.

use serde_json::Value;

use super::action;
use super::model::{
    failed, http_detail, passed, urlencode, Check, Checks, NewRun, NewTenant, Request, Titles,
    Verdict, APP_API,
};
use crate::drift::{compare_scripts, Drift};
use crate::jwt;
use crate::tenant::Tenant;

/// Why the checks after one cannot run.
struct Stop(&'static str);

/// Runs the new tenant's checks.
pub(super) async fn check(new: &NewTenant, request: &Request<'_>) -> Vec<Check> {
    let connection = request.config.connection_name.as_str();
    let titles = titles(connection, new.action.as_ref().map(|a| a.name.as_str()));
    let mut checks = Checks::default();
    let Some((tenant, token)) = open(new, request, &titles, &mut checks).await else {
        return checks.into_list(&titles);
    };
    let mut run = NewRun {
        tenant,
        token,
        titles,
        checks,
        secret: new.credentials.secret.clone(),
    };
    if let Err(Stop(why)) = connection_checks(&mut run, new, connection).await {
        run.checks.skip_unrecorded(&run.titles, why, &action::IDS);
    }
    if let Some(expected) = &new.action {
        action::check(&mut run, expected).await;
    }
    run.checks.into_list(&run.titles)
}

/// The checks, in the order they are reported.
fn titles(connection: &str, action: Option<&str>) -> Titles {
    let scopes = if action.is_some() {
        "read:connections, read:actions"
    } else {
        "read:connections"
    };
    let mut list = vec![
        (
            "new_token",
            format!("new tenant: Management API token with {scopes}"),
        ),
        (
            "connection",
            format!("new tenant: connection {connection} exists"),
        ),
        (
            "database",
            "new tenant: it is a database connection".to_owned(),
        ),
        (
            "import_mode",
            "new tenant: import mode on (Import Users to Auth0)".to_owned(),
        ),
        (
            "custom_scripts",
            "new tenant: custom database scripts on".to_owned(),
        ),
        (
            "enabled_clients",
            "new tenant: enabled for at least one application".to_owned(),
        ),
        (
            "scripts",
            "new tenant: deployed scripts are what trickle generate makes".to_owned(),
        ),
    ];
    if let Some(name) = action {
        list.extend(action::titles(name));
    }
    Titles(list)
}

/// The new tenant's token, with the scopes preflight needs; `None` (and
/// every check skipped) without it.
async fn open(
    new: &NewTenant,
    request: &Request<'_>,
    titles: &Titles,
    checks: &mut Checks,
) -> Option<(Tenant, String)> {
    let secret = &new.credentials.secret;
    let mut refuse = |detail: String, fix: String| {
        checks.record(titles, "new_token", failed(secret.redact(&detail), fix));
        checks.skip_unrecorded(titles, "needs the new tenant's token", &[]);
    };
    let tenant = match request.tenant(&new.credentials) {
        Ok(tenant) => tenant,
        Err(error) => {
            let fix = "--new-domain: the new tenant's https:// address".to_owned();
            refuse(error.to_string(), fix);
            return None;
        }
    };
    let token = match tenant.management_token().await {
        Ok(token) => token,
        Err(error) => {
            let fix = format!("--new-client-id and $TRICKLE_NEW_CLIENT_SECRET: a client of the new tenant authorized for its Management API ({APP_API})");
            refuse(error.to_string(), fix);
            return None;
        }
    };
    let missing = missing_scopes(&token, new.action.is_some());
    if !missing.is_empty() {
        let fix = format!(
            "grant {} in {APP_API} → Permissions (in the new tenant)",
            missing.join(" and ")
        );
        refuse(format!("the token lacks {}", missing.join(", ")), fix);
        return None;
    }
    let detail = format!("a token for {}", tenant.audience());
    checks.record(titles, "new_token", passed(detail));
    Some((tenant, token))
}

/// The scopes preflight reads the new tenant with that the token's claims
/// lack (none when the token is not a JWT: its reads will say).
fn missing_scopes(token: &str, action: bool) -> Vec<&'static str> {
    let needed: &[&'static str] = if action {
        &["read:connections", "read:actions"]
    } else {
        &["read:connections"]
    };
    let Some(granted) = jwt::claims(token).map(|claims| jwt::granted_scopes(&claims)) else {
        return Vec::new();
    };
    needed
        .iter()
        .copied()
        .filter(|scope| !granted.iter().any(|g| g == scope))
        .collect()
}

/// A property of the connection: its check, and how to read it from the
/// connection (the dashboard page that fixes it given).
type Property = fn(&Value, &str) -> Verdict;

const CONNECTION_PROPERTIES: [(&str, Property); 3] = [
    ("database", database_strategy),
    ("import_mode", import_mode_on),
    ("custom_scripts", custom_scripts_on),
];

fn database_strategy(found: &Value, _: &str) -> Verdict {
    match found["strategy"].as_str().unwrap_or("?") {
        "auth0" => passed("strategy auth0"),
        other => failed(
            format!("strategy {other}"),
            "the lazy migration needs a database connection (Authentication → Database)",
        ),
    }
}

fn import_mode_on(found: &Value, page: &str) -> Verdict {
    match &found["options"]["import_mode"] {
        Value::Bool(true) => passed("options.import_mode = true"),
        other => failed(
            format!("options.import_mode = {other}"),
            format!("{page} → Settings → Import Users to Auth0: on"),
        ),
    }
}

fn custom_scripts_on(found: &Value, page: &str) -> Verdict {
    match &found["options"]["enabledDatabaseCustomization"] {
        Value::Bool(true) => passed("options.enabledDatabaseCustomization = true"),
        other => failed(
            format!("options.enabledDatabaseCustomization = {other}"),
            format!("{page} → Custom Database → Use my own database: on"),
        ),
    }
}

/// The connection: found by name, its properties, its applications, its
/// scripts.
async fn connection_checks(
    run: &mut NewRun,
    new: &NewTenant,
    connection: &str,
) -> Result<(), Stop> {
    let answer = run
        .get(&format!(
            "/api/v2/connections?name={}",
            urlencode(connection)
        ))
        .await;
    let found = answer.json().and_then(|list| {
        list.as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == connection).cloned())
    });
    let Some(found) = found else {
        let detail = if answer.status == 200 {
            format!("no connection named {connection}")
        } else {
            http_detail(&answer)
        };
        let fix = format!("create it: deploy the folder trickle generate wrote (database-connections/{connection}/) with deploy-cli, or Authentication → Database → Create DB Connection");
        run.record("connection", failed(detail, fix));
        return Err(Stop("no such connection"));
    };
    let id = found["id"].as_str().unwrap_or_default().to_owned();
    run.record("connection", passed(format!("{connection} ({id})")));
    let page = format!("Authentication → Database → {connection}");
    for (check, read) in CONNECTION_PROPERTIES {
        run.record(check, read(&found, &page));
    }
    let verdict = enabled_clients(run, &found, &id, &page).await;
    run.record("enabled_clients", verdict);
    let verdict = scripts_verdict(&found["options"]["customScripts"], new, connection);
    run.record("scripts", verdict);
    Ok(())
}

/// The applications the connection is enabled for: its own endpoint, else
/// (older tenants) the list inside the connection.
async fn enabled_clients(run: &NewRun, found: &Value, id: &str, page: &str) -> Verdict {
    let answer = run
        .get(&format!("/api/v2/connections/{}/clients", urlencode(id)))
        .await;
    let enabled: Option<Vec<String>> = match answer.json() {
        Some(body) if answer.status == 200 => body["clients"].as_array().map(|list| {
            list.iter()
                .filter_map(|c| c["client_id"].as_str().map(str::to_owned))
                .collect()
        }),
        _ => found["enabled_clients"].as_array().map(|list| {
            list.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        }),
    };
    match enabled {
        Some(list) if !list.is_empty() => passed(format!("{} application(s)", list.len())),
        Some(_) => failed(
            "no application uses it: nobody can log in through it",
            format!("{page} → Applications: enable your applications"),
        ),
        None => failed(
            http_detail(&answer),
            "grant read:connections to the new tenant's client",
        ),
    }
}

/// The deployed scripts against the generated ones.
fn scripts_verdict(deployed: &Value, new: &NewTenant, connection: &str) -> Verdict {
    let mut lines = Vec::new();
    let mut all_identical = true;
    for (key, text) in &new.expected {
        let drift = compare_scripts(deployed[key.as_str()].as_str(), text);
        all_identical &= drift == Drift::Identical;
        lines.push(format!(
            "{key}: {}",
            drift.summary(env!("CARGO_PKG_VERSION"))
        ));
    }
    if all_identical {
        passed(lines.join("; "))
    } else {
        failed(lines.join("; "), format!("deploy the scripts trickle generate wrote from this config (database-connections/{connection}/), and edit the config rather than the dashboard"))
    }
}
