//! Which plugin files may be loaded: ownership, permissions and the optional SHA-256 pin list.
//!
//! ## The rule
//!
//! Whoever can write a plugin directory, or a file in it, decides what code the host runs; so
//! both are checked, and anything doubtful is refused (loading carries on with the rest):
//!
//! - **The directory** ([`check_directory`]): before its files are considered, a plugin
//!   directory must be owned by the current user or root and not be writable by group or
//!   others. Otherwise every library in it is refused, naming the directory and the fix
//!   (`chmod go-w DIR`).
//! - **The file** ([`admit`]): only a regular file is opened, with `O_NONBLOCK`, and its type
//!   is checked again on the descriptor before any byte is read (see
//!   [`trousseau_core::open_regular_file`]), so a FIFO or device named `x.so` is refused and
//!   never blocks. It must be owned by the current user or root, not writable by group or
//!   others, and (when a pin list is configured) have a listed SHA-256.
//! - **Symbolic links** ([`admit_entry`]): a link in a plugin directory is followed only if
//!   every link on the way, and the file it finally leads to, lie in directories that pass the
//!   directory check (each judged where it really is, after resolving links), and the file
//!   then passes the file checks. A link into a world-writable directory (where someone else
//!   could swap the target) is refused.
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
            // The loader opens the path; the handle stays open all the same, as on Linux.
            std::mem::forget(self.file);
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
    let (mut file, len) = trousseau_core::open_regular_file(path, "cannot open")
        .map_err(|e| e.message().to_string())?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    check_owner_and_mode(&meta, "the file", path)?;
    let too_large = |len: u64| {
        format!("the file is {len} bytes or more, more than a plugin may be ({MAX_PLUGIN_SIZE})")
    };
    if len > MAX_PLUGIN_SIZE {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // Bounded whatever the size claimed: the file may grow while it is read.
    (&mut file)
        .take(MAX_PLUGIN_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_PLUGIN_SIZE {
        return Err(too_large(bytes.len() as u64));
    }
    super::elf::check_complete(&bytes)?;
    super::elf::check_plugin_symbol(&bytes)?;
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

/// The most symbolic links followed from one plugin directory entry (as the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Checks a plugin directory itself: owned by the current user or root, not writable by group
/// or others (symbolic links are followed: the real directory is judged). The error is one
/// line naming the directory and the fix.
pub fn check_directory(dir: &Path) -> Result<(), String> {
    check_directory_as(dir, "the plugin directory")
}

/// [`check_directory`], calling the directory `what` in messages.
fn check_directory_as(dir: &Path, what: &str) -> Result<(), String> {
    let subject = format!("{what} {}", dir.display());
    let meta = std::fs::metadata(dir).map_err(|e| format!("{subject}: cannot stat: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("{subject} is not a directory"));
    }
    check_owner_and_mode(&meta, &subject, dir)
}

/// Admits the entry `entry` of a plugin directory that passed [`check_directory`]. A regular
/// file is checked by [`admit`]. A symbolic link is followed one link at a time: the directory
/// each link leads into (resolved) must pass [`check_directory`], and the file finally reached
/// must pass [`admit`]. Errors about a link name where it leads.
pub fn admit_entry(entry: &Path, pins: Option<&[String]>) -> Result<AdmittedFile, String> {
    let mut current = entry.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = std::fs::symlink_metadata(&current).map_err(|e| format!("cannot stat: {e}"))?;
        if !meta.file_type().is_symlink() {
            if current == entry {
                return admit(entry, pins);
            }
            return admit(&current, pins)
                .map_err(|reason| format!("symbolic link to {}: {reason}", current.display()));
        }
        current = next_link_step(&current)?;
    }
    Err(format!(
        "more than {MAX_LINKS} symbolic links in a row; point the link at the plugin file"
    ))
}

/// Where the symbolic link `link` leads, with the directory part resolved and checked.
fn next_link_step(link: &Path) -> Result<PathBuf, String> {
    let target = std::fs::read_link(link)
        .map_err(|e| format!("cannot read the symbolic link {}: {e}", link.display()))?;
    let joined = link.parent().unwrap_or(Path::new("/")).join(&target);
    let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
        return Err(format!(
            "the symbolic link {} points to {}, which is not a file; point it at the plugin file",
            link.display(),
            target.display()
        ));
    };
    let parent = std::fs::canonicalize(parent).map_err(|e| {
        format!(
            "the symbolic link {} points into {}, which cannot be resolved ({e}); fix or remove \
             the link",
            link.display(),
            parent.display()
        )
    })?;
    check_directory_as(&parent, "its directory")
        .map_err(|reason| format!("symbolic link to {}: {reason}", parent.join(name).display()))?;
    Ok(parent.join(name))
}

/// Refuses `meta` (of `path`, called `subject` in the message) unless it is owned by the
/// current user or root and not writable by group or others.
#[cfg(unix)]
fn check_owner_and_mode(
    meta: &std::fs::Metadata,
    subject: &str,
    path: &Path,
) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "{subject} is writable by {} (mode {mode:04o}); run `chmod go-w {}`",
            match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            },
            path.display()
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{subject} is owned by uid {}, not by you (uid {me}) or root; use one you own",
            meta.uid()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(
    _meta: &std::fs::Metadata,
    _subject: &str,
    _path: &Path,
) -> Result<(), String> {
    Ok(())
}

// Modes and owners: the Unix checks.
#[cfg(test)]
#[cfg(unix)]
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
    fn directories_writable_by_others_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o770, 0o1777] {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let err = check_directory(dir.path()).unwrap_err();
            let shown = dir.path().display().to_string();
            assert!(
                err.starts_with(&format!("the plugin directory {shown} is writable by"))
                    && err.contains(&format!("run `chmod go-w {shown}`")),
                "{mode:o}: {err}"
            );
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(check_directory(dir.path()), Ok(()));
        let file = file_with_mode(dir.path(), 0o644);
        assert!(check_directory(&file)
            .unwrap_err()
            .contains("not a directory"));
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
