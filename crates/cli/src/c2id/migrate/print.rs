//! What `trickle c2id migrate` prints: the preflight's findings and the
//! endpoints tokens will go to, then the outcome, a part at a time. Every
//! "… and N more" says what is true of report.json.

use std::path::Path;

use trickle_c2id::api::api_name;
use trickle_c2id::migrate::report_path;
use trickle_c2id::model::{Listed, MAX_LISTED};
use trickle_c2id::{
    AuthzApi, Outcome, PreflightReport, ProblemKind, ServerFacts, VerifyReport, VersionFrom,
};
use trickle_transfer::thousands;

/// Problems, mismatches and deletions shown on screen.
const SHOWN: usize = 20;

pub fn preflight(report: &PreflightReport, dry_run: bool) {
    eprintln!("trickle: preflight (nothing written yet)");
    for facts in [&report.source, &report.target].into_iter().flatten() {
        eprintln!("  {}", server_line(facts));
    }
    versions(report);
    if let Some(api) = report.authz_api {
        eprintln!(
            "  authorisation store API: {} (the source's version decides; used on both servers)",
            match api {
                AuthzApi::V2 => "v2, the source runs a version before 10.0",
                AuthzApi::V3 => "v3, the source runs 10.0 or newer",
            }
        );
    }
    match report.keys_identical {
        Some(true) => eprintln!("  JWK sets: identical"),
        Some(false) => eprintln!("  JWK sets: DIFFERENT"),
        None => {}
    }
    for facts in [&report.source, &report.target].into_iter().flatten() {
        if !facts.tokens_accepted.is_empty() {
            let apis: Vec<&str> = facts.tokens_accepted.iter().map(|p| api_name(*p)).collect();
            eprintln!("  {} tokens accepted: {}", facts.side, apis.join(", "));
        }
    }
    if !report.refused() {
        let phases: Vec<&str> = report.phases.iter().map(|p| p.name()).collect();
        eprintln!("  phases: {}", phases.join(", "));
        endpoints(report, dry_run);
    }
    for note in &report.notes {
        eprintln!("  note: {note}");
    }
}

fn versions(report: &PreflightReport) {
    let (Some(source), Some(target)) = (&report.source, &report.target) else {
        return;
    };
    let (Some((s, _)), Some((t, _))) = (&source.version, &target.version) else {
        return;
    };
    let min = trickle_c2id::version::MIN_TARGET;
    let ok = t >= s && *t >= min;
    eprintln!(
        "  versions: target {t} {} source {s}, and {} 6.6: {}",
        if t >= s { "≥" } else { "<" },
        if *t >= min { "≥" } else { "<" },
        if ok { "ok" } else { "refused" }
    );
}

/// The exact URLs tokens will be sent to, and what for.
fn endpoints(report: &PreflightReport, dry_run: bool) {
    eprintln!("  tokens go to these endpoints only:");
    for endpoint in &report.endpoints {
        let (verb, requests) = match (endpoint.writes, dry_run) {
            (false, _) => ("reads", endpoint.requests),
            (true, false) => ("writes", endpoint.requests),
            (true, true) => ("reads", "GET only (a dry run writes nothing)"),
        };
        eprintln!("    {verb:<6} {}  {requests}", endpoint.url);
    }
}

fn server_line(facts: &ServerFacts) -> String {
    let version = match &facts.version {
        Some((v, VersionFrom::SplashPage)) => format!("Connect2id Server {v} (its splash page)"),
        Some((v, VersionFrom::Given)) => format!("Connect2id Server {v} (as given)"),
        Some((v, VersionFrom::GivenOverSplash(shown))) => {
            format!("Connect2id Server {v} (as given; its splash page says {shown})")
        }
        None => "version unknown".to_owned(),
    };
    let keys = if facts.keys.is_empty() {
        String::new()
    } else {
        format!("; public keys: {}", facts.keys.join(", "))
    };
    format!("{:<7}{}: {version}{keys}", facts.side, facts.issuer)
}

pub fn outcome(source: &str, target: &str, journal: &Path, outcome: &Outcome) {
    let dry = outcome.dry_run;
    eprintln!(
        "trickle: {} {source} → {target}",
        if dry {
            "dry run (nothing written):"
        } else {
            "migration"
        },
    );
    if outcome.pass.is_some() {
        sync_table(outcome);
    } else {
        phase_table(outcome);
    }
    for (phase, sample) in &outcome.samples {
        eprintln!(
            "  sample {phase} record as it would be posted (secrets masked): {}",
            serde_json::to_string(sample).unwrap_or_default()
        );
    }
    for problem in outcome.problems.iter().take(SHOWN) {
        let kind = match problem.kind {
            ProblemKind::Conflict => "conflict",
            ProblemKind::Failed => "failed",
        };
        eprintln!("  {kind}: {}: {}", problem.record, problem.message);
    }
    more(&outcome.problems, dry);
    for deletion in outcome.deletions.iter().take(SHOWN) {
        eprintln!(
            "  deleted on the target: {}: {}",
            deletion.record, deletion.why
        );
    }
    more(&outcome.deletions, dry);
    registration_tokens(outcome);
    if let Some(aborted) = &outcome.aborted {
        eprintln!("  stopped: {aborted}");
    }
    if let Some(failure) = &outcome.failure {
        eprintln!("  stopped: {}", failure.message);
        eprintln!("  what to do: {}", failure.advice);
    }
    if let Some(verify) = &outcome.verify {
        verify_table(verify);
    }
    if !dry && outcome.report.is_some() {
        eprintln!("  report: {}", report_path(journal).display());
    }
    eprintln!("trickle: {}", verdict(outcome));
}

fn phase_table(outcome: &Outcome) {
    let (post, over) = if outcome.dry_run {
        ("would post", "would replace")
    } else {
        ("posted", "replaced")
    };
    eprintln!(
        "  {:<15}{:>10}{:>13}{:>12}{:>15}{:>14}{:>11}{:>8}",
        "phase", "source", "done before", post, "already there", over, "conflicts", "failed"
    );
    for phase in &outcome.phases {
        eprintln!(
            "  {:<15}{:>10}{:>13}{:>12}{:>15}{:>14}{:>11}{:>8}{}",
            phase.phase.map_or("?", |p| p.name()),
            thousands(phase.source_records),
            thousands(phase.already_done),
            thousands(phase.created),
            thousands(phase.present),
            thousands(phase.overwritten),
            thousands(phase.conflicts),
            thousands(phase.failed),
            if phase.interrupted { "  (stopped)" } else { "" }
        );
    }
}

/// A sync pass per kind: what it adds, replaces, deletes, leaves.
fn sync_table(outcome: &Outcome) {
    let [add, replace, delete] = if outcome.dry_run {
        ["to add", "to replace", "to delete"]
    } else {
        ["added", "replaced", "deleted"]
    };
    eprintln!(
        "  {:<15}{:>10}{:>10}{:>12}{:>11}{:>11}{:>24}{:>8}",
        "kind", "source", add, replace, delete, "unchanged", "left alone (unknown)", "failed"
    );
    for phase in &outcome.phases {
        eprintln!(
            "  {:<15}{:>10}{:>10}{:>12}{:>11}{:>11}{:>24}{:>8}{}",
            phase.phase.map_or("?", |p| p.name()),
            thousands(phase.source_records),
            thousands(phase.created),
            thousands(phase.overwritten),
            thousands(phase.deleted),
            thousands(phase.present + phase.already_done),
            thousands(phase.unknown),
            thousands(phase.failed + phase.conflicts),
            if phase.interrupted { "  (stopped)" } else { "" }
        );
    }
    for phase in outcome.phases.iter().filter(|p| p.deletes_refused > 0) {
        eprintln!(
            "  {}: REFUSED to delete {} of the target's {} ({}%, over --max-delete-ratio): nothing of this kind was deleted. A broken source can list too little (empty or cut); check it. If the source really lost them: --allow-mass-delete (or a higher --max-delete-ratio)",
            phase.phase.map_or("?", |p| p.name()),
            thousands(phase.deletes_refused),
            thousands(phase.target_records),
            phase.deletes_refused * 100 / phase.target_records.max(1)
        );
    }
    if outcome.phases.iter().any(|p| p.unknown > 0) {
        eprintln!(
            "  left alone: records on the target only, never seen on the source by this \
             journal's migration (--delete-unknown deletes them)"
        );
    }
}

/// One `--watch` pass: a line when it was clean, the whole outcome when not.
pub fn pass(args: &super::Args, outcome: &Outcome, every: std::time::Duration) {
    let Some(pass) = outcome.pass else {
        return;
    };
    if !outcome.is_clean() {
        self::outcome(&args.source, &args.target, &args.journal, outcome);
    }
    let sum = |count: fn(&trickle_c2id::PhaseSummary) -> u64| -> u64 {
        outcome.phases.iter().map(count).sum()
    };
    let (added, replaced, deleted) = (
        sum(|p| p.created),
        sum(|p| p.overwritten),
        sum(|p| p.deleted),
    );
    let at = pass.source_read_at % 86_400;
    let age = pass.duration_ms as f64 / 1000.0;
    eprintln!(
        "trickle: pass {}: {:.1} s, {} change{} ({} added, {} replaced, {} deleted), {}; the target \
         holds the source as read at {:02}:{:02}:{:02} UTC ({age:.1} s ago){}",
        pass.number,
        age,
        thousands(added + replaced + deleted),
        if added + replaced + deleted == 1 { "" } else { "s" },
        thousands(added),
        thousands(replaced),
        thousands(deleted),
        if outcome.is_clean() { "clean" } else { "NOT clean (see above)" },
        at / 3600,
        at % 3600 / 60,
        at % 60,
        if outcome.interrupted {
            String::new()
        } else {
            format!("; next pass in {} s", every.as_secs())
        }
    );
}

/// "… and N more", and what report.json holds of them.
fn more<T>(listed: &Listed<T>, dry_run: bool) {
    let Some(more) = listed.total.checked_sub(SHOWN as u64).filter(|n| *n > 0) else {
        return;
    };
    let where_ = if dry_run {
        String::new()
    } else if listed.complete() {
        " (all in report.json)".to_owned()
    } else {
        format!(
            " (report.json lists the first {})",
            thousands(MAX_LISTED as u64)
        )
    };
    eprintln!("  … and {} more{where_}", thousands(more));
}

fn registration_tokens(outcome: &Outcome) {
    let total = outcome.clients_with_registration_token_total;
    if total == 0 {
        return;
    }
    let shown: Vec<&str> = outcome
        .clients_with_registration_token
        .iter()
        .take(5)
        .map(String::as_str)
        .collect();
    eprintln!(
        "  {} client{} held a registration access token ({}{}): the target {} new ones. \
         Software that manages its own registration (RFC 7592, e.g. clients that registered \
         themselves through open registration) must be given the new token (GET /clients/ID on \
         the target with the master token shows it) or register again; Connect2id's guide asks \
         for such clients to be handled with care",
        thousands(total),
        if total == 1 { "" } else { "s" },
        shown.join(", "),
        if total > shown.len() as u64 {
            ", …"
        } else {
            ""
        },
        if outcome.dry_run {
            "would issue"
        } else {
            "issued"
        }
    );
}

fn verify_table(verify: &VerifyReport) {
    eprintln!(
        "  {:<15}{:>10}{:>11}{:>10}{:>12}{:>10}",
        "verify", "source", "matching", "missing", "differing", "unknown"
    );
    for phase in &verify.phases {
        eprintln!(
            "  {:<15}{:>10}{:>11}{:>10}{:>12}{:>10}",
            phase.phase.map_or("?", |p| p.name()),
            thousands(phase.source_records),
            thousands(phase.matching),
            thousands(phase.missing),
            thousands(phase.differing),
            thousands(phase.unknown)
        );
    }
    for mismatch in verify.mismatches.iter().take(SHOWN) {
        eprintln!("  mismatch: {}: {}", mismatch.record, mismatch.problem);
    }
    more(&verify.mismatches, false);
}

fn verdict(outcome: &Outcome) -> String {
    if outcome.is_clean() && outcome.pass.is_some() {
        return match (outcome.dry_run, outcome.verify.is_some()) {
            (true, _) => "nothing would fail: run without --dry-run to apply it".to_owned(),
            (false, true) => "the target equals the source (synced and verified)".to_owned(),
            (false, false) => "the target equals the source as read".to_owned(),
        };
    }
    if outcome.is_clean() {
        return if outcome.verify.is_some() {
            "every record migrated and verified".to_owned()
        } else if outcome.dry_run {
            "no conflicts or problems found".to_owned()
        } else {
            "every record migrated".to_owned()
        };
    }
    if outcome.interrupted {
        return "stopped before the end".to_owned();
    }
    let mut parts = vec![format!(
        "{} record{} not migrated",
        thousands(outcome.problems.total),
        if outcome.problems.total == 1 { "" } else { "s" }
    )];
    let mismatches = outcome.verify.as_ref().map_or(0, |v| v.mismatches.total);
    if mismatches > 0 {
        parts.push(format!(
            "{} mismatch(es) found by --verify",
            thousands(mismatches)
        ));
    }
    if outcome.phases.iter().any(|p| p.deletes_refused > 0) {
        parts.push("deletions refused (over --max-delete-ratio, see above)".to_owned());
    }
    if outcome.failure.is_some() || outcome.aborted.is_some() {
        parts.push("a phase stopped before its end (see above)".to_owned());
    }
    parts.join(", ")
}
