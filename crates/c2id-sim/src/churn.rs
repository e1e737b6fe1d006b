//! Live churn's settings and counters: per-second rates of each kind of
//! change, the seed that makes the changes reproducible, and what has been
//! done. The changes themselves are `changes.rs`'s.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use trickle_emulator::lock;

/// The highest rate of one kind of change (per second).
const MAX_RATE: f64 = 100_000.0;
/// The most changes of one kind in one batch.
const MAX_BATCH: u64 = 1_000_000;
/// A tick after a stall catches up on at most this much time.
const MAX_CATCH_UP: Duration = Duration::from_secs(1);

/// Changes per second, of each kind (fractions accumulate: 0.1 is one
/// change every ten seconds). All 0 (the default): no churn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnRates {
    /// Revoke an authorisation (consent withdrawn).
    pub revoke_authz: f64,
    /// Re-issue an authorisation with another scope (consent changed).
    pub edit_authz: f64,
    /// Log out of a session.
    pub logout: f64,
    /// Change a session's `data` (as `PUT` would).
    pub edit_sessions: f64,
    /// Change a client's `redirect_uris` (as `PUT /clients/{id}` would).
    pub edit_clients: f64,
    /// Delete a client, with its authorisations.
    pub delete_clients: f64,
    /// Add a record: a client, an authorisation, a session, in turn.
    pub add: f64,
}

/// Changes to make at once, of each kind (as [`ChurnRates`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChurnBatch {
    pub revoke_authz: u64,
    pub edit_authz: u64,
    pub logout: u64,
    pub edit_sessions: u64,
    pub edit_clients: u64,
    pub delete_clients: u64,
    pub add: u64,
}

/// What churn has done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChurnDone {
    pub revoked_authz: u64,
    pub edited_authz: u64,
    pub logged_out: u64,
    pub edited_sessions: u64,
    pub edited_clients: u64,
    pub deleted_clients: u64,
    /// Authorisations removed with the clients deleted.
    pub revoked_with_deleted_clients: u64,
    pub added_clients: u64,
    pub added_authz: u64,
    pub added_sessions: u64,
    /// Changes not made: nothing of their kind to change (e.g. no session
    /// left to log out, no client to add an authorisation to).
    pub skipped: u64,
}

/// `GET /__sim/churn`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChurnStatus {
    pub rates: ChurnRates,
    pub seed: u64,
    pub done: ChurnDone,
}

impl ChurnRates {
    fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("revoke_authz", self.revoke_authz),
            ("edit_authz", self.edit_authz),
            ("logout", self.logout),
            ("edit_sessions", self.edit_sessions),
            ("edit_clients", self.edit_clients),
            ("delete_clients", self.delete_clients),
            ("add", self.add),
        ]
    }

    /// Each rate a number from 0 to 100,000 per second.
    pub fn check(&self) -> Result<(), String> {
        match self
            .named()
            .into_iter()
            .find(|(_, rate)| !(0.0..=MAX_RATE).contains(rate))
        {
            Some((name, rate)) => Err(format!(
                "churn rate {name} must be 0 to {MAX_RATE} per second (got {rate})"
            )),
            None => Ok(()),
        }
    }

    pub fn is_idle(&self) -> bool {
        self.named().iter().all(|(_, rate)| *rate == 0.0)
    }
}

impl ChurnBatch {
    fn counts(&self) -> [u64; 7] {
        [
            self.revoke_authz,
            self.edit_authz,
            self.logout,
            self.edit_sessions,
            self.edit_clients,
            self.delete_clients,
            self.add,
        ]
    }

    fn from_counts(c: [u64; 7]) -> ChurnBatch {
        let [revoke_authz, edit_authz, logout, edit_sessions, edit_clients, delete_clients, add] =
            c;
        ChurnBatch {
            revoke_authz,
            edit_authz,
            logout,
            edit_sessions,
            edit_clients,
            delete_clients,
            add,
        }
    }

    /// At most a million changes of a kind at once.
    pub fn check(&self) -> Result<(), String> {
        match self.counts().into_iter().max() {
            Some(most) if most > MAX_BATCH => Err(format!(
                "a churn batch makes at most {MAX_BATCH} changes of a kind (got {most})"
            )),
            _ => Ok(()),
        }
    }
}

impl ChurnDone {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &ChurnDone) {
        self.revoked_authz += other.revoked_authz;
        self.edited_authz += other.edited_authz;
        self.logged_out += other.logged_out;
        self.edited_sessions += other.edited_sessions;
        self.edited_clients += other.edited_clients;
        self.deleted_clients += other.deleted_clients;
        self.revoked_with_deleted_clients += other.revoked_with_deleted_clients;
        self.added_clients += other.added_clients;
        self.added_authz += other.added_authz;
        self.added_sessions += other.added_sessions;
        self.skipped += other.skipped;
    }
}

/// Churn's state, locked while changes are made (so batches never
/// interleave, and a seed replays the same changes).
pub struct Ticker {
    pub rates: ChurnRates,
    pub seed: u64,
    pub rng: fastrand::Rng,
    /// Changes made since the seed was set: names new records.
    pub serial: u64,
    /// Records added since the seed was set: which kind is next.
    pub added: u64,
    pub done: ChurnDone,
    /// Changes due but not made yet (fractions of one), per kind.
    owed: [f64; 7],
    last_tick: Instant,
}

impl Ticker {
    /// The whole changes due since the last tick at the current rates.
    pub fn due(&mut self, now: Instant) -> ChurnBatch {
        let elapsed = now
            .saturating_duration_since(self.last_tick)
            .min(MAX_CATCH_UP);
        self.last_tick = now;
        let mut counts = [0u64; 7];
        for (i, (_, rate)) in self.rates.named().into_iter().enumerate() {
            self.owed[i] += rate * elapsed.as_secs_f64();
            let whole = self.owed[i].floor();
            self.owed[i] -= whole;
            counts[i] = whole as u64;
        }
        ChurnBatch::from_counts(counts)
    }
}

/// Live churn, as the server holds it.
pub struct Churn {
    ticker: Mutex<Ticker>,
    wake: Arc<Notify>,
}

impl Churn {
    pub fn new(rates: ChurnRates, seed: u64) -> Result<Churn, String> {
        rates.check()?;
        Ok(Churn {
            ticker: Mutex::new(Ticker {
                rates,
                seed,
                rng: fastrand::Rng::with_seed(seed),
                serial: 0,
                added: 0,
                done: ChurnDone::default(),
                owed: [0.0; 7],
                last_tick: Instant::now(),
            }),
            wake: Arc::new(Notify::new()),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Ticker> {
        lock(&self.ticker)
    }

    /// Replaces the rates (and with a seed, restarts the random stream);
    /// what is owed starts again from now.
    pub fn set(&self, rates: ChurnRates, seed: Option<u64>) -> Result<(), String> {
        rates.check()?;
        let mut ticker = self.lock();
        if let Some(seed) = seed {
            ticker.seed = seed;
            ticker.rng = fastrand::Rng::with_seed(seed);
            ticker.serial = 0;
            ticker.added = 0;
        }
        ticker.rates = rates;
        ticker.owed = [0.0; 7];
        ticker.last_tick = Instant::now();
        drop(ticker);
        self.wake.notify_one();
        Ok(())
    }

    pub fn status(&self) -> ChurnStatus {
        let ticker = self.lock();
        ChurnStatus {
            rates: ticker.rates.clone(),
            seed: ticker.seed,
            done: ticker.done.clone(),
        }
    }

    /// Notified when the rates change (an idle churn waits on it).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
