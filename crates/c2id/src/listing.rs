//! Reading a big listing (a JSON array of records, or the session store's
//! object keyed by SID) as a stream: the body is parsed as it arrives, on
//! a blocking thread, by serde_json with a visitor that hands each record
//! over a small bounded channel. Memory holds a few records, never the
//! listing; a slow consumer slows the reading (and the server's sending)
//! instead of piling records up.

use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// How the listing is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[record, …]` (clients, authorisations).
    Array,
    /// `{"SID": session, …}` (sessions).
    ObjectBySid,
}

/// One record of a listing: `sid` is set for sessions.
#[derive(Debug)]
pub struct Item {
    pub sid: Option<String>,
    pub record: Value,
}

/// Records read so far, or why reading stopped (a broken or cut-off body,
/// or JSON of the wrong shape; the message holds no record content).
pub type Next = Result<Item, String>;

/// A listing being read.
pub struct Listing {
    records: mpsc::Receiver<Next>,
}

impl Listing {
    /// Starts reading `response`'s body as `shape`.
    pub fn read(response: reqwest::Response, shape: Shape) -> Listing {
        let (tx, records) = mpsc::channel(256);
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || {
            let reader = io::BufReader::with_capacity(
                64 * 1024,
                BodyReader {
                    handle,
                    response,
                    chunk: Chunk::default(),
                },
            );
            let mut deserializer = serde_json::Deserializer::from_reader(reader);
            let sink = Sink { tx: &tx };
            let result = match shape {
                Shape::Array => (&mut deserializer).deserialize_seq(sink),
                Shape::ObjectBySid => (&mut deserializer).deserialize_map(sink),
            }
            .and_then(|()| deserializer.end());
            if let Err(error) = result {
                if !sink_closed(&error) {
                    let _ = tx.blocking_send(Err(describe(&error)));
                }
            }
        });
        Listing { records }
    }

    /// The next record, an error (after which nothing follows), or `None`
    /// at the end.
    pub async fn next(&mut self) -> Option<Next> {
        self.records.recv().await
    }

    /// The listing as a stream, for [`trickle_transfer::submit_bounded`].
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Next> {
        futures_util::stream::unfold(self, |mut listing| async move {
            listing.next().await.map(|item| (item, listing))
        })
    }
}

/// Counts a listing's records without keeping any.
pub async fn count(response: reqwest::Response, shape: Shape) -> Result<u64, String> {
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let reader = io::BufReader::with_capacity(
            64 * 1024,
            BodyReader {
                handle,
                response,
                chunk: Chunk::default(),
            },
        );
        let mut deserializer = serde_json::Deserializer::from_reader(reader);
        let result = match shape {
            Shape::Array => (&mut deserializer).deserialize_seq(Counter),
            Shape::ObjectBySid => (&mut deserializer).deserialize_map(Counter),
        };
        let counted = result.map_err(|e| describe(&e))?;
        deserializer.end().map_err(|e| describe(&e))?;
        Ok(counted)
    })
    .await
    .map_err(|_| "the listing's reader stopped".to_owned())?
}

const CLOSED: &str = "trickle: the listing's reader was dropped";

fn sink_closed(error: &serde_json::Error) -> bool {
    error.to_string().starts_with(CLOSED)
}

/// Where and how the listing went wrong, never what it held (serde's own
/// messages can quote a value).
fn describe(error: &serde_json::Error) -> String {
    let at = format!("line {}, column {}", error.line(), error.column());
    if error.is_io() || error.is_eof() {
        format!("the listing broke off at {at}")
    } else {
        format!("the listing is not the JSON expected, at {at}")
    }
}

/// Sends each record down the channel as it is parsed.
struct Sink<'a> {
    tx: &'a mpsc::Sender<Next>,
}

impl Sink<'_> {
    fn send<E: de::Error>(&self, item: Item) -> Result<(), E> {
        self.tx
            .blocking_send(Ok(item))
            .map_err(|_| E::custom(CLOSED))
    }
}

impl<'de> Visitor<'de> for Sink<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array or object of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            self.send(Item { sid: None, record })?;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((sid, record)) = map.next_entry::<String, Value>()? {
            self.send(Item {
                sid: Some(sid),
                record,
            })?;
        }
        Ok(())
    }
}

struct Counter;

impl<'de> Visitor<'de> for Counter {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array or object of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}

/// The body of a response as `Read`, for a blocking thread: each chunk is
/// awaited on the runtime as the parser needs it.
struct BodyReader {
    handle: Handle,
    response: reqwest::Response,
    chunk: Chunk,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.response.chunk()) {
                Ok(Some(bytes)) => self.chunk = Chunk::new(bytes),
                Ok(None) => return Ok(0),
                Err(error) => {
                    return Err(io::Error::other(if error.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        "the connection closed before the end of the answer".to_owned()
                    }))
                }
            }
        }
        Ok(self.chunk.take_into(out))
    }
}

/// What is left of the last chunk of a body.
#[derive(Default)]
struct Chunk {
    bytes: Bytes,
    at: usize,
}

impl Chunk {
    fn new(bytes: Bytes) -> Chunk {
        Chunk { bytes, at: 0 }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn take_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.bytes.len() - self.at);
        out[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> reqwest::Response {
        reqwest::Response::from(http::Response::new(body))
    }

    async fn read_all(body: &'static str, shape: Shape) -> (Vec<Item>, Option<String>) {
        let mut listing = Listing::read(response(body), shape);
        let mut items = Vec::new();
        while let Some(next) = listing.next().await {
            match next {
                Ok(item) => items.push(item),
                Err(why) => return (items, Some(why)),
            }
        }
        (items, None)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn arrays_and_objects_by_sid_are_read_record_by_record() {
        let (items, error) =
            read_all(r#"[{"client_id":"a"}, {"client_id":"b"}]"#, Shape::Array).await;
        assert_eq!(error, None);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].record["client_id"], "b");
        let (items, error) = read_all(
            r#"{"k1.h": {"sub": "a"}, "k2.h": {"sub": "b"}}"#,
            Shape::ObjectBySid,
        )
        .await;
        assert_eq!(error, None);
        assert_eq!(items[0].sid.as_deref(), Some("k1.h"));
        assert_eq!(items[1].record["sub"], "b");
        let (items, error) = read_all("[]", Shape::Array).await;
        assert!(items.is_empty() && error.is_none());
        assert_eq!(
            count(
                response(r#"{"a.b":{},"c.d":{"x":[1]}}"#),
                Shape::ObjectBySid
            )
            .await,
            Ok(2)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_cut_or_wrong_listing_is_an_error_after_the_records_before_it_and_quotes_nothing() {
        let (items, error) = read_all(r#"[{"sub":"a"}, {"sub":"sup3rs3cr3t"#, Shape::Array).await;
        assert_eq!(items.len(), 1);
        let error = error.unwrap();
        assert!(
            error.starts_with("the listing broke off at line 1"),
            "{error}"
        );
        let (items, error) = read_all(r#""sup3rs3cr3t-value""#, Shape::Array).await;
        assert!(items.is_empty());
        let error = error.unwrap();
        assert!(
            error.contains("not the JSON expected") && !error.contains("sup3rs3cr3t"),
            "{error}"
        );
        let (_, error) = read_all("<html>proxy</html>", Shape::ObjectBySid).await;
        assert!(error.is_some());
        let (items, error) = read_all(r#"[{"a":1}] trailing"#, Shape::Array).await;
        assert_eq!((items.len(), error.is_some()), (1, true));
    }
}
