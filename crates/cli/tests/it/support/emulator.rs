//! An emulator (`trickle sim`, `trickle c2id sim`, `trickle legacy-sim`)
//! as a child on a free port, for tests that need one as a user starts it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

/// A running emulator, stopped when dropped (and when its stdin closes, so
/// a test that dies without dropping it leaves no server behind).
pub struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    /// `http://127.0.0.1:<port>`, as its ready line names it.
    pub base: String,
}

impl Emulator {
    /// Runs `trickle <args> --port 0 --exit-on-stdin-close --quiet` and
    /// waits for its ready line, `<name> listening on <base>`.
    pub fn start(name: &str, args: &[&str]) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trickle"))
            .args(args)
            .args(["--port", "0", "--exit-on-stdin-close", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix(&format!("{name} listening on "))
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
            .to_owned();
        Emulator {
            child,
            _stdin: stdin,
            base,
        }
    }

    /// `host:port`, without the scheme.
    pub fn authority(&self) -> &str {
        self.base.strip_prefix("http://").unwrap()
    }

    /// One HTTP/1.0 request (so no chunked answer to decode): status and body.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let authority = self.authority();
        let mut stream = TcpStream::connect(authority).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// A GET that must answer 200 with JSON: the JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
