//! Progress for long runs (applying, rendering or building a lab of hundreds of peers).
//!
//! On a terminal, a one-line counter is redrawn on stderr; when stderr is piped or
//! redirected, or with `-q`, nothing is drawn, so logs and scripts see only the command's
//! real output. stdout is never touched: data printed there stays clean for `jq` and files.
//!
//! A counter (`plan --all`, `graph`):
//!
//! ```ignore
//! let mut progress = Progress::for_cli(cli, "planning", fleet.hosts.len() as u64);
//! for host in &fleet.hosts {
//!     plan(host)?;
//!     progress.inc(1);
//! }
//! progress.finish(); // "planning: 500/500 done in 0.2s" (terminal only)
//! ```
//!
//! Work in phases without a count (`lab up`, `lab check`) shows a line per phase instead:
//! `Progress::phases(quiet)`, `progress.show("checking: loop")`, `progress.clear()`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::cli::Cli;

/// Redraws at most this often, so that a fast loop does not spend its time on the terminal.
const REDRAW_EVERY: Duration = Duration::from_millis(80);

/// A counter drawn on stderr when it is a terminal; a no-op otherwise.
pub struct Progress {
    out: Option<Box<dyn Write + Send>>,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_draw: Option<Instant>,
    interval: Duration,
    finished: bool,
}

impl Progress {
    /// Progress for `total` steps, drawn on stderr if stderr is a terminal and the user did
    /// not pass `-q`.
    pub fn for_cli(cli: &Cli, label: &str, total: u64) -> Self {
        Self::new(label, total, cli.quiet)
    }

    /// Progress for `total` steps, drawn on stderr if stderr is a terminal and `quiet` is false.
    pub fn new(label: &str, total: u64, quiet: bool) -> Self {
        let stderr = std::io::stderr();
        if quiet || !stderr.is_terminal() {
            return Self::hidden();
        }
        Self::build(Some(Box::new(stderr)), label, total, REDRAW_EVERY)
    }

    /// Progress for work in phases without a count, each drawn with [`Progress::show`]
    /// (only the `lab` commands work in phases).
    #[cfg(any(feature = "lab", test))]
    pub fn phases(quiet: bool) -> Self {
        Self::new("", 0, quiet)
    }

    /// Progress that draws nothing.
    pub fn hidden() -> Self {
        Self::build(None, "", 0, REDRAW_EVERY)
    }

    /// Progress drawn to `out` on every step, whatever `out` is (for tests and for callers
    /// that manage their own terminal).
    #[cfg(test)]
    fn to_writer(out: Box<dyn Write + Send>, label: &str, total: u64) -> Self {
        Self::build(Some(out), label, total, Duration::ZERO)
    }

    fn build(out: Option<Box<dyn Write + Send>>, label: &str, total: u64, interval: Duration) -> Self {
        Progress {
            out,
            label: label.to_string(),
            total,
            done: 0,
            started: Instant::now(),
            last_draw: None,
            interval,
            finished: false,
        }
    }

    /// Counts `n` more steps done.
    pub fn inc(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        self.draw(false);
    }

    /// Draws `text` in place of the counter (a phase of work without a count).
    #[cfg(any(feature = "lab", test))]
    pub fn show(&mut self, text: &str) {
        if let Some(out) = self.out.as_mut() {
            let text: String = text.chars().filter(|c| !c.is_control()).collect();
            let _ = write!(out, "\r\x1b[2K{text}");
            let _ = out.flush();
        }
    }

    /// Draws the final count with the elapsed time and ends the line.
    pub fn finish(mut self) {
        self.finish_line();
    }

    /// Erases the line without a final count (the end of phases, or before an error).
    pub fn clear(&mut self) {
        if !self.finished
            && let Some(out) = self.out.as_mut()
        {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
        self.finished = true;
    }

    fn finish_line(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.started.elapsed();
        if let Some(out) = self.out.as_mut() {
            let _ = write!(
                out,
                "\r\x1b[2K{}: {}/{} done in {:.1}s\n",
                self.label,
                self.done,
                self.total,
                elapsed.as_secs_f64()
            );
            let _ = out.flush();
        }
    }

    fn draw(&mut self, force: bool) {
        let Some(out) = self.out.as_mut() else { return };
        let now = Instant::now();
        let due = self.last_draw.is_none_or(|t| now.duration_since(t) >= self.interval);
        if !(force || due || self.done >= self.total) {
            return;
        }
        self.last_draw = Some(now);
        let percent = (self.done.saturating_mul(100)).checked_div(self.total).unwrap_or(100);
        let _ = write!(
            out,
            "\r\x1b[2K{}: {}/{} ({percent}%)",
            self.label, self.done, self.total
        );
        let _ = out.flush();
    }
}

impl Drop for Progress {
    /// A line left drawn (e.g. by an early `?` return) is erased, so that the error message
    /// that follows starts on a clean line.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn draws_counts_and_a_final_line() {
        let buf = Buf::default();
        let mut p = Progress::to_writer(Box::new(buf.clone()), "applying", 4);
        p.inc(1);
        p.inc(3);
        p.finish();
        let text = buf.text();
        assert!(text.contains("applying: 1/4 (25%)"), "{text:?}");
        assert!(text.contains("applying: 4/4 (100%)"), "{text:?}");
        assert!(text.contains("applying: 4/4 done in "), "{text:?}");
        assert!(text.ends_with("s\n"), "{text:?}");
    }

    #[test]
    fn hidden_progress_writes_nothing_and_quiet_hides_it() {
        let mut p = Progress::new("x", 2, true);
        assert!(p.out.is_none());
        p.inc(2);
        p.finish();
        // Under `cargo test` stderr is captured, not a terminal: hidden even without -q.
        if !std::io::stderr().is_terminal() {
            assert!(Progress::new("x", 1, false).out.is_none());
            assert!(Progress::phases(false).out.is_none());
        }
    }

    #[test]
    fn an_unfinished_line_is_erased_when_dropped() {
        let buf = Buf::default();
        {
            let mut p = Progress::to_writer(Box::new(buf.clone()), "rendering", 10);
            p.inc(1);
        }
        assert_eq!(buf.text(), "\r\x1b[2Krendering: 1/10 (10%)\r\x1b[2K");
    }

    #[test]
    fn phases_are_shown_one_line_at_a_time_and_cleared() {
        let buf = Buf::default();
        let mut p = Progress::to_writer(Box::new(buf.clone()), "", 0);
        p.show("checking: loop\x1b]");
        p.clear();
        p.show("after the end");
        drop(p);
        assert_eq!(buf.text(), "\r\x1b[2Kchecking: loop]\r\x1b[2K\r\x1b[2Kafter the end");
    }

    #[test]
    fn zero_total_does_not_divide_by_zero() {
        let buf = Buf::default();
        let mut p = Progress::to_writer(Box::new(buf.clone()), "empty", 0);
        p.inc(0);
        p.finish();
        assert!(buf.text().contains("empty: 0/0 (100%)"));
    }
}
