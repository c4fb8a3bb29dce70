//! A progress indicator on stderr for long key derivations: a spinner with the elapsed time,
//! and, when the derivation's duration is known beforehand (the unlock time recorded in a
//! slot, the target a new slot is calibrated to), a percentage and an estimate of the time
//! left. Argon2 cannot report its own progress, so the percentage is the elapsed share of
//! the expected time, held under 100 % until the work is done.

use std::{
    io::{IsTerminal, Write},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Spinner frames.
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// The line shown while `label` runs, `elapsed` after its start, expected to take `expected`:
/// `/ deriving the key… 40% (about 0.6 s left)`, or with the elapsed time only when nothing
/// is expected or the expected time is over.
pub fn status_line(
    frame: usize,
    label: &str,
    elapsed: Duration,
    expected: Option<Duration>,
) -> String {
    let spinner = FRAMES[frame % FRAMES.len()];
    let seconds = elapsed.as_secs_f64();
    match expected.filter(|e| !e.is_zero()) {
        Some(e) if elapsed < e => {
            let percent = ((seconds / e.as_secs_f64()) * 100.0).floor().min(99.0);
            let left = (e - elapsed).as_secs_f64();
            format!("{spinner} {label}… {percent:.0}% (about {left:.1} s left)")
        }
        Some(e) => format!(
            "{spinner} {label}… {seconds:.1} s (longer than the {:.1} s expected)",
            e.as_secs_f64()
        ),
        None => format!("{spinner} {label}… {seconds:.1} s"),
    }
}

/// Runs `work` on this thread; if it takes longer than about half a second, shows `label`
/// on stderr meanwhile: on a terminal a line redrawn in place ([`status_line`]), otherwise
/// one line before and one after.
pub fn with_progress<T>(label: &str, expected: Option<Duration>, work: impl FnOnce() -> T) -> T {
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let start = Instant::now();
        scope.spawn(move || {
            if done_rx.recv_timeout(Duration::from_millis(500)).is_ok() {
                return;
            }
            let tty = std::io::stderr().is_terminal();
            if !tty {
                eprintln!("{label}…");
            }
            let mut frame = 0;
            loop {
                if tty {
                    eprint!(
                        "\r\x1b[K{}",
                        status_line(frame, label, start.elapsed(), expected)
                    );
                    let _ = std::io::stderr().flush();
                }
                frame += 1;
                match done_rx.recv_timeout(Duration::from_millis(150)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            if tty {
                eprint!("\r\x1b[K");
            }
            eprintln!("{label}: done in {:.1} s", start.elapsed().as_secs_f64());
        });
        let out = work();
        let _ = done_tx.send(());
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_duration_gives_a_percentage_and_the_time_left() {
        let line = status_line(
            1,
            "deriving",
            Duration::from_millis(400),
            Some(Duration::from_secs(1)),
        );
        assert_eq!(line, "/ deriving… 40% (about 0.6 s left)");
        let line = status_line(
            0,
            "deriving",
            Duration::from_millis(999),
            Some(Duration::from_secs(1)),
        );
        assert!(line.contains("99%"), "{line}");
        let late = status_line(
            0,
            "deriving",
            Duration::from_secs(2),
            Some(Duration::from_secs(1)),
        );
        assert_eq!(late, "| deriving… 2.0 s (longer than the 1.0 s expected)");
        let unknown = status_line(2, "deriving", Duration::from_millis(1500), None);
        assert_eq!(unknown, "- deriving… 1.5 s");
    }
}
