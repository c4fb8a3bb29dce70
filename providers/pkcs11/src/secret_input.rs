//! Where a secret (a PIN, a recovery secret) comes from: an environment variable or a file
//! named in the configuration, else the host's [`Interaction`].

use std::path::PathBuf;

use serde::Deserialize;
use trousseau_core::{read_regular_file, Error, ErrorCode, Interaction, Result, SecretBytes};
use zeroize::Zeroizing;

/// The largest PIN or secret file read (64 KiB): far above any PIN or recovery secret, small
/// enough that a wrong path cannot make the process read without end.
pub const MAX_SECRET_FILE_SIZE: u64 = 64 << 10;

/// The configuration members naming a secret's source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretInput {
    /// Read the secret from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// Read the secret from this file (first line, surrounding whitespace removed). Only a
    /// regular file of at most [`MAX_SECRET_FILE_SIZE`] bytes is read: a FIFO or device is
    /// refused without being read.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretInput {
    /// The secret: from the variable, else the file, else asked with `prompt`.
    pub fn read(&self, ui: &dyn Interaction, prompt: &str) -> Result<SecretBytes> {
        if let Some(var) = &self.env {
            return match std::env::var_os(var) {
                Some(v) if !v.is_empty() => {
                    let v = Zeroizing::new(v.into_encoded_bytes());
                    Ok(SecretBytes::copy_from(trim(&v)))
                }
                _ => Err(Error::new(
                    ErrorCode::NeedsPin,
                    format!("{prompt}: the environment variable {var} named in the configuration is not set"),
                )),
            };
        }
        if let Some(path) = &self.file {
            let bytes = read_regular_file(path, MAX_SECRET_FILE_SIZE, path.display())
                .map_err(|e| e.context(prompt))?;
            let first = bytes
                .expose()
                .split(|b| *b == b'\n')
                .next()
                .unwrap_or_default();
            return Ok(SecretBytes::copy_from(trim(first)));
        }
        let s = ui.request_secret(prompt, false)?;
        Ok(SecretBytes::copy_from(trim(s.expose())))
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use trousseau_core::NoInteraction;

    use super::*;

    fn from_file(path: PathBuf) -> Result<SecretBytes> {
        SecretInput {
            env: None,
            file: Some(path),
        }
        .read(&NoInteraction, "PIN for token t")
    }

    #[test]
    fn first_line_of_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pin");
        std::fs::write(&p, " 1234 \nignored\n").unwrap();
        assert_eq!(from_file(p).unwrap().expose(), b"1234");
    }

    #[test]
    fn fifos_devices_and_oversized_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pin");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'1'; MAX_SECRET_FILE_SIZE as usize + 1]).unwrap();
        for (path, expect) in [
            (fifo, "not a regular file but a FIFO (named pipe)"),
            (
                PathBuf::from("/dev/zero"),
                "not a regular file but a character device",
            ),
            (big, "larger than 65536 bytes"),
        ] {
            // On another thread, so that a blocking open fails the test instead of hanging it.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(from_file(path));
            });
            let err = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("reading the PIN file blocked")
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
            assert!(err.message().starts_with("PIN for token t: "), "{err}");
            assert!(err.message().contains(expect), "{err}");
        }
    }
}
