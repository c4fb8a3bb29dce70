//! Where the user key is kept: one module per backend, and the automatic choice between them.

#[cfg(windows)]
#[allow(unsafe_code)]
mod dpapi;
mod file;
#[cfg(target_os = "macos")]
mod keychain;
#[cfg(target_os = "linux")]
mod secret_service;

use std::{fmt, path::PathBuf, time::SystemTime};

use serde::{Deserialize, Serialize};
use trousseau_core::{Error, ErrorCode, Result, SecretBytes};

use crate::config::UserAccountConfig;

/// The kinds of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// A 0600 file (headless Linux, fallback everywhere).
    File,
    /// The freedesktop Secret Service (GNOME Keyring, KWallet) over D-Bus.
    SecretService,
    /// Windows DPAPI (CurrentUser scope), as KeePass's `KcpUserAccount`.
    Dpapi,
    /// The macOS login Keychain.
    Keychain,
}

impl BackendKind {
    /// The name used in configuration and public parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::File => "file",
            BackendKind::SecretService => "secret-service",
            BackendKind::Dpapi => "dpapi",
            BackendKind::Keychain => "keychain",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place that holds one user key.
pub trait Store {
    /// The backend kind.
    fn kind(&self) -> BackendKind;
    /// Where the key is, for messages and public parameters.
    fn location(&self) -> String;
    /// Reads the key. A missing key is [`ErrorCode::NotFound`]; this never creates one.
    fn load(&self) -> Result<SecretBytes>;
    /// Stores a new key; fails with [`ErrorCode::Conflict`] if one already exists.
    fn create(&self, key: &SecretBytes) -> Result<()>;
    /// Replaces the key (an explicit `import --force`).
    fn replace(&self, key: &SecretBytes) -> Result<()>;
    /// When the key was created or last written, if the backend knows.
    fn modified(&self) -> Option<SystemTime>;
}

/// Opens the backend: the configured one, else the one recorded at enrollment, else the
/// automatic choice for this machine.
pub fn open(config: &UserAccountConfig, recorded: Option<BackendKind>) -> Result<Box<dyn Store>> {
    let kind = match config.backend.or(recorded) {
        Some(kind) => kind,
        None => auto(config),
    };
    open_kind(kind, config)
}

fn open_kind(kind: BackendKind, config: &UserAccountConfig) -> Result<Box<dyn Store>> {
    match kind {
        BackendKind::File => Ok(Box::new(file::FileStore::new(file_path(config)?))),
        #[cfg(target_os = "linux")]
        BackendKind::SecretService => Ok(Box::new(secret_service::SecretServiceStore::new(
            service(config),
            account(config),
        ))),
        #[cfg(windows)]
        BackendKind::Dpapi => Ok(Box::new(dpapi::DpapiStore::new(dpapi::path(config)?))),
        #[cfg(target_os = "macos")]
        BackendKind::Keychain => Ok(Box::new(keychain::KeychainStore::new(
            service(config),
            account(config),
        ))),
        #[allow(unreachable_patterns)]
        other => Err(Error::new(
            ErrorCode::Unsupported,
            format!(
                "the user-account backend `{other}` is not available on this platform; use \
                 {{\"backend\": \"file\"}}"
            ),
        )),
    }
}

/// The automatic choice: DPAPI on Windows, the Keychain on macOS; on Linux an existing key
/// file wins, then a reachable Secret Service, then the file.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn auto(config: &UserAccountConfig) -> BackendKind {
    if cfg!(windows) {
        return BackendKind::Dpapi;
    }
    if cfg!(target_os = "macos") {
        return BackendKind::Keychain;
    }
    #[cfg(target_os = "linux")]
    {
        let file_exists = file_path(config).is_ok_and(|p| p.symlink_metadata().is_ok());
        if !file_exists
            && secret_service::SecretServiceStore::new(service(config), account(config)).usable()
        {
            return BackendKind::SecretService;
        }
    }
    BackendKind::File
}

/// Where a key kept by `kind` at `location` is, for people: `a plain file, /home/u/…` (the
/// key in the clear, protected by the file's mode only), `a file encrypted by Windows DPAPI,
/// C:\…`, or the Secret Service or Keychain item.
pub fn describe(kind: BackendKind, location: &str) -> String {
    match kind {
        BackendKind::File => format!("a plain file, {location}"),
        BackendKind::Dpapi => format!("a file encrypted by Windows DPAPI, {location}"),
        BackendKind::SecretService | BackendKind::Keychain => location.to_owned(),
    }
}

/// Why the user key is kept by `kind` on this machine, for people: the configuration chose
/// it, or what the automatic choice found (on Linux: no session bus, or no Secret Service on
/// it, so the file).
pub fn reason(kind: BackendKind, config: &UserAccountConfig) -> String {
    if config.backend == Some(kind) {
        return "the backend chosen in the configuration".to_owned();
    }
    match kind {
        BackendKind::Dpapi => "the user key's place on Windows".to_owned(),
        BackendKind::Keychain => "the user key's place on macOS".to_owned(),
        BackendKind::SecretService => "a Secret Service answers on the session bus".to_owned(),
        BackendKind::File => file_reason(config),
    }
}

/// Why the automatic choice is the file on this machine.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn file_reason(config: &UserAccountConfig) -> String {
    #[cfg(target_os = "linux")]
    {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
            return "no Secret Service: DBUS_SESSION_BUS_ADDRESS is not set, so there is no \
                    D-Bus session bus"
                .to_owned();
        }
        if !secret_service::SecretServiceStore::new(service(config), account(config)).usable() {
            return "no Secret Service answers on the session bus".to_owned();
        }
        "the key file already existed, and an existing key file is used before the Secret \
         Service"
            .to_owned()
    }
    #[cfg(not(target_os = "linux"))]
    "the file backend was recorded when the key was enrolled".to_owned()
}

/// The file of the `file` backend.
fn file_path(config: &UserAccountConfig) -> Result<PathBuf> {
    if let Some(path) = &config.path {
        return Ok(path.clone());
    }
    let base =
        match std::env::var_os("XDG_DATA_HOME") {
            Some(v) if PathBuf::from(&v).is_absolute() => PathBuf::from(v),
            _ => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/share"),
                None => match std::env::var_os("APPDATA").filter(|h| !h.is_empty()) {
                    Some(appdata) => PathBuf::from(appdata),
                    None => return Err(Error::new(
                        ErrorCode::InvalidConfig,
                        "cannot locate the user key file: neither XDG_DATA_HOME nor HOME is set; \
                         set one, or give {\"path\": \"…\"} in the user-account configuration",
                    )),
                },
            },
        };
    Ok(base.join("trousseau").join("user-account.key"))
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn service(config: &UserAccountConfig) -> String {
    config
        .service
        .clone()
        .unwrap_or_else(|| "trousseau".to_owned())
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn account(config: &UserAccountConfig) -> String {
    config
        .account
        .clone()
        .unwrap_or_else(|| "user-account".to_owned())
}
