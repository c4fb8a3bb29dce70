//! Directory operations: the checked listing of the ring, atomic single-file writes through
//! temp files, deletion, the advisory lock, directory `fsync`.

#[cfg(unix)]
use std::os::unix::{
    fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    io::AsRawFd,
};
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};
use trousseau_core::{Element, Error, ErrorCode};

use crate::trust::{self, Outcome, Trust};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// The largest element file that is read (elements are a few KB); larger ones are skipped.
pub const MAX_ELEMENT_BYTES: u64 = 1 << 20;

/// The most bytes of element files one load reads; a larger ring is an error.
pub const MAX_RING_BYTES: u64 = 64 << 20;

/// `%LOCALAPPDATA%\Trousseau\key-ring`. (ASP.NET Core's location: [`crate::aspnet`].)
#[cfg(windows)]
pub fn default_directory() -> Option<PathBuf> {
    let local = std::env::var_os("LOCALAPPDATA")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)?;
    Some(local.join("Trousseau").join("key-ring"))
}

/// `$XDG_DATA_HOME/trousseau/key-ring` (or `~/.local/share/…`). (ASP.NET Core's location:
/// [`crate::aspnet`].)
#[cfg(not(windows))]
pub fn default_directory() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        Some(d) if d.is_absolute() => Some(d.join("trousseau").join("key-ring")),
        _ => home.map(|h| h.join(".local/share/trousseau/key-ring")),
    }
}

/// Whether `name` is usable as a file stem as it is: `[A-Za-z0-9_-]+`.
pub fn is_friendly(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The file stem for a friendly name: itself when it matches `[A-Za-z0-9_-]+`, else a
/// random GUID (as ASP.NET does).
pub fn friendly_file_name(name: &str) -> String {
    if is_friendly(name) {
        name.to_string()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

/// A fresh temp file name: `{guid}.tmp`, lowercase and hyphenated (as ASP.NET names its own).
pub fn new_temp_name() -> String {
    format!("{}.tmp", uuid::Uuid::new_v4().hyphenated())
}

/// Whether `name` has the form [`new_temp_name`] gives.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_suffix(".tmp").is_some_and(|stem| {
        uuid::Uuid::try_parse(stem).is_ok_and(|u| u.hyphenated().to_string() == stem)
    })
}

/// Whether `name` is `<friendly name>.xml`, the only kind of file an element is renamed to.
pub fn is_element_name(name: &str) -> bool {
    name.strip_suffix(".xml").is_some_and(is_friendly)
}

/// Whether the directory exists; an error when it is not a directory or is not trusted.
fn check_dir(dir: &Path, trust: &Trust) -> Result<bool, Error> {
    match fs::metadata(dir) {
        Ok(m) => trust::check_directory(dir, &m, trust).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::from_io(&e, dir.display())),
    }
}

/// Every trusted `*.xml` file (top level, sorted by name) and the listing digest. Files that are
/// not trusted are skipped with a warning (see [`trust::read_file`]); more than
/// [`MAX_RING_BYTES`] in all is an error.
pub fn read_all(dir: &Path, trust: &Trust) -> Result<(Vec<Element>, String), Error> {
    let mut ring = Ring::default();
    if check_dir(dir, trust)? {
        for path in xml_files(dir)? {
            match trust::read_file(&path, trust, MAX_ELEMENT_BYTES)? {
                Outcome::Text(text) => ring.add(dir, &path, text)?,
                Outcome::Refused(why) => tracing::warn!(
                    "key-ring file {} {why}; it was skipped: {}",
                    path.display(),
                    why.fix()
                ),
                Outcome::Gone => {}
            }
        }
    }
    Ok(ring.finish())
}

fn xml_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::from_io(&e, dir.display()))? {
        let path = entry.map_err(|e| Error::from_io(&e, dir.display()))?.path();
        if path.extension().is_some_and(|x| x == "xml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The elements read so far, their digest and their total size.
#[derive(Default)]
struct Ring {
    elements: Vec<Element>,
    hasher: Sha256,
    bytes: u64,
}

impl Ring {
    fn add(&mut self, dir: &Path, path: &Path, text: String) -> Result<(), Error> {
        self.bytes += text.len() as u64;
        if self.bytes > MAX_RING_BYTES {
            return Err(Error::new(
                ErrorCode::CorruptData,
                format!(
                    "the key ring in {} holds more than {MAX_RING_BYTES} bytes of *.xml files; \
                     elements are a few KB each, so remove the files that do not belong there",
                    dir.display()
                ),
            ));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.hasher.update((stem.len() as u64).to_le_bytes());
        self.hasher.update(stem.as_bytes());
        self.hasher.update((text.len() as u64).to_le_bytes());
        self.hasher.update(text.as_bytes());
        self.elements
            .push(Element::new(stem, strip_declaration(&text)));
        Ok(())
    }

    fn finish(self) -> (Vec<Element>, String) {
        (self.elements, hex::encode(self.hasher.finalize()))
    }
}

fn strip_declaration(text: &str) -> &str {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    match body.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(body, |(_, r)| r.trim_start()),
        None => body,
    }
}

/// Creates the directory (mode 0700) when it is missing; a shared directory must exist.
fn ensure_dir(dir: &Path, trust: &Trust) -> Result<(), Error> {
    if check_dir(dir, trust)? {
        return Ok(());
    }
    if trust.shared_gid().is_some() {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the shared key-ring directory {0} does not exist; create it for the shared \
                 group: `mkdir {0} && chgrp GROUP {0} && chmod 2770 {0}`",
                dir.display()
            ),
        ));
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    // On Windows the directory gets its parent's ACL (under the profile: the user's only).
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).map_err(|e| {
        Error::from_io(
            &e,
            format!("cannot create the key-ring directory {}", dir.display()),
        )
    })
}

/// An exclusive advisory lock on the directory, released on drop. Holding one is what allows
/// writing in the directory. On Windows, where a directory cannot be locked, it is a lock on
/// the file [`WINDOWS_LOCK_FILE`] in the directory.
#[derive(Debug)]
pub struct DirLock {
    dir: fs::File,
    path: PathBuf,
}

/// The file locked in place of the directory on Windows (never read; not an element).
#[cfg(windows)]
pub const WINDOWS_LOCK_FILE: &str = ".trousseau.lock";

impl DirLock {
    /// Makes the renames and removals done in the directory so far durable.
    #[cfg(unix)]
    pub fn sync(&self) -> Result<(), Error> {
        self.dir
            .sync_all()
            .map_err(|e| Error::from_io(&e, format!("cannot sync {}", self.path.display())))
    }

    /// Nothing to do on Windows: a directory handle cannot be flushed, and NTFS journals
    /// renames and removals itself.
    #[cfg(not(unix))]
    pub fn sync(&self) -> Result<(), Error> {
        let _ = (&self.dir, &self.path);
        Ok(())
    }
}

#[cfg(unix)]
impl Drop for DirLock {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by self.dir and valid until it is closed after this.
        unsafe {
            libc::flock(self.dir.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Locks the directory (creating it first when it is private), after checking it is trusted:
/// on Windows, the lock file in it (released when its handle is closed).
#[cfg(windows)]
pub fn lock(dir: &Path, trust: &Trust) -> Result<DirLock, Error> {
    ensure_dir(dir, trust)?;
    let meta = fs::metadata(dir).map_err(|e| Error::from_io(&e, dir.display()))?;
    trust::check_directory(dir, &meta, trust)?;
    let path = dir.join(WINDOWS_LOCK_FILE);
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::from_io(&e, path.display()))?;
    f.lock()
        .map_err(|e| Error::from_io(&e, format!("cannot lock {}", dir.display())))?;
    Ok(DirLock {
        dir: f,
        path: dir.to_path_buf(),
    })
}

/// Locks the directory (creating it first when it is private), after checking it is trusted.
#[cfg(not(windows))]
#[allow(unsafe_code)]
pub fn lock(dir: &Path, trust: &Trust) -> Result<DirLock, Error> {
    ensure_dir(dir, trust)?;
    let f = fs::File::open(dir).map_err(|e| Error::from_io(&e, dir.display()))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::from_io(&e, dir.display()))?;
    trust::check_directory(dir, &meta, trust)?;
    // SAFETY: flock on a valid open descriptor.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(Error::from_io(&e, format!("cannot lock {}", dir.display())));
    }
    Ok(DirLock {
        dir: f,
        path: dir.to_path_buf(),
    })
}

/// Writes `bytes` to the new file `{dir}/{name}` (mode 0600; 0640 and the shared group when
/// the ring is shared) and syncs it; the file is removed on failure. Only under the lock.
pub fn write_file(
    _lock: &DirLock,
    dir: &Path,
    name: &str,
    trust: &Trust,
    bytes: &[&[u8]],
) -> Result<(), Error> {
    let path = dir.join(name);
    let io_error = |e: io::Error| Error::from_io(&e, format!("cannot write {}", path.display()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(&path).map_err(io_error)?;
    let result = give_to_shared_group(&f, &path, trust).and_then(|()| {
        bytes
            .iter()
            .try_for_each(|b| f.write_all(b))
            .and_then(|()| f.sync_all())
            .map_err(io_error)
    });
    if result.is_err() {
        let _ = fs::remove_file(&path);
    }
    result
}

/// Never a shared group off Unix ([`Trust::shared`] refuses one).
#[cfg(not(unix))]
fn give_to_shared_group(_f: &fs::File, _path: &Path, trust: &Trust) -> Result<(), Error> {
    debug_assert!(trust.shared_gid().is_none());
    Ok(())
}

/// With a shared group: gives the new file `f` to it, mode 0640, so the other members can read it.
#[cfg(unix)]
fn give_to_shared_group(f: &fs::File, path: &Path, trust: &Trust) -> Result<(), Error> {
    let Some(gid) = trust.shared_gid() else {
        return Ok(());
    };
    std::os::unix::fs::fchown(f, None, Some(gid))
        .and_then(|()| f.set_permissions(fs::Permissions::from_mode(0o640)))
        .map_err(|e| {
            Error::from_io(
                &e,
                format!(
                    "cannot give {} to the shared group gid {gid}; run as a member of that group",
                    path.display()
                ),
            )
        })
}

/// An element written to a temp file, waiting to be renamed over its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The temp file's name in the directory.
    pub temp: String,
    /// The target file's name in the directory, `<friendly name>.xml`.
    pub target: String,
}

impl Staged {
    /// Renames the temp file over the target.
    pub fn commit(&self, dir: &Path) -> io::Result<()> {
        fs::rename(dir.join(&self.temp), dir.join(&self.target))
    }

    /// Removes the temp file (best effort: used when giving up).
    pub fn discard(&self, dir: &Path) {
        let _ = fs::remove_file(dir.join(&self.temp));
    }
}

/// Writes `element` to a fresh temp file in the directory.
pub fn stage(
    lock: &DirLock,
    dir: &Path,
    element: &Element,
    trust: &Trust,
) -> Result<Staged, Error> {
    let staged = Staged {
        temp: new_temp_name(),
        target: format!("{}.xml", friendly_file_name(element.name())),
    };
    write_file(
        lock,
        dir,
        &staged.temp,
        trust,
        &[DECLARATION.as_bytes(), element.xml().as_bytes()],
    )?;
    Ok(staged)
}

/// Writes `{dir}/{name}.xml` through a temp file and a rename, then syncs the directory; the
/// temp file is removed on failure.
pub fn write_element(
    lock: &DirLock,
    dir: &Path,
    element: &Element,
    trust: &Trust,
) -> Result<(), Error> {
    let staged = stage(lock, dir, element, trust)?;
    if let Err(e) = staged.commit(dir) {
        staged.discard(dir);
        return Err(Error::from_io(&e, dir.join(&staged.target).display()));
    }
    lock.sync()
}

/// Deletes `{name}.xml` for each name, in order, stopping at the first failure; then syncs the
/// directory.
///
/// A name is the element's name as [`read_all`] reports it: the real stem of its file, which
/// may hold characters a friendly name would not (`key-a b.xml`, an ASP.NET file named after a
/// GUID because its friendly name was not usable). So the file deleted is the one the element
/// came from. A name that cannot be a file stem (`/` or NUL in it, or empty) is refused
/// ([`ErrorCode::InvalidInput`]) before anything is deleted; on Windows `\\` and `:` too.
pub fn delete(lock: &DirLock, dir: &Path, names: &[String]) -> Result<(), Error> {
    if let Some(bad) = names.iter().find(|n| {
        n.is_empty() || n.contains(['/', '\0']) || (cfg!(windows) && n.contains(['\\', ':']))
    }) {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "cannot delete the element {bad:?} from {}: it is not the name of a file in \
                 the ring directory; delete elements by the names a load reports",
                dir.display()
            ),
        ));
    }
    let result = names.iter().try_for_each(|n| {
        let path = dir.join(format!("{n}.xml"));
        fs::remove_file(&path)
            .map_err(|e| Error::from_io(&e, format!("cannot delete {}", path.display())))
    });
    let synced = lock.sync();
    result.and(synced)
}
