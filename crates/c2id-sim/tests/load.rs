//! The load check: 10,000 sessions (about 1 KB each) listed from a source
//! and re-posted to an empty target, with the peak memory of this process
//! (both emulators and the client) measured around each phase. The listing
//! is streamed on both sides: the server writes it chunk by chunk, this
//! client parses it entry by entry. Its own test binary, so nothing else
//! runs in the process while it measures.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]

mod common;

use std::fmt;
use std::io::Read;
use std::time::Instant;

use common::{Env, SESSIONS, SESSIONS_PATH};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::de::{MapAccess, Visitor};
use serde::Deserializer as _;
use serde_json::{json, Map, Value};
use trickle_c2id_sim::{Options, Seed};

const SESSION_COUNT: usize = 10_000;

/// Reading a streamed body as it arrives.
mod body_reader {
    use std::io::{self, Read};

    use reqwest::Response;
    use tokio::sync::mpsc;

    /// A blocking reader over the chunks of an HTTP body as they arrive.
    pub struct ChunkReader {
        chunks: mpsc::Receiver<bytes::Bytes>,
        current: bytes::Bytes,
    }

    impl Read for ChunkReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            while self.current.is_empty() {
                match self.chunks.blocking_recv() {
                    Some(chunk) => self.current = chunk,
                    None => return Ok(0),
                }
            }
            let n = buf.len().min(self.current.len());
            buf[..n].copy_from_slice(&self.current[..n]);
            self.current = self.current.slice(n..);
            Ok(n)
        }
    }

    /// Feeds a response body, chunk by chunk, to a blocking reader.
    pub fn reader(mut response: Response) -> ChunkReader {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = response.chunk().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        ChunkReader {
            chunks: rx,
            current: bytes::Bytes::new(),
        }
    }
}

/// Peak resident memory of this process (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Starts a new peak measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Calls `each` for every (SID, session) of a sessions object read from `reader`.
fn for_each_session(reader: impl Read, each: impl FnMut(String, Value)) -> usize {
    struct Each<F>(F);
    impl<'de, F: FnMut(String, Value)> Visitor<'de> for Each<F> {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("sessions keyed by SID")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some((sid, session)) = map.next_entry::<String, Value>()? {
                (self.0)(sid, session);
                n += 1;
            }
            Ok(n)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    (&mut deserializer)
        .deserialize_map(Each(each))
        .expect("a sessions object")
}

fn source_seed() -> Seed {
    let blob = "x".repeat(700);
    let sessions: Map<String, Value> = (0..SESSION_COUNT)
        .map(|i| {
            (
                format!("loadKey{i:06}"),
                json!({"sub": format!("user{i}"), "auth_time": 1700000000 + i, "creation_time": 1700000000 + i,
                       "max_life": 20160, "auth_life": 10080, "max_idle": 1440, "amr": ["pwd"],
                       "claims": {"email": format!("user{i}@example.com")}, "data": {"blob": blob}}),
            )
        })
        .collect();
    let mut seed = common::seed_json("12.3");
    seed["sessions"] = Value::Object(sessions);
    Seed::from_json(&seed.to_string()).expect("valid")
}

fn empty_target() -> Seed {
    let mut seed = common::seed_json("12.3");
    seed["sessions"] = json!({});
    Seed::from_json(&seed.to_string()).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_sessions_are_listed_and_reposted_in_bounded_memory() {
    let source = Env::with_seed(source_seed(), Options::default()).await;
    let target = Env::with_seed(empty_target(), Options::default()).await;
    let listing_bytes = source
        .sim
        .state()
        .sessions
        .iter()
        .map(|(sid, s)| sid.len() + s.to_string().len() + 4)
        .sum::<usize>();

    let list = |env: &Env| env.get(SESSIONS_PATH, SESSIONS).send();
    // Warm up (connection pools, runtime buffers), then measure a listing alone.
    let response = list(&source).await.expect("answered");
    let warm = tokio::task::spawn_blocking(move || {
        for_each_session(body_reader::reader(response), |_, _| {})
    });
    assert_eq!(warm.await.unwrap(), SESSION_COUNT);
    let can_reset = reset_peak();
    let before_list = peak_kib();
    let started = Instant::now();
    let response = list(&source).await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, not sized in advance"
    );
    let reader = body_reader::reader(response);
    let listed = tokio::task::spawn_blocking(move || for_each_session(reader, |_, _| {}))
        .await
        .unwrap();
    let list_growth = peak_kib().saturating_sub(before_list);
    let list_time = started.elapsed();
    assert_eq!(listed, SESSION_COUNT);

    // Listed again and re-posted to the target with SID-Key, 16 at a time.
    reset_peak();
    let before_copy = peak_kib();
    let started = Instant::now();
    let response = list(&source).await.expect("answered");
    let reader = body_reader::reader(response);
    let (tx, rx) = tokio::sync::mpsc::channel::<(String, Value)>(64);
    let parser = tokio::task::spawn_blocking(move || {
        for_each_session(reader, |sid, session| {
            tx.blocking_send((sid, session))
                .expect("the poster is there");
        })
    });
    let posted =
        futures_util::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|x| (x, rx)) })
            .map(|(sid, session)| {
                let target = &target;
                async move {
                    let key = sid.split_once('.').expect("key.HMAC").0.to_owned();
                    let response = target
                        .post(SESSIONS_PATH, SESSIONS, &session)
                        .header("SID-Key", key)
                        .send()
                        .await
                        .expect("answered");
                    assert_eq!(response.status(), StatusCode::CREATED);
                    let created: Value = response.json().await.expect("json");
                    assert_eq!(created["sid"], sid.as_str(), "the same SID on the target");
                }
            })
            .buffer_unordered(16)
            .count()
            .await;
    assert_eq!(parser.await.unwrap(), SESSION_COUNT);
    let copy_growth = peak_kib().saturating_sub(before_copy);
    let copy_time = started.elapsed();
    assert_eq!(posted, SESSION_COUNT);
    assert_eq!(
        target.sim.state().sessions,
        source.sim.state().sessions,
        "copied exactly"
    );

    let listing_kib = (listing_bytes / 1024) as u64;
    println!(
        "load check: {SESSION_COUNT} sessions, listing {listing_kib} KiB; listed in {} ms with peak \
         growth {list_growth} KiB; listed and re-posted in {} ms with peak growth {copy_growth} KiB \
         (the target now stores them){}",
        list_time.as_millis(),
        copy_time.as_millis(),
        if can_reset { "" } else { " [VmHWM could not be reset: growths are upper bounds]" }
    );
    // A listing built whole would add at least its own size (10 MB); a
    // streamed one adds a few chunks. Measured: see the README.
    if can_reset {
        assert!(
            list_growth < listing_kib / 2,
            "listing grew the peak by {list_growth} KiB for a {listing_kib} KiB answer"
        );
    }
    // Re-posting stores the sessions in the target (about their JSON size
    // plus keys), and nothing of the listing at once.
    assert!(
        copy_growth < listing_kib * 3,
        "copying grew the peak by {copy_growth} KiB for {listing_kib} KiB of sessions"
    );
}
