//! Plugins: which files may be loaded, where they are searched, and the provider registry.
//!
//! A plugin directory is used only when no one but the current user or root can write it, only
//! regular files in it are opened (never blocking on a FIFO), and a symbolic link in it is
//! followed only into directories that pass the same check; the full rule is in
//! `admission`.
//!
//! Everything about plugin files (admission, ELF checks, the search path, `Registry::load_dir`,
//! `open_plugin`) is the `dynamic-plugins` cargo feature; without it the registry holds the
//! built-in providers only.

#[cfg(feature = "dynamic-plugins")]
pub mod admission;
#[cfg(feature = "dynamic-plugins")]
pub mod elf;
pub mod registry;
#[cfg(feature = "dynamic-plugins")]
pub mod search;

#[cfg(feature = "dynamic-plugins")]
pub use registry::open_plugin;
pub use registry::{Origin, ProviderEntry, Refusal, Registry, RegistryError};
#[cfg(feature = "dynamic-plugins")]
pub use search::{search_path, DirSource};
