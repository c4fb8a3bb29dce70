//! Whose files the repository believes: the owner and mode checks on the ring directory and on
//! every file read from it, and the bounded, never-blocking read of one such file.
//!
//! A file or directory is trusted when nobody but its owner can write it and its owner is the
//! current effective user or root. With a shared group (configuration `shared_group`), it may
//! also be writable by that group, and owned by anyone, as long as its group is the shared one:
//! the members of that group are the ring's writers. World-writable is never trusted (sticky or
//! not: `/tmp` cannot hold a key ring).
//!
//! On Windows there are no modes and owners to judge (who may write is the NTFS ACL, inherited
//! from the user's profile for the default location): the ownership checks are Unix only, and
//! `shared_group` is refused. What holds everywhere: symbolic links (reparse points on Windows)
//! are never followed, only regular files are read, and reads are bounded.

#[cfg(unix)]
use std::{
    ffi::CString,
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
};
use std::{
    fmt, fs,
    io::{self, Read},
    path::Path,
};

use trousseau_core::{Error, ErrorCode};

const GROUP_WRITE: u32 = 0o020;
const OTHER_WRITE: u32 = 0o002;

// The POSIX file-type bits of a mode, the same on Linux, macOS and the BSDs (spelled out here
// so that the judgement compiles and is tested on every platform).
const S_IFMT: u32 = 0o170_000;
const S_IFSOCK: u32 = 0o140_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFIFO: u32 = 0o010_000;

/// Whose files are trusted: the current effective user, root, and optionally one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    euid: u32,
    shared_gid: Option<u32>,
}

impl Trust {
    /// A trust for `euid`, sharing with `shared_gid` if set.
    pub fn new(euid: u32, shared_gid: Option<u32>) -> Self {
        Trust { euid, shared_gid }
    }

    /// Only the current effective user and root.
    pub fn private() -> Self {
        Trust::new(current_euid(), None)
    }

    /// The current effective user, root and the members of `group` (by name). Unix only: on
    /// Windows a directory is shared through its ACL, and this is a configuration error.
    #[cfg(not(unix))]
    pub fn shared(group: &str) -> Result<Self, Error> {
        Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "filesystem repository: shared_group \"{group}\" names a Unix group, and there \
                 are none on Windows; give the group write access to the directory with its ACL \
                 and remove shared_group"
            ),
        ))
    }

    /// The current effective user, root and the members of `group` (by name).
    #[cfg(unix)]
    pub fn shared(group: &str) -> Result<Self, Error> {
        let not_known = || {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "filesystem repository: shared_group \"{group}\" is not a known group; \
                     fix the name or create the group"
                ),
            )
        };
        let gid = group_id(group)
            .map_err(|e| {
                Error::from_io(
                    &e,
                    format!("filesystem repository: cannot look up shared_group \"{group}\""),
                )
            })?
            .ok_or_else(not_known)?;
        Ok(Trust::new(current_euid(), Some(gid)))
    }

    /// The shared group, if any.
    pub fn shared_gid(&self) -> Option<u32> {
        self.shared_gid
    }

    /// Whether a file or directory with `mode`, owner `uid` and group `gid` may have been
    /// written only by trusted parties.
    pub fn judge(&self, mode: u32, uid: u32, gid: u32) -> Result<(), Distrust> {
        let shared_group = self.shared_gid == Some(gid);
        if mode & OTHER_WRITE != 0 {
            return Err(Distrust::WorldWritable { mode });
        }
        if mode & GROUP_WRITE != 0 && !shared_group {
            return Err(Distrust::GroupWritable {
                mode,
                gid,
                shared_gid: self.shared_gid,
            });
        }
        if uid == self.euid || uid == 0 || shared_group {
            return Ok(());
        }
        Err(Distrust::Owner {
            uid,
            euid: self.euid,
        })
    }

    /// [`Trust::judge`] for a file that must also be a regular file.
    pub fn judge_file(&self, mode: u32, uid: u32, gid: u32) -> Result<(), Distrust> {
        let kind = mode & S_IFMT;
        if kind != S_IFREG {
            return Err(Distrust::NotRegular(kind_name(kind)));
        }
        self.judge(mode, uid, gid)
    }
}

/// Why a file or directory is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distrust {
    /// Anyone may write it.
    WorldWritable {
        /// The full mode.
        mode: u32,
    },
    /// Its group may write it and that group is not the shared group.
    GroupWritable {
        /// The full mode.
        mode: u32,
        /// Its group.
        gid: u32,
        /// The configured shared group, if any.
        shared_gid: Option<u32>,
    },
    /// It belongs to someone else.
    Owner {
        /// Its owner.
        uid: u32,
        /// The current effective user.
        euid: u32,
    },
    /// It is a FIFO, device, socket or directory where a regular file belongs.
    NotRegular(&'static str),
}

impl Distrust {
    /// What to do about it, for the ring directory `dir`.
    pub fn directory_fix(&self, dir: &Path) -> String {
        let dir = dir.display();
        match self {
            Distrust::WorldWritable { .. } => format!(
                "run `chmod go-w {dir}`; a world-writable directory (sticky or not, like /tmp) \
                 cannot hold a key ring, so use a directory of your own"
            ),
            Distrust::GroupWritable { .. } => format!(
                "run `chmod g-w {dir}`, or, if that group's members are meant to write the key \
                 ring, set shared_group to that group in the repository configuration"
            ),
            Distrust::Owner { euid, .. } => format!(
                "run `chown {euid} {dir}` or use a directory of your own; if several users write \
                 the key ring, give the directory to one group and set shared_group to it"
            ),
            Distrust::NotRegular(_) => "use a directory".to_string(),
        }
    }

    /// What to do about it, for a file in the ring directory.
    pub fn file_fix(&self) -> &'static str {
        match self {
            Distrust::WorldWritable { .. } | Distrust::GroupWritable { .. } => {
                "if it is genuine, run `chmod go-w` on it, else remove it"
            }
            Distrust::Owner { .. } => {
                "if it is genuine, `chown` it to the ring's user, else remove it"
            }
            Distrust::NotRegular(_) => "remove it",
        }
    }
}

impl fmt::Display for Distrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Distrust::WorldWritable { mode } if mode & GROUP_WRITE != 0 => write!(
                f,
                "is writable by group and others (mode {:04o})",
                mode & 0o7777
            ),
            Distrust::WorldWritable { mode } => {
                write!(f, "is writable by others (mode {:04o})", mode & 0o7777)
            }
            Distrust::GroupWritable {
                mode,
                gid,
                shared_gid: None,
            } => write!(
                f,
                "is writable by its group (gid {gid}, mode {:04o})",
                mode & 0o7777
            ),
            Distrust::GroupWritable {
                mode,
                gid,
                shared_gid: Some(shared),
            } => write!(
                f,
                "is writable by its group gid {gid}, which is not the shared group gid {shared} \
                 (mode {:04o})",
                mode & 0o7777
            ),
            Distrust::Owner { uid, euid } => {
                write!(f, "is owned by uid {uid}, not by you (uid {euid}) or root")
            }
            Distrust::NotRegular(kind) => write!(f, "is a {kind}, not a regular file"),
        }
    }
}

/// Checks the ring directory's metadata (of the directory itself, symbolic links followed).
pub fn check_directory(dir: &Path, meta: &fs::Metadata, trust: &Trust) -> Result<(), Error> {
    if !meta.is_dir() {
        let what = if meta.is_file() {
            "a file"
        } else {
            "something else"
        };
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the key-ring location {} is {what}, not a directory; point the repository at a \
                 directory",
                dir.display()
            ),
        ));
    }
    let Some((mode, uid, gid)) = ownership(meta) else {
        return Ok(());
    };
    trust.judge(mode, uid, gid).map_err(|why| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the key-ring directory {} {why}, so others could plant or replace keys; {}",
                dir.display(),
                why.directory_fix(dir)
            ),
        )
    })
}

/// Why a file of the ring was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It is a symbolic link (never followed).
    Symlink,
    /// Its kind, owner or mode is not trusted.
    Untrusted(Distrust),
    /// It is larger than the limit.
    TooLarge {
        /// Its size, or the limit + 1 when it grew while read.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// It is not UTF-8 text.
    NotUtf8,
}

impl Refusal {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Refusal::Symlink => {
                "files of the key ring are never read through symbolic links; replace the link \
                 with the file itself, or remove it"
            }
            Refusal::Untrusted(why) => why.file_fix(),
            Refusal::TooLarge { .. } => "elements are a few KB; remove it",
            Refusal::NotUtf8 => "remove it, or restore it from a backup",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Symlink => f.write_str("is a symbolic link"),
            Refusal::Untrusted(why) => why.fmt(f),
            Refusal::TooLarge { size, limit } => {
                write!(f, "is {size} bytes, over the limit of {limit} bytes")
            }
            Refusal::NotUtf8 => f.write_str("is not UTF-8 text"),
        }
    }
}

/// What reading one file of the ring gave.
#[derive(Debug)]
pub enum Outcome {
    /// Its text.
    Text(String),
    /// It was not read, for this reason.
    Refused(Refusal),
    /// It vanished since it was listed.
    Gone,
}

/// Reads `path` when it is a trusted regular file of at most `limit` bytes. A symbolic link is
/// never followed and a FIFO, device or socket is never opened (the type is checked before the
/// open; the open uses `O_NOFOLLOW | O_NONBLOCK` and the opened descriptor is checked again, so a
/// file swapped in between neither is followed nor blocks). At most `limit + 1` bytes are read.
pub fn read_file(path: &Path, trust: &Trust, limit: u64) -> Result<Outcome, Error> {
    let io_error = |e: io::Error| Error::from_io(&e, format!("cannot read {}", path.display()));
    let before = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Outcome::Gone),
        Err(e) => return Err(io_error(e)),
    };
    if let Some(refusal) = refuse_kind(before.file_type()) {
        return Ok(Outcome::Refused(refusal));
    }
    let file = match open_no_follow(path) {
        Ok(f) => f,
        Err(e) if is_symlink_refusal(&e) => return Ok(Outcome::Refused(Refusal::Symlink)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Outcome::Gone),
        Err(e) => return Err(io_error(e)),
    };
    let meta = file.metadata().map_err(io_error)?;
    // Unix: `judge_file` checks the kind of the opened descriptor. Windows: the handle of a
    // reparse point swapped in after the first check is the link itself, refused here.
    #[cfg(not(unix))]
    if let Some(refusal) = refuse_kind(meta.file_type()) {
        return Ok(Outcome::Refused(refusal));
    }
    if let Some((mode, uid, gid)) = ownership(&meta) {
        if let Err(why) = trust.judge_file(mode, uid, gid) {
            return Ok(Outcome::Refused(Refusal::Untrusted(why)));
        }
    }
    if meta.len() > limit {
        return Ok(Outcome::Refused(Refusal::TooLarge {
            size: meta.len(),
            limit,
        }));
    }
    read_bounded(file, meta.len(), limit).map_err(io_error)
}

/// The mode, owner and group to judge; `None` on Windows, where the ACL decides (module doc).
#[cfg(unix)]
fn ownership(meta: &fs::Metadata) -> Option<(u32, u32, u32)> {
    Some((meta.mode(), meta.uid(), meta.gid()))
}

#[cfg(not(unix))]
fn ownership(_meta: &fs::Metadata) -> Option<(u32, u32, u32)> {
    None
}

/// Opens `path` for reading without following a symbolic link and without blocking on a FIFO.
#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Opens `path` for reading; a reparse point (symbolic link, junction) is opened itself, not
/// followed (`FILE_FLAG_OPEN_REPARSE_POINT`).
#[cfg(windows)]
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    std::os::windows::fs::OpenOptionsExt::custom_flags(
        fs::OpenOptions::new().read(true),
        FILE_FLAG_OPEN_REPARSE_POINT,
    )
    .open(path)
}

#[cfg(not(any(unix, windows)))]
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    fs::File::open(path)
}

/// Whether the open failed because `path` is a symbolic link (`ELOOP` with `O_NOFOLLOW`).
fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn refuse_kind(kind: fs::FileType) -> Option<Refusal> {
    if kind.is_symlink() {
        Some(Refusal::Symlink)
    } else if kind.is_file() {
        None
    } else {
        Some(Refusal::Untrusted(Distrust::NotRegular(file_type_name(
            kind,
        ))))
    }
}

/// Reads at most `limit` + 1 bytes; `size` (the length fstat reported, at most `limit`) sizes
/// the buffer so that a file is read in one call rather than in growing chunks.
fn read_bounded(file: fs::File, size: u64, limit: u64) -> io::Result<Outcome> {
    let mut bytes = Vec::with_capacity(usize::try_from(size.saturating_add(1)).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Outcome::Refused(Refusal::TooLarge {
            size: limit.saturating_add(1),
            limit,
        }));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Outcome::Text(text),
        Err(_) => Outcome::Refused(Refusal::NotUtf8),
    })
}

#[cfg(not(unix))]
fn file_type_name(kind: fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(unix)]
fn file_type_name(kind: fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

fn kind_name(kind: u32) -> &'static str {
    match kind {
        S_IFDIR => "directory",
        S_IFIFO => "FIFO",
        S_IFSOCK => "socket",
        S_IFCHR | S_IFBLK => "device",
        S_IFLNK => "symbolic link",
        _ => "special file",
    }
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn current_euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// No user ids on Windows: ownership is never judged there (see [`ownership`]).
#[cfg(not(unix))]
fn current_euid() -> u32 {
    0
}

/// The id of the group called `name`, or `None` when there is no such group.
#[cfg(unix)]
#[allow(unsafe_code)]
fn group_id(name: &str) -> io::Result<Option<u32>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: all-zero is a valid `group` (null pointers, zero id); getgrnam_r fills it.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buf.len()` is the buffer's length.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut group,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        match rc {
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            0 if found.is_null() => return Ok(None),
            0 => return Ok(Some(group.gr_gid)),
            // Some C libraries report "no such group" as an error instead of a null result.
            libc::ENOENT | libc::ESRCH => return Ok(None),
            _ => return Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;
    const OTHER: u32 = 1234;
    const STAFF: u32 = 50;
    const FILE: u32 = S_IFREG;

    #[test]
    fn private_trust_accepts_own_and_root_files_not_writable_by_others() {
        let t = Trust::new(ME, None);
        assert_eq!(t.judge_file(FILE | 0o600, ME, ME), Ok(()));
        assert_eq!(t.judge_file(FILE | 0o644, 0, 0), Ok(()));
        assert_eq!(t.judge(S_IFDIR | 0o755, ME, STAFF), Ok(()));
    }

    #[test]
    fn private_trust_refuses_writable_by_others_or_foreign_owner() {
        let t = Trust::new(ME, None);
        assert_eq!(
            t.judge(0o777, ME, ME),
            Err(Distrust::WorldWritable { mode: 0o777 })
        );
        assert_eq!(
            t.judge(0o1777, 0, 0),
            Err(Distrust::WorldWritable { mode: 0o1777 }),
            "sticky world-writable (/tmp) is refused too"
        );
        assert_eq!(
            t.judge(0o770, ME, STAFF),
            Err(Distrust::GroupWritable {
                mode: 0o770,
                gid: STAFF,
                shared_gid: None
            })
        );
        assert_eq!(
            t.judge(0o600, OTHER, OTHER),
            Err(Distrust::Owner {
                uid: OTHER,
                euid: ME
            })
        );
    }

    #[test]
    fn shared_trust_accepts_the_groups_files_only() {
        let t = Trust::new(ME, Some(STAFF));
        assert_eq!(t.judge_file(FILE | 0o660, OTHER, STAFF), Ok(()));
        assert_eq!(t.judge(S_IFDIR | 0o2770, OTHER, STAFF), Ok(()));
        assert_eq!(
            t.judge(0o770, ME, STAFF + 1),
            Err(Distrust::GroupWritable {
                mode: 0o770,
                gid: STAFF + 1,
                shared_gid: Some(STAFF)
            })
        );
        assert_eq!(
            t.judge(0o640, OTHER, OTHER),
            Err(Distrust::Owner {
                uid: OTHER,
                euid: ME
            }),
            "another user's file outside the shared group"
        );
        assert_eq!(
            t.judge(0o666, ME, STAFF),
            Err(Distrust::WorldWritable { mode: 0o666 }),
            "never world-writable, shared or not"
        );
    }

    #[test]
    fn only_regular_files_are_files() {
        let t = Trust::new(ME, None);
        assert_eq!(
            t.judge_file(S_IFIFO | 0o600, ME, ME),
            Err(Distrust::NotRegular("FIFO"))
        );
        assert_eq!(
            t.judge_file(S_IFCHR | 0o600, 0, 0),
            Err(Distrust::NotRegular("device"))
        );
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let dir = Path::new("/srv/ring");
        let ww = Distrust::WorldWritable { mode: 0o40777 };
        assert_eq!(
            ww.to_string(),
            "is writable by group and others (mode 0777)"
        );
        assert!(ww.directory_fix(dir).contains("chmod go-w /srv/ring"));
        let owner = Distrust::Owner {
            uid: OTHER,
            euid: ME,
        };
        assert_eq!(
            owner.to_string(),
            "is owned by uid 1234, not by you (uid 1000) or root"
        );
        assert!(owner.directory_fix(dir).contains("chown 1000 /srv/ring"));
    }

    #[cfg(unix)]
    #[test]
    fn unknown_group_is_a_configuration_error() {
        let e = Trust::shared("no-such-group-trousseau-test").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e
            .message()
            .contains("\"no-such-group-trousseau-test\" is not a known group"));
        assert!(Trust::shared("a\0b").is_err());
    }
}
