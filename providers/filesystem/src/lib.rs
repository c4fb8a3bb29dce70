//! Repository: a directory of XML files in the ASP.NET Core Data Protection layout
//! (`key-{guid}.xml`, `revocation-….xml`), written atomically (temp file + rename), with
//! deletion and a conditional store (advisory `flock` on the directory, version token = digest
//! of the directory's `*.xml` names and contents).
//!
//! Configuration (JSON): `{"directory": "/path"}`, or `{"aspnet_default": true}` for ASP.NET
//! Core's `~/.aspnet/DataProtection-Keys`; default `$XDG_DATA_HOME/trousseau/key-ring`
//! (`~/.local/share/trousseau/key-ring`).

mod dir;

use std::path::PathBuf;

use serde::Deserialize;
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Factory, PluginDef, ProviderDef, Repository,
    RepositoryDescription, Snapshot,
};

pub use dir::{default_directory, friendly_file_name};

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-filesystem",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "filesystem",
        summary: "a directory of XML files in the ASP.NET Core Data Protection layout",
        config_help: "directory = \"/path/to/keys\" (default $XDG_DATA_HOME/trousseau/key-ring), or aspnet_default = true for ~/.aspnet/DataProtection-Keys",
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
    let directory = match (cfg.directory, cfg.aspnet_default) {
        (Some(_), true) => {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "filesystem repository: set either directory or aspnet_default, not both",
            ))
        }
        (Some(d), false) => d,
        (None, aspnet) => default_directory(aspnet).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                "filesystem repository: HOME is not set; configure directory",
            )
        })?,
    };
    Ok(Box::new(FileSystemRepository::new(directory)))
}

/// The repository over one directory.
#[derive(Debug, Clone)]
pub struct FileSystemRepository {
    dir: PathBuf,
}

impl FileSystemRepository {
    /// A repository in `dir` (created with mode 0700 on first write).
    pub fn new(dir: PathBuf) -> Self {
        FileSystemRepository { dir }
    }
}

impl Repository for FileSystemRepository {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            "filesystem",
            self.dir.display().to_string(),
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot, Error> {
        let (elements, version) = dir::read_all(&self.dir)?;
        Ok(Snapshot::new(elements, version))
    }

    fn store(&self, element: &Element) -> Result<(), Error> {
        let _lock = dir::lock(&self.dir)?;
        dir::write_element(&self.dir, element)
    }

    fn delete(&self, names: &[String]) -> Result<(), Error> {
        let _lock = dir::lock(&self.dir)?;
        dir::delete(&self.dir, names)
    }

    fn store_conditional(
        &self,
        expected_version: &str,
        elements: &[Element],
    ) -> Result<String, Error> {
        let _lock = dir::lock(&self.dir)?;
        let (_, current) = dir::read_all(&self.dir)?;
        if current != expected_version {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "the key ring in {} changed since it was read",
                    self.dir.display()
                ),
            ));
        }
        for e in elements {
            dir::write_element(&self.dir, e)?;
        }
        Ok(dir::read_all(&self.dir)?.1)
    }
}
