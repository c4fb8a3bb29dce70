//! Repository: Windows registry values in the ASP.NET Core Data Protection layout.
//!
//! As ASP.NET Core's `RegistryXmlRepository`: one `REG_SZ` value per element under one key, the
//! value named by the element's friendly name (`[A-Za-z0-9_-]`, else a name derived from the
//! text), the data the element's text. Adds deletion and a conditional store made atomic with a
//! registry transaction (KTM); the version token is a digest of every value.
//!
//! On other systems the provider is still listed; creating it checks the configuration and every
//! call then says that it is available on Windows only.

#![forbid(unsafe_code)]

mod config;
#[cfg(not(windows))]
mod unsupported;
#[cfg(windows)]
mod windows;

pub use config::RegistryConfig;

use trousseau_core::{Factory, PluginDef, ProviderDef, Repository, Result};

/// Help on the configuration keys, shown by `trousseau plugins inspect`.
pub const CONFIG_HELP: &str = "\
key: the registry key holding the ring, starting with HKEY_LOCAL_MACHINE\\ (HKLM\\) or HKEY_CURRENT_USER\\ (HKCU\\);
     ASP.NET Core's default is HKLM\\SOFTWARE\\Microsoft\\ASP.NET\\4.0.30319.0\\AutoGenKeys\\{SID}\\DataProtection
     with {SID} replaced by the account's SID (`whoami /user`). Windows only.";

fn create(config: &str) -> Result<Box<dyn Repository>> {
    let config = RegistryConfig::from_json(config)?;
    #[cfg(windows)]
    return Ok(Box::new(windows::RegistryRepository::new(&config)?));
    #[cfg(not(windows))]
    {
        // The same configuration errors as on Windows (a bad hive, `{SID}` left in), so that
        // a configuration checked here does not fail there for another reason.
        config.split()?;
        Ok(Box::new(unsupported::Unsupported::new(&config)))
    }
}

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-registry",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "registry",
        summary: "key ring in Windows registry values (ASP.NET Core layout), with deletion and transactional conditional store; Windows only",
        config_help: CONFIG_HELP,
        factory: Factory::Repository(create),
    }],
};

trousseau_core::register_builtin!(PLUGIN);
