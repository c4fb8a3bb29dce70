//! Key source: a random per-user key kept by the OS (DPAPI, Secret Service, Keychain, or a 0600 file).
//!
//! The component is 64 random bytes used raw, as KeePass's "Windows user account"
//! (`KcpUserAccount`: `%APPDATA%\KeePass\ProtectedUserKey.bin`, DPAPI with a fixed entropy).
//! Unlike KeePass, a missing or unreadable key is an error that
//! says where it looked: only enrollment creates a key, and nothing is ever overwritten
//! silently. Configuration (JSON, every member optional):
//! `{"backend": "file"|"secret-service"|"dpapi"|"keychain", "path": "…", "keepass": false,
//! "service": "trousseau", "account": "user-account"}`.

#![deny(unsafe_code)]

mod backend;
mod config;
mod key;
mod manage;
pub mod sealed_backup;
mod source;

use trousseau_core::{Factory, KeySource, PluginDef, ProviderDef, Result};

pub use backend::{describe, reason, BackendKind};
pub use config::{PublicParams, UserAccountConfig};
pub use key::{check_value, USER_KEY_LEN};
pub use manage::{
    export, export_sealed, import, import_sealed, is_sealed_backup, status, ImportOutcome,
    UserKeyStatus,
};
pub use source::{UserAccountSource, PROVIDER_ID};

fn make(config: &str) -> Result<Box<dyn KeySource>> {
    Ok(Box::new(UserAccountSource::new(UserAccountConfig::parse(
        config,
    )?)))
}

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-user-account",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: PROVIDER_ID,
        summary: "a random 64-byte key of the current OS user (DPAPI, Secret Service, Keychain or a 0600 file), used raw as KeePass's user account",
        config_help: "backend: \"file\" | \"secret-service\" | \"dpapi\" | \"keychain\" (default: automatic — \
DPAPI on Windows, Keychain on macOS, on Linux an existing key file, else a reachable Secret Service, else the file); \
path: the key file of the file/dpapi backends (default $XDG_DATA_HOME/trousseau/user-account.key, \
%APPDATA%\\Trousseau\\ProtectedUserKey.bin); keepass: true to use KeePass's own %APPDATA%\\KeePass\\ProtectedUserKey.bin (dpapi); \
service, account: the Secret Service / Keychain item (default trousseau / user-account)",
        factory: Factory::KeySource(make),
    }],
};

trousseau_core::register_builtin!(PLUGIN);
