//! The `keychain` backend (macOS): a generic password item in the login Keychain.

use std::time::SystemTime;

use security_framework::passwords::{get_generic_password, set_generic_password};
use trousseau_core::{Error, ErrorCode, Result, SecretBytes};

use super::{BackendKind, Store};
use crate::key;

/// `errSecItemNotFound`.
const ERR_SEC_ITEM_NOT_FOUND: i32 = -25300;

/// A generic password item, by service and account.
#[derive(Debug)]
pub struct KeychainStore {
    service: String,
    account: String,
}

impl KeychainStore {
    /// The item with this service and account.
    pub fn new(service: String, account: String) -> Self {
        KeychainStore { service, account }
    }
}

impl Store for KeychainStore {
    fn kind(&self) -> BackendKind {
        BackendKind::Keychain
    }

    fn location(&self) -> String {
        format!(
            "Keychain item service={} account={}",
            self.service, self.account
        )
    }

    fn load(&self) -> Result<SecretBytes> {
        match get_generic_password(&self.service, &self.account) {
            Ok(bytes) => key::validate(SecretBytes::from_vec(bytes), &self.location()),
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Err(Error::new(
                ErrorCode::NotFound,
                format!(
                    "no user key in the Keychain ({}); it is created only on enrollment",
                    self.location()
                ),
            )),
            Err(e) => Err(Error::new(
                ErrorCode::Unavailable,
                format!("cannot read {} ({e}); unlock the Keychain", self.location()),
            )),
        }
    }

    fn create(&self, key: &SecretBytes) -> Result<()> {
        match self.load() {
            Err(e) if e.code() == ErrorCode::NotFound => self.replace(key),
            Err(e) => Err(e),
            Ok(_) => Err(Error::new(
                ErrorCode::Conflict,
                format!("a user key already exists ({})", self.location()),
            )),
        }
    }

    fn replace(&self, key: &SecretBytes) -> Result<()> {
        set_generic_password(&self.service, &self.account, key.expose()).map_err(|e| {
            Error::new(
                ErrorCode::Unavailable,
                format!(
                    "cannot write {} ({e}); unlock the Keychain",
                    self.location()
                ),
            )
        })
    }

    fn modified(&self) -> Option<SystemTime> {
        None
    }
}
