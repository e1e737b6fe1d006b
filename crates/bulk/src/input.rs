//! Reading exports: NDJSON (what `POST /api/v2/jobs/users-exports` with
//! `format: json` writes) or CSV, gzipped or not (detected by content), one
//! record at a time with its line number. Nothing here holds more than one
//! record.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use serde_json::{Map, Value};

/// A record longer than this is reported and skipped, never buffered whole.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

const READ_BUFFER: usize = 256 * 1024;

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
    reader: Reader,
    consumed: Rc<Cell<u64>>,
    /// The size of the file on disk, when known.
    pub file_bytes: Option<u64>,
    line: u64,
    buffer: Vec<u8>,
}

enum Reader {
    Lines(Box<dyn BufRead>),
    Csv(
        Box<csv::Reader<Box<dyn BufRead>>>,
        Vec<String>,
        csv::StringRecord,
    ),
}

/// Opens `path`; gzip is recognised by its magic bytes.
pub fn open(path: &Path, format: InputFormat) -> io::Result<Export> {
    let file = File::open(path)?;
    let file_bytes = file.metadata().ok().map(|meta| meta.len());
    let consumed = Rc::new(Cell::new(0));
    let mut raw = BufReader::with_capacity(
        READ_BUFFER,
        Counting {
            inner: file,
            count: Rc::clone(&consumed),
        },
    );
    let gzipped = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gzipped {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let reader = match format {
        InputFormat::Json => Reader::Lines(reader),
        InputFormat::Csv => {
            let mut csv = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(true)
                .from_reader(reader);
            let headers = csv
                .headers()
                .map_err(csv_error)?
                .iter()
                .map(|header| header.trim().to_owned())
                .collect();
            Reader::Csv(Box::new(csv), headers, csv::StringRecord::new())
        }
    };
    Ok(Export {
        reader,
        consumed,
        file_bytes,
        line: 0,
        buffer: Vec::new(),
    })
}

fn csv_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}

impl Export {
    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.consumed.get()
    }

    /// The next record and its 1-based line number; `None` at the end.
    /// Blank lines are passed over. An error is the file itself failing
    /// (a truncated gzip stream, a disk error), not a bad record.
    pub fn next_record(&mut self) -> io::Result<Option<(u64, Record<'_>)>> {
        match &mut self.reader {
            Reader::Lines(reader) => loop {
                self.buffer.clear();
                let Some(too_long) = read_line(reader.as_mut(), &mut self.buffer)? else {
                    return Ok(None);
                };
                self.line += 1;
                if too_long {
                    return Ok(Some((
                        self.line,
                        Record::Unreadable(format!(
                            "the line is longer than {MAX_RECORD_BYTES} bytes"
                        )),
                    )));
                }
                let text = trim_ascii(&self.buffer);
                if !text.is_empty() {
                    let start = text.as_ptr() as usize - self.buffer.as_ptr() as usize;
                    let end = start + text.len();
                    return Ok(Some((self.line, Record::Json(&self.buffer[start..end]))));
                }
            },
            Reader::Csv(reader, headers, row) => loop {
                match reader.read_record(row) {
                    Ok(false) => return Ok(None),
                    Ok(true) => {
                        let line = row.position().map_or(0, |position| position.line());
                        if row.iter().all(|cell| cell.trim().is_empty()) {
                            continue;
                        }
                        let record = match csv_user(headers, row) {
                            Ok(user) => Record::Object(user),
                            Err(message) => Record::Unreadable(message),
                        };
                        return Ok(Some((line, record)));
                    }
                    Err(error) => {
                        let line = error.position().map_or(0, |position| position.line());
                        match error.into_kind() {
                            csv::ErrorKind::Io(error) => return Err(error),
                            other => {
                                return Ok(Some((
                                    line,
                                    Record::Unreadable(format!("not a CSV row: {other:?}")),
                                )))
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Reads one line into `buffer` (at most [`MAX_RECORD_BYTES`]; the rest of a
/// longer line is read and dropped). `None` at the end of input, otherwise
/// whether the line was too long.
fn read_line(reader: &mut dyn BufRead, buffer: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (&available[..end], end + 1),
            None => (available, available.len()),
        };
        if !too_long {
            if buffer.len() + chunk.len() > MAX_RECORD_BYTES {
                too_long = true;
                buffer.clear();
            } else {
                buffer.extend_from_slice(chunk);
            }
        }
        let found_end = done > chunk.len();
        reader.consume(done);
        if found_end {
            return Ok(Some(too_long));
        }
    }
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// A CSV row as a user object: booleans for the flag columns, JSON for the
/// metadata and identities columns, strings otherwise; empty cells absent.
fn csv_user(headers: &[String], row: &csv::StringRecord) -> Result<Value, String> {
    let mut user = Map::new();
    for (header, cell) in headers.iter().zip(row.iter()) {
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
        let mut export = open(path, format).unwrap();
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
}
