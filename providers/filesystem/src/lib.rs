//! Repository: a directory of XML files in the ASP.NET Core Data Protection layout
//! (`key-{guid}.xml`, `revocation-….xml`), written atomically (temp file + rename, directory
//! synced), with deletion and a conditional store (advisory `flock` on the directory, version
//! token = digest of the directory's trusted `*.xml` names and contents). Unix only.
//!
//! Configuration (JSON): `{"directory": "/path"}`, or `{"aspnet_default": true}` for the
//! directory ASP.NET Core itself would use on this machine (Azure App Service's `%HOME%`, else
//! the user profile: `~/.aspnet/DataProtection-Keys` on Unix; the rules are in [`aspnet`], and
//! the repository's location says which one applied); default `$XDG_DATA_HOME/trousseau/key-ring`
//! (`~/.local/share/trousseau/key-ring`). Optional `"shared_group": "name"` for a directory
//! that several users (a farm's nodes) write together.
//!
//! # Trust
//!
//! Someone who can write the directory but holds no master key must at most make nodes refuse
//! to work, loudly. So, on every load and every write:
//!
//! - The directory must not be writable by group or others and must belong to the current
//!   effective user or root; otherwise every operation fails with
//!   [`ErrorCode::InvalidConfig`], naming the directory, the problem and the fix. A
//!   world-writable directory such as `/tmp` is never accepted, sticky or not.
//! - Each `*.xml` file must be a regular file (a symbolic link is never followed, a FIFO, device
//!   or socket never opened; the type is checked before opening and again on the descriptor
//!   opened with `O_NOFOLLOW | O_NONBLOCK`), not writable by group or others, owned by the
//!   current user or root, at most 1 MiB and UTF-8. A file that is not is *skipped* with one
//!   warning naming it and why: one planted file must not make the whole ring unusable. More
//!   than 64 MiB of `*.xml` files in all is an error ([`ErrorCode::CorruptData`]).
//! - With `shared_group`, the directory and files may also be writable by that group and owned
//!   by anyone, when their group is that group (its members are the ring's writers); never
//!   world-writable. New files are then mode 0640 and given to that group, and the directory
//!   must exist already (e.g. `mkdir DIR && chgrp GROUP DIR && chmod 2770 DIR`). An unknown
//!   group is an [`ErrorCode::InvalidConfig`] error.
//!
//! Otherwise the directory is created with mode 0700 and files with mode 0600.
//!
//! # Names
//!
//! An element is stored as `<friendly name>.xml` when its name matches `[A-Za-z0-9_-]+`, else
//! as `<random GUID>.xml` (as ASP.NET Core does). A load names each element after its file's
//! stem, whatever characters it holds, and [`Repository::delete`] removes exactly the files so
//! named: an element can always be deleted by the name a load gave it.
//!
//! # All-or-nothing conditional store
//!
//! A conditional store of several elements is crash-atomic: the elements go to temp files, a
//! journal (`.pending-store`) records the renames, then the renames happen and the journal is
//! removed. Whoever next takes the lock (store, delete, conditional store, or a load that finds
//! a journal) completes the renames first. The journal is a header line, then one line per
//! rename, `{guid}.tmp <name>.xml`; one that says anything else, or is not a trusted regular
//! file, is never obeyed: every operation fails with [`ErrorCode::CorruptData`] naming it until
//! it is removed. A load takes the lock only when a journal exists, so the common read stays
//! lock-free. Temp files (`{guid}.tmp`) untouched for 10 minutes (younger ones may be ASP.NET
//! Core's, which takes no lock) are removed by whoever holds the lock.
//!
//! Test hook, debug builds only: with `TROUSSEAU_FAILPOINT_FS_RENAMES=N` in the environment, a
//! multi-element [`Repository::store_conditional`] kills its own process with SIGKILL right
//! after the N-th rename (`0`: after writing the journal, before any rename; `-1`: after the
//! first temp file, before the journal). Release builds do not contain it.

#![deny(unsafe_code)]

pub mod aspnet;
mod dir;
mod journal;
mod trust;

use std::path::PathBuf;

use serde::Deserialize;
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Factory, PluginDef, ProviderDef, Repository,
    RepositoryDescription, Snapshot,
};

pub use aspnet::AspNetDefault;
pub use dir::{default_directory, friendly_file_name, MAX_ELEMENT_BYTES, MAX_RING_BYTES};
pub use journal::{FAILPOINT_ENV, JOURNAL};

use trust::Trust;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-filesystem",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "filesystem",
        summary: "a directory of XML files in the ASP.NET Core Data Protection layout",
        config_help: "directory = \"/path/to/keys\" (default $XDG_DATA_HOME/trousseau/key-ring), or aspnet_default = true for the directory ASP.NET Core would use here (Azure App Service: %HOME%\\ASP.NET\\DataProtection-Keys; else the user profile: ~/.aspnet/DataProtection-Keys on Unix, %LOCALAPPDATA%\\ASP.NET\\DataProtection-Keys on Windows); the directory and its files must not be writable by group or others and must belong to you or root, unless shared_group = \"group\": then they may be group-writable and owned by any member when their group is that group (never world-writable)",
        factory: Factory::Repository(make),
    }],
};

trousseau_core::register_builtin!(PLUGIN);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    directory: Option<PathBuf>,
    #[serde(default)]
    aspnet_default: bool,
    shared_group: Option<String>,
}

fn make(config: &str) -> Result<Box<dyn Repository>, Error> {
    let text = if config.trim().is_empty() {
        "{}"
    } else {
        config
    };
    let cfg: Config = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorCode::InvalidConfig,
            format!("filesystem repository configuration: {e}"),
        )
    })?;
    let (directory, origin) = match (cfg.directory, cfg.aspnet_default) {
        (Some(_), true) => {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "filesystem repository: set either directory or aspnet_default, not both",
            ))
        }
        (Some(d), false) => (d, None),
        (None, true) => {
            let (dir, rule) = aspnet_default_directory()?;
            (dir, Some(rule))
        }
        (None, false) => (
            default_directory().ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidConfig,
                    "filesystem repository: HOME is not set; configure directory",
                )
            })?,
            None,
        ),
    };
    let mut repository = match cfg.shared_group {
        Some(group) => FileSystemRepository::with_shared_group(directory, &group)?,
        None => FileSystemRepository::new(directory),
    };
    repository.origin = origin;
    Ok(Box::new(repository))
}

/// The directory ASP.NET Core would use on this machine ([`aspnet::resolve`]), or why there
/// is none this repository can use.
fn aspnet_default_directory() -> Result<(PathBuf, aspnet::Rule), Error> {
    let var = |name: &str| std::env::var_os(name);
    let invalid = |why: String| Err(Error::new(ErrorCode::InvalidConfig, why));
    match aspnet::resolve(&aspnet::Machine::current(&var)) {
        AspNetDefault::Directory { path, rule } if path.is_absolute() => Ok((path, rule)),
        AspNetDefault::Directory { path, rule } => invalid(format!(
            "filesystem repository: ASP.NET Core would use the relative directory {} ({}, \
             empty), which depends on each program's working directory; configure directory",
            path.display(),
            rule.describe()
        )),
        AspNetDefault::Registry => invalid(
            "filesystem repository: with no user profile, ASP.NET Core keeps its keys in the \
             registry (IIS): use the registry repository with key = \
             HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\ASP.NET\\4.0.30319.0\\AutoGenKeys\\<SID>\\DataProtection, \
             <SID> being the account's (`whoami /user`)"
                .into(),
        ),
        AspNetDefault::InMemory => invalid(
            "filesystem repository: ASP.NET Core would keep its keys in memory only here (none \
             of WEBSITE_INSTANCE_ID, LOCALAPPDATA, USERPROFILE, HOME or XDG_DATA_HOME is set), \
             so there is no ring to share; configure directory"
                .into(),
        ),
    }
}

/// The repository over one directory.
#[derive(Debug, Clone)]
pub struct FileSystemRepository {
    dir: PathBuf,
    trust: Trust,
    /// Which of ASP.NET Core's default-location rules chose `dir` (`aspnet_default`).
    origin: Option<aspnet::Rule>,
}

impl FileSystemRepository {
    /// A repository in `dir` (created with mode 0700 on first write) that trusts only files of
    /// the current effective user and root (see the crate docs).
    pub fn new(dir: PathBuf) -> Self {
        FileSystemRepository {
            dir,
            trust: Trust::private(),
            origin: None,
        }
    }

    /// A repository in the existing directory `dir` shared by the members of `group`: the
    /// directory and files may also be group-writable and owned by anyone when their group is
    /// `group`. An unknown group is an [`ErrorCode::InvalidConfig`] error.
    pub fn with_shared_group(dir: PathBuf, group: &str) -> Result<Self, Error> {
        Ok(FileSystemRepository {
            dir,
            trust: Trust::shared(group)?,
            origin: None,
        })
    }

    /// The lock, after completing any interrupted store and removing stale temp files.
    fn lock(&self) -> Result<dir::DirLock, Error> {
        let lock = dir::lock(&self.dir, &self.trust)?;
        journal::recover(&lock, &self.dir, &self.trust)?;
        Ok(lock)
    }

    fn read(&self) -> Result<Snapshot, Error> {
        let (elements, version) = dir::read_all(&self.dir, &self.trust)?;
        Ok(Snapshot::new(elements, version))
    }
}

impl Repository for FileSystemRepository {
    fn describe(&self) -> RepositoryDescription {
        let location = match self.origin {
            Some(rule) => format!(
                "{} (ASP.NET Core's default location, {})",
                self.dir.display(),
                rule.describe()
            ),
            None => self.dir.display().to_string(),
        };
        RepositoryDescription::new(
            "filesystem",
            location,
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    /// Lock-free unless a journal is present before or after the read (a store was
    /// interrupted, or is under way): then under the lock, which completes it first.
    fn load(&self) -> Result<Snapshot, Error> {
        if !journal::pending(&self.dir)? {
            let snapshot = self.read()?;
            if !journal::pending(&self.dir)? {
                return Ok(snapshot);
            }
        }
        let _lock = self.lock()?;
        self.read()
    }

    fn store(&self, element: &Element) -> Result<(), Error> {
        let lock = self.lock()?;
        dir::write_element(&lock, &self.dir, element, &self.trust)
    }

    fn delete(&self, names: &[String]) -> Result<(), Error> {
        let lock = self.lock()?;
        dir::delete(&lock, &self.dir, names)
    }

    /// All-or-nothing, also across a crash (see the crate docs).
    fn store_conditional(
        &self,
        expected_version: &str,
        elements: &[Element],
    ) -> Result<String, Error> {
        let lock = self.lock()?;
        let (_, current) = dir::read_all(&self.dir, &self.trust)?;
        if current != expected_version {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "the key ring in {} changed since it was read; read it again and retry",
                    self.dir.display()
                ),
            ));
        }
        match elements {
            [] => {}
            [one] => dir::write_element(&lock, &self.dir, one, &self.trust)?,
            _ => journal::store_all(&lock, &self.dir, elements, &self.trust)?,
        }
        Ok(dir::read_all(&self.dir, &self.trust)?.1)
    }
}
