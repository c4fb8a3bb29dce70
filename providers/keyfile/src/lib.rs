//! Key source: a KeePass-compatible key file (XML 1.0/2.0, 32 raw bytes, 64 hex, else hashed).

use trousseau_core::PluginDef;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-keyfile",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[],
};

trousseau_core::register_builtin!(PLUGIN);
