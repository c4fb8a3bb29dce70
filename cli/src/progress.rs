//! A progress indicator on stderr for long key derivations.

use std::{
    io::{IsTerminal, Write},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Runs `work`, and if it takes longer than about half a second shows `label` with a spinner
/// (or, when stderr is not a terminal, one line before and one after) on stderr.
pub fn with_progress<T: Send>(label: &str, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker = scope.spawn(move || {
            let out = work();
            let _ = done_tx.send(());
            out
        });
        let start = Instant::now();
        if done_rx.recv_timeout(Duration::from_millis(500)).is_err() {
            let tty = std::io::stderr().is_terminal();
            let frames = ['|', '/', '-', '\\'];
            let mut i = 0;
            if !tty {
                eprintln!("{label}…");
            }
            loop {
                if tty {
                    eprint!(
                        "\r{} {label}… {:.1} s",
                        frames[i % 4],
                        start.elapsed().as_secs_f64()
                    );
                    let _ = std::io::stderr().flush();
                }
                i += 1;
                match done_rx.recv_timeout(Duration::from_millis(150)) {
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            if tty {
                eprint!("\r\x1b[K");
            }
            eprintln!("{label}: done in {:.1} s", start.elapsed().as_secs_f64());
        }
        match worker.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
