//! Key source: a random per-user key kept by the OS (DPAPI, Secret Service, Keychain, or a 0600 file).

use trousseau_core::PluginDef;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-user-account",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[],
};

trousseau_core::register_builtin!(PLUGIN);
