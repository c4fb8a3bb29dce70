//! Directory operations: listing, atomic writes, deletion, locking.

use std::{
    fs,
    io::Write,
    os::unix::{
        fs::{DirBuilderExt, OpenOptionsExt},
        io::AsRawFd,
    },
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};
use trousseau_core::{Element, Error, ErrorCode};

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// `$XDG_DATA_HOME/trousseau/key-ring` (or `~/.local/share/…`), or with `aspnet` ASP.NET Core's
/// `~/.aspnet/DataProtection-Keys`.
pub fn default_directory(aspnet: bool) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    if aspnet {
        return home.map(|h| h.join(".aspnet").join("DataProtection-Keys"));
    }
    match std::env::var_os("XDG_DATA_HOME").map(PathBuf::from) {
        Some(d) if d.is_absolute() => Some(d.join("trousseau").join("key-ring")),
        _ => home.map(|h| h.join(".local/share/trousseau/key-ring")),
    }
}

/// The file stem for a friendly name: itself when it matches `[A-Za-z0-9_-]+`, else a
/// random GUID (as ASP.NET does).
pub fn friendly_file_name(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name.to_string()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

fn check_dir(dir: &Path) -> Result<bool, Error> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(true),
        Ok(_) => Err(Error::new(
            ErrorCode::InvalidConfig,
            format!("the key-ring location {} is a file, not a directory; point the repository at a directory", dir.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::from_io(&e, dir.display())),
    }
}

/// Every `*.xml` file (top level, sorted by name) and the listing digest.
pub fn read_all(dir: &Path) -> Result<(Vec<Element>, String), Error> {
    let mut hasher = Sha256::new();
    if !check_dir(dir)? {
        return Ok((Vec::new(), hex::encode(hasher.finalize())));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::from_io(&e, dir.display()))? {
        let entry = entry.map_err(|e| Error::from_io(&e, dir.display()))?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "xml")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            names.push(path);
        }
    }
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for path in names {
        let text = fs::read_to_string(&path).map_err(|e| Error::from_io(&e, path.display()))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update((stem.len() as u64).to_le_bytes());
        hasher.update(stem.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let body = match body.trim_start().strip_prefix("<?xml") {
            Some(rest) => rest.split_once("?>").map_or(body, |(_, r)| r.trim_start()),
            None => body,
        };
        out.push(Element::new(stem, body));
    }
    Ok((out, hex::encode(hasher.finalize())))
}

fn ensure_dir(dir: &Path) -> Result<(), Error> {
    if check_dir(dir)? {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::from_io(
                &e,
                format!("cannot create the key-ring directory {}", dir.display()),
            )
        })
}

/// Writes `{dir}/{name}.xml` through a 0600 temp file and a rename; the temp file is removed
/// on failure.
pub fn write_element(dir: &Path, element: &Element) -> Result<(), Error> {
    ensure_dir(dir)?;
    let name = friendly_file_name(element.name());
    let tmp = dir.join(format!("{}.tmp", uuid::Uuid::new_v4()));
    let target = dir.join(format!("{name}.xml"));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| {
                Error::from_io(
                    &e,
                    format!("cannot write in the key-ring directory {}", dir.display()),
                )
            })?;
        f.write_all(DECLARATION.as_bytes())
            .and_then(|()| f.write_all(element.xml().as_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::from_io(&e, tmp.display()))?;
        fs::rename(&tmp, &target).map_err(|e| Error::from_io(&e, target.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Deletes `{name}.xml` for each name, in order, stopping at the first failure.
pub fn delete(dir: &Path, names: &[String]) -> Result<(), Error> {
    for n in names {
        let path = dir.join(format!("{}.xml", friendly_file_name(n)));
        fs::remove_file(&path)
            .map_err(|e| Error::from_io(&e, format!("cannot delete {}", path.display())))?;
    }
    Ok(())
}

/// An exclusive advisory lock on the directory, released on drop.
#[derive(Debug)]
pub struct DirLock(fs::File);

impl Drop for DirLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by self.0 and valid until it is closed after this.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Locks the directory (creating it first).
pub fn lock(dir: &Path) -> Result<DirLock, Error> {
    ensure_dir(dir)?;
    let f = fs::File::open(dir).map_err(|e| Error::from_io(&e, dir.display()))?;
    // SAFETY: flock on a valid open descriptor.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::from_io(&e, format!("cannot lock {}", dir.display())));
    }
    Ok(DirLock(f))
}
