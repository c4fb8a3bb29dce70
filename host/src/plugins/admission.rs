//! Which plugin files may be loaded: ownership, permissions and the optional SHA-256 pin list.
//!
//! The file is opened once. Its owner and mode are read from that open descriptor, its digest
//! is computed from it, and on Linux the library is then loaded through `/proc/self/fd/N`, so
//! the file cannot be swapped between the checks and the load.
//!
//! The descriptor then stays open for the life of the process: the dynamic loader recognises
//! an already-loaded library by its *name* first, so a reused `/proc/self/fd/N` would return
//! whatever library was loaded under that number before. Plugins are never unloaded, so this
//! costs one descriptor per plugin file attempted.

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

/// Larger files are refused before they are read (a plugin is a few megabytes).
pub const MAX_PLUGIN_SIZE: u64 = 512 << 20;

/// A plugin file that passed the checks, held open until it is loaded.
#[derive(Debug)]
pub struct AdmittedFile {
    file: File,
    path: PathBuf,
    sha256: String,
}

impl AdmittedFile {
    /// The path to hand to the dynamic loader: the open descriptor where the OS allows it.
    /// Consumes the file: its descriptor stays open until the process exits (see the module
    /// docs for why).
    pub fn into_load_path(self) -> PathBuf {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::IntoRawFd;
            PathBuf::from(format!("/proc/self/fd/{}", self.file.into_raw_fd()))
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.path
        }
    }

    /// The file's SHA-256, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The path the file was found at.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Normalises a pin (`sha256:HEX` or `HEX`) to lower-case hex, or says why it is not one.
pub fn normalise_pin(pin: &str) -> Result<String, String> {
    let hex = pin.trim().strip_prefix("sha256:").unwrap_or(pin.trim());
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "invalid plugin pin {pin:?}: expected 64 hex digits of a SHA-256, optionally \
             prefixed with sha256: (compute one with `sha256sum FILE`)"
        ))
    }
}

/// Opens `path` and checks that it may be loaded: a regular file, owned by the current user
/// or root, not writable by group or others, and (when `pins` is set) with a listed digest.
/// The error is one line saying what is wrong and what to do.
pub fn admit(path: &Path, pins: Option<&[String]>) -> Result<AdmittedFile, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    check_owner_and_mode(&meta)?;
    if meta.len() > MAX_PLUGIN_SIZE {
        return Err(format!(
            "the file is {} bytes, more than a plugin may be ({MAX_PLUGIN_SIZE})",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    super::elf::check_complete(&bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(pins) = pins {
        if !pins.iter().any(|p| p == &sha256) {
            return Err(format!(
                "not on the plugin pin list (sha256:{sha256}); add this digest to \
                 [plugins] pins in the configuration if you trust the file"
            ));
        }
    }
    Ok(AdmittedFile {
        file,
        path: path.to_path_buf(),
        sha256,
    })
}

#[cfg(unix)]
fn check_owner_and_mode(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "the file is writable by {} (mode {mode:04o}); run `chmod go-w` on it",
            match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            }
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "the file is owned by uid {}, not by you (uid {me}) or root",
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_meta: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with_mode(dir: &Path, mode: u32) -> PathBuf {
        let p = dir.join(format!("lib{mode:o}.so"));
        std::fs::write(&p, b"not really a library").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn group_or_world_writable_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o664, 0o646, 0o666, 0o775] {
            let err = admit(&file_with_mode(dir.path(), mode), None).unwrap_err();
            assert!(err.contains("writable by"), "{mode:o}: {err}");
        }
        assert!(admit(&file_with_mode(dir.path(), 0o644), None).is_ok());
    }

    #[test]
    fn pins_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with_mode(dir.path(), 0o600);
        let digest = hex::encode(Sha256::digest(b"not really a library"));
        assert_eq!(
            admit(&p, Some(std::slice::from_ref(&digest)))
                .unwrap()
                .sha256(),
            digest
        );
        let err = admit(&p, Some(&["00".repeat(32)])).unwrap_err();
        assert!(err.contains("not on the plugin pin list"), "{err}");
        assert!(err.contains(&digest), "{err}");
    }

    #[test]
    fn pin_syntax() {
        let h = "AB".repeat(32);
        assert_eq!(
            normalise_pin(&format!("sha256:{h}")).unwrap(),
            "ab".repeat(32)
        );
        assert!(normalise_pin("sha256:abc").is_err());
    }
}
