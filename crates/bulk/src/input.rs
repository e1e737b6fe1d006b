//! Reading exports: NDJSON (what `POST /api/v2/jobs/users-exports` with
//! `format: json` writes) or CSV, gzipped or not (detected by content), one
//! record at a time with its line number. Nothing here holds more than one
//! record, and no record more than [`MAX_RECORD_BYTES`].
//!
//! CSV is read line by line through `csv_core`'s parser, not by the `csv`
//! crate's reader: that one reads a quoted field to its closing quote however
//! far away it is, so one unclosed quote made the rest of the file a single
//! field (held in memory). Here a quoted field may span lines (its line
//! breaks kept as they are, CRLF included), but a record
//! is capped (in bytes and in physical lines); a quote still open at the cap
//! or at the end of the file is reported as unterminated, with the line it
//! started on, and reading resumes on the next line.
//!
//! A gzip export is decompressed as it is read, and must look like one: past
//! [`GZIP_CHECK_AFTER_BYTES`] of output, one that has inflated more than
//! [`MAX_GZIP_RATIO`] times what was read of the file is refused (user
//! exports compress about ten to one; a "gzip bomb" a thousand to one), so
//! a small file cannot keep a plan reading for hours. A gzip stream that
//! ends early (a cut download) is an error naming the last line read.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use serde_json::{Map, Value};

/// A record longer than this is reported and skipped, never buffered whole.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The most physical lines one CSV record may span (a quoted field with
/// line breaks in it). Far more than any real field has; a quote still open
/// after that many lines is reported as unterminated.
pub const MAX_CSV_RECORD_LINES: usize = 1_000;

const READ_BUFFER: usize = 256 * 1024;

/// How much a gzip export may inflate before its ratio is checked.
pub const GZIP_CHECK_AFTER_BYTES: u64 = 1 << 30;

/// Past [`GZIP_CHECK_AFTER_BYTES`], the most decompressed bytes per byte of
/// the file read so far.
pub const MAX_GZIP_RATIO: u64 = 100;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// How an export is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON object per line.
    Json,
    /// A header line, then one user per row.
    Csv,
}

impl InputFormat {
    /// CSV when the name ends in `.csv` or `.csv.gz`, JSON otherwise.
    pub fn from_path(path: &Path) -> InputFormat {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if name.ends_with(".csv") {
            InputFormat::Csv
        } else {
            InputFormat::Json
        }
    }
}

/// Counts the bytes read from the file (compressed bytes for gzip), for progress.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A gzip stream's output, counted against what was read of the file.
struct Inflated<R> {
    inner: R,
    inflated: u64,
    compressed: Rc<Cell<u64>>,
    limits: GzipLimits,
}

#[derive(Debug, Clone, Copy)]
struct GzipLimits {
    check_after: u64,
    ratio: u64,
}

impl Default for GzipLimits {
    fn default() -> Self {
        GzipLimits {
            check_after: GZIP_CHECK_AFTER_BYTES,
            ratio: MAX_GZIP_RATIO,
        }
    }
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|error| {
            let why = match error.kind() {
                io::ErrorKind::UnexpectedEof => {
                    "the gzip stream ends early: the file is cut short (download the export again)"
                        .to_owned()
                }
                _ => format!("the gzip data is broken ({error})"),
            };
            io::Error::new(io::ErrorKind::InvalidData, why)
        })?;
        self.inflated += n as u64;
        let compressed = self.compressed.get().max(1);
        if self.inflated > self.limits.check_after
            && self.inflated > compressed.saturating_mul(self.limits.ratio)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the gzip data inflates more than {} times ({} bytes from the first {} of the file): \
                     not a user export (a gzip bomb?). If it is one, decompress it yourself and plan the \
                     plain file",
                    self.limits.ratio, self.inflated, compressed
                ),
            ));
        }
        Ok(n)
    }
}

/// One record of an export.
pub enum Record<'a> {
    /// The bytes of one NDJSON line (without the line break).
    Json(&'a [u8]),
    /// A CSV row turned into a user object.
    Object(Value),
    /// The record cannot be read; the text says why.
    Unreadable(String),
}

/// An open export.
pub struct Export {
    lines: Lines,
    csv: Option<CsvReader>,
    consumed: Rc<Cell<u64>>,
    /// The size of the file on disk, when known.
    pub file_bytes: Option<u64>,
    buffer: Vec<u8>,
}

/// Opens `path`; gzip is recognised by its magic bytes, and a UTF-8 byte
/// order mark at the start is passed over.
pub fn open(path: &Path, format: InputFormat) -> io::Result<Export> {
    open_with(path, format, CsvLimits::default(), GzipLimits::default())
}

fn open_with(
    path: &Path,
    format: InputFormat,
    limits: CsvLimits,
    gzip: GzipLimits,
) -> io::Result<Export> {
    let file = File::open(path)?;
    let file_bytes = file
        .metadata()
        .ok()
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len());
    let consumed = Rc::new(Cell::new(0));
    let mut raw = BufReader::with_capacity(
        READ_BUFFER,
        Counting {
            inner: file,
            count: Rc::clone(&consumed),
        },
    );
    let gzipped = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> = if gzipped {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            Inflated {
                inner: MultiGzDecoder::new(raw),
                inflated: 0,
                compressed: Rc::clone(&consumed),
                limits: gzip,
            },
        ))
    } else {
        Box::new(raw)
    };
    if reader.fill_buf()?.starts_with(UTF8_BOM) {
        reader.consume(UTF8_BOM.len());
    }
    let mut lines = Lines {
        reader,
        number: 0,
        limit: MAX_RECORD_BYTES,
    };
    let csv = match format {
        InputFormat::Json => None,
        InputFormat::Csv => Some(CsvReader::start(&mut lines, limits)?),
    };
    Ok(Export {
        lines,
        csv,
        consumed,
        file_bytes,
        buffer: Vec::new(),
    })
}

impl Export {
    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.consumed.get()
    }

    /// Physical lines read so far (blank ones, a CSV header and the lines
    /// inside quoted fields included).
    pub fn lines_read(&self) -> u64 {
        self.lines.number
    }

    /// The next record and its 1-based line number (a CSV record's first
    /// line); `None` at the end. Blank lines are passed over. An error is the
    /// file itself failing (a truncated gzip stream, a disk error), not a bad
    /// record.
    pub fn next_record(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        let after = self.lines.number;
        let at = move |error: io::Error| {
            io::Error::new(error.kind(), format!("{error} (after line {after})"))
        };
        if let Some(csv) = &mut self.csv {
            return csv.next_user(&mut self.lines, &mut self.buffer).map_err(at);
        }
        loop {
            let Some(line) = self.lines.next(&mut self.buffer).map_err(at)? else {
                return Ok(None);
            };
            if line.too_long {
                return Ok(Some((line.number, Record::Unreadable(too_long()))));
            }
            let text = self.buffer.trim_ascii();
            if !text.is_empty() {
                let start = text.as_ptr() as usize - self.buffer.as_ptr() as usize;
                let end = start + text.len();
                return Ok(Some((line.number, Record::Json(&self.buffer[start..end]))));
            }
        }
    }
}

fn too_long() -> String {
    format!("the line is longer than {MAX_RECORD_BYTES} bytes")
}

/// The physical lines of the (decompressed) export, numbered.
struct Lines {
    reader: Box<dyn BufRead>,
    /// Lines read so far.
    number: u64,
    /// The most bytes kept of one line.
    limit: usize,
}

/// A line just read into the caller's buffer.
struct Line {
    number: u64,
    /// Longer than the limit: the buffer is empty, the rest was dropped.
    too_long: bool,
}

impl Lines {
    /// Reads one line into `buffer` (without its `\n`; at most `limit`
    /// bytes: the rest of a longer line is read and dropped). `None` at the
    /// end of input.
    fn next(&mut self, buffer: &mut Vec<u8>) -> io::Result<Option<Line>> {
        buffer.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(end) => (&available[..end], end + 1),
                None => (available, available.len()),
            };
            if !too_long {
                if buffer.len() + chunk.len() > self.limit {
                    too_long = true;
                    buffer.clear();
                } else {
                    buffer.extend_from_slice(chunk);
                }
            }
            let found_end = done > chunk.len();
            self.reader.consume(done);
            if found_end {
                break;
            }
        }
        self.number += 1;
        Ok(Some(Line {
            number: self.number,
            too_long,
        }))
    }
}

/// How far one CSV record may reach.
#[derive(Debug, Clone, Copy)]
struct CsvLimits {
    bytes: usize,
    lines: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            bytes: MAX_RECORD_BYTES,
            lines: MAX_CSV_RECORD_LINES,
        }
    }
}

/// A physical line kept to be read again; `None`: it was too long.
struct Kept {
    number: u64,
    text: Option<Vec<u8>>,
}

/// What the CSV reader found next.
enum Found {
    /// A record: its fields are in the reader's buffers.
    Fields(u64),
    Unreadable(u64, String),
    End,
}

/// CSV records over physical lines. A record that ends on its first line
/// (nearly all of them) is parsed straight from the line buffer; only a
/// record whose quote runs on keeps its lines, to read them again should the
/// quote never close.
struct CsvReader {
    parser: csv_core::Reader,
    limits: CsvLimits,
    headers: Vec<String>,
    /// The current record's fields, and where each ends.
    fields: Vec<u8>,
    fields_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// Lines read after an unterminated quote's first line: read again.
    replay: VecDeque<Kept>,
    /// The last line found inside the latest unterminated quote, and the
    /// line that quote started on.
    inside_unterminated: Option<(u64, u64)>,
}

impl CsvReader {
    /// Reads the header.
    fn start(lines: &mut Lines, limits: CsvLimits) -> io::Result<CsvReader> {
        let mut reader = CsvReader {
            parser: csv_core::ReaderBuilder::new()
                .terminator(csv_core::Terminator::Any(b'\n'))
                .build(),
            limits,
            headers: Vec::new(),
            fields: vec![0; 1024],
            fields_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            replay: VecDeque::new(),
            inside_unterminated: None,
        };
        let mut buffer = Vec::new();
        match reader.next_fields(lines, &mut buffer)? {
            Found::End => {}
            Found::Unreadable(line, message) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the CSV header (line {line}) cannot be read: {message}"),
                ))
            }
            Found::Fields(line) => {
                let mut headers = Vec::new();
                for cell in reader.cells() {
                    let header = std::str::from_utf8(cell).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("the CSV header (line {line}) is not UTF-8"),
                        )
                    })?;
                    headers.push(header.trim().to_owned());
                }
                reader.headers = headers;
            }
        }
        Ok(reader)
    }

    /// The next row as a user object.
    fn next_user(
        &mut self,
        lines: &mut Lines,
        buffer: &mut Vec<u8>,
    ) -> io::Result<Option<(u64, Record<'static>)>> {
        loop {
            match self.next_fields(lines, buffer)? {
                Found::End => return Ok(None),
                Found::Unreadable(line, message) => {
                    return Ok(Some((line, Record::Unreadable(message))))
                }
                Found::Fields(line) => {
                    let cells: Vec<&[u8]> = self.cells().collect();
                    if cells.iter().all(|cell| cell.trim_ascii().is_empty()) {
                        continue;
                    }
                    let record = match csv_user(&self.headers, &cells) {
                        Ok(user) => Record::Object(user),
                        Err(message) => Record::Unreadable(message),
                    };
                    return Ok(Some((line, record)));
                }
            }
        }
    }

    /// The next line: one kept to be read again, else a new one (into `buffer`).
    fn next_line(
        &mut self,
        lines: &mut Lines,
        buffer: &mut Vec<u8>,
    ) -> io::Result<Option<(u64, bool)>> {
        if let Some(kept) = self.replay.pop_front() {
            buffer.clear();
            let too_long = match kept.text {
                Some(text) => {
                    buffer.extend_from_slice(&text);
                    false
                }
                None => true,
            };
            return Ok(Some((kept.number, too_long)));
        }
        let Some(line) = lines.next(buffer)? else {
            return Ok(None);
        };
        // A CRLF's CR stays: inside a quoted field it is the field's own
        // (byte for byte what a login hands Auth0); after the last field it
        // is trimmed with the cell's other blanks.
        Ok(Some((line.number, line.too_long)))
    }

    fn next_fields(&mut self, lines: &mut Lines, buffer: &mut Vec<u8>) -> io::Result<Found> {
        let (start, first_too_long) = loop {
            match self.next_line(lines, buffer)? {
                None => return Ok(Found::End),
                Some((number, too_long)) if too_long || !buffer.trim_ascii().is_empty() => {
                    break (number, too_long)
                }
                Some(_) => continue, // blank
            }
        };
        if first_too_long {
            return Ok(Found::Unreadable(start, too_long()));
        }
        self.parser.reset();
        self.fields_len = 0;
        self.ends_len = 0;
        if self.feed(buffer) {
            return Ok(Found::Fields(start));
        }
        // The line ends inside a quoted field.
        if let Some((last, origin)) = self.inside_unterminated {
            if start <= last {
                // From here on this quote reads exactly as the unterminated
                // one did (a parser inside a quoted field does not know
                // which field it is in): it cannot close any sooner.
                return Ok(Found::Unreadable(
                    start,
                    format!(
                        "unterminated quote starting at line {start} (inside the unclosed quote of line {origin})"
                    ),
                ));
            }
        }
        let mut kept: Vec<Kept> = Vec::new();
        let mut bytes = buffer.len() + 1;
        let failure = loop {
            let Some((number, too_long)) = self.next_line(lines, buffer)? else {
                break "before the end of the file".to_owned();
            };
            if too_long {
                kept.push(Kept { number, text: None });
                break format!("within {} bytes", self.limits.bytes);
            }
            bytes += buffer.len() + 1;
            kept.push(Kept {
                number,
                text: Some(buffer.clone()),
            });
            if bytes > self.limits.bytes {
                break format!("within {} bytes", self.limits.bytes);
            }
            if kept.len() + 1 > self.limits.lines {
                break format!("within {} lines", self.limits.lines);
            }
            if self.feed(buffer) {
                return Ok(Found::Fields(start));
            }
        };
        let last = kept.last().map_or(start, |line| line.number);
        self.inside_unterminated = Some((last, start));
        // Lines are only kept when none are waiting to be read again (a
        // record starting on a kept line cannot run on), so order holds.
        debug_assert!(self.replay.is_empty());
        self.replay.extend(kept);
        Ok(Found::Unreadable(
            start,
            format!("unterminated quote starting at line {start}: no closing quote {failure}"),
        ))
    }

    /// Parses one line (and its line break) into the record under way;
    /// whether the record ended with it.
    fn feed(&mut self, line: &[u8]) -> bool {
        for mut input in [line, b"\n".as_slice()] {
            loop {
                let (result, read, written, ended) = self.parser.read_record(
                    input,
                    &mut self.fields[self.fields_len..],
                    &mut self.ends[self.ends_len..],
                );
                input = &input[read..];
                self.fields_len += written;
                self.ends_len += ended;
                match result {
                    csv_core::ReadRecordResult::Record => return true,
                    // Bounded: a record is at most `limits.bytes` of input.
                    csv_core::ReadRecordResult::OutputFull => {
                        self.fields.resize(self.fields.len() * 2, 0)
                    }
                    csv_core::ReadRecordResult::OutputEndsFull => {
                        self.ends.resize(self.ends.len() * 2, 0)
                    }
                    csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => {
                        break
                    }
                }
            }
        }
        false
    }

    /// The fields of the record just read.
    fn cells(&self) -> impl Iterator<Item = &[u8]> {
        let fields = &self.fields[..self.fields_len];
        let mut start = 0;
        self.ends[..self.ends_len].iter().map(move |&end| {
            let cell = &fields[start..end];
            start = end;
            cell
        })
    }
}

/// A CSV row as a user object: booleans for the flag columns, JSON for the
/// metadata and identities columns, strings otherwise; empty cells absent.
fn csv_user(headers: &[String], row: &[&[u8]]) -> Result<Value, String> {
    let mut user = Map::new();
    for (header, cell) in headers.iter().zip(row) {
        let Ok(cell) = std::str::from_utf8(cell) else {
            return Err(format!("column {header}: not UTF-8"));
        };
        let cell = cell.trim();
        if cell.is_empty() || header.is_empty() {
            continue;
        }
        let value = match header.as_str() {
            "email_verified" | "blocked" => match cell.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("column {header}: `{cell}` is not true or false")),
            },
            "app_metadata" | "user_metadata" | "identities" => serde_json::from_str(cell)
                .map_err(|error| format!("column {header}: not JSON ({error})"))?,
            _ => Value::String(cell.to_owned()),
        };
        user.insert(header.clone(), value);
    }
    Ok(Value::Object(user))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn records(path: &Path, format: InputFormat) -> Vec<(u64, String)> {
        records_with(path, format, CsvLimits::default())
    }

    fn records_with(path: &Path, format: InputFormat, limits: CsvLimits) -> Vec<(u64, String)> {
        let mut export = open_with(path, format, limits, GzipLimits::default()).unwrap();
        let mut out = Vec::new();
        while let Some((line, record)) = export.next_record().unwrap() {
            let text = match record {
                Record::Json(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                Record::Object(value) => value.to_string(),
                Record::Unreadable(message) => format!("!{message}"),
            };
            out.push((line, text));
        }
        out
    }

    #[test]
    fn ndjson_lines_keep_their_numbers_and_blank_lines_are_passed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        std::fs::write(&path, "{\"a\":1}\r\n\n  \n{\"b\":2}").unwrap();
        assert_eq!(
            records(&path, InputFormat::Json),
            [(1, "{\"a\":1}".to_owned()), (4, "{\"b\":2}".to_owned())]
        );
    }

    #[test]
    fn gzip_is_recognised_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.data");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        gz.finish().unwrap();
        let mut export = open(&path, InputFormat::Json).unwrap();
        assert!(export.next_record().unwrap().is_some());
        assert!(export.next_record().unwrap().is_some());
        assert!(export.next_record().unwrap().is_none());
        assert_eq!(Some(export.bytes_read()), export.file_bytes);
    }

    fn gzip(path: &Path, members: &[&[u8]]) {
        let mut file = File::create(path).unwrap();
        for member in members {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(member).unwrap();
            file.write_all(&gz.finish().unwrap()).unwrap();
        }
    }

    #[test]
    fn a_gzip_that_inflates_too_far_is_refused_once_past_the_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.json.gz");
        let zeros = vec![b'\n'; 1 << 20];
        gzip(&path, &[b"{\"a\":1}\n", &zeros, &zeros, &zeros]);
        let limits = GzipLimits {
            check_after: 2 << 20,
            ratio: 50,
        };
        let mut export = open_with(&path, InputFormat::Json, CsvLimits::default(), limits).unwrap();
        assert!(matches!(
            export.next_record(),
            Ok(Some((1, Record::Json(_))))
        ));
        let error = loop {
            match export.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("read to the end"),
                Err(error) => break error,
            }
        };
        let message = error.to_string();
        assert!(message.contains("inflates more than 50 times"), "{message}");
        assert!(message.contains("(after line"), "{message}");
        // Under the threshold the same ratio is fine (a small, very repetitive export).
        let small = GzipLimits {
            check_after: 8 << 20,
            ratio: 50,
        };
        let mut export = open_with(&path, InputFormat::Json, CsvLimits::default(), small).unwrap();
        while export.next_record().unwrap().is_some() {}
    }

    #[test]
    fn a_cut_gzip_stream_is_an_error_naming_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.json.gz");
        let lines: String = (0..20_000).map(|n| format!("{{\"n\":{n}}}\n")).collect();
        gzip(&path, &[lines.as_bytes()]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let mut export = open(&path, InputFormat::Json).unwrap();
        let mut read = 0;
        let error = loop {
            match export.next_record() {
                Ok(Some(_)) => read += 1,
                Ok(None) => panic!("a cut stream must not end quietly"),
                Err(error) => break error,
            }
        };
        assert!(read > 0);
        let message = error.to_string();
        assert!(message.contains("cut short"), "{message}");
        assert!(message.contains(&format!("after line {read}")), "{message}");
    }

    #[test]
    fn an_over_long_line_is_reported_and_the_next_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        let mut text = vec![b'x'; MAX_RECORD_BYTES + 10];
        text.extend_from_slice(b"\n{\"ok\":true}\n");
        std::fs::write(&path, text).unwrap();
        let got = records(&path, InputFormat::Json);
        assert_eq!(got.len(), 2);
        assert!(got[0].1.starts_with("!the line is longer"), "{}", got[0].1);
        assert_eq!(got[1], (2, "{\"ok\":true}".to_owned()));
    }

    #[test]
    fn csv_rows_become_user_objects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(
            &path,
            "user_id,email,email_verified,app_metadata\n\
             auth0|1,a@x.com,true,\"{\"\"plan\"\":\"\"gold\"\"}\"\n\
             auth0|2,b@x.com,maybe,\n\
             auth0|3,c@x.com,,\n",
        )
        .unwrap();
        let got = records(&path, InputFormat::Csv);
        assert_eq!(got[0].0, 2);
        let first: Value = serde_json::from_str(&got[0].1).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"user_id": "auth0|1", "email": "a@x.com", "email_verified": true, "app_metadata": {"plan": "gold"}})
        );
        assert!(
            got[1].1.starts_with("!column email_verified"),
            "{}",
            got[1].1
        );
        assert_eq!(got[2].0, 4);
        assert_eq!(
            InputFormat::from_path(Path::new("x.CSV.gz")),
            InputFormat::Csv
        );
        assert_eq!(
            InputFormat::from_path(Path::new("x.json.gz")),
            InputFormat::Json
        );
    }

    fn csv(text: &str, limits: CsvLimits) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, text).unwrap();
        records_with(&path, InputFormat::Csv, limits)
            .into_iter()
            .map(|(line, text)| match text.strip_prefix('!') {
                Some(message) => (line, format!("!{}", message.split(':').next().unwrap())),
                None => (
                    line,
                    serde_json::from_str::<Value>(&text).unwrap()["n"].to_string(),
                ),
            })
            .collect()
    }

    fn pairs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
        list.iter().map(|(l, t)| (*l, (*t).to_owned())).collect()
    }

    #[test]
    fn a_csv_quote_may_span_lines_up_to_the_caps() {
        let small = CsvLimits {
            bytes: 64,
            lines: 3,
        };
        // Within both caps: one record of three lines; CRLF line breaks too,
        // kept as they are inside the quote.
        assert_eq!(
            csv("n\r\n\"a\r\nb\r\nc\"\r\n\"d\"\r\n", small),
            pairs(&[(2, "\"a\\r\\nb\\r\\nc\""), (5, "\"d\"")])
        );
        // Four lines: over the line cap; the lines after the quote's first are read again.
        assert_eq!(
            csv("n\n\"a\nb\nc\nd\"\ne\n", small),
            pairs(&[
                (2, "!unterminated quote starting at line 2"),
                (3, "\"b\""),
                (4, "\"c\""),
                (5, "\"d\\\"\""),
                (6, "\"e\"")
            ])
        );
        // Over the byte cap.
        let long = "x".repeat(40);
        let got = csv(&format!("n\n\"{long}\n{long}\"\nz\n"), small);
        assert_eq!(
            got[0],
            (2, "!unterminated quote starting at line 2".to_owned())
        );
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2], (4, "\"z\"".to_owned()));
        // A line longer than the cap inside the quote: reported on its own too.
        let got = csv(
            &format!("n\n\"a\n{}\nz\n", "y".repeat(MAX_RECORD_BYTES + 1)),
            CsvLimits {
                bytes: 64,
                lines: 10,
            },
        );
        assert_eq!(
            got,
            pairs(&[
                (2, "!unterminated quote starting at line 2"),
                (3, "!the line is longer than 16777216 bytes"),
                (4, "\"z\"")
            ])
        );
    }

    #[test]
    fn line_breaks_inside_a_quoted_field_are_kept_byte_for_byte() {
        // What the old tenant holds is what a login hands Auth0: CRLF, LF and
        // a lone CR inside a quote stay; the CR of a CRLF line end does not.
        let text = "n,m\r\n\"one\r\ntwo\",x\r\n\"lf\nonly\",\"y\"\r\nz,\"cr\rhere\"\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, text).unwrap();
        let got: Vec<(u64, Value)> = records(&path, InputFormat::Csv)
            .into_iter()
            .map(|(line, text)| (line, serde_json::from_str(&text).unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, serde_json::json!({"n": "one\r\ntwo", "m": "x"})),
                (4, serde_json::json!({"n": "lf\nonly", "m": "y"})),
                (6, serde_json::json!({"n": "z", "m": "cr\rhere"})),
            ]
        );
    }

    #[test]
    fn a_quote_reopened_inside_an_unterminated_one_is_reported_at_once() {
        // `x","y` closes the open quote and opens another on every line: read
        // again after line 2's quote fails, each line opens a quote that runs
        // on the same way; each is reported on its own, none read again.
        let text = "n\n\"a\nx\",\"y\nx\",\"y\nx\",\"y\n";
        let got = csv(text, CsvLimits::default());
        assert_eq!(
            got,
            pairs(&[
                (2, "!unterminated quote starting at line 2"),
                (
                    3,
                    "!unterminated quote starting at line 3 (inside the unclosed quote of line 2)"
                ),
                (
                    4,
                    "!unterminated quote starting at line 4 (inside the unclosed quote of line 2)"
                ),
                (
                    5,
                    "!unterminated quote starting at line 5 (inside the unclosed quote of line 2)"
                ),
            ])
        );
    }

    #[test]
    fn every_physical_line_is_counted_and_a_bom_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, "\u{feff}n,m\n\n1,\"a\nb\"\n\n2,c").unwrap();
        let mut export = open(&path, InputFormat::Csv).unwrap();
        let mut lines = Vec::new();
        while let Some((line, record)) = export.next_record().unwrap() {
            assert!(matches!(record, Record::Object(_)));
            lines.push(line);
        }
        assert_eq!(lines, [3, 6]);
        assert_eq!(export.lines_read(), 6);
        std::fs::write(&path, "\u{feff}{\"a\":1}\n\n").unwrap();
        let mut export = open(&path, InputFormat::Json).unwrap();
        assert!(matches!(
            export.next_record().unwrap(),
            Some((1, Record::Json(b"{\"a\":1}")))
        ));
        assert!(export.next_record().unwrap().is_none());
        assert_eq!(export.lines_read(), 2);
    }
}
