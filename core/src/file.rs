//! Reading a file a provider was told to read (a key file, a password or PIN file), safely.
//!
//! A path in a configuration may name anything: a FIFO (whose `open` or `read` blocks for ever),
//! `/dev/zero` or `/dev/urandom` (endless), another device (where merely opening may act, e.g.
//! arm a watchdog), a socket or a directory. So:
//!
//! - the path is `stat`ed first and anything but a regular file is refused **without being
//!   opened**;
//! - it is then opened with `O_NONBLOCK | O_NOCTTY` (a FIFO swapped in after the `stat` cannot
//!   block the `open`, a terminal cannot become the controlling one) and the type is checked
//!   again on the open descriptor (`fstat`), before any byte is read;
//! - reads stop at a ceiling chosen by the caller: the size `stat` reports is not trusted
//!   (a file may grow while it is read; `/proc` files report 0).
//!
//! These are plain Rust functions for providers linked with this crate; nothing here crosses
//! the plugin boundary.

use std::{
    fmt,
    fs::{File, FileType},
    io::Read,
    path::Path,
};

use crate::{Error, ErrorCode, Result, SecretBytes};

/// Opens `path` for reading if it is a regular file (symbolic links are followed), and
/// returns the file with the length `fstat` reports. Anything else is refused with
/// [`ErrorCode::InvalidInput`] and a message naming `what` (e.g. "key file /etc/x.key") and
/// the kind of file found; I/O failures keep their [`Error::from_io`] code.
pub fn open_regular_file(path: &Path, what: impl fmt::Display) -> Result<(File, u64)> {
    let before = std::fs::metadata(path).map_err(|e| Error::from_io(&e, &what))?;
    ensure_regular(before.file_type(), &what)?;
    let file = open_nonblocking(path).map_err(|e| Error::from_io(&e, &what))?;
    let meta = file.metadata().map_err(|e| Error::from_io(&e, &what))?;
    ensure_regular(meta.file_type(), &what)?;
    Ok((file, meta.len()))
}

/// Reads the whole of the regular file at `path` (see [`open_regular_file`]), refusing it
/// with [`ErrorCode::InvalidInput`] when it holds more than `limit` bytes. The bytes are kept
/// in [`SecretBytes`] from the start, so no unwiped copy is left behind when the buffer grows.
pub fn read_regular_file(path: &Path, limit: u64, what: impl fmt::Display) -> Result<SecretBytes> {
    let (mut file, len) = open_regular_file(path, &what)?;
    let too_large = || {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{what}: larger than {limit} bytes, more than such a file may hold; check that \
                 the path names the right file"
            ),
        )
    };
    if len > limit {
        return Err(too_large());
    }
    let mut out = SecretBytes::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the limit tells "exactly at the limit" from "over it".
    read_to_limit(&mut file, &mut out, limit.saturating_add(1))
        .map_err(|e| Error::from_io(&e, &what))?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// Appends what `reader` yields to `out` until `out` holds `until` bytes or the reader ends;
/// never reads past `until`. Chunks pass through a small buffer that is wiped afterwards.
pub fn read_to_limit(
    reader: &mut impl Read,
    out: &mut SecretBytes,
    until: u64,
) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    let result = loop {
        let room = until.saturating_sub(out.len() as u64);
        if room == 0 {
            break Ok(());
        }
        let want = chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        match reader.read(&mut chunk[..want]) {
            Ok(0) => break Ok(()),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    zeroize::Zeroize::zeroize(&mut chunk);
    result
}

fn ensure_regular(kind: FileType, what: &impl fmt::Display) -> Result<()> {
    if kind.is_file() {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::InvalidInput,
        format!(
            "{what}: not a regular file but {}; name a regular file instead",
            describe(kind)
        ),
    ))
}

/// "a directory", "a FIFO (named pipe)", … for messages.
fn describe(kind: FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, b"0123456789").unwrap();
        let got = read_regular_file(&p, 10, "secret file").unwrap();
        assert_eq!(got.expose(), b"0123456789");
        let err = read_regular_file(&p, 9, "secret file").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput);
        assert!(
            err.message()
                .starts_with("secret file: larger than 9 bytes"),
            "{err}"
        );
        let missing = read_regular_file(&dir.path().join("nope"), 9, "x").unwrap_err();
        assert_eq!(missing.code(), ErrorCode::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (path, kind) in [
            (fifo.as_path(), "a FIFO (named pipe)"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a directory"),
        ] {
            let err = read_regular_file(path, 1 << 20, "key file").unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
            assert!(
                err.message()
                    .contains(&format!("not a regular file but {kind}")),
                "{err}"
            );
        }
    }

    #[test]
    fn read_to_limit_stops_at_the_limit() {
        let mut out = SecretBytes::new();
        read_to_limit(&mut std::io::repeat(7), &mut out, 20_000).unwrap();
        assert_eq!(out.len(), 20_000);
    }
}
