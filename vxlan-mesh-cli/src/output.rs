//! Writing command output to stdout without panicking when the reader goes away.
//!
//! `println!` panics on a closed pipe (`vxlan-mesh plan --all | head`); these helpers return
//! the error instead, and `main` ends quietly with exit 0 when stdout's reader is gone, as
//! there is nobody left to tell.

use std::io::Write;

use anyhow::Result;

/// Writes `text` to stdout as is and flushes it.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes `text` and a newline to stdout.
pub fn println(text: &str) -> Result<()> {
    print(&format!("{text}\n"))
}

/// Whether `err` is stdout's reader having gone away.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `println!` that returns the write error instead of panicking (see the module docs):
/// `outln!("host {}: converged", plan.host)?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::println(&format!($($arg)*))
    };
}
pub(crate) use outln;
