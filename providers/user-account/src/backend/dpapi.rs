//! The `dpapi` backend (Windows): the key protected with `CryptProtectData` in the CurrentUser
//! scope with KeePass's entropy bytes, in `ProtectedUserKey.bin` — KeePass's `KcpUserAccount`
//! format, so KeePass's own file can be read too. The DPAPI calls are `trousseau_core::dpapi`'s,
//! shared with the engine.

use std::{path::PathBuf, time::SystemTime};

use trousseau_core::{
    dpapi::{self, DpapiScope},
    Error, ErrorCode, Result, SecretBytes,
};

use super::{file::FileStore, BackendKind, Store};
use crate::{config::UserAccountConfig, key};

/// KeePass's DPAPI optional entropy (`KcpUserAccount.m_pbEntropy` in KeePass 2.x's
/// `KeePassLib/Keys/KcpUserAccount.cs`).
pub const KEEPASS_ENTROPY: [u8; 16] = [
    0xDE, 0x13, 0x5B, 0x5F, 0x18, 0xA3, 0x46, 0x70, 0xB2, 0x57, 0x24, 0x29, 0x69, 0x88, 0x98, 0xE6,
];

/// The protected key file.
pub fn path(config: &UserAccountConfig) -> Result<PathBuf> {
    if let Some(p) = &config.path {
        return Ok(p.clone());
    }
    let appdata = std::env::var_os("APPDATA")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                "APPDATA is not set, so the DPAPI user key file cannot be located; give \
                 {\"path\": \"…\"} in the user-account configuration",
            )
        })?;
    let product = if config.keepass {
        "KeePass"
    } else {
        "Trousseau"
    };
    Ok(PathBuf::from(appdata)
        .join(product)
        .join("ProtectedUserKey.bin"))
}

/// A DPAPI-protected key file; the protected blob is kept through a [`FileStore`].
#[derive(Debug)]
pub struct DpapiStore {
    blob: FileStore,
}

impl DpapiStore {
    /// The store at `path`.
    pub fn new(path: PathBuf) -> Self {
        DpapiStore {
            blob: FileStore::new(path),
        }
    }
}

impl Store for DpapiStore {
    fn kind(&self) -> BackendKind {
        BackendKind::Dpapi
    }

    fn location(&self) -> String {
        self.blob.location()
    }

    fn load(&self) -> Result<SecretBytes> {
        let protected = self.blob.load_raw()?;
        let key = unprotect(protected.expose()).map_err(|e| e.context(self.location()))?;
        key::validate(key, &self.location())
    }

    fn create(&self, key: &SecretBytes) -> Result<()> {
        self.blob.create(&protect(key)?)
    }

    fn replace(&self, key: &SecretBytes) -> Result<()> {
        self.blob.replace(&protect(key)?)
    }

    fn modified(&self) -> Option<SystemTime> {
        self.blob.modified()
    }
}

fn protect(key: &SecretBytes) -> Result<SecretBytes> {
    dpapi::protect(key.expose(), &KEEPASS_ENTROPY, DpapiScope::CurrentUser)
        .map(SecretBytes::from_vec)
        .map_err(|e| Error::new(ErrorCode::Io, format!("CryptProtectData failed: {e}")))
}

fn unprotect(protected: &[u8]) -> Result<SecretBytes> {
    dpapi::unprotect(protected, &KEEPASS_ENTROPY).map_err(|e| {
        Error::new(
            ErrorCode::WrongKey,
            format!(
                "DPAPI cannot unprotect the user key ({e}): it was protected by another Windows \
                 user, or the account's credentials were reset; restore it from a backup with \
                 `trousseau user-account import BACKUP`"
            ),
        )
    })
}
