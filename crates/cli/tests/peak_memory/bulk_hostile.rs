//! `trickle bulk plan` on hostile exports, as a user runs it: for each, the
//! exit code, what `report.json` says (lines read, records read, planned,
//! left out and why), and that every record is either planned or left out
//! (`users_written + skipped == records_read`). Where memory is the risk
//! (a 20 MB line, a gzip bomb), the plan's peak RSS is measured and must
//! stay flat.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::{one_at_a_time, run_measured, Measured};

const REALM: &str = "Username-Password-Authentication";

/// Runs `trickle bulk plan`, measured (`run_measured`): its exit code,
/// its stderr, its own peak RSS.
fn plan(config: &Path, input: &Path, out: &Path) -> Measured {
    run_measured(
        Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args(["bulk", "plan", "--config"])
            .arg(config)
            .arg("--input")
            .arg(input)
            .arg("--out")
            .arg(out),
    )
}

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("trickle.toml");
    fs::write(
        &path,
        format!("[connection]\nname = \"New\"\n[source]\nrealm = \"{REALM}\"\n"),
    )
    .unwrap();
    path
}

fn user_line(n: usize) -> String {
    json!({
        "user_id": format!("auth0|u{n}"),
        "email": format!("user{n}@example.com"),
        "identities": [{"provider": "auth0", "connection": REALM, "user_id": format!("u{n}")}],
    })
    .to_string()
}

fn report(out: &Path) -> Value {
    serde_json::from_slice(&fs::read(out.join("report.json")).expect("report.json")).unwrap()
}

/// The counts that must always add up, and the reasons records were left out.
fn assert_accounted(report: &Value) {
    let (written, skipped, records) = (
        report["users_written"].as_u64().unwrap(),
        report["skipped"].as_u64().unwrap(),
        report["records_read"].as_u64().unwrap(),
    );
    assert_eq!(
        written + skipped,
        records,
        "planned + left out = records: {report}"
    );
    let by_reason: u64 = report["skipped_by_reason"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_reason, skipped);
}

fn planned(out: &Path) -> Vec<Value> {
    let mut users = Vec::new();
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("users-")
        {
            let file: Vec<Value> = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
            users.extend(file);
        }
    }
    users
}

fn skipped_lines(report: &Value, reason: &str) -> Vec<u64> {
    report["skipped_records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == reason)
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

#[test]
fn invalid_utf8_lines_are_left_out_by_line_and_the_rest_planned() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    let mut bytes = Vec::new();
    for n in 0..5 {
        bytes.extend_from_slice(user_line(n).as_bytes());
        bytes.push(b'\n');
    }
    // Line 6: a Latin-1 é inside a string; line 7: bytes that are no text at all.
    bytes.extend_from_slice(
        b"{\"user_id\":\"auth0|x\",\"email\":\"caf\xe9@example.com\"}\n\xff\xfe\xfd\n",
    );
    bytes.extend_from_slice(user_line(5).as_bytes());
    fs::write(&input, bytes).unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(0), "{}", run.shown);
    let report = report(&out);
    assert_accounted(&report);
    assert_eq!(report["lines_read"], 8);
    assert_eq!(report["records_read"], 8);
    assert_eq!(report["users_written"], 6);
    assert_eq!(skipped_lines(&report, "unreadable"), [6, 7]);
}

#[test]
fn a_20_mb_line_is_left_out_without_holding_it_and_the_next_lines_are_planned() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    let mut file = fs::File::create(&input).unwrap();
    writeln!(file, "{}", user_line(0)).unwrap();
    let name = "x".repeat(20 * 1024 * 1024);
    writeln!(
        file,
        "{{\"user_id\":\"auth0|big\",\"email\":\"big@example.com\",\"name\":\"{name}\"}}"
    )
    .unwrap();
    drop(name);
    writeln!(file, "{}", user_line(1)).unwrap();
    drop(file);
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(0), "{}", run.shown);
    let report = report(&out);
    assert_accounted(&report);
    assert_eq!(
        (
            report["lines_read"].as_u64(),
            report["users_written"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(skipped_lines(&report, "unreadable"), [2]);
    let detail = report["skipped_records"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("longer than 16777216 bytes"), "{detail}");
    // At most one 16 MiB record is ever held (the line itself is 20 MB).
    assert!(
        run.peak_rss_kib < 64 * 1024,
        "peak RSS {} KiB for a 20 MB line",
        run.peak_rss_kib
    );
}

fn gzip_members(path: &Path, member: &[u8], times: usize) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(member).unwrap();
    let compressed = gz.finish().unwrap();
    let mut file = fs::File::create(path).unwrap();
    for _ in 0..times {
        file.write_all(&compressed).unwrap();
    }
}

#[test]
fn a_truncated_gzip_export_stops_with_the_line_it_reached_and_writes_nothing() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json.gz");
    let lines: String = (0..5_000).map(|n| user_line(n) + "\n").collect();
    gzip_members(&input, lines.as_bytes(), 1);
    let whole = fs::read(&input).unwrap();
    fs::write(&input, &whole[..whole.len() * 2 / 3]).unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(2), "{}", run.shown);
    assert!(run.shown.contains("cut short"), "{}", run.shown);
    assert!(run.shown.contains("(after line "), "{}", run.shown);
    assert!(run.shown.contains("no plan was written"), "{}", run.shown);
    assert!(!out.exists(), "nothing is left behind");
}

#[test]
fn a_gzip_bomb_stops_with_a_clear_error_and_flat_memory() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json.gz");
    // One real user, then 1.5 GiB of zero bytes from a 1.5 MB file (about a
    // thousand to one): 1,536 gzip members of 1 MiB each, read as one stream.
    let mut first = user_line(0).into_bytes();
    first.push(b'\n');
    gzip_members(&input, &first, 1);
    let blank = vec![0u8; 1 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&blank).unwrap();
    let member = gz.finish().unwrap();
    let mut file = fs::OpenOptions::new().append(true).open(&input).unwrap();
    for _ in 0..1536 {
        file.write_all(&member).unwrap();
    }
    drop(file);
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(2), "{}", run.shown);
    assert!(
        run.shown.contains("inflates more than 100 times"),
        "{}",
        run.shown
    );
    assert!(run.shown.contains("gzip bomb"), "{}", run.shown);
    assert!(!out.exists());
    assert!(
        run.peak_rss_kib < 64 * 1024,
        "peak RSS {} KiB while inflating",
        run.peak_rss_kib
    );
}

#[test]
fn csv_with_quoted_newlines_keeps_them_and_counts_every_physical_line() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.csv");
    fs::write(
        &input,
        format!(
            "user_id,email,name,identities\n\
             auth0|c1,c1@example.com,\"Ann\nLine two\r\nLine three\",\"[{{\"\"connection\"\":\"\"{REALM}\"\",\"\"user_id\"\":\"\"c1\"\"}}]\"\n\
             auth0|c2,c2@example.com,Bob,\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(0), "{}", run.shown);
    let report = report(&out);
    assert_accounted(&report);
    // Header, a record over three lines, one more record.
    assert_eq!(report["lines_read"], 5);
    assert_eq!(report["records_read"], 2);
    assert_eq!(report["users_written"], 2);
    let users = planned(&out);
    let ann = users
        .iter()
        .find(|u| u["user_id"] == "c1")
        .expect("planned");
    // Inside quotes a line break is the field's own, byte for byte (CRLF
    // too): what a login hands Auth0 for the same user.
    assert_eq!(ann["name"], "Ann\nLine two\r\nLine three");
}

#[test]
fn nul_bytes_raw_or_escaped_never_reach_an_email() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(user_line(0).as_bytes());
    bytes.push(b'\n');
    // A raw NUL inside a string (not JSON), an escaped one in an email, one in a name.
    bytes.extend_from_slice(b"{\"user_id\":\"auth0|r\",\"email\":\"r\x00@example.com\"}\n");
    bytes.extend_from_slice(br#"{"user_id":"auth0|e","email":"e\u0000@example.com"}"#);
    bytes.push(b'\n');
    bytes
        .extend_from_slice(br#"{"user_id":"auth0|n","email":"n@example.com","name":"N\u0000ame"}"#);
    bytes.extend_from_slice(b"\n\x00\x00\x00\n");
    fs::write(&input, bytes).unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(0), "{}", run.shown);
    let report = report(&out);
    assert_accounted(&report);
    assert_eq!(report["lines_read"], 5);
    assert_eq!(report["records_read"], 5);
    assert_eq!(skipped_lines(&report, "unreadable"), [2, 5]);
    assert_eq!(skipped_lines(&report, "invalid_email"), [3]);
    let users = planned(&out);
    assert_eq!(users.len(), 2);
    assert!(users
        .iter()
        .all(|u| !u["email"].as_str().unwrap().contains('\0')));
    let n = users.iter().find(|u| u["user_id"] == "n").expect("planned");
    assert_eq!(
        n["name"], "N\u{0}ame",
        "a NUL in a name is the user's data, kept"
    );
}

#[test]
fn an_empty_export_plans_nobody_and_says_so() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    fs::write(&input, "").unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(0), "{}", run.shown);
    assert!(
        run.shown.contains("planned 0 users in 0 import files"),
        "{}",
        run.shown
    );
    let report = report(&out);
    assert_accounted(&report);
    assert_eq!(
        (
            report["lines_read"].as_u64(),
            report["records_read"].as_u64(),
            report["files"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[test]
fn a_directory_as_input_is_refused_with_exit_code_2() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("exports");
    fs::create_dir(&input).unwrap();
    let out = dir.path().join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(2), "{}", run.shown);
    assert!(run.shown.contains("exports"), "{}", run.shown);
    assert!(
        run.shown.to_lowercase().contains("directory"),
        "{}",
        run.shown
    );
    assert!(!out.exists());
}

#[test]
fn an_unwritable_out_fails_with_exit_code_1_and_reads_nothing_into_it() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.json");
    fs::write(&input, user_line(0) + "\n").unwrap();
    // Under a regular file: no one (root included) can make a folder there.
    let blocker = dir.path().join("not-a-folder");
    fs::write(&blocker, "x").unwrap();
    let out = blocker.join("plan");
    let run = plan(&config(dir.path()), &input, &out);
    assert_eq!(run.code, Some(1), "{}", run.shown);
    assert!(
        run.shown.contains("cannot write the plan under"),
        "{}",
        run.shown
    );
    assert!(run.shown.contains("no plan was written"), "{}", run.shown);
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "x");
}
