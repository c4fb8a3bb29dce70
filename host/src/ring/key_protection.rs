//! The key protection a node's `[key_protection]` settings describe: how key secrets are
//! encrypted at rest in a ring shared with ASP.NET Core.

use std::sync::Arc;

use super::RingError;
use crate::{config::KeyProtectionConfig, dataprotection::at_rest::KeyEncryption};

/// The [`KeyEncryption`] of interop mode that `config` describes (for
/// [`super::RingSettings::interop_keys`]): `None` when it names no certificate (keys in clear),
/// else certificate protection, byte-compatible with ASP.NET Core's
/// `ProtectKeysWithCertificate` (feature `certificate-keys`). The certificate files are read
/// now.
pub fn key_protection(
    config: &KeyProtectionConfig,
) -> Result<Option<Arc<dyn KeyEncryption>>, RingError> {
    #[cfg(feature = "certificate-keys")]
    {
        crate::dataprotection::xmlenc::CertificateKeys::from_config(config)
            .map(|k| k.map(|k| Arc::new(k) as Arc<dyn KeyEncryption>))
            .map_err(|e| RingError::KeyProtection(e.to_string()))
    }
    #[cfg(not(feature = "certificate-keys"))]
    {
        if config.certificate.is_some() || !config.unprotect_certificates.is_empty() {
            return Err(RingError::KeyProtection(
                "certificate protection needs trousseau built with the certificate-keys feature"
                    .into(),
            ));
        }
        Ok(None)
    }
}
