//! Memory is bounded by a constant, not by the data: the peak memory a
//! migration adds (this process's high-water mark, reset before each
//! case) stays small whatever the servers list: a target full of records
//! the journal does not know, the same verified, a source whose every
//! record fails, one record of 20 MB, one client of an 8 MB array. Hostile
//! servers generate the listings as they send them, so the test holds no
//! copy. One test, cases in turn: the high-water mark is the process's.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod common;

use bytes::Bytes;
use common::*;
use futures_util::stream::{self, BoxStream, StreamExt};
use trickle_c2id::Phase;

const RECORDS: usize = 300_000;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The memory `work` adds at its peak, in MB.
async fn peak_growth_mb<T>(work: impl std::future::Future<Output = T>) -> (T, f64) {
    // Free heap memory back to the system first, or the work could reuse
    // what an earlier case freed without the resident size growing.
    // SAFETY: malloc_trim only releases free memory of glibc's heap.
    unsafe { libc::malloc_trim(0) };
    std::fs::write("/proc/self/clear_refs", "5").expect("the high-water mark can be reset");
    let before = status_kib("VmRSS:");
    let result = work.await;
    let peak = status_kib("VmHWM:");
    (result, peak.saturating_sub(before) as f64 / 1024.0)
}

/// `open`, then `n` items made by `item` (comma-separated), then `close`,
/// in pieces of about 64 KiB made as they are sent.
fn generated(
    n: usize,
    open: &'static str,
    close: &'static str,
    item: fn(usize) -> String,
) -> BoxStream<'static, Bytes> {
    let body = stream::unfold(0usize, move |at| async move {
        if at > n {
            return None;
        }
        let mut chunk = String::with_capacity(70_000);
        let mut at = at;
        if at == 0 {
            chunk.push_str(open);
        }
        while chunk.len() < 65_536 && at < n {
            if at > 0 {
                chunk.push(',');
            }
            chunk.push_str(&item(at));
            at += 1;
        }
        if at == n {
            chunk.push_str(close);
            at += 1;
        }
        Some((Bytes::from(chunk), at))
    });
    body.boxed()
}

fn listing_of(suffix: &'static str, body: fn() -> BoxStream<'static, Bytes>) -> Rule {
    rule(move |request| {
        let listing =
            request.is("GET", suffix) && request.query.is_none() && request.header("sid").is_none();
        if !listing {
            return Action::Forward;
        }
        Action::Stream {
            status: 200,
            content_type: "application/json",
            body: body(),
        }
    })
}

fn many_target_sessions() -> BoxStream<'static, Bytes> {
    generated(RECORDS, "{", "}", |i| {
        format!("\"k{i:09}.aG1hYw\":{{\"sub\":\"user-{i}\",\"auth_time\":1700000000}}")
    })
}

/// 600,000 sessions whose SIDs are not `KEY.HMAC`: each one fails.
fn many_bad_sessions() -> BoxStream<'static, Bytes> {
    generated(600_000, "{", "}", |i| format!("\"n{i}\":{{}}"))
}

fn one_huge_session() -> BoxStream<'static, Bytes> {
    let open = "{\"huge.aG1hYw\":{\"sub\":\"h\",\"data\":\"";
    let middle = stream::iter((0..320).map(|_| Bytes::from(vec![b'x'; 65_536])));
    let close = "\"}}";
    stream::once(async move { Bytes::from_static(open.as_bytes()) })
        .chain(middle)
        .chain(stream::once(
            async move { Bytes::from_static(close.as_bytes()) },
        ))
        .boxed()
}

fn one_client_of_a_huge_array() -> BoxStream<'static, Bytes> {
    let open = "[{\"client_id\":\"big\",\"token_endpoint_auth_method\":\"none\",\
                \"grant_types\":[\"client_credentials\"],\"response_types\":[],\"x\":[0";
    let middle = stream::iter((0..128).map(|_| Bytes::from(",0".repeat(32_768))));
    let close = "]}]";
    stream::once(async move { Bytes::from_static(open.as_bytes()) })
        .chain(middle)
        .chain(stream::once(
            async move { Bytes::from_static(close.as_bytes()) },
        ))
        .boxed()
}

async fn case(
    name: &str,
    source_rule: Option<Rule>,
    target_rule: Option<Rule>,
    phases: &[Phase],
    verify: bool,
    limit_mb: f64,
) {
    let pair = Pair::behind(
        seed(&source_seed_json("12.3")),
        seed(&empty_target_json("12.3", None)),
        source_rule,
        target_rule,
    )
    .await;
    let mut run = pair.options();
    run.phases = phases.to_vec();
    run.verify = verify;
    let started = std::time::Instant::now();
    let (result, growth) = peak_growth_mb(pair.migrate(&run)).await;
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    let outcome = result.unwrap();
    eprintln!("{name}: peak growth {growth:.1} MB (limit {limit_mb} MB)");
    assert!(
        growth < limit_mb,
        "{name}: {growth:.1} MB at the peak: {:?}",
        outcome.phases
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_whatever_the_servers_list() {
    case(
        "a full target, new journal",
        None,
        Some(listing_of("/sessions", many_target_sessions)),
        &[Phase::Sessions],
        false,
        12.0,
    )
    .await;
    case(
        "the same, verified",
        None,
        Some(listing_of("/sessions", many_target_sessions)),
        &[Phase::Sessions],
        true,
        12.0,
    )
    .await;
    case(
        "every source record failing",
        Some(listing_of("/sessions", many_bad_sessions)),
        None,
        &[Phase::Sessions],
        false,
        12.0,
    )
    .await;
    case(
        "one session of 20 MB",
        Some(listing_of("/sessions", one_huge_session)),
        None,
        &[Phase::Sessions],
        false,
        12.0,
    )
    .await;
    case(
        "one client of an 8 MB array",
        Some(listing_of("/clients", one_client_of_a_huge_array)),
        None,
        &[Phase::Clients],
        false,
        12.0,
    )
    .await;
}
