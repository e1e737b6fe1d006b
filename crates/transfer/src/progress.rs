//! Progress of one phase of a long run: a bar on a terminal (count, rate,
//! ETA when the total is known), plain lines now and then when stderr is
//! a file or a pipe (if asked for), or nothing.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// An indicatif bar on stderr (a terminal).
    Bar,
    /// A plain line on stderr at most this often (logs, CI).
    Lines(Duration),
    Off,
}

impl Display {
    /// A bar when stderr is a terminal; otherwise `Lines(every)`, or
    /// nothing when `every` is `None`.
    pub fn for_stderr(every: Option<Duration>) -> Display {
        if std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            every.map_or(Display::Off, Display::Lines)
        }
    }
}

/// What the phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Things, named in the plural ("records", "files").
    Items(&'static str),
    Bytes,
}

/// The progress of one phase; [`PhaseProgress::finish`] clears its bar.
pub struct PhaseProgress {
    display: Display,
    bar: Option<ProgressBar>,
    label: String,
    unit: Unit,
    total: Option<u64>,
    position: u64,
    /// Where this run started (a resumed phase starts past 0): the rate
    /// counts only this run's work.
    start_position: u64,
    started: Instant,
    last_line: Instant,
}

impl PhaseProgress {
    /// Starts showing a phase at `position` (of `total`, when known).
    pub fn start(
        display: Display,
        label: impl Into<String>,
        unit: Unit,
        total: Option<u64>,
        position: u64,
    ) -> PhaseProgress {
        let label = label.into();
        let bar = (display == Display::Bar).then(|| {
            let bar = match total {
                Some(total) => ProgressBar::new(total),
                None => ProgressBar::new_spinner(),
            };
            bar.set_style(style(unit, total.is_some()));
            bar.set_prefix(label.clone());
            bar.set_position(position);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        PhaseProgress {
            display,
            bar,
            label,
            unit,
            total,
            position,
            start_position: position,
            started: now,
            last_line: now,
        }
    }

    pub fn set_position(&mut self, position: u64) {
        self.position = position;
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
        if let Display::Lines(every) = self.display {
            if self.last_line.elapsed() >= every {
                self.last_line = Instant::now();
                eprintln!("trickle: {}", self.status_line());
            }
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.set_position(self.position + n);
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// A short note after the numbers (on the bar only).
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// A line prefixed `trickle: `, above the bar (or on stderr when there
    /// is no bar), whatever the display.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("trickle: {line}")),
            None => eprintln!("trickle: {line}"),
        }
    }

    /// This run's rate, per second.
    pub fn rate(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        (self.position - self.start_position.min(self.position)) as f64 / seconds
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// "clients: 1,234 of 10,000 records, 812/s, about 11 s left".
    pub fn status_line(&self) -> String {
        let count = |n: u64| match self.unit {
            Unit::Items(_) => thousands(n),
            Unit::Bytes => format!("{:.1} MB", n as f64 / 1e6),
        };
        let noun = match self.unit {
            Unit::Items(noun) => format!(" {noun}"),
            Unit::Bytes => String::new(),
        };
        let rate = self.rate();
        let mut line = match self.total {
            Some(total) => format!(
                "{}: {} of {}{noun}",
                self.label,
                count(self.position),
                count(total)
            ),
            None => format!("{}: {}{noun}", self.label, count(self.position)),
        };
        match self.unit {
            Unit::Items(_) => line.push_str(&format!(", {}/s", thousands(rate.round() as u64))),
            Unit::Bytes => line.push_str(&format!(", {:.1} MB/s", rate / 1e6)),
        }
        if let Some(total) = self.total {
            if rate > 0.0 && total > self.position {
                let left = (total - self.position) as f64 / rate;
                line.push_str(&format!(", about {} s left", left.ceil() as u64));
            }
        }
        line
    }

    /// Clears the bar; returns where the phase ended.
    pub fn finish(self) -> u64 {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.position
    }
}

fn style(unit: Unit, with_total: bool) -> ProgressStyle {
    let template = match (unit, with_total) {
        (Unit::Items(noun), true) => format!(
            "{{prefix}} [{{bar:30}}] {{human_pos}}/{{human_len}} {noun} {{per_sec}} eta {{eta}} {{msg}}"
        ),
        (Unit::Items(noun), false) => {
            format!("{{prefix}} {{spinner}} {{human_pos}} {noun} {{per_sec}} {{elapsed}} {{msg}}")
        }
        (Unit::Bytes, true) => {
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}"
                .to_owned()
        }
        (Unit::Bytes, false) => {
            "{prefix} {spinner} {bytes} {binary_bytes_per_sec} {elapsed} {msg}".to_owned()
        }
    };
    ProgressStyle::with_template(&template)
        .expect("a valid template")
        .progress_chars("=> ")
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn the_status_line_counts_this_runs_rate_and_what_is_left() {
        let mut progress = PhaseProgress::start(
            Display::Off,
            "sessions",
            Unit::Items("records"),
            Some(10_000),
            4_000,
        );
        std::thread::sleep(Duration::from_millis(50));
        progress.set_position(5_000);
        let line = progress.status_line();
        assert!(
            line.starts_with("sessions: 5,000 of 10,000 records, "),
            "{line}"
        );
        assert!(line.contains("/s, about "), "{line}");
        let rate = progress.rate();
        // 1,000 done in this run in ≥ 50 ms: at most 20,000/s, not 100,000/s.
        assert!(rate > 0.0 && rate <= 20_000.0, "{rate}");
        assert_eq!(progress.finish(), 5_000);
        let unknown =
            PhaseProgress::start(Display::Off, "clients", Unit::Items("records"), None, 0);
        assert!(unknown.status_line().starts_with("clients: 0 records, 0/s"));
    }
}
