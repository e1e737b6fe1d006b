//! An old tenant for `trickle status` whose every answer is Auth0's except
//! the export file, which the test gives (an export that is not NDJSON, a
//! line of 100 MiB); and the status tests' config. Shared by the status
//! tests (`status_verdicts.rs`) and the peak-memory tests
//! (`../peak_memory.rs`, a binary of its own).

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

pub const REALM: &str = "Username-Password-Authentication";
pub const CONNECTION: &str = "old-tenant-import";

/// The status tests' config: `realm` as the old tenant's, marking on.
pub fn config(dir: &Path, realm: &str) -> PathBuf {
    let path = dir.join("trickle.toml");
    fs::write(
        &path,
        format!(
            "[connection]\nname = \"{CONNECTION}\"\n[source]\nrealm = \"{realm}\"\n\
             [migration]\nmark_migrated = true\n"
        ),
    )
    .unwrap();
    path
}

/// An old tenant whose every answer is Auth0's, except the export file,
/// which is `export` (gzipped as Auth0's are).
pub struct Hostile {
    pub url: String,
}

impl Hostile {
    pub fn start(export: Vec<u8>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let export = Arc::new(export);
        let base = url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (export, base) = (Arc::clone(&export), base.clone());
                std::thread::spawn(move || answer(stream, &export, &base));
            }
        });
        Hostile { url }
    }
}

/// One request, one answer (`Connection: close`).
fn answer(mut stream: TcpStream, export: &[u8], base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let mut length = 0usize;
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        authorized |= lower.starts_with("authorization:");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let request = head.lines().next().unwrap_or("").to_owned();
    let job = json!({"type": "users_export", "id": "job_hostile01", "format": "json",
                     "created_at": "2026-01-05T10:00:00.000Z"});
    let (status, kind, reply): (&str, &str, Vec<u8>) = match request
        .split(' ')
        .take(2)
        .collect::<Vec<_>>()[..]
    {
        ["POST", "/oauth/token"] if body["grant_type"] == "client_credentials" => (
            "200 OK",
            "application/json",
            json!({"access_token": "hostile-token", "token_type": "Bearer", "expires_in": 86400,
                   "scope": "read:users"})
            .to_string()
            .into_bytes(),
        ),
        ["POST", "/oauth/token"] => (
            "403 Forbidden",
            "application/json",
            json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
                .to_string()
                .into_bytes(),
        ),
        ["POST", "/api/v2/jobs/users-exports"] if authorized => {
            let mut job = job.clone();
            job["status"] = json!("pending");
            (
                "201 Created",
                "application/json",
                job.to_string().into_bytes(),
            )
        }
        ["GET", "/api/v2/jobs/job_hostile01"] if authorized => {
            let mut job = job.clone();
            job["status"] = json!("completed");
            job["location"] = json!(format!("{base}/exports/job_hostile01.json.gz?sig=x"));
            ("200 OK", "application/json", job.to_string().into_bytes())
        }
        ["GET", path] if path.starts_with("/exports/") && !authorized => {
            ("200 OK", "application/gzip", export.to_vec())
        }
        _ => (
            "404 Not Found",
            "application/json",
            json!({"statusCode": 404, "error": "Not Found", "message": "Not Found"})
                .to_string()
                .into_bytes(),
        ),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.len()
    );
    let _ = stream.write_all(&reply);
}

pub fn gzip(members: &[&[u8]]) -> Vec<u8> {
    members
        .iter()
        .flat_map(|member| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(member).unwrap();
            encoder.finish().unwrap()
        })
        .collect()
}

/// An export line: user `auth0|h{n}` of the realm, marked.
pub fn marked_line(n: usize) -> String {
    json!({"user_id": format!("auth0|h{n}"), "connection": REALM,
           "trickle_migrated_at": "2026-01-05T10:00:00.000Z"})
    .to_string()
}
