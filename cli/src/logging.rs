//! Where the tool's log lines go: stderr, each warning or error once per process, coloured
//! only where that helps.

use std::{
    collections::HashSet,
    ffi::OsStr,
    io::Write,
    sync::{Mutex, PoisonError},
};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Whether to colour log lines: only on a terminal, and not when `NO_COLOR` is set to a
/// non-empty value (<https://no-color.org>).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// A [`MakeWriter`] for stderr that drops a warning or error identical to one already written
/// by this process. Information and debug lines are all written.
#[derive(Debug, Default)]
pub struct OncePerProcess {
    seen: Mutex<HashSet<Vec<u8>>>,
}

impl OncePerProcess {
    /// Whether `line` has not been written yet (and remembers it).
    fn first_time(&self, line: &[u8]) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(line.to_vec())
    }
}

/// One event's text, written to stderr when dropped (unless it is a repeat).
#[derive(Debug)]
pub struct EventWriter<'a> {
    buffer: Vec<u8>,
    /// `Some` for warnings and errors: the set of lines already written.
    once: Option<&'a OncePerProcess>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        if self.buffer.is_empty() || self.once.is_some_and(|o| !o.first_time(&self.buffer)) {
            return;
        }
        // Nowhere to report a failure to write to stderr.
        let _ = std::io::stderr().lock().write_all(&self.buffer);
    }
}

impl<'a> MakeWriter<'a> for OncePerProcess {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            buffer: Vec::new(),
            once: None,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        EventWriter {
            buffer: Vec::new(),
            once: (*meta.level() <= Level::WARN).then_some(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }

    #[test]
    fn a_repeated_warning_is_written_once() {
        let once = OncePerProcess::default();
        assert!(once.first_time(b"WARN skipping element junk\n"));
        assert!(!once.first_time(b"WARN skipping element junk\n"));
        assert!(once.first_time(b"WARN skipping element other\n"));
    }
}
