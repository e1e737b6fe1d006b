//! `trickle status --exact` reading a hostile export holds at most one
//! record of 16 MiB, whatever the export's lines are.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::hostile_export::{config, gzip, marked_line, Hostile, REALM};
use crate::{one_at_a_time, run_measured};

const OLD_SECRET: &str = "old-sim-secret-verdicts-never-shown-41c2";
const UNKNOWN: i32 = 4;

/// Runs status as the status tests do, measured: (exit code, output, peak RSS KiB).
fn status_peak_rss(dir: &Path, domain: &str) -> (i32, String, i64) {
    let cfg = config(dir, REALM);
    let run = run_measured(
        Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args(["status", "--exact", "--config"])
            .arg(&cfg)
            .args(["--domain", domain, "--client-id", "good", "--out"])
            .arg(dir.join("status"))
            .env("TRICKLE_OLD_CLIENT_SECRET", OLD_SECRET),
    );
    (run.code.unwrap_or(-1), run.shown, run.peak_rss_kib)
}

#[test]
fn a_100_mib_export_line_is_counted_unreadable_without_holding_it() {
    let _one = one_at_a_time();
    // 100 gzip members of 1 MiB without a line break: one line of 100 MiB,
    // then two users (built in a block: only the gzip stays in memory).
    let hostile = {
        let mebibyte = vec![b'x'; 1 << 20];
        let mut members: Vec<&[u8]> = vec![&mebibyte; 100];
        let tail = format!("\n{}\n{}\n", marked_line(1), marked_line(2));
        members.push(tail.as_bytes());
        Hostile::start(gzip(&members))
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, shown, peak_kib) = status_peak_rss(dir.path(), &hostile.url);
    // At most one 16 MiB record is held (the line itself is 100 MiB).
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB:\n{shown}");
    assert_eq!(code, UNKNOWN, "{shown}");
    assert!(shown.contains("1 unreadable line"), "{shown}");
}

#[test]
fn a_15_mib_record_of_numbers_is_read_without_growing_into_a_tree() {
    let _one = one_at_a_time();
    // Within the 16 MiB cap, but 7.5 million JSON values: held as a
    // serde_json::Value that is about 240 MB.
    let hostile = {
        let numbers = "0,".repeat(15 * (1 << 20) / 2);
        let record = format!(
            "{{\"user_id\":\"auth0|big\",\"connection\":\"{REALM}\",\"trickle_migrated_at\":\"2026-01-05T10:00:00.000Z\",\"app_metadata\":{{\"big\":[{numbers}0]}}}}\n"
        );
        Hostile::start(gzip(&[record.as_bytes(), marked_line(2).as_bytes(), b"\n"]))
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, shown, peak_kib) = status_peak_rss(dir.path(), &hostile.url);
    assert!(peak_kib < 64 * 1024, "peak RSS {peak_kib} KiB:\n{shown}");
    let json: Value =
        serde_json::from_slice(&fs::read(dir.path().join("status/status.json")).unwrap()).unwrap();
    assert_eq!(
        (json["users_in_realm"].as_u64(), json["migrated"].as_u64()),
        (Some(2), Some(2)),
        "{shown}"
    );
    assert_eq!(
        code, UNKNOWN,
        "all marked, the new tenant not asked: {shown}"
    );
}
