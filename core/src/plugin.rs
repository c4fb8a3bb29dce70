//! Plugin definitions: what a plugin (or a built-in provider crate) offers.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::{Error, KeySource, Repository};

/// Whether a provider makes key sources or repositories.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// A key source (see [`KeySource`]).
    KeySource = 1,
    /// A key-ring repository (see [`Repository`]).
    Repository = 2,
}

impl ProviderKind {
    /// `key-source` or `repository`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::KeySource => "key-source",
            ProviderKind::Repository => "repository",
        }
    }
}

/// Makes a key source from its configuration (a JSON document).
pub type KeySourceFactory = fn(config: &str) -> Result<Box<dyn KeySource>, Error>;
/// Makes a repository from its configuration (a JSON document).
pub type RepositoryFactory = fn(config: &str) -> Result<Box<dyn Repository>, Error>;

/// How a provider is instantiated.
#[derive(Clone, Copy)]
pub enum Factory {
    /// The provider makes key sources.
    KeySource(KeySourceFactory),
    /// The provider makes repositories.
    Repository(RepositoryFactory),
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind().as_str())
    }
}

impl Factory {
    /// The provider kind this factory makes.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Factory::KeySource(_) => ProviderKind::KeySource,
            Factory::Repository(_) => ProviderKind::Repository,
        }
    }
}

/// One provider of a plugin, as its author declares it.
#[derive(Debug, Clone, Copy)]
pub struct ProviderDef {
    /// Unique id, lower-case with dashes (e.g. `command`, `redis`). The host's registry is
    /// keyed by it; two providers with one id are a load error.
    pub id: &'static str,
    /// One-line summary for listings.
    pub summary: &'static str,
    /// Help on the configuration keys (JSON object members), shown by `plugins inspect`.
    pub config_help: &'static str,
    /// The factory.
    pub factory: Factory,
}

/// A plugin: a name, a version and the providers it offers. A provider crate declares one as a
/// `static` and either exports it from a `cdylib` with [`crate::export_plugin!`] or registers
/// it as a built-in with [`crate::register_builtin!`].
#[derive(Debug)]
pub struct PluginDef {
    /// Plugin name (usually the crate name).
    pub name: &'static str,
    /// Plugin version (usually `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// The providers.
    pub providers: &'static [ProviderDef],
}

impl PluginDef {
    /// The provider with `id`, if any.
    pub fn provider(&self, id: &str) -> Option<&'static ProviderDef> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The ABI description of this plugin.
    pub fn info(&self) -> PluginInfo {
        PluginInfo {
            name: RString::from(self.name),
            version: RString::from(self.version),
            sdk_version: RString::from(crate::SDK_VERSION),
            providers: self
                .providers
                .iter()
                .map(|p| ProviderInfo {
                    id: RString::from(p.id),
                    kind: p.factory.kind(),
                    summary: RString::from(p.summary),
                    config_help: RString::from(p.config_help),
                })
                .collect(),
        }
    }
}

/// A built-in plugin linked into the host, collected with `inventory`.
#[derive(Debug)]
pub struct BuiltinPlugin(pub &'static PluginDef);

inventory::collect!(BuiltinPlugin);

/// Every built-in plugin linked into this binary. (A crate listed only in `Cargo.toml` is not
/// linked: the host must reference it, e.g. `use trousseau_password as _;`.)
pub fn builtin_plugins() -> impl Iterator<Item = &'static PluginDef> {
    inventory::iter::<BuiltinPlugin>.into_iter().map(|b| b.0)
}

/// What a plugin offers, as it crosses the ABI.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    name: RString,
    version: RString,
    sdk_version: RString,
    providers: RVec<ProviderInfo>,
}

impl PluginInfo {
    /// Plugin name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Plugin version.
    pub fn version(&self) -> &str {
        self.version.as_str()
    }

    /// The version of `trousseau-core` the plugin was built with.
    pub fn sdk_version(&self) -> &str {
        self.sdk_version.as_str()
    }

    /// The providers.
    pub fn providers(&self) -> &[ProviderInfo] {
        self.providers.as_slice()
    }
}

/// One provider, as it crosses the ABI.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    id: RString,
    kind: ProviderKind,
    summary: RString,
    config_help: RString,
}

impl ProviderInfo {
    /// Provider id.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// Provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// One-line summary.
    pub fn summary(&self) -> &str {
        self.summary.as_str()
    }

    /// Configuration help.
    pub fn config_help(&self) -> &str {
        self.config_help.as_str()
    }
}
