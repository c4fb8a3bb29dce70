//! Key source: HMAC challenge-response with a non-extractable key on a PKCS#11 token; software HMAC-SHA1 recovery of KeePassXC challenge-response.

use trousseau_core::PluginDef;

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-pkcs11",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[],
};

trousseau_core::register_builtin!(PLUGIN);
