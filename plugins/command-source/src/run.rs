//! Running the program: no shell, a time limit, bounded output.

use std::{
    io::Read,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use trousseau_core::{Error, ErrorCode, SecretBytes};
use zeroize::Zeroizing;

/// Output beyond this is refused: a key is small, a runaway program is not.
pub const MAX_OUTPUT: usize = 1 << 20;

/// Runs `argv` with `env` added, and returns its standard output if it exits 0 in time.
pub fn run(
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<SecretBytes, Error> {
    let program = argv
        .first()
        .ok_or_else(|| Error::new(ErrorCode::InvalidConfig, "empty argv"))?;
    let mut child = Command::new(program)
        .args(&argv[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::from_io(&e, format!("command key source: cannot run {program:?}")))?;

    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = thread::spawn(move || read_bounded(stdout, MAX_OUTPUT + 1));
    let err_reader = thread::spawn(move || read_bounded(stderr, 4096));

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    ErrorCode::Unavailable,
                    format!(
                        "command key source: {program:?} did not finish within {} ms and was \
                         stopped; raise timeout_ms if it is just slow",
                        timeout.as_millis()
                    ),
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                return Err(Error::from_io(
                    &e,
                    format!("command key source: {program:?}"),
                ))
            }
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        let detail = String::from_utf8_lossy(err.expose());
        let first = detail
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let shown: String = first.chars().take(200).collect();
        return Err(Error::new(
            ErrorCode::Unavailable,
            format!(
                "command key source: {program:?} failed ({status}){}",
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(": {shown}")
                }
            ),
        ));
    }
    if out.len() > MAX_OUTPUT {
        return Err(Error::new(
            ErrorCode::CorruptData,
            format!("command key source: {program:?} printed more than {MAX_OUTPUT} bytes"),
        ));
    }
    Ok(out)
}

/// Reads up to `limit` bytes into a wiping buffer, then drains the rest so that the child never
/// blocks on a full pipe.
fn read_bounded(stream: Option<impl Read>, limit: usize) -> SecretBytes {
    let mut out = SecretBytes::new();
    let Some(mut stream) = stream else {
        return out;
    };
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        match stream.read(&mut chunk[..]) {
            Ok(0) => break,
            Ok(n) if out.len() < limit => out.extend_from_slice(&chunk[..n.min(limit - out.len())]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    out
}
