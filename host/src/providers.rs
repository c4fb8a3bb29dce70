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
    ///
    /// ```
    /// use trousseau::RepositorySpec;
    ///
    /// // A plugin's repository, by its provider id and settings.
    /// let mongo = RepositorySpec::new("mongo")
    ///     .with("collection", "keys")
    ///     .with("password_env", "MONGO_PASSWORD");
    /// assert_eq!(mongo.provider(), "mongo");
    /// assert_eq!(
    ///     mongo.settings_json(),
    ///     r#"{"collection":"keys","password_env":"MONGO_PASSWORD"}"#
    /// );
    /// ```
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
#[cfg_attr(
    not(any(feature = "password", feature = "keyfile", feature = "pkcs11")),
    allow(dead_code)
)]
fn source(provider: &str, settings: Map<String, Value>) -> SourceSpec {
    SourceSpec::with_config(provider, &Value::Object(settings).to_string())
}

#[cfg_attr(
    not(any(feature = "password", feature = "keyfile", feature = "pkcs11")),
    allow(dead_code)
)]
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
    ///
    /// ```
    /// use trousseau::providers::Filesystem;
    ///
    /// let spec = Filesystem::at("/var/lib/shop/key-ring");
    /// assert_eq!(spec.settings_json(), r#"{"directory":"/var/lib/shop/key-ring"}"#);
    /// ```
    pub fn at(directory: impl AsRef<std::path::Path>) -> RepositorySpec {
        RepositorySpec::new("filesystem").with(
            "directory",
            directory.as_ref().to_string_lossy().into_owned(),
        )
    }

    /// The default location, `$XDG_DATA_HOME/trousseau/key-ring`
    /// (`~/.local/share/trousseau/key-ring`).
    ///
    /// ```
    /// let spec = trousseau::providers::Filesystem::default_location();
    /// assert_eq!((spec.provider(), spec.settings_json().as_str()), ("filesystem", "{}"));
    /// ```
    pub fn default_location() -> RepositorySpec {
        RepositorySpec::new("filesystem")
    }

    /// The folder ASP.NET Core itself would use on this machine, to share the ring of a .NET
    /// application of the same user (with [`Builder::interop`](crate::Builder::interop)):
    /// `%HOME%\ASP.NET\DataProtection-Keys` on Azure App Service, else under the user profile
    /// (`~/.aspnet/DataProtection-Keys` on Unix, `%LOCALAPPDATA%\ASP.NET\DataProtection-Keys`
    /// on Windows). The repository's location names the rule that applied.
    ///
    /// ```no_run
    /// use trousseau::{providers::Filesystem, Trousseau};
    ///
    /// let tr = Trousseau::builder()
    ///     .repository(Filesystem::aspnet_default())
    ///     .application_name("my-aspnet-app")
    ///     .interop(true)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```no_run
    /// use trousseau::{providers::{Password, Redis}, Trousseau};
    ///
    /// // Needs a Redis server; REDIS_PASSWORD and RING_PASSWORD are read from the environment.
    /// let tr = Trousseau::builder()
    ///     .application_name("shop")
    ///     .repository(
    ///         Redis::new("redis://cache.internal:6379/0").with("password_env", "REDIS_PASSWORD"),
    ///     )
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// Asked through the host's [`Interaction`](trousseau_core::Interaction) (see
    /// [`Builder::interaction`](crate::Builder::interaction)); with the default interaction,
    /// which asks nothing, opening fails.
    ///
    /// ```
    /// use trousseau::{providers::Password, MemoryRepository, Trousseau};
    ///
    /// let nobody_to_ask = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_with(Password::prompt())
    ///     .build();
    /// assert!(nobody_to_ask.is_err());
    /// ```
    pub fn prompt() -> SourceSpec {
        SourceSpec::new("password")
    }

    /// Read from the environment variable `name` (when the ring is opened or created, not
    /// now).
    ///
    /// ```
    /// use trousseau::{providers::Password, MemoryRepository, Trousseau};
    ///
    /// # std::env::set_var("RING_PASSWORD", "a long passphrase");
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env(name: &str) -> SourceSpec {
        source("password", one("env", name))
    }

    /// Read from the first line of a regular file (a mounted secret, a credentials file).
    ///
    /// ```
    /// use trousseau::{providers::Password, MemoryRepository, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("ring-password");
    /// # std::fs::write(&path, "a long passphrase\n")?;
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_with(Password::from_file(&path))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```no_run
    /// use trousseau::{providers::{KeyFile, Password}, Trousseau};
    ///
    /// // The same two factors as a KeePass database opened with a password and a key file.
    /// let tr = Trousseau::builder()
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .unlock_with(KeyFile::at("/etc/shop/ring.keyx"))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(path: impl AsRef<std::path::Path>) -> SourceSpec {
        source(
            "keyfile",
            one("path", path.as_ref().to_string_lossy().into_owned()),
        )
    }

    /// The key file at `path`, created (0600, KeePass XML 2.0) when the ring's slot is made and
    /// the file does not exist.
    ///
    /// ```
    /// use trousseau::{providers::KeyFile, MemoryRepository, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("ring.keyx");
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_with(KeyFile::create(&path))
    ///     .build()?;
    /// assert!(std::fs::read_to_string(&path)?.contains("<KeyFile>"));
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// The automatic backend (DPAPI, Keychain, Secret Service, else a 0600 file).
    ///
    /// ```no_run
    /// use trousseau::{providers::UserAccount, Trousseau};
    ///
    /// // A ring only this OS user can open, with nothing to type.
    /// let tr = Trousseau::builder()
    ///     .unlock_with(UserAccount::automatic())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```no_run
    /// use trousseau::{providers::{Password, Pkcs11}, Trousseau};
    ///
    /// // Needs the token: a password and the token's HMAC answer to the ring's challenge.
    /// let tr = Trousseau::builder()
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .unlock_with(Pkcs11::new("/usr/lib/softhsm/libsofthsm2.so", "ring", "TOKEN_PIN"))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
