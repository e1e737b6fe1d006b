//! A reader that leaves early (`trickle preflight --json | head -c 900`)
//! ends trickle the way it ends `cat`: killed by SIGPIPE (the shell's 141),
//! silently, whatever the command (issue 20).
//!
//! Not by resetting SIGPIPE to its default at start, as C programs run: the
//! signal is process-wide, and `writev` on a TCP socket raises it too (only
//! `send` passes `MSG_NOSIGNAL`; hyper writes vectored), so a client hanging
//! up would kill `trickle sim`, and a server resetting a connection would
//! kill `preflight` instead of giving it an error to report. Not by handling
//! each write's error: the commands print with `println!`, and the panic it
//! raises on a failed write is the one place they all meet. So a panic hook
//! recognises std's "failed printing to stdout" (or stderr) when that stream
//! really is a pipe without a reader; every other panic is reported as ever.

use std::io;
use std::panic::PanicHookInfo;

/// Installs the hook; first thing in `main`.
pub fn end_quietly_when_the_reader_leaves() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if printing_to_a_gone_reader(info) {
            die_of_sigpipe();
        }
        default_hook(info);
    }));
}

/// For output written with `write!` rather than `println!`: a broken pipe
/// ends the process as the hook would.
pub fn end_if_the_reader_left(error: &io::Error) {
    if error.kind() == io::ErrorKind::BrokenPipe {
        die_of_sigpipe();
    }
}

/// The panic `print!`/`eprint!` raise (std's own message), on a stream
/// whose reader is gone.
fn printing_to_a_gone_reader(info: &PanicHookInfo) -> bool {
    let Some(message) = info.payload_as_str() else {
        return false;
    };
    let stream = if message.starts_with("failed printing to stdout") {
        1
    } else if message.starts_with("failed printing to stderr") {
        2
    } else {
        return false;
    };
    reader_gone(stream)
}

/// A pipe (or socket) whose other end is closed polls as an error or hang-up.
#[cfg(unix)]
fn reader_gone(fd: libc::c_int) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid, initialised pollfd, and a zero timeout.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready == 1 && poll.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

#[cfg(not(unix))]
fn reader_gone(_stream: i32) -> bool {
    false
}

#[cfg(unix)]
fn die_of_sigpipe() {
    // SAFETY: restores SIGPIPE's default action (terminate) and raises it
    // on this thread; no handler of ours runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    // Only if SIGPIPE is blocked on this thread: the same code as a shell.
    std::process::exit(128 + libc::SIGPIPE);
}

#[cfg(not(unix))]
fn die_of_sigpipe() {
    std::process::exit(0);
}
