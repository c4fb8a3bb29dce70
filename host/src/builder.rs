//! [`Builder`]: wiring a [`Trousseau`] by code, in the spirit of ASP.NET Core's
//! `AddDataProtection().PersistKeysTo…().ProtectKeysWith…()`.

use std::{path::Path, sync::Arc, time::Duration};

use trousseau_core::{abi::RepositoryBox, Interaction, NoInteraction, Repository};

use crate::{
    config::Config,
    dataprotection::{
        algorithms::Algorithm, at_rest::KeyEncryption, protector::DEFAULT_MAX_PAYLOAD,
    },
    masterkey::{EverySource, KdfLimits, SourceSpec},
    memory::{MemoryRepository, MEMORY_PROVIDER},
    plugins::Registry,
    policy::Policy,
    providers::RepositorySpec,
    ring::{IfMissing, RingError, RingOpener, RingSettings},
    Trousseau,
};

/// Where the ring lives.
#[derive(Debug)]
enum Store {
    /// A provider of the registry, by id and settings.
    Provider(RepositorySpec),
    /// A repository object of the host.
    InProcess(RepositoryBox),
}

/// Builds a [`Trousseau`]: the repository, the key sources that open the ring, and the
/// data-protection settings. Everything has a default: the filesystem repository in
/// `$XDG_DATA_HOME/trousseau/key-ring`, the application name `trousseau`, keys of 90 days
/// generated when needed, AES-256-CBC + HMAC-SHA256, and a ring created on first use.
///
/// ```
/// use trousseau::{providers::Password, Trousseau};
///
/// # let dir = tempfile::tempdir()?;
/// # std::env::set_var("RING_PASSWORD", "correct horse battery staple");
/// let tr = Trousseau::builder()
///     .application_name("shop")
///     .repository(trousseau::providers::Filesystem::at(dir.path()))
///     .unlock_with(Password::from_env("RING_PASSWORD"))
///     .build()?;
/// let cookies = tr.protector("cookies");
/// let token = cookies.protect(b"session 42")?;
/// assert_eq!(cookies.unprotect(&token)?, b"session 42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Builder {
    application_name: String,
    store: Store,
    settings: RingSettings,
    interaction: Arc<dyn Interaction + Send + Sync>,
    missing: IfMissing,
    max_payload: usize,
    registry: Option<Registry>,
    #[cfg(feature = "dynamic-plugins")]
    plugin_dirs: Vec<std::path::PathBuf>,
    #[cfg(feature = "dynamic-plugins")]
    plugin_pins: Option<Vec<String>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("application_name", &self.application_name)
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            application_name: "trousseau".to_string(),
            store: Store::Provider(RepositorySpec::new("filesystem")),
            settings: RingSettings::default(),
            interaction: Arc::new(NoInteraction),
            missing: IfMissing::Create,
            max_payload: DEFAULT_MAX_PAYLOAD,
            registry: None,
            #[cfg(feature = "dynamic-plugins")]
            plugin_dirs: Vec::new(),
            #[cfg(feature = "dynamic-plugins")]
            plugin_pins: None,
        }
    }
}

impl Builder {
    /// The application name: the first purpose of every protector, so that applications
    /// sharing a ring cannot read each other's payloads (ASP.NET `SetApplicationName`). An
    /// empty name means no implicit purpose.
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// The repository the ring is kept in (see [`crate::providers`]): a built-in provider's
    /// typed constructor, or any provider (a plugin's) by id with [`RepositorySpec::new`].
    ///
    /// ```
    /// use trousseau::{providers::{Filesystem, RepositorySpec}, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let on_disk = Trousseau::builder().repository(Filesystem::at(dir.path()));
    /// let by_id = Trousseau::builder().repository(
    ///     RepositorySpec::new("filesystem").with("directory", dir.path().to_str().ok_or("path")?),
    /// );
    /// # let _ = (on_disk, by_id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn repository(mut self, repository: RepositorySpec) -> Self {
        self.store = Store::Provider(repository);
        self
    }

    /// A repository written in the application itself (any [`Repository`]: a table of the
    /// application's own database, a secrets service); `name` is what messages call it.
    ///
    /// ```
    /// use trousseau::{providers::Password, MemoryRepository, Trousseau};
    ///
    /// # std::env::set_var("RING_PASSWORD", "a long passphrase");
    /// // An encrypted ring (a master-key slot opened by the password) in this process's memory;
    /// // an application's own `impl Repository` goes in the same way.
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("application table", MemoryRepository::new())
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .build()?;
    /// assert!(tr.created().is_some_and(|c| c.slot.is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn repository_in_process(
        mut self,
        name: &'static str,
        repository: impl Repository + 'static,
    ) -> Self {
        self.store = Store::InProcess(RepositoryBox::in_process(name, Box::new(repository)));
        self
    }

    /// An ephemeral ring in this process's memory: keys are made on first use and gone when
    /// the process ends. For tests, and for data that never outlives the process. Nothing
    /// outside the process can write it, so its keys are kept without a master key (interop
    /// mode) and no key source is asked.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::builder()
    ///     .application_name("tests")
    ///     .ephemeral()
    ///     .build()?;
    /// let p = tr.protector("fixtures");
    /// assert_eq!(p.unprotect_str(&p.protect_str("x")?)?, "x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ephemeral(mut self) -> Self {
        self.store = Store::InProcess(RepositoryBox::in_process(
            MEMORY_PROVIDER,
            Box::new(MemoryRepository::new()),
        ));
        // Nothing outside this process can write the ring: its keys need no master key.
        self.settings.interop = true;
        self
    }

    /// A key source that opens the ring (repeatable, in order; see [`crate::providers`]).
    /// Where a key file or token is comes only from here, never from the ring. A ring created
    /// by this process is protected by exactly these sources; without any, by the
    /// `user-account` source when installed, else a password.
    ///
    /// ```
    /// use trousseau::{providers::{Filesystem, KeyFile, Password}, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("RING_PASSWORD", "a long passphrase");
    /// // Two factors, composed as KeePass does: a password and a key file (made on first use).
    /// let key_file = dir.path().join("ring.keyx");
    /// let tr = Trousseau::builder()
    ///     .repository(Filesystem::at(dir.path().join("ring")))
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .unlock_with(KeyFile::create(&key_file))
    ///     .build()?;
    /// assert!(key_file.is_file());
    /// assert_eq!(tr.created().map(|c| c.sources.len()), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unlock_with(mut self, source: SourceSpec) -> Self {
        self.settings.unlock_sources.push(source);
        self
    }

    /// How the key sources ask for what they need (a password, a PIN): a terminal, a dialog.
    /// Default: nothing is asked, so a source that must ask fails (a service has nobody to
    /// ask).
    ///
    /// ```
    /// use trousseau::{providers::Password, MemoryRepository, Trousseau};
    /// use trousseau_core::{Error, ErrorCode, Interaction, MessageLevel, SecretBytes};
    ///
    /// /// Answers password prompts from a secret the application already holds.
    /// struct Vault(String);
    ///
    /// impl Interaction for Vault {
    ///     fn message(&self, _level: MessageLevel, _text: &str) {}
    ///     fn request_secret(&self, _prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
    ///         Ok(SecretBytes::copy_from(self.0.as_bytes()))
    ///     }
    ///     fn request_value(&self, prompt: &str) -> Result<String, Error> {
    ///         Err(Error::new(ErrorCode::Cancelled, format!("nobody answers {prompt:?}")))
    ///     }
    ///     fn confirm(&self, _question: &str, default: bool) -> Result<bool, Error> {
    ///         Ok(default)
    ///     }
    /// }
    ///
    /// # let secret = String::from("a long passphrase");
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_with(Password::prompt())
    ///     .interaction(Vault(secret))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interaction(mut self, interaction: impl Interaction + Send + Sync + 'static) -> Self {
        self.interaction = Arc::new(interaction);
        self
    }

    /// The lifetime of new keys in days (7 to 36 500; default 90).
    pub fn key_lifetime_days(mut self, days: i64) -> Self {
        self.settings.options.new_key_lifetime_days = days;
        self
    }

    /// Whether keys are generated when the ring has no usable key (default true). Off: only an
    /// operator makes keys ([`crate::dataprotection::manager::KeyManager::create_key`]).
    pub fn auto_generate_keys(mut self, on: bool) -> Self {
        self.settings.options.auto_generate_keys = on;
        self
    }

    /// The algorithm of new keys (default AES-256-CBC with HMAC-SHA256, as ASP.NET Core).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.settings.options.algorithm = algorithm;
        self
    }

    /// Interop mode: keys are written unencrypted exactly as ASP.NET Core on Linux does, so
    /// .NET applications can share the ring, and a ring without master-key slots is trusted.
    /// Only for repositories that nobody untrusted can write.
    ///
    /// ```
    /// use trousseau::{providers::Filesystem, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// // The folder an ASP.NET Core application persists its keys to (PersistKeysToFileSystem).
    /// let tr = Trousseau::builder()
    ///     .repository(Filesystem::at(dir.path()))
    ///     .application_name("my-aspnet-app") // its SetApplicationName
    ///     .interop(true)
    ///     .build()?;
    /// tr.protector("cookies").protect(b"")?; // the first key, as key-*.xml readable by .NET
    /// let xml = std::fs::read_dir(dir.path())?.filter_map(Result::ok);
    /// assert!(xml.into_iter().any(|e| e.file_name().to_string_lossy().starts_with("key-")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interop(mut self, on: bool) -> Self {
        self.settings.interop = on;
        self
    }

    /// Interop mode with key secrets protected at rest by `keys` instead of stored in clear:
    /// typically [`CertificateKeys`](crate::dataprotection::xmlenc::CertificateKeys) (feature
    /// `certificate-keys`), byte-compatible with ASP.NET Core's `ProtectKeysWithCertificate`,
    /// so that a .NET farm configured with the same certificate reads what this node writes
    /// and the other way round. The repository stays trusted, as in ASP.NET Core.
    ///
    /// ```no_run
    /// # #[cfg(feature = "certificate-keys")] {
    /// use std::{path::Path, sync::Arc};
    /// use trousseau::{
    ///     dataprotection::xmlenc::{Certificate, CertificateKeys},
    ///     providers::Filesystem,
    ///     Trousseau,
    /// };
    ///
    /// // New keys are encrypted for this year's certificate; keys of last year's still open.
    /// let current = Certificate::load(Path::new("/etc/app/dp-2026.pem"), None, "")?;
    /// let password = std::env::var("DP_2025_PASSWORD")?;
    /// let older = Certificate::load(Path::new("/etc/app/dp-2025.pfx"), None, &password)?;
    /// let tr = Trousseau::builder()
    ///     .repository(Filesystem::at("/var/lib/app/keys"))
    ///     .application_name("my-aspnet-app")
    ///     .protect_keys_with(Arc::new(CertificateKeys::new(current, vec![older])))
    ///     .build()?;
    /// # let _ = tr;
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protect_keys_with(mut self, keys: Arc<dyn KeyEncryption>) -> Self {
        self.settings.interop = true;
        self.settings.interop_keys = Some(keys);
        self
    }

    /// Interop mode with new key secrets protected with Windows DPAPI, byte-compatible with
    /// ASP.NET Core's `ProtectKeysWithDpapi` (`DpapiScope::LocalMachine` for its
    /// `protectToLocalMachine: true`): an ASP.NET Core application running as the same Windows
    /// user (or on the same machine) reads what this node writes, and the other way round.
    /// Refused, with the reason, on systems other than Windows. (Every ring on Windows reads
    /// DPAPI keys this user or machine can open; this chooses how new keys are written.)
    ///
    /// ```no_run
    /// use trousseau::{dataprotection::dpapi::DpapiScope, providers::Filesystem, Trousseau};
    ///
    /// let tr = Trousseau::builder()
    ///     .repository(Filesystem::at(r"C:\ProgramData\app\keys"))
    ///     .application_name("my-aspnet-app")
    ///     .protect_keys_with_dpapi(DpapiScope::CurrentUser)?
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protect_keys_with_dpapi(
        self,
        scope: crate::dataprotection::dpapi::DpapiScope,
    ) -> Result<Self, RingError> {
        let keys = crate::dataprotection::dpapi::DpapiKeys::new(scope)
            .map_err(|e| RingError::KeyProtection(e.to_string()))?;
        Ok(self.protect_keys_with(Arc::new(keys)))
    }

    /// Whether a missing ring is created (default) or [`RingError::NoRing`] is returned.
    ///
    /// ```
    /// use trousseau::{Hint, MemoryRepository, RingError, Trousseau};
    ///
    /// let missing = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .create_if_missing(false)
    ///     .build();
    /// let error = missing.err().ok_or("an empty repository holds no ring")?;
    /// assert!(matches!(error, RingError::NoRing { .. }));
    /// assert_eq!(error.hint(), Some(Hint::CreateRing));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.missing = if create {
            IfMissing::Create
        } else {
            IfMissing::Fail
        };
        self
    }

    /// The largest plaintext protected or payload unprotected, in bytes (default 16 MiB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Ceilings on the KDF parameters of slots read from the ring.
    pub fn kdf_limits(mut self, limits: KdfLimits) -> Self {
        self.settings.kdf_limits = limits;
        self
    }

    /// How long opening a slot this builder creates should take on this machine: its
    /// Argon2id is calibrated to it, between the floor (19 MiB, 2 passes) and the KDF
    /// ceilings (see [`crate::ring::RingSettings::unlock_time`]; default: fixed parameters,
    /// Argon2id 64 MiB, 2 passes, 2 lanes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use trousseau::{MemoryRepository, Trousseau};
    ///
    /// let tr = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .unlock_time(Duration::from_millis(100))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unlock_time(mut self, target: Duration) -> Self {
        self.settings.unlock_time = Some(target);
        self
    }

    /// What to do with a new password whose estimated strength is under the floor (default:
    /// use it, with a warning through the interaction).
    pub fn weak_passwords(mut self, weak: crate::ring::WeakPasswords) -> Self {
        self.settings.weak_passwords = weak;
        self
    }

    /// The master-key policy new slots must meet, and slot expiry.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.settings.policy = policy;
        self
    }

    /// A registry of providers of the host's own making (by default: the built-in providers
    /// of the enabled features, plus plugins from `Builder::plugin_dir` with the
    /// `dynamic-plugins` feature).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Loads the plugins of `dir` (checked like every plugin directory: owner, permissions,
    /// exported symbol) into the default registry.
    #[cfg(feature = "dynamic-plugins")]
    pub fn plugin_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.plugin_dirs.push(dir.into());
        self
    }

    /// Loads only plugin files whose SHA-256 digest is one of `pins` (`sha256:` and 64 hex
    /// digits each), from every [`Builder::plugin_dir`].
    #[cfg(feature = "dynamic-plugins")]
    pub fn plugin_pins(mut self, pins: Vec<String>) -> Self {
        self.plugin_pins = Some(pins);
        self
    }

    /// The builder a configuration file describes (see [`crate::config`]): `[repository]`,
    /// `[[master_key.sources]]` (the unlock sources), `[data_protection]`, `[policy]`,
    /// `[master_key.kdf_limits]` and, with `dynamic-plugins`, `[plugins] dirs` and `pins`. The
    /// result can still be changed before [`Builder::build`].
    ///
    /// ```
    /// use std::path::Path;
    /// use trousseau::{providers::Password, Config, Trousseau};
    ///
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("RING_PASSWORD", "a long passphrase");
    /// # let directory = dir.path().to_str().ok_or("path")?;
    /// let text = format!(
    ///     r#"
    ///     [repository]
    ///     provider = "filesystem"
    ///     directory = "{directory}"
    ///     [data_protection]
    ///     application_name = "shop"
    ///     key_lifetime_days = 30
    ///     "#
    /// );
    /// let config = Config::parse(&text, Path::new("(inline)"))?;
    /// let tr = trousseau::Builder::from_config(&config)?
    ///     .unlock_with(Password::from_env("RING_PASSWORD"))
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(config: &Config) -> Result<Builder, RingError> {
        let dp = &config.data_protection;
        let mut b = Builder::default()
            .key_lifetime_days(dp.key_lifetime_days.unwrap_or(90))
            .auto_generate_keys(dp.auto_generate_keys.unwrap_or(true))
            .interop(dp.interop.unwrap_or(false))
            .max_payload(dp.max_payload_size.unwrap_or(DEFAULT_MAX_PAYLOAD))
            .kdf_limits(config.master_key.kdf_limits)
            .policy(Policy::from_config(&config.policy)?);
        if let Some(keys) = crate::ring::configured_key_protection(config)? {
            b = b.protect_keys_with(keys);
        }
        if let Some(seconds) = config.master_key.unlock_time {
            let target = crate::masterkey::unlock_time(seconds).map_err(|why| {
                crate::masterkey::MasterKeyError::KdfSettings(format!(
                    "[master_key] unlock_time: {why}"
                ))
            })?;
            b = b.unlock_time(target);
        }
        if let Some(name) = &dp.application_name {
            b = b.application_name(name);
        }
        if let Some(repo) = &config.repository {
            let mut spec = RepositorySpec::new(&repo.provider);
            for (key, value) in &repo.settings {
                let value =
                    serde_json::to_value(value).map_err(|e| crate::config::ConfigError::Parse {
                        path: "[repository]".into(),
                        line: 0,
                        column: 0,
                        message: format!("{key}: {e}"),
                    })?;
                spec = spec.with(key, value);
            }
            b = b.repository(spec);
        }
        for source in &config.master_key.sources {
            b = b.unlock_with(SourceSpec::with_config(
                &source.provider,
                &source.settings_json(),
            ));
        }
        #[cfg(feature = "dynamic-plugins")]
        {
            for dir in &config.plugins.dirs {
                b = b.plugin_dir(dir);
            }
            if let Some(pins) = &config.plugins.pins {
                b = b.plugin_pins(pins.clone());
            }
        }
        Ok(b)
    }

    /// Reads the configuration file at `path` and calls [`Builder::from_config`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # std::env::set_var("RING_PASSWORD", "a long passphrase");
    /// let path = dir.path().join("trousseau.toml");
    /// std::fs::write(
    ///     &path,
    ///     format!(
    ///         "[repository]\nprovider = \"filesystem\"\ndirectory = {:?}\n\n\
    ///          [[master_key.sources]]\nprovider = \"password\"\nenv = \"RING_PASSWORD\"\n",
    ///         dir.path().join("ring"),
    ///     ),
    /// )?;
    /// let tr = trousseau::Builder::from_config_file(&path)?
    ///     .application_name("overridden in code")
    ///     .build()?;
    /// # let _ = tr;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Builder, RingError> {
        let (config, _) = Config::load(Some(path.as_ref()))?;
        Builder::from_config(&config)
    }

    /// Opens the ring (creating it when missing, unless told not to) and returns the engine.
    /// Opening an encrypted ring runs its slot's KDF (tens of milliseconds to seconds): build
    /// once at start-up and share the result.
    pub fn build(self) -> Result<Trousseau, RingError> {
        let registry = match self.registry {
            Some(registry) => registry,
            #[cfg(feature = "dynamic-plugins")]
            None => {
                let mut registry = Registry::with_builtins(self.plugin_pins.as_deref())?;
                for dir in &self.plugin_dirs {
                    registry.load_dir(dir, crate::plugins::DirSource::ConfigFile)?;
                }
                registry
            }
            #[cfg(not(feature = "dynamic-plugins"))]
            None => Registry::with_builtins(None)?,
        };
        let repository = match self.store {
            Store::InProcess(repository) => repository,
            Store::Provider(spec) => {
                crate::ring::check_provider(
                    &registry,
                    spec.provider(),
                    trousseau_core::ProviderKind::Repository,
                    "the repository provider",
                )?;
                registry
                    .repository(spec.provider(), &spec.settings_json())
                    .map_err(|error| RingError::Repository {
                        provider: spec.provider().to_string(),
                        error,
                    })?
            }
        };
        let opener = RingOpener::new(&registry, self.settings)?;
        let opened = opener.open(repository, &EverySource(&*self.interaction), self.missing)?;
        Ok(Trousseau::new(
            opened,
            self.application_name,
            self.max_payload,
        ))
    }
}
