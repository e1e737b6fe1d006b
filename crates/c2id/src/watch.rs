//! `--watch`: sync passes one after another, a pause between them, until
//! the operator stops it (Ctrl-C, SIGTERM). Each pass is a whole
//! [`crate::migrate()`] (its journal, its `report.json`), so what a pass
//! did is durable before the next begins, and a stop during the pause
//! leaves the last pass complete; a stop mid-pass ends it at the next
//! record with what it did journalled.

use std::time::Duration;

use tokio::sync::watch;

use crate::migrate::migrate_pass;
use crate::model::{Event, MigrateError, MigrateOptions, Outcome};
use crate::preflight::{PreflightReport, Servers};

/// Runs sync passes `every` apart (from the end of one to the start of
/// the next), handing each outcome to `on_pass`, until `stop` is set or
/// a pass meets a fault of the setup (a token refused, a journal that
/// cannot be used). Returns the last pass's outcome, `interrupted` when
/// stopped.
pub async fn watch(
    servers: &Servers,
    preflight: &PreflightReport,
    options: &MigrateOptions,
    every: Duration,
    events: &mut dyn FnMut(Event),
    on_pass: &mut dyn FnMut(&Outcome),
    stop: watch::Receiver<bool>,
) -> Result<Outcome, MigrateError> {
    let mut number = 0;
    loop {
        number += 1;
        let mut outcome = migrate_pass(
            servers,
            preflight,
            options,
            events,
            stop.clone(),
            Some(number),
        )
        .await?;
        on_pass(&outcome);
        let setup_fault = outcome.failure.as_ref().is_some_and(|f| f.setup);
        if outcome.interrupted || setup_fault {
            return Ok(outcome);
        }
        if paused(every, stop.clone()).await {
            outcome.interrupted = true;
            return Ok(outcome);
        }
    }
}

/// Waits `every`; `true` when stopped meanwhile.
async fn paused(every: Duration, mut stop: watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let sleep = tokio::time::sleep(every);
    tokio::pin!(sleep);
    let stopped = tokio::select! {
        _ = &mut sleep => None,
        changed = stop.wait_for(|stopped| *stopped) => Some(changed.is_ok()),
    };
    match stopped {
        Some(true) => true,
        // No one can stop it any more: the pause still runs its course.
        Some(false) => {
            sleep.await;
            false
        }
        None => *stop.borrow(),
    }
}
