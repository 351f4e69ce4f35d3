//! One-line progress on stderr while a lab builds, drawn only on a terminal (quiet when
//! piped or with `-q`).

use std::io::{IsTerminal, Write};

use vxlan_mesh_lab::Progress as Step;

pub struct Progress {
    visible: bool,
    /// A line is drawn and not yet erased.
    drawn: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress {
            visible: !quiet && std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    pub fn show(&mut self, text: &str) {
        if self.visible {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
            self.drawn = !text.is_empty();
        }
    }

    pub fn lab(&mut self, step: &Step) {
        let text = match step {
            Step::Namespaces(n) => format!("building lab: {n} namespaces created"),
            Step::Switch => "building lab: underlay switch up".to_string(),
            Step::Host { done, total } => format!("building lab: host {done}/{total}"),
            Step::Container { done, total } => format!("building lab: container {done}/{total}"),
        };
        self.show(&text);
    }

    /// Erases the line.
    pub fn done(&mut self) {
        if self.drawn {
            self.show("");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An early error return leaves the line; erase it so the error starts clean.
        self.done();
    }
}
