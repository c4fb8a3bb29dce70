//! Plugins: which files may be loaded, where they are searched, and the provider registry.

pub mod admission;
pub mod elf;
pub mod registry;
pub mod search;

pub use registry::{open_plugin, Origin, ProviderEntry, Refusal, Registry, RegistryError};
pub use search::{search_path, DirSource};
