//! The stable ABI: `#[sabi_trait]` objects, the root module, panic guards and host handles.
//!
//! abi_stable is used only here. Provider code implements the plain traits
//! ([`crate::KeySource`], [`crate::Repository`]) and never names an abi_stable type; hosts use
//! [`KeySourceBox`] and [`RepositoryBox`].

mod guard;
mod handles;
mod loader;
mod module;
mod traits;

pub use handles::{KeySourceBox, RepositoryBox};
pub use loader::{load_library, DynamicPlugin, LoadError, LoadErrorKind};
pub use module::{
    create_key_source, create_repository, plugin_info, PluginModule, PluginModuleRef,
};
pub use traits::{
    InteractionAbi, InteractionAbi_TO, InteractionRef, KeySourceAbi, KeySourceAbi_TO,
    KeySourceObject, RepositoryAbi, RepositoryAbi_TO, RepositoryObject,
};

/// Items the [`crate::export_plugin!`] expansion needs. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr};
}
