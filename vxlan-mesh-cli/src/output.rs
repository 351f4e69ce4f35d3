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

/// `err` and its causes, `: `-separated, each cause once: one whose text the message so far
/// already holds is skipped (a library error that quotes its source, or a context that
/// repeats it, would otherwise print "`nft` is not installed: `nft` is not installed").
pub fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// `println!` that returns the write error instead of panicking (see the module docs):
/// `outln!("host {}: converged", plan.host)?`. Only the `lab` commands print this way.
#[cfg(feature = "lab")]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::println(&format!($($arg)*))
    };
}
#[cfg(feature = "lab")]
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use anyhow::anyhow;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("`nft` is not installed")]
    struct NotInstalled;

    /// An error that quotes its source in its own message.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot list the tables: {0}")]
    struct Quoting(#[source] NotInstalled);

    #[test]
    fn every_cause_is_printed_once_in_order() {
        let err = anyhow::Error::new(NotInstalled).context("status stopped");
        assert_eq!(error_message(&err), "status stopped: `nft` is not installed");
        let err = anyhow::Error::new(NotInstalled).context("`nft` is not installed");
        assert_eq!(error_message(&err), "`nft` is not installed");
        let err = anyhow::Error::new(Quoting(NotInstalled)).context("status stopped");
        assert_eq!(
            error_message(&err),
            "status stopped: cannot list the tables: `nft` is not installed"
        );
        assert_eq!(error_message(&anyhow!("plain")), "plain");
    }
}
