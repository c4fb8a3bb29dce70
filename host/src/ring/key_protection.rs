//! The key protection a node's `[key_protection]` settings describe: how key secrets are
//! protected at rest in a ring shared with ASP.NET Core: under a certificate, or (Windows) with
//! DPAPI.

use std::sync::Arc;

use super::RingError;
use crate::{
    config::{Config, KeyProtectionConfig},
    dataprotection::{at_rest::KeyEncryption, dpapi::DpapiKeys},
};

/// [`key_protection`] of a whole configuration file, refusing `[key_protection]` together with
/// `[data_protection] interop = false` (protecting keys the ASP.NET Core way is interop mode).
pub fn configured_key_protection(
    config: &Config,
) -> Result<Option<Arc<dyn KeyEncryption>>, RingError> {
    let keys = key_protection(&config.key_protection)?;
    if keys.is_some() && config.data_protection.interop == Some(false) {
        return Err(RingError::KeyProtection(
            "[key_protection] protects keys the ASP.NET Core way (a certificate or DPAPI), \
             which is interop mode, but [data_protection] sets interop = false; remove that \
             line"
                .into(),
        ));
    }
    Ok(keys)
}

/// The [`KeyEncryption`] of interop mode that `config` describes (for
/// [`super::RingSettings::interop_keys`]): `None` when it names neither a certificate nor a
/// DPAPI scope (keys in clear); DPAPI protection, byte-compatible with ASP.NET Core's
/// `ProtectKeysWithDpapi` (Windows only); else certificate protection, byte-compatible with
/// `ProtectKeysWithCertificate` (feature `certificate-keys`). The certificate files are read
/// now.
pub fn key_protection(
    config: &KeyProtectionConfig,
) -> Result<Option<Arc<dyn KeyEncryption>>, RingError> {
    if let Some(scope) = config.dpapi {
        if config.certificate.is_some()
            || config.private_key.is_some()
            || config.private_key_pkcs11.is_some()
            || !config.unprotect_certificates.is_empty()
        {
            return Err(RingError::KeyProtection(
                "dpapi and certificate settings are both set; ASP.NET Core protects new keys one \
                 way: keep dpapi (Windows DPAPI) or the certificate settings, not both"
                    .into(),
            ));
        }
        return DpapiKeys::new(scope)
            .map(|k| Some(Arc::new(k) as Arc<dyn KeyEncryption>))
            .map_err(|e| RingError::KeyProtection(e.to_string()));
    }
    certificate_protection(config)
}

fn certificate_protection(
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
        if config.certificate.is_some()
            || config.private_key_pkcs11.is_some()
            || !config.unprotect_certificates.is_empty()
        {
            return Err(RingError::KeyProtection(
                "certificate protection needs trousseau built with the certificate-keys feature"
                    .into(),
            ));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> KeyProtectionConfig {
        let text = format!("[key_protection]\n{toml}");
        crate::config::Config::parse(&text, std::path::Path::new("(test)"))
            .unwrap()
            .key_protection
    }

    #[test]
    fn dpapi_scopes_parse_and_bad_ones_are_named() {
        use crate::dataprotection::dpapi::DpapiScope;
        assert_eq!(
            config("dpapi = \"current-user\"").dpapi,
            Some(DpapiScope::CurrentUser)
        );
        assert_eq!(
            config("dpapi = \"local-machine\"").dpapi,
            Some(DpapiScope::LocalMachine)
        );
        let e = crate::config::Config::parse(
            "[key_protection]\ndpapi = \"machine\"",
            std::path::Path::new("(test)"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("local-machine"), "{e}");
    }

    #[test]
    fn dpapi_and_a_certificate_are_not_both_set() {
        let e = key_protection(&config(
            "dpapi = \"current-user\"\ncertificate = \"/x.pem\"",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[cfg(all(feature = "certificate-keys", not(feature = "pkcs11")))]
    #[test]
    fn a_private_key_on_a_token_names_the_missing_feature() {
        let e = key_protection(&config(
            "certificate = \"/x.crt\"\nprivate_key_pkcs11 = { module = \"/m.so\", key_label = \"dp\", pin_env = \"PIN\" }",
        ))
        .unwrap_err();
        assert!(e.is_configuration());
        assert!(e.to_string().contains("pkcs11 feature"), "{e}");
    }

    #[cfg(not(windows))]
    #[test]
    fn dpapi_is_refused_off_windows() {
        let e = key_protection(&config("dpapi = \"current-user\"")).unwrap_err();
        assert!(e.is_configuration());
        assert!(e.to_string().contains("needs Windows"), "{e}");
    }
}
