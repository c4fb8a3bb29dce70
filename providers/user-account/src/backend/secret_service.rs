//! The `secret-service` backend: an item in the user's default Secret Service collection
//! (GNOME Keyring, KWallet), through the pure-Rust zbus client.

use std::{collections::HashMap, time::SystemTime};

use keyring_core::{api::CredentialStoreApi, Entry, Error as KrError};
use trousseau_core::{Error, ErrorCode, Result, SecretBytes};
use zbus_secret_service_keyring_store::Store as ZbusStore;

use super::{BackendKind, Store};
use crate::key;

/// One Secret Service item, found by its `service` and `username` attributes.
#[derive(Debug)]
pub struct SecretServiceStore {
    service: String,
    account: String,
}

impl SecretServiceStore {
    /// The item with these attributes.
    pub fn new(service: String, account: String) -> Self {
        SecretServiceStore { service, account }
    }

    fn entry(&self) -> Result<Entry> {
        let store = ZbusStore::new().map_err(|e| self.unavailable(&e))?;
        let mods = HashMap::from([("label", "Trousseau user-account key")]);
        store
            .build(&self.service, &self.account, Some(&mods))
            .map_err(|e| self.map(e))
    }

    /// Whether the service answers and the item can be read or created (for the automatic
    /// backend choice; no error is reported).
    pub fn usable(&self) -> bool {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
            return false;
        }
        match self.entry().map(|e| e.get_secret()) {
            Ok(Ok(_)) | Ok(Err(KrError::NoEntry)) => true,
            Ok(Err(e)) => {
                tracing::debug!("Secret Service not usable: {e}");
                false
            }
            Err(e) => {
                tracing::debug!("Secret Service not usable: {e}");
                false
            }
        }
    }

    fn unavailable(&self, e: &dyn std::fmt::Display) -> Error {
        Error::new(
            ErrorCode::Unavailable,
            format!(
                "cannot use the Secret Service for the user key ({e}); is a desktop session with \
                 gnome-keyring or KWallet running and unlocked? On a headless machine use the \
                 file backend: {{\"backend\": \"file\"}}"
            ),
        )
    }

    fn map(&self, e: KrError) -> Error {
        match e {
            KrError::NoEntry => Error::new(
                ErrorCode::NotFound,
                format!(
                    "no user key in the Secret Service ({}); it is created only on enrollment \
                     (`trousseau init`) or restored with `trousseau user-account import BACKUP`",
                    self.location()
                ),
            ),
            KrError::NoStorageAccess(inner) => Error::new(
                ErrorCode::Unavailable,
                format!(
                    "the Secret Service collection holding the user key is locked or refused \
                     access ({inner}); unlock your keyring, or use {{\"backend\": \"file\"}}"
                ),
            ),
            KrError::Ambiguous(items) => Error::new(
                ErrorCode::CorruptData,
                format!(
                    "{} Secret Service items match {}; delete the extra ones (e.g. with seahorse \
                     or `secret-tool clear service {} username {}`) and keep the right one",
                    items.len(),
                    self.location(),
                    self.service,
                    self.account
                ),
            ),
            other => self.unavailable(&other),
        }
    }
}

impl Store for SecretServiceStore {
    fn kind(&self) -> BackendKind {
        BackendKind::SecretService
    }

    fn location(&self) -> String {
        format!(
            "Secret Service item service={} username={}",
            self.service, self.account
        )
    }

    fn load(&self) -> Result<SecretBytes> {
        let secret = self.entry()?.get_secret().map_err(|e| self.map(e))?;
        key::validate(SecretBytes::from_vec(secret), &self.location())
    }

    fn create(&self, key: &SecretBytes) -> Result<()> {
        let entry = self.entry()?;
        match entry.get_secret() {
            Ok(mut existing) => {
                zeroize::Zeroize::zeroize(&mut existing);
                Err(Error::new(
                    ErrorCode::Conflict,
                    format!("a user key already exists ({})", self.location()),
                ))
            }
            Err(KrError::NoEntry) => entry.set_secret(key.expose()).map_err(|e| self.map(e)),
            Err(e) => Err(self.map(e)),
        }
    }

    fn replace(&self, key: &SecretBytes) -> Result<()> {
        self.entry()?
            .set_secret(key.expose())
            .map_err(|e| self.map(e))
    }

    fn modified(&self) -> Option<SystemTime> {
        None
    }
}
