//! The `file` backend: the raw 64-byte key in a 0600 file in a 0700 directory, refused (as ssh
//! refuses a private key) when its permissions or owner are wrong.

use std::{
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    time::SystemTime,
};

use trousseau_core::{Error, ErrorCode, Result, SecretBytes};

use super::{BackendKind, Store};
use crate::key;

/// The largest file accepted (a DPAPI blob of a 64-byte key is about 230 bytes).
const MAX_LEN: usize = 4096;

/// A key file.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The store at `path`.
    pub fn new(path: PathBuf) -> Self {
        FileStore { path }
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Reads the file's bytes (at most [`MAX_LEN`]) after the owner and permission checks;
    /// a missing file is [`ErrorCode::NotFound`].
    pub fn load_raw(&self) -> Result<SecretBytes> {
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    format!(
                        "no user key at {} (file backend); it is created only on enrollment \
                         (`trousseau init`) or restored with `trousseau user-account import BACKUP`",
                        self.path.display()
                    ),
                ))
            }
            Err(e) => return Err(Error::from_io(&e, self.path.display())),
        };
        if !meta.file_type().is_file() {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "refusing the user key {}: it is not a regular file (a symlink or a \
                     directory); replace it with the key file itself",
                    self.path.display()
                ),
            ));
        }
        check_owner_and_mode(self.dir(), 0o022, "directory")?;
        let mut f =
            fs::File::open(&self.path).map_err(|e| Error::from_io(&e, self.path.display()))?;
        check_owner_and_mode_meta(
            &self.path,
            &f.metadata()
                .map_err(|e| Error::from_io(&e, self.path.display()))?,
            0o077,
            "file",
        )?;
        let mut buf = SecretBytes::copy_from(&[0u8; MAX_LEN + 1]);
        let mut filled = 0;
        loop {
            let n = f
                .read(&mut buf.expose_mut()[filled..])
                .map_err(|e| Error::from_io(&e, self.path.display()))?;
            filled += n;
            if n == 0 || filled == buf.len() {
                break;
            }
        }
        if filled > MAX_LEN {
            return Err(Error::new(
                ErrorCode::CorruptData,
                format!(
                    "{} is larger than {MAX_LEN} bytes, so it is not a user key file; check the path",
                    self.path.display()
                ),
            ));
        }
        Ok(SecretBytes::copy_from(&buf.expose()[..filled]))
    }

    /// Writes `key` to a fresh temporary file next to the target, 0600, synced.
    fn write_temp(&self, key: &SecretBytes) -> Result<PathBuf> {
        let dir = self.dir();
        create_private_dir(dir)?;
        check_owner_and_mode(dir, 0o022, "directory")?;
        let tmp = dir.join(format!(
            ".user-account.key.{}.{}.tmp",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let io = |e: std::io::Error| Error::from_io(&e, tmp.display());
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        let written = f
            .write_all(key.expose())
            .and_then(|()| f.sync_all())
            .map_err(io);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(tmp)
    }
}

impl Store for FileStore {
    fn kind(&self) -> BackendKind {
        BackendKind::File
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> Result<SecretBytes> {
        key::validate(self.load_raw()?, &self.location())
    }

    fn create(&self, key: &SecretBytes) -> Result<()> {
        let tmp = self.write_temp(key)?;
        // link() never overwrites: the key appears whole, or not at all if one already exists.
        let linked = fs::hard_link(&tmp, &self.path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!("created user key {}", self.path.display());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::new(
                ErrorCode::Conflict,
                format!("a user key already exists at {}", self.path.display()),
            )),
            Err(e) => Err(Error::from_io(&e, self.path.display())),
        }
    }

    fn replace(&self, key: &SecretBytes) -> Result<()> {
        let tmp = self.write_temp(key)?;
        fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::from_io(&e, self.path.display())
        })
    }

    fn modified(&self) -> Option<SystemTime> {
        fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| Error::from_io(&e, dir.display()))
}

fn check_owner_and_mode(path: &Path, forbidden: u32, what: &str) -> Result<()> {
    match fs::metadata(path) {
        Ok(meta) => check_owner_and_mode_meta(path, &meta, forbidden, what),
        Err(e) => Err(Error::from_io(&e, path.display())),
    }
}

/// Refuses `path` if it is not owned by the current user or has any `forbidden` mode bit.
#[cfg(unix)]
#[allow(unsafe_code)]
fn check_owner_and_mode_meta(
    path: &Path,
    meta: &fs::Metadata,
    forbidden: u32,
    what: &str,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Error::new(
            ErrorCode::Io,
            format!(
                "refusing the user key {what} {}: it is owned by uid {}, not by the current user \
                 (uid {me}); fix it with `chown {me} {}` if it really is yours",
                path.display(),
                meta.uid(),
                path.display()
            ),
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & forbidden != 0 {
        let want = if what == "file" { "600" } else { "700" };
        return Err(Error::new(
            ErrorCode::Io,
            format!(
                "refusing the user key {what} {}: its permissions {mode:04o} are too open (others \
                 could read or replace the key); fix them with `chmod {want} {}`",
                path.display(),
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode_meta(_: &Path, _: &fs::Metadata, _: u32, _: &str) -> Result<()> {
    Ok(())
}
