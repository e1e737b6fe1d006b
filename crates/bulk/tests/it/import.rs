//! `import` against a stand-in tenant that follows Auth0's documented job
//! behaviour (tests/support/fake_tenant.rs).

use crate::support;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::fake_tenant::{self, Shared, CLIENT_ID, CLIENT_SECRET, CONNECTION_ID};
use tokio::sync::watch;
use trickle_bulk::import::api::ApiError;
use trickle_bulk::import::{run_import, Event, Halt, ImportError, ImportOptions, ImportOutcome};
use trickle_bulk::{plan, PlanOptions};
use trickle_core::Policy;

const BCRYPT_10: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

/// A plan of `users` users cut into files of at most 400 bytes (a few users each).
fn make_plan(dir: &Path, users: usize, email: impl Fn(usize) -> String) -> PathBuf {
    make_plan_in_files_of(dir, users, 400, email)
}

/// A plan of `users` users cut into files of at most `file_limit` bytes.
fn make_plan_in_files_of(
    dir: &Path,
    users: usize,
    file_limit: usize,
    email: impl Fn(usize) -> String,
) -> PathBuf {
    let lines: Vec<String> = (0..users)
        .map(|n| {
            json!({
                "user_id": format!("auth0|u{n}"),
                "email": email(n),
                "name": format!("User {n}"),
                "user_metadata": {"n": n}
            })
            .to_string()
        })
        .collect();
    let input = dir.join("export.json");
    fs::write(&input, lines.join("\n")).unwrap();
    let hashes = dir.join("hashes.jsonl");
    fs::write(
        &hashes,
        json!({"email": email(0), "hash": BCRYPT_10}).to_string(),
    )
    .unwrap();
    let out = dir.join("plan");
    let mut options = PlanOptions::new(
        input,
        out.clone(),
        "Username-Password-Authentication".into(),
        "import".into(),
        Policy::default(),
    );
    options.file_limit = file_limit;
    options.hashes = Some(hashes);
    plan(&options, &mut |_| {}).unwrap();
    out
}

fn options(base: &str) -> ImportOptions {
    let mut options = ImportOptions::new(base, CLIENT_ID, CLIENT_SECRET, CONNECTION_ID);
    options.poll_interval = Duration::from_millis(10);
    options.max_wait = Duration::from_millis(300);
    options
}

async fn import(plan: &Path, options: &ImportOptions) -> Result<ImportOutcome, ImportError> {
    let (_stop, stop) = watch::channel(false);
    run_import(plan, options, &mut |_| {}, stop).await
}

fn plan_file_count(plan: &Path) -> usize {
    fs::read_dir(plan)
        .unwrap()
        .filter(|e| {
            trickle_bulk::is_import_file_name(&e.as_ref().unwrap().file_name().to_string_lossy())
        })
        .count()
}

/// Each file of the plan was uploaded exactly once (by file name and external id).
fn assert_each_file_once(plan: &Path, tenant: &Shared) {
    let tenant = tenant.lock().unwrap();
    let mut by_file: HashMap<&str, usize> = HashMap::new();
    for (external_id, file, _) in &tenant.uploads {
        assert_eq!(
            external_id,
            &format!("trickle-{}", file.trim_end_matches(".json"))
        );
        *by_file.entry(file).or_default() += 1;
    }
    assert_eq!(by_file.len(), plan_file_count(plan), "every file uploaded");
    assert!(
        by_file.values().all(|&n| n == 1),
        "uploaded more than once: {by_file:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_is_imported_once_with_at_most_two_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 40, |n| format!("user{n}@example.com"));
    let files = plan_file_count(&plan);
    assert!(files >= 8, "{files} files");
    let (base, tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(outcome.completed, files);
    assert_eq!(outcome.users_inserted, 40);
    assert_each_file_once(&plan, &tenant);
    {
        let tenant = tenant.lock().unwrap();
        assert_eq!(tenant.max_active, 2, "two jobs at once, never more");
        assert_eq!(tenant.created.len(), 40);
        assert_eq!(tenant.tokens, 1, "the token is reused");
        let with_hash = tenant
            .created
            .iter()
            .find(|u| u["email"] == "user0@example.com")
            .unwrap();
        assert_eq!(with_hash["password_hash"], BCRYPT_10);
    }
    // A second run finds nothing left to do.
    let again = import(&plan, &options(&base)).await.unwrap();
    assert!(again.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_at_a_time_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 12, |n| format!("user{n}@example.com"));
    let (base, tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    let mut options = options(&base);
    options.max_jobs = 1;
    assert!(import(&plan, &options).await.unwrap().is_clean());
    assert_eq!(tenant.lock().unwrap().max_active, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_the_job_limit_are_waited_out() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 20, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.token_429 = 2;
    knobs.poll_429_every = 3;
    // Another tool holds one of the tenant's two slots: our second job gets 429.
    knobs.job_limit = 1;
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let started = Instant::now();
    let mut waits = 0;
    let (_stop, stop) = watch::channel(false);
    let outcome = run_import(
        &plan,
        &options(&base),
        &mut |event| {
            if let Event::Waiting { .. } = event {
                waits += 1;
            }
        },
        stop,
    )
    .await
    .unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_each_file_once(&plan, &tenant);
    let tenant = tenant.lock().unwrap();
    assert!(tenant.rejected_429 > 0, "the job limit was hit");
    assert_eq!(tenant.max_active, 1);
    assert!(waits > 0);
    // Each 429 is waited out (at least 200 ms when the reset has come).
    let floor = Duration::from_millis(200) * (tenant.rejected_429 + 2);
    assert!(
        started.elapsed() >= floor,
        "{:?} < {floor:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_submitting_resumes_by_polling_the_recorded_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 30, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.polls_to_complete = 3;
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let mut crashing = options(&base);
    crashing.halt = Some(Halt::AfterSubmit(3));
    assert!(matches!(
        import(&plan, &crashing).await,
        Err(ImportError::Halted)
    ));
    assert_eq!(tenant.lock().unwrap().uploads.len(), 3);
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_each_file_once(&plan, &tenant);
    assert_eq!(tenant.lock().unwrap().created.len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_an_upload_leaves_the_file_uncertain_until_the_operator_decides() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 30, |n| format!("user{n}@example.com"));
    let (base, tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    let mut crashing = options(&base);
    crashing.halt = Some(Halt::BeforeSubmit(2));
    assert!(matches!(
        import(&plan, &crashing).await,
        Err(ImportError::Halted)
    ));

    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert_eq!(outcome.uncertain.len(), 1, "{outcome:?}");
    assert_eq!(outcome.uncertain[0].file, "users-00002.json");
    assert_eq!(outcome.completed, outcome.files - 1);
    assert!(!outcome.is_clean());

    let mut resubmit = options(&base);
    resubmit.resubmit_uncertain = true;
    let outcome = import(&plan, &resubmit).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_each_file_once(&plan, &tenant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_is_clean_and_resumable() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 30, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.polls_to_complete = 5;
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let (stop_tx, stop) = watch::channel(false);
    let outcome = run_import(
        &plan,
        &options(&base),
        &mut |event| {
            if let Event::Submitted { .. } = event {
                let _ = stop_tx.send(true);
            }
        },
        stop,
    )
    .await
    .unwrap();
    assert!(outcome.interrupted);
    assert_eq!(outcome.running, 1);
    assert!(outcome.pending > 0);
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_each_file_once(&plan, &tenant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_users_are_recorded_without_their_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 10, |n| {
        if n % 3 == 0 {
            format!("dup{n}@example.com")
        } else {
            format!("user{n}@example.com")
        }
    });
    let mut knobs = fake_tenant::tenant();
    knobs.fail_marker = Some("dup".into());
    let (base, _tenant) = fake_tenant::serve(knobs).await;
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert_eq!(outcome.completed, outcome.files);
    assert_eq!(outcome.users_failed, 4);
    assert_eq!(outcome.users_inserted, 6);
    assert!(!outcome.is_clean());
    let mut failed = Vec::new();
    for file in &outcome.error_files {
        let errors: Vec<Value> =
            serde_json::from_slice(&fs::read(plan.join(file)).unwrap()).unwrap();
        for error in errors {
            assert_eq!(error["errors"][0]["code"], "DUPLICATED_USER");
            assert!(
                error["user"].get("password_hash").is_none(),
                "no hash in the error files"
            );
            failed.push(error["user"]["email"].as_str().unwrap().to_owned());
        }
    }
    failed.sort();
    assert_eq!(
        failed,
        [
            "dup0@example.com",
            "dup3@example.com",
            "dup6@example.com",
            "dup9@example.com"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_failed_files_are_reported_and_retried_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 12, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.file_limit = 10; // every file is "too large"
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert_eq!(outcome.failed.len(), outcome.files);
    assert!(
        outcome.failed[0].message.contains("413"),
        "{:?}",
        outcome.failed[0]
    );
    tenant.lock().unwrap().file_limit = 500_000;
    // Without --retry-failed nothing is sent again.
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert_eq!(outcome.failed.len(), outcome.files);
    assert!(tenant.lock().unwrap().uploads.is_empty());
    let mut retry = options(&base);
    retry.retry_failed = true;
    let outcome = import(&plan, &retry).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_each_file_once(&plan, &tenant);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 3, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.fail_jobs = true;
    let (base, _tenant) = fake_tenant::serve(knobs).await;
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert_eq!(outcome.failed.len(), outcome.files);
    assert!(outcome.failed[0].message.contains("failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_must_target_the_same_tenant_and_connection() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 3, |n| format!("user{n}@example.com"));
    let (base, _tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    import(&plan, &options(&base)).await.unwrap();
    let mut other = options(&base);
    other.connection_id = "con_other".into();
    let error = import(&plan, &other).await.unwrap_err();
    assert!(
        matches!(error, ImportError::Mismatch(_)) && error.is_bad_input(),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_bad_input_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 3, |n| format!("user{n}@example.com"));
    let (base, tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    let mut wrong = options(&base);
    wrong.client_secret = "nope".into();
    let error = import(&plan, &wrong).await.unwrap_err();
    assert!(
        matches!(error, ImportError::Api(ApiError::Credentials(_))) && error.is_bad_input(),
        "{error}"
    );
    assert!(
        !error.to_string().contains("nope"),
        "the secret is never shown"
    );
    assert!(tenant.lock().unwrap().uploads.is_empty());
    // The file went back to pending: a run with the right secret sends everything.
    let outcome = import(&plan, &options(&base)).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert!(outcome.failed.is_empty() && outcome.uncertain.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_tenant_is_an_error_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 3, |n| format!("user{n}@example.com"));
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let started = Instant::now();
    let error = import(&plan, &options(&base)).await.unwrap_err();
    assert!(
        matches!(error, ImportError::Api(ApiError::Unreachable(_))),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_no_users_imports_nothing_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    fs::write(
        &input,
        json!({"user_id": "auth0|1", "email": "a@x.com", "app_metadata": {"trickle_migrated_at": "2026-01-01"}})
            .to_string(),
    )
    .unwrap();
    let out = dir.path().join("plan");
    let plan_options = PlanOptions::new(
        input,
        out.clone(),
        "Username-Password-Authentication".into(),
        "import".into(),
        Policy::default(),
    );
    assert_eq!(plan(&plan_options, &mut |_| {}).unwrap().files.len(), 0);
    let (base, tenant) = fake_tenant::serve(fake_tenant::tenant()).await;
    let outcome = import(&out, &options(&base)).await.unwrap();
    assert!(outcome.is_clean() && outcome.files == 0, "{outcome:?}");
    assert_eq!(tenant.lock().unwrap().tokens, 0, "no request at all");
}

/// The users of one plan file.
fn users_of(plan: &Path, file: &str) -> Vec<Value> {
    serde_json::from_slice(&fs::read(plan.join(file)).unwrap()).unwrap()
}

/// Every planned user is on the tenant exactly once.
fn assert_created_once(plan: &Path, tenant: &Shared, users: usize) {
    let tenant = tenant.lock().unwrap();
    let mut emails: Vec<&str> = tenant
        .created
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    emails.sort();
    let before = emails.len();
    emails.dedup();
    assert_eq!(before, emails.len(), "a user created twice");
    assert_eq!(emails.len(), users, "every user of {}", plan.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_after_the_tenant_took_it_is_found_there_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 30, |n| format!("user{n}@example.com"));
    let lost = "users-00002.json";
    let lost_users = users_of(&plan, lost).len() as u64;
    let mut knobs = fake_tenant::tenant();
    // The second upload makes its job, but its answer comes too late.
    knobs.slow_upload_answer = Some((2, Duration::from_secs(10)));
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let mut cut = options(&base);
    cut.request_timeout = Duration::from_millis(1500);
    let outcome = import(&plan, &cut).await.unwrap();
    assert_eq!(outcome.uncertain.len(), 1, "{outcome:?}");
    assert_eq!(outcome.uncertain[0].file, lost);
    // The lost job ran meanwhile (the other jobs' polls are time passing).
    assert_created_once(&plan, &tenant, 30);
    assert_eq!(outcome.users_inserted, 30 - lost_users, "{outcome:?}");
    // What is known, and what is not, kept apart.
    assert_eq!(outcome.uncertain[0].users, Some(lost_users));
    assert_eq!(outcome.users_uncertain, lost_users);
    assert_eq!(outcome.users_known_on_tenant(), 30 - lost_users);
    assert_eq!(outcome.users_planned, Some(30));
    assert_eq!(tenant.lock().unwrap().lookups, 0, "no lookup unasked");

    let mut resubmit = options(&base);
    resubmit.resubmit_uncertain = true;
    let outcome = import(&plan, &resubmit).await.unwrap();
    assert!(outcome.is_clean(), "{outcome:?}");
    assert_eq!(outcome.users_failed, 0, "{outcome:?}");
    assert!(outcome.uncertain.is_empty());
    assert_eq!(outcome.found_on_tenant.len(), 1);
    assert_eq!(outcome.found_on_tenant[0].file, lost);
    assert_eq!(outcome.users_present, lost_users);
    assert_eq!(outcome.users_known_on_tenant(), 30);
    // Every user of the file looked up (it takes all to say "all there"),
    // so never sent twice.
    assert_eq!(tenant.lock().unwrap().lookups as u64, lost_users);
    assert_each_file_once(&plan, &tenant);
    assert_created_once(&plan, &tenant, 30);
    // Nothing left to do, and nothing looked up again.
    let again = import(&plan, &resubmit).await.unwrap();
    assert!(
        again.is_clean() && again.users_present == lost_users,
        "{again:?}"
    );
    assert_eq!(tenant.lock().unwrap().lookups as u64, lost_users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_file_whose_lost_job_ran_late_counts_its_duplicates_as_present() {
    let dir = tempfile::tempdir().unwrap();
    // One file; "dup" users are refused by the tenant whatever happens.
    let plan = make_plan_in_files_of(dir.path(), 4, 2000, |n| {
        if n == 3 {
            format!("dup{n}@example.com")
        } else {
            format!("user{n}@example.com")
        }
    });
    assert_eq!(plan_file_count(&plan), 1);
    let mut knobs = fake_tenant::tenant();
    knobs.slow_upload_answer = Some((1, Duration::from_secs(10)));
    knobs.fail_marker = Some("dup".into());
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let mut cut = options(&base);
    cut.request_timeout = Duration::from_millis(1500);
    let outcome = import(&plan, &cut).await.unwrap();
    assert_eq!(outcome.uncertain.len(), 1, "{outcome:?}");
    // Nobody polled: the lost job is still pending, its users not there yet.
    assert!(tenant.lock().unwrap().created.is_empty());

    let mut resubmit = options(&base);
    resubmit.resubmit_uncertain = true;
    let outcome = import(&plan, &resubmit).await.unwrap();
    // The lost job ran first: our job's three DUPLICATED_USER are users the
    // tenant holds (looked up), the fourth is a real refusal.
    assert_eq!(tenant.lock().unwrap().uploads.len(), 2, "sent again");
    assert_eq!(tenant.lock().unwrap().created.len(), 3);
    assert_eq!(outcome.completed, 1, "{outcome:?}");
    assert_eq!(outcome.users_failed, 1, "{outcome:?}");
    assert_eq!(outcome.users_present, 3, "{outcome:?}");
    assert_eq!(outcome.users_inserted, 0);
    assert_eq!(outcome.users_known_on_tenant(), 3);
    // One lookup told the file was not there yet; then one per duplicate.
    assert_eq!(tenant.lock().unwrap().lookups, 1 + 4);
    let errors: Vec<Value> =
        serde_json::from_slice(&fs::read(plan.join(&outcome.error_files[0])).unwrap()).unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["user"]["email"], "dup3@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_file_that_cannot_be_looked_up_stays_uncertain() {
    let dir = tempfile::tempdir().unwrap();
    let plan = make_plan(dir.path(), 12, |n| format!("user{n}@example.com"));
    let mut knobs = fake_tenant::tenant();
    knobs.slow_upload_answer = Some((1, Duration::from_secs(10)));
    knobs.no_read_users = true;
    let (base, tenant) = fake_tenant::serve(knobs).await;
    let mut cut = options(&base);
    cut.request_timeout = Duration::from_millis(1500);
    let outcome = import(&plan, &cut).await.unwrap();
    assert_eq!(outcome.uncertain.len(), 1, "{outcome:?}");
    let uploads = tenant.lock().unwrap().uploads.len();

    let mut resubmit = options(&base);
    resubmit.resubmit_uncertain = true;
    let outcome = import(&plan, &resubmit).await.unwrap();
    assert_eq!(outcome.uncertain.len(), 1, "{outcome:?}");
    assert!(
        outcome.uncertain[0].message.contains("read:users"),
        "{:?}",
        outcome.uncertain[0]
    );
    assert_eq!(
        tenant.lock().unwrap().uploads.len(),
        uploads,
        "nothing sent"
    );
    assert!(!outcome.is_clean());
}
