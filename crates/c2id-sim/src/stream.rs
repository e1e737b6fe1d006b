//! Listings written as they are read: the store is locked for one chunk
//! (about 64 KiB of JSON) at a time and the listing resumes after the last
//! key written, so neither a million sessions' JSON nor a long-held lock
//! ever exists. A listing is not a snapshot: a record changed meanwhile may
//! or may not show, but none shows twice and the order is the key order.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

use axum::body::{Body, Bytes};

use crate::state::AppState;
use crate::store::{session_subject, AuthzFilter, AuthzKey, Store};

/// A chunk is sent once it holds this much.
const CHUNK_BYTES: usize = 64 * 1024;
/// At most this many records are looked at per chunk (filtered listings).
const SCAN_LIMIT: usize = 8192;

/// A piece of a streamed answer.
pub enum Part {
    Raw(Bytes),
    /// A JSON array of every client's registration.
    Clients,
    /// A JSON array of authorisations.
    Authorizations(AuthzFilter),
    /// A JSON object of sessions keyed by SID, optionally one subject's.
    Sessions(Option<String>),
}

/// The streamed body made of `parts`.
pub fn body(state: Arc<AppState>, parts: Vec<Part>) -> Body {
    let lister = Lister {
        state,
        parts: parts.into(),
        opened: false,
        any: false,
        after_id: None,
        after_authz: None,
    };
    Body::from_stream(futures_util::stream::unfold(lister, |mut lister| async {
        lister
            .next_chunk()
            .map(|chunk| (Ok::<Bytes, Infallible>(chunk), lister))
    }))
}

/// A JSON array of records already taken out of the store (e.g. revoked
/// ones), sent chunk by chunk like the listings.
pub fn array_of(records: Vec<Box<str>>) -> Body {
    let mut records = records.into_iter();
    let (mut opened, mut any, mut closed) = (false, false, false);
    Body::from_stream(futures_util::stream::iter(std::iter::from_fn(move || {
        if closed {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK_BYTES + 4096);
        if !opened {
            out.push(b'[');
            opened = true;
        }
        while out.len() < CHUNK_BYTES {
            let Some(record) = records.next() else {
                out.push(b']');
                closed = true;
                break;
            };
            if any {
                out.push(b',');
            }
            any = true;
            out.extend_from_slice(record.as_bytes());
        }
        Some(Ok::<Bytes, Infallible>(Bytes::from(out)))
    })))
}

struct Lister {
    state: Arc<AppState>,
    parts: VecDeque<Part>,
    /// The current part's opening bracket is written.
    opened: bool,
    /// The current part has written a record (so the next needs a comma).
    any: bool,
    /// Last client ID or SID written or skipped.
    after_id: Option<Box<str>>,
    after_authz: Option<AuthzKey>,
}

impl Lister {
    fn next_chunk(&mut self) -> Option<Bytes> {
        let mut out = Vec::with_capacity(CHUNK_BYTES + 4096);
        while out.len() < CHUNK_BYTES {
            let Some(part) = self.parts.front() else {
                break;
            };
            let done = match part {
                Part::Raw(bytes) => {
                    out.extend_from_slice(bytes);
                    true
                }
                Part::Clients => self.clients(&mut out),
                Part::Authorizations(filter) => {
                    let filter = filter.clone();
                    self.authorizations(&mut out, &filter)
                }
                Part::Sessions(subject) => {
                    let subject = subject.clone();
                    self.sessions(&mut out, subject.as_deref())
                }
            };
            if done {
                self.parts.pop_front();
                self.opened = false;
                self.any = false;
                self.after_id = None;
                self.after_authz = None;
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }

    fn open(&mut self, out: &mut Vec<u8>, bracket: u8) {
        if !self.opened {
            out.push(bracket);
            self.opened = true;
        }
    }

    fn separate(&mut self, out: &mut Vec<u8>) {
        if self.any {
            out.push(b',');
        }
        self.any = true;
    }

    /// Writes clients until the chunk is full; true when all are written.
    fn clients(&mut self, out: &mut Vec<u8>) -> bool {
        self.open(out, b'[');
        let state = self.state.clone();
        let store = state.store();
        let range = match self.after_id.as_deref() {
            None => store.clients.range::<str, _>(..),
            Some(after) => store.clients.range::<str, _>((Excluded(after), Unbounded)),
        };
        for (id, client) in range {
            if out.len() >= CHUNK_BYTES {
                return false;
            }
            self.separate(out);
            Store::write_client(out, id, client, &state.issuer);
            self.after_id = Some(id.clone());
        }
        out.push(b']');
        true
    }

    fn authorizations(&mut self, out: &mut Vec<u8>, filter: &AuthzFilter) -> bool {
        self.open(out, b'[');
        let state = self.state.clone();
        let store = state.store();
        let start = match &self.after_authz {
            Some(after) => Excluded(after.clone()),
            None => filter.first(),
        };
        let range = store
            .authorizations
            .range::<AuthzKey, _>((start.as_ref(), Unbounded));
        for (scanned, (key, json)) in range.enumerate() {
            if out.len() >= CHUNK_BYTES || scanned >= SCAN_LIMIT {
                return false;
            }
            let Some(shown) = filter.takes(key) else {
                break;
            };
            if shown {
                self.separate(out);
                out.extend_from_slice(json.as_bytes());
            }
            self.after_authz = Some(key.clone());
        }
        out.push(b']');
        true
    }

    fn sessions(&mut self, out: &mut Vec<u8>, subject: Option<&str>) -> bool {
        self.open(out, b'{');
        let state = self.state.clone();
        let store = state.store();
        let range = match self.after_id.as_deref() {
            None => store.sessions.range::<str, _>(..),
            Some(after) => store.sessions.range::<str, _>((Excluded(after), Unbounded)),
        };
        for (scanned, (sid, json)) in range.enumerate() {
            if out.len() >= CHUNK_BYTES || scanned >= SCAN_LIMIT {
                return false;
            }
            let shown = subject.is_none_or(|sub| session_subject(json).as_deref() == Some(sub));
            if shown {
                self.separate(out);
                serde_json::to_writer(&mut *out, &**sid).expect("writing to memory");
                out.push(b':');
                out.extend_from_slice(json.as_bytes());
            }
            self.after_id = Some(sid.clone());
        }
        out.push(b'}');
        true
    }
}
