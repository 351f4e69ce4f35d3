//! Progress for long runs (applying, rendering or building a lab of hundreds of peers).
//!
//! On a terminal, a one-line counter is redrawn on stderr; when stderr is piped or
//! redirected, or with `-q`, nothing is drawn, so logs and scripts see only the command's
//! real output. stdout is never touched: data printed there stays clean for `jq` and files.
//!
//! ```ignore
//! let mut progress = Progress::for_cli(cli, "applying", plan.vxlans().count() as u64);
//! for change in changes {
//!     progress.step(&change.to_string()); // what is being done now
//!     apply(change)?;
//!     progress.inc(1);
//! }
//! progress.finish(); // "applying: 500/500 done in 0.2s" (terminal only)
//! ```

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
    message: String,
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

    /// Progress that draws nothing.
    pub fn hidden() -> Self {
        Self::build(None, "", 0, REDRAW_EVERY)
    }

    /// Progress drawn to `out` on every step, whatever `out` is (for tests and for callers
    /// that manage their own terminal).
    #[allow(dead_code)] // API for apply/render/lab; exercised by the tests below.
    pub fn to_writer(out: Box<dyn Write + Send>, label: &str, total: u64) -> Self {
        Self::build(Some(out), label, total, Duration::ZERO)
    }

    fn build(out: Option<Box<dyn Write + Send>>, label: &str, total: u64, interval: Duration) -> Self {
        Progress {
            out,
            label: label.to_string(),
            total,
            done: 0,
            message: String::new(),
            started: Instant::now(),
            last_draw: None,
            interval,
            finished: false,
        }
    }

    /// Whether anything is drawn (callers may skip computing messages when not).
    #[allow(dead_code)] // API for apply/render/lab.
    pub fn is_visible(&self) -> bool {
        self.out.is_some()
    }

    /// Counts `n` more steps done.
    pub fn inc(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        self.draw(false);
    }

    /// Shows what is being done now (e.g. the object being created), without counting a step.
    #[allow(dead_code)] // API for apply/render/lab.
    pub fn step(&mut self, message: &str) {
        if self.out.is_some() {
            self.message = message.chars().filter(|c| !c.is_control()).take(60).collect();
            self.draw(false);
        }
    }

    /// Prints a whole line (e.g. a warning) above the counter, which is redrawn below it.
    #[allow(dead_code)] // API for apply/render/lab.
    pub fn println(&mut self, line: &str) {
        if let Some(out) = self.out.as_mut() {
            let _ = write!(out, "\r\x1b[2K{line}\n");
            self.draw(true);
        }
    }

    /// Draws the final count with the elapsed time and ends the line.
    pub fn finish(mut self) {
        self.finish_line();
    }

    /// Erases the counter without a final line (e.g. before printing an error).
    #[allow(dead_code)] // API for apply/render/lab.
    pub fn clear(mut self) {
        if let Some(out) = self.out.as_mut() {
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
            "\r\x1b[2K{}: {}/{} ({percent}%) {}",
            self.label, self.done, self.total, self.message
        );
        let _ = out.flush();
    }
}

impl Drop for Progress {
    /// A counter left unfinished (e.g. by an early `?` return) ends its line, so that the
    /// error message that follows starts on a line of its own.
    fn drop(&mut self) {
        if !self.finished {
            if let Some(out) = self.out.as_mut() {
                let _ = writeln!(out);
                let _ = out.flush();
            }
        }
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
    fn draws_counts_messages_and_a_final_line() {
        let buf = Buf::default();
        let mut p = Progress::to_writer(Box::new(buf.clone()), "applying", 4);
        p.step("vxm100");
        p.inc(1);
        p.println("warning: x");
        p.inc(3);
        p.finish();
        let text = buf.text();
        assert!(text.contains("applying: 1/4 (25%) vxm100"), "{text:?}");
        assert!(text.contains("\r\x1b[2Kwarning: x\n"), "{text:?}");
        assert!(text.contains("applying: 4/4 (100%)"), "{text:?}");
        assert!(text.contains("applying: 4/4 done in "), "{text:?}");
        assert!(text.ends_with("s\n"), "{text:?}");
    }

    #[test]
    fn hidden_progress_writes_nothing_and_quiet_hides_it() {
        let mut p = Progress::new("x", 2, true);
        assert!(!p.is_visible());
        p.inc(2);
        p.finish();
        // Under `cargo test` stderr is captured, not a terminal: hidden even without -q.
        if !std::io::stderr().is_terminal() {
            assert!(!Progress::new("x", 1, false).is_visible());
        }
    }

    #[test]
    fn an_unfinished_counter_ends_its_line_when_dropped() {
        let buf = Buf::default();
        {
            let mut p = Progress::to_writer(Box::new(buf.clone()), "rendering", 10);
            p.inc(1);
        }
        assert!(buf.text().ends_with("rendering: 1/10 (10%) \n"), "{:?}", buf.text());
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
