//! The provider registry: built-ins (collected with `inventory`) and dynamic plugins, presented
//! as one set keyed by provider id, instantiated through the same ABI objects.

#[cfg(feature = "dynamic-plugins")]
use std::path::Path;
use std::{collections::BTreeMap, fmt, path::PathBuf};

#[cfg(feature = "dynamic-plugins")]
use trousseau_core::abi::DynamicPlugin;
use trousseau_core::{
    abi::{self, KeySourceBox, RepositoryBox},
    Error, ErrorCode, PluginDef, PluginInfo, ProviderInfo, ProviderKind,
};

#[cfg(feature = "dynamic-plugins")]
use super::{admission, search::DirSource};

/// Where a provider comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Linked into this binary.
    Builtin,
    /// Loaded from a plugin file.
    Plugin(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built-in"),
            Origin::Plugin(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Builtin(&'static PluginDef),
    #[cfg(feature = "dynamic-plugins")]
    Dynamic(DynamicPlugin),
}

/// One provider in the registry.
#[derive(Clone)]
pub struct ProviderEntry {
    info: ProviderInfo,
    plugin_name: String,
    plugin_version: String,
    origin: Origin,
    backend: Backend,
}

impl fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("id", &self.info.id())
            .field("origin", &self.origin)
            .finish()
    }
}

impl ProviderEntry {
    /// Provider id.
    pub fn id(&self) -> &str {
        self.info.id()
    }
    /// Provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.info.kind()
    }
    /// One-line summary.
    pub fn summary(&self) -> &str {
        self.info.summary()
    }
    /// Configuration help text.
    pub fn config_help(&self) -> &str {
        self.info.config_help()
    }
    /// Name of the plugin that offers it.
    pub fn plugin_name(&self) -> &str {
        &self.plugin_name
    }
    /// Version of that plugin.
    pub fn version(&self) -> &str {
        &self.plugin_version
    }
    /// Built-in or the plugin file.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

/// A plugin file that was not loaded, and why (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The file.
    pub path: PathBuf,
    /// Why, in one line.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin {} refused: {}", self.path.display(), self.reason)
    }
}

/// Errors that stop the registry from being built at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A plugin directory named explicitly does not exist or cannot be read.
    #[error("plugin directory {path} (from {source_name}): {reason}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Where it was named.
        source_name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Two built-in providers share an id (a build mistake).
    #[error("two built-in providers have the id {0:?}")]
    BuiltinClash(String),
    /// A pin in the configuration is malformed.
    #[error("{0}")]
    Pin(String),
}

/// The set of available providers: the built-ins of the enabled features, and plugin files
/// loaded with the `dynamic-plugins` feature.
///
/// ```
/// use trousseau::Registry;
/// use trousseau_core::ProviderKind;
///
/// let registry = Registry::with_builtins(None)?;
/// for p in registry.providers() {
///     println!("{} ({}, {}): {}", p.id(), p.kind().as_str(), p.origin(), p.summary());
/// }
/// let password = registry.provider("password").ok_or("a default feature")?;
/// assert_eq!(password.kind(), ProviderKind::KeySource);
/// // Providers are made from their JSON settings.
/// let source = registry.key_source("password", r#"{"env": "RING_PASSWORD"}"#)?;
/// assert!(registry.repository("no-such-provider", "{}").is_err());
/// # let _ = source;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Registry {
    entries: BTreeMap<String, ProviderEntry>,
    refusals: Vec<Refusal>,
    #[cfg(feature = "dynamic-plugins")]
    pins: Option<Vec<String>>,
}

impl Registry {
    /// A registry with every built-in provider linked into this binary and no plugins.
    /// `pins`, when set, restricts which plugin files may be loaded later (without the
    /// `dynamic-plugins` feature no plugin file is ever loaded, and `pins` is not read).
    pub fn with_builtins(pins: Option<&[String]>) -> Result<Registry, RegistryError> {
        #[cfg(feature = "dynamic-plugins")]
        let pins = pins
            .map(|ps| {
                ps.iter()
                    .map(|p| admission::normalise_pin(p))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(RegistryError::Pin)?;
        #[cfg(not(feature = "dynamic-plugins"))]
        let _ = pins;
        let mut registry = Registry {
            entries: BTreeMap::new(),
            refusals: Vec::new(),
            #[cfg(feature = "dynamic-plugins")]
            pins,
        };
        for def in trousseau_core::builtin_plugins() {
            let info = def.info();
            registry
                .add(&info, Origin::Builtin, Backend::Builtin(def))
                .map_err(|_| {
                    RegistryError::BuiltinClash(
                        info.providers()
                            .iter()
                            .find(|p| registry.entries.contains_key(p.id()))
                            .map(|p| p.id().to_string())
                            .unwrap_or_default(),
                    )
                })?;
        }
        Ok(registry)
    }

    /// Loads every library in `dir` (sorted by name), recording refusals and carrying on past
    /// them. A missing directory is an error unless it is the default one.
    ///
    /// The directory itself is checked first ([`admission::check_directory`]): when it may be
    /// written by someone else, every library in it is refused with that reason. Each entry is
    /// then admitted by [`admission::admit_entry`] (regular files only; symbolic links only
    /// into safe directories).
    #[cfg(feature = "dynamic-plugins")]
    pub fn load_dir(&mut self, dir: &Path, source: DirSource) -> Result<(), RegistryError> {
        let read = match std::fs::read_dir(dir) {
            Ok(r) => r,
            Err(e) if source == DirSource::Default && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(())
            }
            Err(e) => {
                return Err(RegistryError::Directory {
                    path: dir.to_path_buf(),
                    source_name: source.as_str(),
                    reason: if e.kind() == std::io::ErrorKind::NotFound {
                        "does not exist; create it or fix the setting".to_string()
                    } else {
                        e.to_string()
                    },
                })
            }
        };
        let unsafe_dir = admission::check_directory(dir).err();
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| super::search::is_library(p))
            .collect();
        files.sort();
        for file in files {
            let loaded = match &unsafe_dir {
                Some(reason) => Err(Refusal {
                    path: file,
                    reason: reason.clone(),
                }),
                None => self.load_entry(&file),
            };
            if let Err(refusal) = loaded {
                tracing::debug!("{refusal}");
                self.refusals.push(refusal);
            }
        }
        Ok(())
    }

    /// Loads one plugin file named explicitly and registers its providers (all or none). The
    /// file is checked by [`admission::admit`]; its directory is not (see [`Self::load_dir`]).
    #[cfg(feature = "dynamic-plugins")]
    pub fn load_file(&mut self, path: &Path) -> Result<PluginInfo, Refusal> {
        let admitted = admission::admit(path, self.pins.as_deref()).map_err(refusal(path))?;
        self.register(path, admitted)
    }

    /// Loads one entry of a checked plugin directory ([`admission::admit_entry`]).
    #[cfg(feature = "dynamic-plugins")]
    fn load_entry(&mut self, entry: &Path) -> Result<PluginInfo, Refusal> {
        let admitted =
            admission::admit_entry(entry, self.pins.as_deref()).map_err(refusal(entry))?;
        self.register(entry, admitted)
    }

    /// Loads an admitted file and registers its providers under `path` (all or none).
    #[cfg(feature = "dynamic-plugins")]
    fn register(
        &mut self,
        path: &Path,
        admitted: admission::AdmittedFile,
    ) -> Result<PluginInfo, Refusal> {
        let (plugin, info) = load_admitted(path, admitted)?;
        self.add(
            &info,
            Origin::Plugin(path.to_path_buf()),
            Backend::Dynamic(plugin),
        )
        .map_err(refusal(path))?;
        Ok(info)
    }

    fn add(&mut self, info: &PluginInfo, origin: Origin, backend: Backend) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for p in info.providers() {
            if let Some(existing) = self.entries.get(p.id()) {
                return Err(format!(
                    "provider id {:?} clashes: it is already provided by {} (plugin {}); \
                     remove one of the two plugins",
                    p.id(),
                    existing.origin,
                    existing.plugin_name
                ));
            }
            if !seen.insert(p.id()) {
                return Err(format!("the plugin offers provider id {:?} twice", p.id()));
            }
        }
        for p in info.providers() {
            self.entries.insert(
                p.id().to_string(),
                ProviderEntry {
                    info: p.clone(),
                    plugin_name: info.name().to_string(),
                    plugin_version: info.version().to_string(),
                    origin: origin.clone(),
                    backend,
                },
            );
        }
        Ok(())
    }

    /// Every provider, sorted by id.
    pub fn providers(&self) -> impl Iterator<Item = &ProviderEntry> {
        self.entries.values()
    }

    /// The provider with `id`.
    pub fn provider(&self, id: &str) -> Option<&ProviderEntry> {
        self.entries.get(id)
    }

    /// Plugin files that were refused.
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    fn entry(&self, id: &str, kind: ProviderKind) -> Result<&ProviderEntry, Error> {
        let entry = self.entries.get(id).ok_or_else(|| {
            let known: Vec<&str> = self
                .entries
                .values()
                .filter(|e| e.kind() == kind)
                .map(|e| e.id())
                .collect();
            let mut msg = format!(
                "unknown {} provider {id:?}; available: {}",
                kind.as_str(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
            if !self.refusals.is_empty() {
                msg.push_str(&format!(
                    " ({} plugin file(s) were refused when loaded)",
                    self.refusals.len()
                ));
            }
            Error::new(ErrorCode::NotFound, msg)
        })?;
        if entry.kind() != kind {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "provider {id:?} is a {}, not a {}",
                    entry.kind().as_str(),
                    kind.as_str()
                ),
            ));
        }
        Ok(entry)
    }

    /// Makes key source `id` from its JSON configuration.
    pub fn key_source(&self, id: &str, config: &str) -> Result<KeySourceBox, Error> {
        let entry = self.entry(id, ProviderKind::KeySource)?;
        match entry.backend {
            Backend::Builtin(def) => abi::create_key_source(def, id, config)
                .into_result()
                .map(KeySourceBox::new),
            #[cfg(feature = "dynamic-plugins")]
            Backend::Dynamic(plugin) => plugin.create_key_source(id, config),
        }
    }

    /// Makes repository `id` from its JSON configuration.
    pub fn repository(&self, id: &str, config: &str) -> Result<RepositoryBox, Error> {
        let entry = self.entry(id, ProviderKind::Repository)?;
        match entry.backend {
            Backend::Builtin(def) => abi::create_repository(def, id, config)
                .into_result()
                .map(RepositoryBox::new),
            #[cfg(feature = "dynamic-plugins")]
            Backend::Dynamic(plugin) => plugin.create_repository(id, config),
        }
    }
}

/// Checks and loads one plugin file; the refusal reason is one line.
#[cfg(feature = "dynamic-plugins")]
pub fn open_plugin(
    path: &Path,
    pins: Option<&[String]>,
) -> Result<(DynamicPlugin, PluginInfo), Refusal> {
    let admitted = admission::admit(path, pins).map_err(refusal(path))?;
    load_admitted(path, admitted)
}

/// Hands an admitted file to the dynamic loader and asks the plugin to describe itself.
/// `path` is the name the file is reported under.
#[cfg(feature = "dynamic-plugins")]
fn load_admitted(
    path: &Path,
    admitted: admission::AdmittedFile,
) -> Result<(DynamicPlugin, PluginInfo), Refusal> {
    let plugin = abi::load_library(&admitted.into_load_path()).map_err(|e| {
        tracing::debug!("plugin {}: {}", path.display(), e.detail());
        refusal(path)(e.summary().to_string())
    })?;
    let info = plugin
        .info()
        .map_err(|e| refusal(path)(format!("the plugin failed to describe itself: {e}")))?;
    Ok((plugin, info))
}

/// Makes a [`Refusal`] of `path` from a one-line reason.
#[cfg(feature = "dynamic-plugins")]
fn refusal(path: &Path) -> impl Fn(String) -> Refusal + '_ {
    move |reason| Refusal {
        path: path.to_path_buf(),
        reason,
    }
}
