//! Repository: Windows registry values in the ASP.NET Core Data Protection layout.
//!
//! As ASP.NET Core's `RegistryXmlRepository`: one `REG_SZ` value per element under one key, the
//! value named by the element's friendly name (`[A-Za-z0-9_-]`, else a name derived from the
//! text), the data the element's text. Adds deletion and a conditional store made atomic with a
//! registry transaction (KTM); the version token is a digest of every value.
//!
//! The default `key` is ASP.NET Core's own under IIS (an application pool without a user
//! profile): `HKLM\SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\{SID}\DataProtection`. On
//! Windows the repository fills in `{SID}` with the SID of the user the process runs as (its
//! token's user), so a service running as the application pool's identity shares the keys
//! ASP.NET Core keeps there, and its description says so.
//!
//! On other systems the provider is still listed; creating it checks the configuration and every
//! call then says that it is available on Windows only.

// Unsafe code only in `sid` (three Win32 calls, Windows only).
#![deny(unsafe_code)]

mod config;
#[cfg(windows)]
#[allow(unsafe_code)]
mod sid;
#[cfg(not(windows))]
mod unsupported;
#[cfg(windows)]
mod windows;

pub use config::RegistryConfig;

use trousseau_core::{Factory, PluginDef, ProviderDef, Repository, Result};

/// Help on the configuration keys, shown by `trousseau plugins inspect`.
pub const CONFIG_HELP: &str = "\
key: the registry key holding the ring, starting with HKEY_LOCAL_MACHINE\\ (HKLM\\) or HKEY_CURRENT_USER\\ (HKCU\\);
     the default is ASP.NET Core's IIS key, HKLM\\SOFTWARE\\Microsoft\\ASP.NET\\4.0.30319.0\\AutoGenKeys\\{SID}\\DataProtection,
     where {SID} (in any key) is replaced by the SID of the account the process runs as. Windows only.";

fn create(config: &str) -> Result<Box<dyn Repository>> {
    let config = RegistryConfig::from_json(config)?;
    #[cfg(windows)]
    return Ok(Box::new(windows::RegistryRepository::new(&config)?));
    #[cfg(not(windows))]
    {
        // The configuration errors of Windows (a bad hive, a hive alone), so that a
        // configuration checked here does not fail there for another reason; `{SID}`, which
        // only Windows fills in, is refused too.
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
