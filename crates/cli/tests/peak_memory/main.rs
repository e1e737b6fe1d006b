//! Peak memory of `trickle` on hostile input: `bulk plan` on a 20 MB line
//! or a gzip bomb, `status` on an export line of 100 MiB or a 15 MiB record
//! of numbers. A binary of its own, one test at a time: the peak resident
//! size `wait4` reports for a child includes its parent's resident size at
//! the spawn, so the parent must be small and quiet while a child runs.

// Test code may hold long tables (`scripts/test.sh` holds non-test code to 80 lines).
#![allow(clippy::too_many_lines)]
#![cfg(target_os = "linux")]

mod bulk_hostile;
#[path = "../it/hostile_export.rs"]
mod hostile_export;
mod status;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// Held by each test for its whole run: no other test's buffers grow this
/// process while a child is measured.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A finished child: its exit code, what it printed, its peak RSS.
pub struct Measured {
    pub code: Option<i32>,
    /// stdout, then stderr.
    pub shown: String,
    /// Peak resident memory, KiB (an upper bound: it includes this
    /// process's resident size at the spawn).
    pub peak_rss_kib: i64,
}

/// How long a measured child may run before it is killed (and the test fails).
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `command` and waits for it with `wait4`, for its peak RSS. This
/// process's own high-water mark is reset to its current size first: the
/// child shares it until its exec (`posix_spawn`), which carries it over.
/// Past [`DEADLINE`] the child is killed.
pub fn run_measured(command: &mut Command) -> Measured {
    // SAFETY: malloc_trim only releases free memory of glibc's heap.
    unsafe { libc::malloc_trim(0) };
    std::fs::write("/proc/self/clear_refs", "5").expect("the high-water mark can be reset");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trickle runs");
    let pid = child.id() as libc::pid_t;
    // Killed if its output is still open at the deadline. The child is
    // reaped only after the watchdog ends, so the pid is still its own.
    let (closed, closing) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        let late = closing.recv_timeout(DEADLINE).is_err();
        if late {
            // SAFETY: a signal to our own unreaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        late
    });
    // stderr read beside stdout: a child filling one pipe while this
    // reads the other would wait for ever.
    let mut stderr = child.stderr.take().unwrap();
    let errors = thread::spawn(move || {
        let mut errors = String::new();
        stderr.read_to_string(&mut errors).unwrap();
        errors
    });
    let mut shown = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut shown)
        .unwrap();
    shown.push_str(&errors.join().unwrap());
    let _ = closed.send(());
    assert!(
        !watchdog.join().unwrap(),
        "still running after {DEADLINE:?}:\n{shown}"
    );
    let mut status = 0;
    // SAFETY: plain libc call on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "waited for the child");
    std::mem::forget(child); // reaped above
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        shown,
        peak_rss_kib: usage.ru_maxrss,
    }
}
