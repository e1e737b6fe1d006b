//! Removals that may take many records (a subject's sessions, a client's
//! authorisations): the store is locked for one scan chunk at a time, as a
//! listing locks it, so revoking a client with a million authorisations
//! never stalls every other request, and nothing is copied but the keys of
//! one chunk.

use std::collections::BTreeMap;
use std::ops::Bound::{self, Excluded, Unbounded};

use crate::state::AppState;
use crate::store::{session_subject, AuthzFilter, AuthzKey, Store};

/// Keys looked at per lock.
const SCAN_CHUNK: usize = 8192;

/// Removes the authorisations `filter` takes, in key order, handing each
/// removed record to `removed`; returns how many.
pub fn remove_authorizations(
    state: &AppState,
    filter: &AuthzFilter,
    removed: impl FnMut(AuthzKey, Box<str>),
) -> u64 {
    sweep(
        state,
        |store| &mut store.authorizations,
        filter.first(),
        |key, _| filter.takes(key),
        removed,
    )
}

/// Logs `subject` out of every session; returns how many.
pub fn remove_sessions_of(state: &AppState, subject: &str) -> u64 {
    sweep(
        state,
        |store| &mut store.sessions,
        Unbounded,
        |_, json| Some(session_subject(json).as_deref() == Some(subject)),
        |_, _| {},
    )
}

/// Scans `map` from `first` in chunks, removing what `takes` takes (`None`
/// ends the scan).
fn sweep<K: Ord + Clone, V>(
    state: &AppState,
    map: impl Fn(&mut Store) -> &mut BTreeMap<K, V>,
    first: Bound<K>,
    takes: impl Fn(&K, &V) -> Option<bool>,
    mut removed: impl FnMut(K, V),
) -> u64 {
    let mut start = first;
    let mut count = 0;
    loop {
        let mut store = state.store();
        let map = map(&mut store);
        let (taken, next) = scan_chunk(map, &start, &takes);
        for key in taken {
            if let Some(value) = map.remove(&key) {
                removed(key, value);
                count += 1;
            }
        }
        drop(store);
        match next {
            Some(after) => start = Excluded(after),
            None => return count,
        }
    }
}

/// The keys one chunk takes, and where the next chunk starts (`None`: done).
fn scan_chunk<K: Ord + Clone, V>(
    map: &BTreeMap<K, V>,
    start: &Bound<K>,
    takes: impl Fn(&K, &V) -> Option<bool>,
) -> (Vec<K>, Option<K>) {
    let mut taken = Vec::new();
    let mut last: Option<&K> = None;
    for (scanned, (key, value)) in map.range((start.as_ref(), Unbounded)).enumerate() {
        if scanned == SCAN_CHUNK {
            return (taken, last.cloned());
        }
        match takes(key, value) {
            None => break,
            Some(true) => taken.push(key.clone()),
            Some(false) => {}
        }
        last = Some(key);
    }
    (taken, None)
}
