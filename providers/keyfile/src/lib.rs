//! Key source: a KeePass-compatible key file (XML 1.0/2.0, 32 raw bytes, 64 hex, else hashed).
//!
//! Reading follows KeePass 2.x exactly ([`interpret`]): XML first (version 1 Base64, version 2
//! hex with its hash checked; comments fine; a DOCTYPE makes it "not XML"), then exactly 32
//! raw bytes, then exactly 64 hex characters, otherwise SHA-256 of the whole file (streamed
//! for files over 1 MiB). A well-formed `<KeyFile>` whose version, data or hash is wrong is a
//! hard error. Where KeePassXC reads a file differently, [`LoadedKeyFile`] says so.
//!
//! Only a regular file is opened (a FIFO, device, socket or directory is refused with a message
//! saying what it is, without being read), and a file over [`MAX_KEY_FILE_SIZE`] (64 MiB) is
//! refused: reading stops there whatever size the file claims.
//!
//! Configuration: `{"path": "/path/to/key.keyx"}`, and optionally `"create": "xml2"` (or
//! `xml1`, `hex`, `binary`) to create the file on enrollment when it does not exist.
//!
//! Public parameters stored at enrollment: `{"format": "xml2", "check": "1a2b3c4d"}` where
//! `check` is [`key_check`]; a file that no longer matches gives [`ErrorCode::WrongKey`]
//! ("this is not the key file this master key was created with").

#![forbid(unsafe_code)]

mod check;
mod create;
mod format;
mod xml;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Factory, Interaction, KeySource,
    MessageLevel, PluginDef, ProviderDef, SecretBytes, SourceDescription, SourceFlags,
};

pub use check::{check_matches, key_check};
pub use create::{create_key_file, generate_key, render, CreateFormat};
pub use format::{
    interpret, is_database_file, load_key_file, KeyFileFormat, LoadedKeyFile, MAX_KEY_FILE_SIZE,
    STREAM_THRESHOLD,
};

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-keyfile",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "keyfile",
        summary: "a KeePass key file (XML 1.0/2.0, 32 raw bytes, 64 hex, else SHA-256 of the file)",
        config_help: "{\"path\": \"/path/key.keyx\"} (required); optional \"create\": \"xml2\"|\"xml1\"|\"hex\"|\"binary\" \
                      creates the file (0600) on enrollment when it does not exist",
        factory: Factory::KeySource(make),
    }],
};

trousseau_core::register_builtin!(PLUGIN);

fn make(config: &str) -> Result<Box<dyn KeySource>, Error> {
    Ok(Box::new(KeyFileSource::from_config(config)?))
}

/// The JSON configuration of a `keyfile` source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileConfig {
    /// Required; missing, it gets its own message (see [`KeyFileSource::from_config`]).
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    create: Option<String>,
}

/// The public parameters stored at enrollment.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PublicParams {
    format: String,
    check: String,
}

/// The key-file key source.
#[derive(Debug, Clone)]
pub struct KeyFileSource {
    path: PathBuf,
    create: Option<CreateFormat>,
}

impl KeyFileSource {
    /// A source reading `path`; with `create`, enrollment creates the file when it is missing.
    pub fn new(path: PathBuf, create: Option<CreateFormat>) -> Self {
        KeyFileSource { path, create }
    }

    /// A source from its JSON configuration.
    pub fn from_config(config: &str) -> Result<Self, Error> {
        let cfg: KeyFileConfig = serde_json::from_str(config).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "keyfile source configuration: {e}; expected {{\"path\": \"/path/key.keyx\"}}"
                ),
            )
        })?;
        let create = cfg
            .create
            .as_deref()
            .map(CreateFormat::parse)
            .transpose()
            .map_err(|e| {
                Error::new(
                    ErrorCode::InvalidConfig,
                    format!("keyfile source \"create\": {}", e.message()),
                )
            })?;
        let path = cfg.path.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                "the keyfile source needs a path: keyfile:path=/path/key.keyx on the command \
                 line, {\"path\": \"/path/key.keyx\"} in JSON, path = \"…\" in the \
                 configuration file",
            )
        })?;
        Ok(KeyFileSource::new(path, create))
    }

    fn report(&self, loaded: &LoadedKeyFile, ui: &dyn Interaction) {
        for d in &loaded.keepassxc_differences {
            ui.message(
                MessageLevel::Warning,
                &format!("key file {}: {d}", self.path.display()),
            );
        }
    }
}

impl KeySource for KeyFileSource {
    fn describe(&self) -> SourceDescription {
        SourceDescription::new(
            "keyfile",
            ComponentKind::KeyFile,
            SourceFlags::NONE,
            format!("key file {}", self.path.display()),
        )
    }

    fn enroll(&self, _ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error> {
        if let (Some(format), false) = (self.create, self.path.exists()) {
            create_key_file(&self.path, format, None)?;
            ui.message(
                MessageLevel::Info,
                &format!("created key file {}", self.path.display()),
            );
        }
        if starts_like_database(&self.path) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "{} is a KeePass database, not a key file; choose a key file",
                    self.path.display()
                ),
            ));
        }
        let loaded = load_key_file(&self.path)?;
        self.report(&loaded, ui);
        let params = PublicParams {
            format: loaded.format.as_str().to_string(),
            check: key_check(loaded.key.expose()),
        };
        let params = serde_json::to_string(&params).map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("encoding public parameters: {e}"),
            )
        })?;
        Ok(Enrollment::new(loaded.key, params))
    }

    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        let loaded = load_key_file(&self.path)?;
        self.report(&loaded, ui);
        let stored = ctx.public_params().trim();
        if !stored.is_empty() && stored != "{}" {
            let params: PublicParams = serde_json::from_str(stored).map_err(|e| {
                Error::new(
                    ErrorCode::CorruptData,
                    format!("stored parameters of key file source are damaged: {e}"),
                )
            })?;
            if !check_matches(loaded.key.expose(), &params.check) {
                return Err(Error::new(
                    ErrorCode::WrongKey,
                    format!(
                        "{} is not the key file this master key was created with (it reads as a {} key file; the master key was made with a {} key file); use the original key file",
                        self.path.display(),
                        loaded.format,
                        params.format
                    ),
                ));
            }
        }
        Ok(loaded.key)
    }
}

/// Whether the file at `path` starts with a KeePass database signature (reads 8 bytes; only
/// a regular file is opened, so a FIFO or device answers `false` and [`load_key_file`] then
/// says what it is).
fn starts_like_database(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    trousseau_core::open_regular_file(path, "")
        .ok()
        .and_then(|(mut f, _)| f.read_exact(&mut head).ok())
        .is_some_and(|()| is_database_file(&head))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
