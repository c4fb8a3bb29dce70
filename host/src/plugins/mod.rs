//! Plugins: which files may be loaded, where they are searched, and the provider registry.
//!
//! A plugin directory is used only when no one but the current user or root can write it, only
//! regular files in it are opened (never blocking on a FIFO), and a symbolic link in it is
//! followed only into directories that pass the same check; the full rule is in
//! [`admission`].

pub mod admission;
pub mod elf;
pub mod registry;
pub mod search;

pub use registry::{open_plugin, Origin, ProviderEntry, Refusal, Registry, RegistryError};
pub use search::{search_path, DirSource};
