//! Repository: a Redis list in the ASP.NET Core Data Protection layout.

use trousseau_core::PluginDef;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-redis",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[],
};

trousseau_core::register_builtin!(PLUGIN);
