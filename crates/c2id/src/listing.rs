//! Reading a big listing (a JSON array of records, or the session store's
//! object keyed by SID) as a stream, record by record, with bounded
//! memory whatever the server sends.
//!
//! A scanner on a blocking thread walks the body byte by byte (strings,
//! escapes, nesting) and cuts it into records' texts, each kept only up to
//! `max_record_bytes`: a longer record is skipped while it streams past
//! (only its key members, `client_id` / `sub` / `cid`, are picked up on
//! the way, to name it) and handed over as too big. A record is cut a
//! chunk's slice at a time (strings skipped to their next quote or
//! backslash); only a record that turns out too big is read again byte by
//! byte for its key members. Texts go down a small channel in batches
//! (what one chunk of the body held, handed over before the next is
//! awaited), each holding a share of a byte budget until its request is
//! over, so what is read ahead and what is in flight together stay under
//! the budget.
//!
//! How a listing can fail says whether reading it again can help: a body
//! that broke off can be read again; an HTML page, JSON of another shape,
//! or trailing garbage cannot (they fail at once, naming the cause); a
//! listing that goes [`ListingOptions::stall`] without a new record is
//! given up.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// How the listing is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[record, …]` (clients, authorisations).
    Array,
    /// `{"SID": session, …}` (sessions).
    ObjectBySid,
}

/// Limits of one listing read.
#[derive(Debug, Clone, Copy)]
pub struct ListingOptions {
    pub max_record_bytes: usize,
    /// The longest time without a new record.
    pub stall: Duration,
    /// Bytes of record text read ahead or in flight at once.
    pub budget_bytes: usize,
}

impl ListingOptions {
    pub fn new(max_record_bytes: usize, stall: Duration) -> ListingOptions {
        ListingOptions {
            max_record_bytes,
            stall,
            budget_bytes: (8 << 20).max(2 * max_record_bytes),
        }
    }
}

/// A record's members that name it, picked up from a record too big to
/// keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub client_id: Option<String>,
    pub sub: Option<String>,
    pub cid: Option<String>,
}

/// A record's text as listed.
#[derive(Debug, Clone)]
pub enum Text {
    Whole(Bytes),
    /// Longer than the limit: skipped, `bytes` long.
    TooBig {
        bytes: u64,
        names: Names,
    },
}

/// One record of a listing: `sid` is set for sessions; `position` counts
/// from 1.
#[derive(Debug)]
pub struct Item {
    pub sid: Option<String>,
    pub position: u64,
    pub text: Text,
    /// Its share of the listing's byte budget, given back when dropped.
    pub hold: Hold,
}

/// A share of a listing's byte budget.
#[derive(Debug)]
pub struct Hold(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Hold {
    pub fn none() -> Hold {
        Hold(None)
    }
}

/// Why a listing could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingError {
    /// It broke off (a connection closed, a read timed out): reading it
    /// again may work.
    BrokeOff(String),
    /// No record arrived for too long.
    Stalled(Duration),
    /// It is not a listing of the expected shape: reading it again gives
    /// the same.
    NotAListing(String),
}

impl ListingError {
    /// Whether reading the listing again may help.
    pub fn may_pass(&self) -> bool {
        matches!(self, ListingError::BrokeOff(_))
    }
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingError::BrokeOff(why) => write!(f, "the listing broke off ({why})"),
            ListingError::Stalled(wait) => write!(
                f,
                "the listing made no progress for {} s (no new record; --stall-timeout)",
                wait.as_secs()
            ),
            ListingError::NotAListing(why) => write!(f, "{why}"),
        }
    }
}

/// Records read so far, or why reading stopped (after which nothing
/// follows).
pub type Next = Result<Item, ListingError>;

/// Records handed over at once at most.
const BATCH: usize = 256;

/// A listing being read.
pub struct Listing {
    records: mpsc::Receiver<Vec<Next>>,
    /// The rest of the batch last received.
    ready: std::vec::IntoIter<Next>,
}

impl Listing {
    /// Starts reading `response`'s body as `shape`.
    pub fn read(response: reqwest::Response, shape: Shape, options: ListingOptions) -> Listing {
        let (tx, records) = mpsc::channel(8);
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || {
            let budget = Arc::new(Semaphore::new(options.budget_bytes));
            let mut scanner = Scanner {
                source: Source::new(handle, response, options.stall, tx),
                options,
                budget,
                position: 0,
                spare: Vec::new(),
            };
            // `Err(None)`: the reader went away, nobody to tell.
            match scanner.run(shape) {
                Ok(()) => {
                    let _ = scanner.source.hand_over();
                }
                Err(Some(error)) => {
                    scanner.source.batch.push(Err(error));
                    let _ = scanner.source.hand_over();
                }
                Err(None) => {}
            }
        });
        Listing {
            records,
            ready: Vec::new().into_iter(),
        }
    }

    /// The next record, an error, or `None` at the end.
    pub async fn next(&mut self) -> Option<Next> {
        loop {
            if let Some(next) = self.ready.next() {
                return Some(next);
            }
            self.ready = self.records.recv().await?.into_iter();
        }
    }

    /// The listing as a stream, for [`trickle_transfer::submit_bounded`].
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Next> {
        futures_util::stream::unfold(self, |mut listing| async move {
            listing.next().await.map(|item| (item, listing))
        })
    }
}

/// The body's bytes, from its chunks as they arrive, and the records cut
/// from them, handed over before the next chunk is awaited.
struct Source {
    handle: Handle,
    response: reqwest::Response,
    chunk: Bytes,
    at: usize,
    offset: u64,
    stall: Duration,
    progress: Instant,
    tx: mpsc::Sender<Vec<Next>>,
    batch: Vec<Next>,
}

/// `Err(None)`: the reader of the records went away.
type Scan<T> = Result<T, Option<ListingError>>;

impl Source {
    fn new(
        handle: Handle,
        response: reqwest::Response,
        stall: Duration,
        tx: mpsc::Sender<Vec<Next>>,
    ) -> Source {
        Source {
            handle,
            response,
            chunk: Bytes::new(),
            at: 0,
            offset: 0,
            stall,
            progress: Instant::now(),
            tx,
            batch: Vec::new(),
        }
    }

    /// Hands over the records cut so far (waiting for the reader is not
    /// the server stalling).
    fn hand_over(&mut self) -> Scan<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.blocking_send(batch).map_err(|_| None)?;
        self.progress = Instant::now();
        Ok(())
    }

    /// A record cut: handed over with the others of its chunk.
    fn push(&mut self, item: Item) -> Scan<()> {
        self.batch.push(Ok(item));
        if self.batch.len() >= BATCH {
            self.hand_over()?;
        }
        Ok(())
    }

    /// The next byte, `None` at the end of the body.
    #[inline]
    fn next(&mut self) -> Scan<Option<u8>> {
        while self.at >= self.chunk.len() {
            if !self.refill()? {
                return Ok(None);
            }
        }
        let byte = self.chunk[self.at];
        self.at += 1;
        self.offset += 1;
        Ok(Some(byte))
    }

    /// The byte `next` would give, left unread.
    fn peek(&mut self) -> Scan<Option<u8>> {
        while self.at >= self.chunk.len() {
            if !self.refill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.chunk[self.at]))
    }

    /// The next chunk of the body; `false` at its end. What was cut from
    /// the last one is handed over first.
    fn refill(&mut self) -> Scan<bool> {
        self.hand_over()?;
        let left = self.stall.saturating_sub(self.progress.elapsed());
        let chunk = self
            .handle
            .block_on(tokio::time::timeout(left, self.response.chunk()));
        match chunk {
            Err(_) => Err(Some(ListingError::Stalled(self.stall))),
            Ok(Ok(Some(bytes))) => {
                self.chunk = bytes;
                self.at = 0;
                Ok(true)
            }
            Ok(Ok(None)) => Ok(false),
            Ok(Err(error)) => Err(Some(ListingError::BrokeOff(if error.is_timeout() {
                "a read timed out".to_owned()
            } else {
                "the connection closed before the end of the answer".to_owned()
            }))),
        }
    }

    /// The next byte that is not JSON whitespace.
    fn next_token(&mut self) -> Scan<Option<u8>> {
        loop {
            match self.next()? {
                Some(b' ' | b'\t' | b'\n' | b'\r') => {}
                other => return Ok(other),
            }
        }
    }

    fn cut_off(&self) -> Option<ListingError> {
        Some(ListingError::BrokeOff(format!(
            "the answer ended at byte {}",
            self.offset
        )))
    }

    fn wrong(&self, why: &str) -> Option<ListingError> {
        Some(ListingError::NotAListing(format!(
            "the listing is not the JSON expected: {why} at byte {}",
            self.offset
        )))
    }
}

/// Cuts the body into records.
struct Scanner {
    source: Source,
    options: ListingOptions,
    budget: Arc<Semaphore>,
    position: u64,
    /// The text buffer the next record is cut into (one, reused).
    spare: Vec<u8>,
}

impl Scanner {
    fn run(&mut self, shape: Shape) -> Scan<()> {
        let (open, close) = match shape {
            Shape::Array => (b'[', b']'),
            Shape::ObjectBySid => (b'{', b'}'),
        };
        match self.source.next_token()? {
            Some(byte) if byte == open => {}
            Some(b'<') => {
                return Err(Some(ListingError::NotAListing(
                    "the listing is an HTML page, not JSON (a login page or a proxy's error \
                     page in front of the API?)"
                        .to_owned(),
                )))
            }
            Some(_) => {
                let expected = match shape {
                    Shape::Array => "an array",
                    Shape::ObjectBySid => "an object keyed by SID",
                };
                return Err(self.source.wrong(&format!("{expected} was expected")));
            }
            None => return Err(self.source.cut_off()),
        }
        let mut first = true;
        loop {
            let mut byte = self
                .source
                .next_token()?
                .ok_or_else(|| self.source.cut_off())?;
            if first && byte == close {
                break;
            }
            let sid = match shape {
                Shape::Array => None,
                Shape::ObjectBySid => {
                    let sid = self.member_name(byte)?;
                    byte = self
                        .source
                        .next_token()?
                        .ok_or_else(|| self.source.cut_off())?;
                    Some(sid)
                }
            };
            self.record(sid, byte)?;
            first = false;
            match self.source.next_token()? {
                Some(b',') => {}
                Some(byte) if byte == close => break,
                Some(_) => return Err(self.source.wrong("a ',' or the end was expected")),
                None => return Err(self.source.cut_off()),
            }
        }
        match self.source.next_token()? {
            None => Ok(()),
            Some(_) => Err(self.source.wrong("something follows the listing")),
        }
    }

    /// A SID and its `:`. One too long to be a SID is replaced by a text
    /// that is not one, so that its record fails alone (by position).
    fn member_name(&mut self, first: u8) -> Scan<String> {
        const LONGEST: usize = 8192;
        if first != b'"' {
            return Err(self.source.wrong("a SID in quotes was expected"));
        }
        let mut raw = vec![b'"'];
        let mut escaped = false;
        let mut too_long = false;
        loop {
            let byte = self.source.next()?.ok_or_else(|| self.source.cut_off())?;
            too_long |= raw.len() >= LONGEST;
            if !too_long {
                raw.push(byte);
            }
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => break,
                _ => {}
            }
        }
        let sid = if too_long {
            format!("(a SID over {LONGEST} bytes)")
        } else {
            serde_json::from_slice::<String>(&raw)
                .map_err(|_| self.source.wrong("a SID that is not a JSON string"))?
        };
        match self.source.next_token()? {
            Some(b':') => Ok(sid),
            Some(_) => Err(self.source.wrong("a ':' was expected")),
            None => Err(self.source.cut_off()),
        }
    }

    /// One record, starting with `first`, handed over.
    fn record(&mut self, sid: Option<String>, first: u8) -> Scan<()> {
        let spare = std::mem::take(&mut self.spare);
        let mut record = RecordScan::new(self.options.max_record_bytes, spare);
        if matches!(first, b'{' | b'[' | b'"') {
            self.structured(&mut record, first)?;
        } else {
            // A bare number or literal: up to the next delimiter.
            record.feed(first).map_err(|why| self.source.wrong(why))?;
            while let Some(next) = self.peek_scalar_byte()? {
                record.feed(next).map_err(|why| self.source.wrong(why))?;
            }
        }
        self.position += 1;
        let text;
        (text, self.spare) = record.finish();
        let share = match &text {
            Text::Whole(bytes) => bytes.len().clamp(1, self.options.budget_bytes),
            Text::TooBig { .. } => 1,
        };
        let hold = self.hold(share as u32)?;
        let item = Item {
            sid,
            position: self.position,
            text,
            hold: Hold(Some(hold)),
        };
        self.source.push(item)
    }

    /// A record that opens with `{`, `[` or `"`, cut from the body a
    /// chunk's slice at a time.
    fn structured(&mut self, record: &mut RecordScan, first: u8) -> Scan<()> {
        if record
            .feed_slice(&[first])
            .map_err(|(_, why)| self.source.wrong(why))?
            .1
        {
            return Ok(());
        }
        loop {
            let source = &mut self.source;
            if source.at >= source.chunk.len() && !source.refill()? {
                return Err(source.cut_off());
            }
            let (used, done) = match record.feed_slice(&source.chunk[source.at..]) {
                Ok(fed) => fed,
                Err((used, why)) => {
                    source.at += used;
                    source.offset += used as u64;
                    return Err(source.wrong(why));
                }
            };
            source.at += used;
            source.offset += used as u64;
            if done {
                return Ok(());
            }
        }
    }

    /// A share of the byte budget; when it is spent, what was cut is
    /// handed over first (it may be what holds the budget).
    fn hold(&mut self, share: u32) -> Scan<OwnedSemaphorePermit> {
        match self.budget.clone().try_acquire_many_owned(share) {
            Ok(hold) => return Ok(hold),
            Err(TryAcquireError::Closed) => return Err(None),
            Err(TryAcquireError::NoPermits) => {}
        }
        self.source.hand_over()?;
        let hold = self
            .source
            .handle
            .block_on(self.budget.clone().acquire_many_owned(share))
            .map_err(|_| None)?;
        // Waiting for the reader is not the server stalling.
        self.source.progress = Instant::now();
        Ok(hold)
    }

    /// The next byte of a bare scalar, or `None` at its end (the
    /// delimiter is left to be read).
    fn peek_scalar_byte(&mut self) -> Scan<Option<u8>> {
        match self.source.peek()? {
            Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') | None => Ok(None),
            Some(_) => self.source.next(),
        }
    }
}

/// The state of scanning one record.
struct RecordScan {
    max: usize,
    text: Vec<u8>,
    bytes: u64,
    too_big: bool,
    depth: u64,
    in_string: bool,
    escaped: bool,
    /// The record is an object and the next string at depth 1 is a name.
    expect_name: bool,
    object: bool,
    /// Raw bytes of the string being read at depth 1 (one buffer, reused).
    capture: Vec<u8>,
    capturing: bool,
    capturing_name: bool,
    last_name: Vec<u8>,
    names: Names,
}

/// Key members longer than this are not picked up.
const NAME_LIMIT: usize = 1024;

impl RecordScan {
    /// Cut into `text` (a buffer to reuse: cleared, and made room in).
    fn new(max: usize, mut text: Vec<u8>) -> RecordScan {
        text.clear();
        // Most records fit: no growing a byte at a time.
        text.reserve(max.min(1024));
        RecordScan {
            max,
            text,
            bytes: 0,
            too_big: false,
            depth: 0,
            in_string: false,
            escaped: false,
            expect_name: false,
            object: false,
            capture: Vec::new(),
            capturing: false,
            capturing_name: false,
            last_name: Vec::new(),
            names: Names::default(),
        }
    }

    /// Takes one byte; `true` when the record is complete.
    #[inline]
    fn feed(&mut self, byte: u8) -> Result<bool, &'static str> {
        self.bytes += 1;
        if !self.too_big {
            if self.text.len() < self.max {
                self.text.push(byte);
            } else {
                self.too_big = true;
                self.text = Vec::new();
            }
        }
        if self.in_string {
            if self.capturing && self.capture.len() <= NAME_LIMIT {
                self.capture.push(byte);
            }
            match (self.escaped, byte) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => {
                    self.in_string = false;
                    self.string_done();
                    return Ok(self.depth == 0);
                }
                _ => {}
            }
            return Ok(false);
        }
        match byte {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.object {
                    self.capture.clear();
                    self.capture.push(b'"');
                    self.capturing = true;
                    self.capturing_name = self.expect_name;
                }
            }
            b'{' | b'[' => {
                if self.depth == 0 {
                    self.object = byte == b'{';
                    self.expect_name = true;
                }
                self.depth += 1;
            }
            b'}' | b']' => {
                self.depth = self.depth.checked_sub(1).ok_or("a record closed twice")?;
                return Ok(self.depth == 0);
            }
            b':' if self.depth == 1 => self.expect_name = false,
            b',' if self.depth == 1 => self.expect_name = true,
            // A bare scalar ends at a delimiter, which the caller reads.
            _ => {}
        }
        Ok(false)
    }

    /// Takes bytes up to the record's end: `(bytes used, complete)`; an
    /// error with the bytes used up to the one at fault. While the record
    /// fits, only its structure is followed (strings skipped to their next
    /// quote or backslash); once it is too big, the kept text is read again
    /// byte by byte, as if it had been all along, for its key members.
    fn feed_slice(&mut self, bytes: &[u8]) -> Result<(usize, bool), (usize, &'static str)> {
        if self.too_big {
            return self.feed_each(bytes);
        }
        let limit = bytes.len().min(self.max - self.text.len());
        let (used, done) = self.follow_structure(&bytes[..limit]).map_err(|e| (0, e))?;
        self.text.extend_from_slice(&bytes[..used]);
        self.bytes += used as u64;
        if done || limit == bytes.len() {
            return Ok((used, done));
        }
        self.read_again_as_too_big();
        let (more, done) = self
            .feed_each(&bytes[limit..])
            .map_err(|(n, e)| (limit + n, e))?;
        Ok((limit + more, done))
    }

    /// Depth and strings only: `(bytes used, complete)`.
    fn follow_structure(&mut self, bytes: &[u8]) -> Result<(usize, bool), &'static str> {
        let mut at = 0;
        while at < bytes.len() {
            if self.in_string {
                if std::mem::take(&mut self.escaped) {
                    at += 1;
                    continue;
                }
                let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                    return Ok((bytes.len(), false));
                };
                at += found + 1;
                if bytes[at - 1] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Ok((at, true));
                    }
                }
                continue;
            }
            let byte = bytes[at];
            at += 1;
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.checked_sub(1).ok_or("a record closed twice")?;
                    if self.depth == 0 {
                        return Ok((at, true));
                    }
                }
                _ => {}
            }
        }
        Ok((bytes.len(), false))
    }

    /// The record past its limit: the state byte by byte would have, its
    /// key members picked up from the text kept so far, which is dropped.
    fn read_again_as_too_big(&mut self) {
        let kept = std::mem::take(&mut self.text);
        let mut again = RecordScan::new(0, Vec::new());
        again.max = self.max;
        again.too_big = true;
        for &byte in &kept {
            // The same bytes the structure was followed through: no error, no end.
            let _ = again.feed(byte);
        }
        *self = again;
    }

    /// [`RecordScan::feed`] over each byte.
    fn feed_each(&mut self, bytes: &[u8]) -> Result<(usize, bool), (usize, &'static str)> {
        for (at, &byte) in bytes.iter().enumerate() {
            match self.feed(byte) {
                Ok(true) => return Ok((at + 1, true)),
                Ok(false) => {}
                Err(why) => return Err((at + 1, why)),
            }
        }
        Ok((bytes.len(), false))
    }

    fn string_done(&mut self) {
        if !std::mem::take(&mut self.capturing) {
            return;
        }
        let raw = &self.capture;
        if raw.len() > NAME_LIMIT {
            return;
        }
        if self.capturing_name {
            self.last_name.clear();
            self.last_name.extend_from_slice(raw);
            return;
        }
        let value = || serde_json::from_slice::<String>(raw).ok();
        match self.last_name.as_slice() {
            b"\"client_id\"" => self.names.client_id = value(),
            b"\"sub\"" => self.names.sub = value(),
            b"\"cid\"" => self.names.cid = value(),
            _ => {}
        }
    }

    /// The record's text, and the buffer it was cut into (to reuse).
    fn finish(self) -> (Text, Vec<u8>) {
        if self.too_big {
            let names = self.names;
            let text = Text::TooBig {
                bytes: self.bytes,
                names,
            };
            (text, self.text)
        } else {
            (Text::Whole(Bytes::copy_from_slice(&self.text)), self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(body))
    }

    async fn read_all(
        body: &'static str,
        shape: Shape,
        max: usize,
    ) -> (Vec<Item>, Option<ListingError>) {
        let options = ListingOptions::new(max, Duration::from_secs(5));
        let mut listing = Listing::read(response(body), shape, options);
        let mut items = Vec::new();
        while let Some(next) = listing.next().await {
            match next {
                Ok(item) => items.push(item),
                Err(why) => return (items, Some(why)),
            }
        }
        (items, None)
    }

    fn text(item: &Item) -> &str {
        match &item.text {
            Text::Whole(bytes) => std::str::from_utf8(bytes).unwrap(),
            Text::TooBig { .. } => "(too big)",
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn arrays_and_objects_by_sid_are_cut_record_by_record() {
        let (items, error) = read_all(
            r#" [ {"client_id":"a","x":["]",{"}":"\"]"}]} , {"client_id":"b"} ] "#,
            Shape::Array,
            1024,
        )
        .await;
        assert_eq!(error, None);
        assert_eq!(items.len(), 2);
        assert_eq!(
            text(&items[0]),
            r#"{"client_id":"a","x":["]",{"}":"\"]"}]}"#
        );
        assert_eq!(
            (items[1].position, text(&items[1])),
            (2, r#"{"client_id":"b"}"#)
        );
        let (items, error) = read_all(
            r#"{"k1.h": {"sub": "a"}, "k\"2.h": {"sub": "b"}}"#,
            Shape::ObjectBySid,
            1024,
        )
        .await;
        assert_eq!(error, None);
        assert_eq!(items[0].sid.as_deref(), Some("k1.h"));
        assert_eq!(items[1].sid.as_deref(), Some("k\"2.h"));
        assert_eq!(text(&items[1]), r#"{"sub": "b"}"#);
        let (items, error) = read_all("[]", Shape::Array, 1024).await;
        assert!(items.is_empty() && error.is_none());
        let (items, error) = read_all("[1, true,null]", Shape::Array, 1024).await;
        assert_eq!(error, None);
        assert_eq!(
            items.iter().map(text).collect::<Vec<_>>(),
            ["1", "true", "null"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_record_past_the_limit_is_skipped_and_named_by_its_key_members() {
        let (items, error) = read_all(
            r#"[{"client_id":"small"},{"x":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],"client_id":"big","sub":"s\u0041"},{"client_id":"after"}]"#,
            Shape::Array,
            40,
        )
        .await;
        assert_eq!(error, None);
        assert_eq!(items.len(), 3);
        match &items[1].text {
            Text::TooBig { bytes, names } => {
                assert!(*bytes > 40);
                assert_eq!(names.client_id.as_deref(), Some("big"));
                assert_eq!(names.sub.as_deref(), Some("sA"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(text(&items[2]), r#"{"client_id":"after"}"#);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_sid_too_long_to_be_one_leaves_its_record_to_fail_alone() {
        let body: &'static str = Box::leak(
            format!(
                r#"{{"{}.h": {{"sub": "a"}}, "k.h": {{"sub": "b"}}}}"#,
                "k".repeat(9000)
            )
            .into_boxed_str(),
        );
        let (items, error) = read_all(body, Shape::ObjectBySid, 1024).await;
        assert_eq!(error, None);
        assert_eq!(items[0].sid.as_deref(), Some("(a SID over 8192 bytes)"));
        assert_eq!(items[1].sid.as_deref(), Some("k.h"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_cut_listing_may_be_read_again_and_a_wrong_one_may_not() {
        let (items, error) =
            read_all(r#"[{"sub":"a"}, {"sub":"sup3rs3cr3t"#, Shape::Array, 1024).await;
        assert_eq!(items.len(), 1);
        let error = error.unwrap();
        assert!(error.may_pass(), "{error}");
        for (body, shape, cause) in [
            (
                r#""sup3rs3cr3t-value""#,
                Shape::Array,
                "an array was expected",
            ),
            ("<html>proxy</html>", Shape::ObjectBySid, "HTML page"),
            (r#"[{"a":1}] trailing"#, Shape::Array, "something follows"),
            (r#"[{"a":1} {"b":2}]"#, Shape::Array, "',' or the end"),
            (r#"{"a.b" {"b":2}}"#, Shape::ObjectBySid, "':'"),
            (r#"[{"a":1}]]"#, Shape::Array, "something follows"),
        ] {
            let (_, error) = read_all(body, shape, 1024).await;
            let error = error.unwrap();
            assert!(!error.may_pass(), "{body}: {error}");
            let said = error.to_string();
            assert!(
                said.contains(cause) && !said.contains("sup3rs3cr3t"),
                "{said}"
            );
        }
    }
}
