//! Bounded concurrent submission: items from a stream become requests, at
//! most `limit` in flight, finished in whatever order they complete.
//!
//! Everything runs on the caller's task (the futures are polled together,
//! not spawned), so `start` and `finish` get `&mut` access to one shared
//! context (a journal, counters) without locks, and the requests may
//! borrow what outlives the call (a client). The stop flag is looked at
//! only between items: a request that was started is always awaited and
//! finished, so what it did is never lost.

use std::future::Future;

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use tokio::sync::watch;

/// How a submission ended (when it did not fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Submitted {
    /// Requests started (and all of them finished).
    pub started: u64,
    /// The stop flag ended it before the stream did.
    pub interrupted: bool,
}

/// Takes items from `items` while fewer than `limit` requests are in
/// flight and `stop` is not set; `start` turns one into a request (or
/// `None`: nothing to send for it), and `finish` takes each request's
/// output as it completes. The first error (from `start` or `finish`)
/// ends the taking of items; the requests in flight are still finished,
/// then the error is returned.
pub async fn submit_bounded<C, I, F, E>(
    ctx: &mut C,
    items: impl Stream<Item = I>,
    limit: usize,
    stop: &watch::Receiver<bool>,
    mut start: impl FnMut(&mut C, I) -> Result<Option<F>, E>,
    mut finish: impl FnMut(&mut C, F::Output) -> Result<(), E>,
) -> Result<Submitted, E>
where
    F: Future,
{
    let limit = limit.max(1);
    let mut items = std::pin::pin!(items);
    let mut stop = stop.clone();
    let mut running = FuturesUnordered::new();
    let mut outcome = Submitted::default();
    let mut exhausted = false;
    let mut stop_closed = false;
    let mut error: Option<E> = None;
    loop {
        let stopped = *stop.borrow();
        let taking = !exhausted && error.is_none() && !stopped;
        if !taking && running.is_empty() {
            outcome.interrupted = stopped && !exhausted && error.is_none();
            break;
        }
        let room = taking && running.len() < limit;
        tokio::select! {
            biased;
            Some(output) = running.next(), if !running.is_empty() => {
                if let Err(e) = finish(ctx, output) {
                    error.get_or_insert(e);
                }
            }
            item = items.next(), if room => match item {
                None => exhausted = true,
                Some(item) => match start(ctx, item) {
                    Ok(Some(request)) => {
                        outcome.started += 1;
                        running.push(request);
                    }
                    Ok(None) => {}
                    Err(e) => error = Some(e),
                },
            },
            changed = stop.changed(), if taking && !stop_closed => {
                // The sender gone, nobody can stop us any more.
                stop_closed = changed.is_err();
            }
        }
    }
    match error {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use futures_util::stream;

    use super::*;

    #[derive(Default)]
    struct Seen {
        finished: Vec<u32>,
        most_in_flight: u32,
    }

    #[tokio::test]
    async fn never_more_than_the_limit_in_flight_and_every_item_finished() {
        let (_tx, stop) = watch::channel(false);
        let mut seen = Seen::default();
        let flight = Cell::new(0u32);
        let flight = &flight;
        let result = submit_bounded(
            &mut seen,
            stream::iter(0..40u32),
            4,
            &stop,
            |seen, n| {
                if n % 10 == 9 {
                    return Ok(None);
                }
                flight.set(flight.get() + 1);
                seen.most_in_flight = seen.most_in_flight.max(flight.get());
                Ok::<_, ()>({
                    Some(async move {
                        // Later items finish sooner: completion order is free.
                        tokio::time::sleep(Duration::from_millis(u64::from(40 - n) / 4)).await;
                        n
                    })
                })
            },
            |seen, n| {
                flight.set(flight.get() - 1);
                seen.finished.push(n);
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(flight.get(), 0);
        assert_eq!(result.started, 36);
        assert!(!result.interrupted);
        assert!(seen.most_in_flight <= 4, "{}", seen.most_in_flight);
        assert!(seen.most_in_flight >= 2);
        let mut finished = seen.finished.clone();
        finished.sort();
        let expected: Vec<u32> = (0..40).filter(|n| n % 10 != 9).collect();
        assert_eq!(finished, expected);
        assert_ne!(seen.finished, expected, "completed out of order");
    }

    #[tokio::test]
    async fn stopping_takes_no_new_item_but_finishes_those_started() {
        let (tx, stop) = watch::channel(false);
        let mut finished = Vec::new();
        let tx = &tx;
        let result = submit_bounded(
            &mut finished,
            stream::iter(0..100u32),
            3,
            &stop,
            |_, n| {
                if n == 5 {
                    tx.send(true).unwrap();
                }
                Ok::<_, ()>(Some(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    n
                }))
            },
            |finished: &mut Vec<u32>, n| {
                finished.push(n);
                Ok(())
            },
        )
        .await
        .unwrap();
        assert!(result.interrupted);
        assert_eq!(result.started, 6);
        finished.sort();
        assert_eq!(finished, [0, 1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn an_error_stops_taking_items_and_in_flight_requests_still_finish() {
        let (_tx, stop) = watch::channel(false);
        let mut finished = Vec::new();
        let result = submit_bounded(
            &mut finished,
            stream::iter(0..100u32),
            4,
            &stop,
            |_, n| {
                Ok(Some(async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    n
                }))
            },
            |finished: &mut Vec<u32>, n| {
                finished.push(n);
                if n == 10 {
                    Err("broken")
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(result, Err("broken"));
        assert!(finished.len() < 20, "{finished:?}");
        let mut sorted = finished.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), finished.len());
    }

    #[tokio::test]
    async fn a_stop_while_waiting_for_a_slow_source_ends_the_wait() {
        let (tx, stop) = watch::channel(false);
        let slow = stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(if n == 0 { 0 } else { 3600 })).await;
            Some((n, n + 1))
        });
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.send(true).unwrap();
        };
        let mut count = 0u32;
        let submission = submit_bounded(
            &mut count,
            slow,
            2,
            &stop,
            |_, n| Ok::<_, ()>(Some(async move { n })),
            |count, _| {
                *count += 1;
                Ok(())
            },
        );
        let (result, ()) = tokio::join!(
            tokio::time::timeout(Duration::from_secs(5), submission),
            stopper
        );
        let result = result.expect("stopped promptly").unwrap();
        assert!(result.interrupted);
        assert_eq!(count, 1);
    }
}
