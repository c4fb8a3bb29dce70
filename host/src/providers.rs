//! The built-in providers as plain Rust values, for [`crate::Builder`]: a repository
//! (`Filesystem`, `Redis`, or any provider by id with [`RepositorySpec`]) and the key
//! sources that open the ring (`Password`, `KeyFile`, `UserAccount`, `Pkcs11`, or any
//! key source by id with [`SourceSpec::with_config`]). Each is available when its cargo
//! feature is on (`filesystem`, `redis`, `password`, `keyfile`, `user-account`, `pkcs11`).
//!
//! ```
//! use trousseau::providers::{Password, RepositorySpec};
//!
//! let unlock = Password::from_env("RING_PASSWORD");
//! let plugin_repository = RepositorySpec::new("mongo").with("collection", "keys");
//! # let _ = (unlock, plugin_repository);
//! ```

use serde_json::{Map, Value};

pub use crate::masterkey::SourceSpec;

/// A repository: a provider id and its settings. Built-in providers have typed constructors
/// (`Filesystem`, `Redis`); a plugin's repository is named by id with [`RepositorySpec::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct RepositorySpec {
    provider: String,
    settings: Map<String, Value>,
}

impl RepositorySpec {
    /// The repository of provider `provider`, with its default settings.
    pub fn new(provider: impl Into<String>) -> Self {
        RepositorySpec {
            provider: provider.into(),
            settings: Map::new(),
        }
    }

    /// Sets one of the provider's settings (see the provider's documentation, or its
    /// [`ProviderEntry::config_help`](crate::plugins::registry::ProviderEntry::config_help) in
    /// the [`Registry`](crate::Registry), for the names).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.settings.insert(key.to_string(), value.into());
        self
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The settings as the JSON document the provider's factory reads.
    pub fn settings_json(&self) -> String {
        Value::Object(self.settings.clone()).to_string()
    }
}

/// The settings of a key source, as [`SourceSpec`] of `provider`.
fn source(provider: &str, settings: Map<String, Value>) -> SourceSpec {
    SourceSpec::with_config(provider, &Value::Object(settings).to_string())
}

fn one(key: &str, value: impl Into<Value>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(key.to_string(), value.into());
    map
}

/// The `filesystem` repository: a directory of XML files in the ASP.NET Core layout.
#[cfg(feature = "filesystem")]
#[derive(Debug, Clone, Copy)]
pub struct Filesystem;

#[cfg(feature = "filesystem")]
impl Filesystem {
    /// The ring in `directory` (created 0700 when missing; it and its files must not be
    /// writable by others).
    pub fn at(directory: impl AsRef<std::path::Path>) -> RepositorySpec {
        RepositorySpec::new("filesystem").with(
            "directory",
            directory.as_ref().to_string_lossy().into_owned(),
        )
    }

    /// The default location, `$XDG_DATA_HOME/trousseau/key-ring`.
    pub fn default_location() -> RepositorySpec {
        RepositorySpec::new("filesystem")
    }

    /// The folder ASP.NET Core uses under the user profile (`~/.aspnet/DataProtection-Keys`).
    pub fn aspnet_default() -> RepositorySpec {
        RepositorySpec::new("filesystem").with("aspnet_default", true)
    }
}

/// The `redis` repository: a Redis list in the ASP.NET Core layout.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy)]
pub struct Redis;

#[cfg(feature = "redis")]
// `Redis::new` reads as the provider's name; what it makes is the repository's settings.
#[allow(clippy::new_ret_no_self)]
impl Redis {
    /// The list `DataProtection-Keys` (ASP.NET Core's default) on the server at `url`
    /// (`redis://host:port/db`, `redis+unix:///path`, or `rediss://` with the `redis-tls`
    /// feature). Give credentials with [`RepositorySpec::with`]`("password_env", "VAR")`, never
    /// in the URL of a program's source.
    pub fn new(url: &str) -> RepositorySpec {
        RepositorySpec::new("redis").with("url", url)
    }
}

/// The `password` key source.
#[cfg(feature = "password")]
#[derive(Debug, Clone, Copy)]
pub struct Password;

#[cfg(feature = "password")]
impl Password {
    /// Asked through the host's [`Interaction`](trousseau_core::Interaction).
    pub fn prompt() -> SourceSpec {
        SourceSpec::new("password")
    }

    /// Read from the environment variable `name`.
    pub fn from_env(name: &str) -> SourceSpec {
        source("password", one("env", name))
    }

    /// Read from the first line of a regular file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> SourceSpec {
        source(
            "password",
            one("file", path.as_ref().to_string_lossy().into_owned()),
        )
    }
}

/// The `keyfile` key source: a KeePass-compatible key file.
#[cfg(feature = "keyfile")]
#[derive(Debug, Clone, Copy)]
pub struct KeyFile;

#[cfg(feature = "keyfile")]
impl KeyFile {
    /// The key file at `path` (it must exist).
    pub fn at(path: impl AsRef<std::path::Path>) -> SourceSpec {
        source(
            "keyfile",
            one("path", path.as_ref().to_string_lossy().into_owned()),
        )
    }

    /// The key file at `path`, created (0600, KeePass XML 2.0) when the ring's slot is made and
    /// the file does not exist.
    pub fn create(path: impl AsRef<std::path::Path>) -> SourceSpec {
        let mut settings = one("path", path.as_ref().to_string_lossy().into_owned());
        settings.insert("create".into(), "xml2".into());
        source("keyfile", settings)
    }
}

/// The `user-account` key source: a random key of this OS user, kept by the OS (DPAPI on
/// Windows, Keychain on macOS, Secret Service or a 0600 file on Linux).
#[cfg(feature = "user-account")]
#[derive(Debug, Clone, Copy)]
pub struct UserAccount;

#[cfg(feature = "user-account")]
impl UserAccount {
    /// The automatic backend.
    pub fn automatic() -> SourceSpec {
        SourceSpec::new("user-account")
    }
}

/// The `pkcs11` key source: HMAC challenge-response with a key that never leaves a PKCS#11
/// token.
#[cfg(feature = "pkcs11")]
#[derive(Debug, Clone, Copy)]
pub struct Pkcs11;

#[cfg(feature = "pkcs11")]
#[allow(clippy::new_ret_no_self)]
impl Pkcs11 {
    /// The token labelled `token_label` through the PKCS#11 library `module`, its PIN read
    /// from the environment variable `pin_env`.
    pub fn new(
        module: impl AsRef<std::path::Path>,
        token_label: &str,
        pin_env: &str,
    ) -> SourceSpec {
        let mut settings = one("module", module.as_ref().to_string_lossy().into_owned());
        settings.insert("token_label".into(), token_label.into());
        settings.insert("pin".into(), Value::Object(one("env", pin_env)));
        source("pkcs11", settings)
    }
}
