//! How a ring's key secrets and revocations are trusted at rest.
//!
//! Two models, chosen when the ring is opened:
//! - [`PlainKeys`] (interop mode, and rings without master-key slots): exactly ASP.NET Core's
//!   model. Secrets are stored in clear and every element of the repository is trusted, so
//!   whoever can write the repository can plant a key or a revocation.
//! - [`super::wrapping::RingWrappingKey`] (encrypted rings): a closed world. A key is used only
//!   if its secret authenticates under the ring-wrapping key W *and* is bound to the key's id,
//!   dates and algorithm; a revocation is honoured only if its MAC under W verifies. Anything
//!   else is reported and never used.
//! - `xmlenc::CertificateKeys` (feature `certificate-keys`): ASP.NET Core's
//!   `ProtectKeysWithCertificate`. The open model of [`PlainKeys`], with new secrets encrypted
//!   under an X.509 certificate (W3C XML Encryption) and existing ones decrypted with any of
//!   the configured certificates' private keys.
//! - [`super::dpapi::DpapiKeys`] (Windows): ASP.NET Core's `ProtectKeysWithDpapi`. The open
//!   model, with new secrets protected with Windows DPAPI for the current user or the machine.
//!
//! Whatever the model of an open ring, keys in clear and (on Windows) keys protected with
//! DPAPI by this user or machine are read: see [`open_shared`].

use std::{collections::HashSet, sync::Mutex};

use trousseau_core::SecretBytes;
use uuid::Uuid;

use super::{
    algorithms::Algorithm,
    decryptors,
    error::{DataProtectionError, Result},
    keyring::{Descriptor, Key, MasterKeySecret},
    keyxml::{self, Revocation},
};

/// The protection of key secrets and revocations in one opened ring.
pub trait KeyEncryption: Send + Sync {
    /// The `<masterKey>` or `<encryptedSecret>` element for the secret of a new `key`.
    fn secret_xml(&self, key: &Key, algorithm: Algorithm, secret: &SecretBytes) -> Result<String>;

    /// The master key of `key`, once it is authenticated; the error says why the key is not
    /// trusted.
    fn open_secret(&self, key: &Key, descriptor: &Descriptor) -> Result<SecretBytes>;

    /// The authenticator element to embed in a new revocation (`None`: the ring authenticates
    /// none). By default none: a closed world must provide one.
    fn revocation_mac(&self, _revocation: &Revocation) -> Result<Option<String>> {
        Ok(None)
    }

    /// Whether a revocation read from the ring, with its embedded authenticator, is honoured.
    /// By default every revocation in an open world (ASP.NET Core's model: the repository is
    /// trusted) and none in a closed one, which must authenticate them itself.
    fn trusts_revocation(&self, _revocation: &Revocation, _mac: Option<&str>) -> bool {
        !self.is_closed()
    }

    /// Whether this ring is a closed world (elements must authenticate to be used).
    fn is_closed(&self) -> bool;
}

impl std::fmt::Debug for dyn KeyEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_closed() {
            "KeyEncryption(closed)"
        } else {
            "KeyEncryption(plain)"
        })
    }
}

/// The master key of `descriptor` when it is in a form every open ring reads: in clear, or
/// (on Windows) protected with DPAPI by this Windows user or machine, as ASP.NET Core's
/// `ProtectKeysWithDpapi` writes it; else why it cannot be read, naming what would be needed.
pub fn open_shared(descriptor: &Descriptor) -> std::result::Result<SecretBytes, String> {
    match &descriptor.secret {
        MasterKeySecret::Plain(s) => Ok(s.clone()),
        #[cfg(windows)]
        MasterKeySecret::Encrypted {
            decryptor_type,
            xml,
        } if decryptor_type == decryptors::DPAPI => {
            super::dpapi::open(xml).map_err(|e| e.to_string())
        }
        MasterKeySecret::Encrypted { decryptor_type, .. } => {
            Err(decryptors::unsupported(decryptor_type))
        }
    }
}

/// Keys stored unencrypted, exactly as ASP.NET Core on Linux writes them; the repository is
/// trusted.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlainKeys;

impl KeyEncryption for PlainKeys {
    fn secret_xml(
        &self,
        _key: &Key,
        _algorithm: Algorithm,
        secret: &SecretBytes,
    ) -> Result<String> {
        Ok(keyxml::plain_master_key_xml(secret))
    }

    fn open_secret(&self, _key: &Key, descriptor: &Descriptor) -> Result<SecretBytes> {
        open_shared(descriptor).map_err(DataProtectionError::InvalidInput)
    }

    fn is_closed(&self) -> bool {
        false
    }
}

/// The keys already reported unusable, so that each is warned about once per ring, not on
/// every load.
#[derive(Debug, Default)]
pub(crate) struct UnusableKeys(Mutex<HashSet<Uuid>>);

impl UnusableKeys {
    /// The error for `key`, unusable because of `why`; logged the first time.
    pub(crate) fn refuse(&self, key: &Key, why: String) -> DataProtectionError {
        let first = self.0.lock().map(|mut w| w.insert(key.id)).unwrap_or(true);
        if first {
            tracing::warn!("key {} cannot be used: {why}", key.id);
        }
        DataProtectionError::KeyUnusable {
            key: key.id,
            reason: why,
        }
    }
}
