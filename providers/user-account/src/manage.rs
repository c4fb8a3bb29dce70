//! Management of the user key outside enrollment, for `trousseau user-account
//! status | export | import`.

use std::time::SystemTime;

use trousseau_core::{Error, ErrorCode, Result, SecretBytes};

use crate::{
    backend::{self, BackendKind},
    config::UserAccountConfig,
    key, sealed_backup,
};

/// What `status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKeyStatus {
    /// The backend in use.
    pub backend: BackendKind,
    /// Where the key is (or would be).
    pub location: String,
    /// The key's check value, or `None` when there is no key.
    pub check: Option<String>,
    /// When the key was written, if the backend knows.
    pub modified: Option<SystemTime>,
}

/// What `import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// There was no key; the imported one was stored.
    Created,
    /// The same key was already there.
    Unchanged,
    /// A different key was replaced (with `force`).
    Replaced,
}

/// The user key's backend, location and check value. A missing key is not an error here; an
/// unreadable one is.
pub fn status(config: &UserAccountConfig) -> Result<UserKeyStatus> {
    let store = backend::open(config, None)?;
    let check = match store.load() {
        Ok(k) => Some(key::check_value(&k)),
        Err(e) if e.code() == ErrorCode::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(UserKeyStatus {
        backend: store.kind(),
        location: store.location(),
        check,
        modified: store.modified(),
    })
}

/// The plain backup text of the user key (a header line and the key in hex) and where it was
/// read from. Prefer [`export_sealed`]: whoever reads this text has the key.
pub fn export(config: &UserAccountConfig) -> Result<(SecretBytes, String)> {
    let store = backend::open(config, None)?;
    let k = store.load()?;
    Ok((key::encode_backup(&k), store.location()))
}

/// The backup text of the user key sealed under `passphrase` (the format is
/// [`crate::sealed_backup`]'s) and where it was read from.
pub fn export_sealed(
    config: &UserAccountConfig,
    passphrase: &[u8],
) -> Result<(SecretBytes, String)> {
    let store = backend::open(config, None)?;
    let k = store.load()?;
    Ok((sealed_backup::seal(&k, passphrase)?, store.location()))
}

/// Whether `bytes` is a passphrase-protected backup (made by [`export_sealed`]): it needs
/// [`import_sealed`] and the passphrase.
pub fn is_sealed_backup(bytes: &[u8]) -> bool {
    sealed_backup::is_sealed(bytes)
}

/// Stores the key read from a plain backup (`bytes`, named `what` in errors). A different
/// existing key is replaced only with `force`.
pub fn import(
    config: &UserAccountConfig,
    bytes: &[u8],
    what: &str,
    force: bool,
) -> Result<(ImportOutcome, String)> {
    store(config, key::decode_backup(bytes, what)?, force)
}

/// Stores the key read from a passphrase-protected backup. A wrong passphrase is
/// [`ErrorCode::WrongKey`] and nothing is written; a different existing key is replaced only
/// with `force`.
pub fn import_sealed(
    config: &UserAccountConfig,
    bytes: &[u8],
    passphrase: &[u8],
    what: &str,
    force: bool,
) -> Result<(ImportOutcome, String)> {
    store(config, sealed_backup::open(bytes, passphrase, what)?, force)
}

/// Stores `new` as the user key (see [`import`]).
fn store(
    config: &UserAccountConfig,
    new: SecretBytes,
    force: bool,
) -> Result<(ImportOutcome, String)> {
    let store = backend::open(config, None)?;
    let outcome = match store.load() {
        Ok(existing) if existing.ct_eq(new.expose()) => ImportOutcome::Unchanged,
        Ok(_) if !force => {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "a different user key already exists at {}; replacing it makes everything it \
                     protects unreadable — export it first, then import again with --force",
                    store.location()
                ),
            ))
        }
        Ok(_) => {
            store.replace(&new)?;
            ImportOutcome::Replaced
        }
        Err(e) if e.code() == ErrorCode::NotFound => {
            store.create(&new)?;
            ImportOutcome::Created
        }
        Err(e) if force => {
            tracing::warn!("replacing an unreadable user key: {e}");
            store.replace(&new)?;
            ImportOutcome::Replaced
        }
        Err(e) => {
            return Err(
                e.context("the existing user key cannot be read (use --force to replace it)")
            )
        }
    };
    Ok((outcome, store.location()))
}
