//! The `decryptorType`s ASP.NET Core writes on `<encryptedSecret>` elements, and what a node
//! says about a key encrypted with one it cannot open.
//!
//! ASP.NET Core chooses how a key's master key is protected at rest with its
//! `ProtectKeysWith…` calls; the element records the decryptor that reverses it. A Trousseau
//! node reads keys in clear (interop mode), keys sealed under its own ring-wrapping key, on
//! Windows keys protected with DPAPI (interop mode), and, with the `certificate-keys` feature,
//! keys encrypted under an X.509 certificate. For every
//! other form the key stays in the ring but unusable, and the reason names what would be
//! needed to read it.

/// `ProtectKeysWithCertificate`: W3C XML Encryption under an X.509 certificate.
pub const ENCRYPTED_XML: &str =
    "Microsoft.AspNetCore.DataProtection.XmlEncryption.EncryptedXmlDecryptor";
/// `ProtectKeysWithDpapi`: Windows DPAPI under the user (or machine) account.
pub const DPAPI: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiXmlDecryptor";
/// `ProtectKeysWithDpapiNG`: Windows CNG DPAPI (DPAPI-NG) under a protection descriptor.
pub const DPAPI_NG: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.DpapiNGXmlDecryptor";
/// `ProtectKeysWithAzureKeyVault` (Azure.Extensions.AspNetCore.DataProtection.Keys).
pub const AZURE_KEY_VAULT: &str =
    "Azure.Extensions.AspNetCore.DataProtection.Keys.AzureKeyVaultXmlDecryptor";
/// The same decryptor in the older Microsoft.AspNetCore.DataProtection.AzureKeyVault package.
pub const AZURE_KEY_VAULT_LEGACY: &str =
    "Microsoft.AspNetCore.DataProtection.AzureKeyVault.AzureKeyVaultXmlDecryptor";
/// The null decryptor (`NullXmlEncryptor`, tests only in ASP.NET Core).
pub const NULL: &str = "Microsoft.AspNetCore.DataProtection.XmlEncryption.NullXmlDecryptor";

/// Why a key whose secret is encrypted with `decryptor_type` (the type name before the first
/// comma) cannot be used by a ring that does not decrypt that form, naming what would be
/// needed.
pub fn unsupported(decryptor_type: &str) -> String {
    match decryptor_type {
        ENCRYPTED_XML => {
            if cfg!(feature = "certificate-keys") {
                "its master key is encrypted under an X.509 certificate (ASP.NET Core's \
                 ProtectKeysWithCertificate); configure that certificate with its private key \
                 ([key_protection] certificate, or unprotect_certificates for older ones)"
                    .to_string()
            } else {
                "its master key is encrypted under an X.509 certificate (ASP.NET Core's \
                 ProtectKeysWithCertificate); this build cannot read such keys: build trousseau \
                 with the certificate-keys feature and configure the certificate with its \
                 private key ([key_protection] certificate)"
                    .to_string()
            }
        }
        DPAPI => {
            if cfg!(windows) {
                "its master key is protected with Windows DPAPI (ASP.NET Core's \
                 ProtectKeysWithDpapi); only the Windows user account (or machine) that wrote \
                 it can decrypt it, and only rings shared with ASP.NET Core (interop mode) read \
                 DPAPI keys"
                    .to_string()
            } else {
                "its master key is protected with Windows DPAPI (ASP.NET Core's \
                 ProtectKeysWithDpapi), which needs Windows and the same user account (or \
                 machine) that wrote it; it cannot be read on this system. Protect the ring with \
                 a certificate instead (ProtectKeysWithCertificate) to share it across systems"
                    .to_string()
            }
        }
        DPAPI_NG => "its master key is protected with Windows DPAPI-NG (ASP.NET Core's \
             ProtectKeysWithDpapiNG), which needs Windows CNG and a principal matching the \
             key's protection descriptor (an Active Directory group, a certificate in the \
             Windows store, …); trousseau cannot read DPAPI-NG keys. Protect the ring with a \
             certificate instead (ProtectKeysWithCertificate)"
            .to_string(),
        AZURE_KEY_VAULT | AZURE_KEY_VAULT_LEGACY => "its master key is wrapped with a key in \
             Azure Key Vault (ProtectKeysWithAzureKeyVault), which needs that vault and an \
             identity allowed to unwrap with its key (the unwrapKey permission); trousseau \
             cannot call Azure Key Vault. Protect the ring with a certificate instead \
             (ProtectKeysWithCertificate)"
            .to_string(),
        NULL => "its master key is marked with the null decryptor (NullXmlDecryptor, \
             ASP.NET Core's test-only encryptor); such keys are not trusted"
            .to_string(),
        other => format!(
            "its master key is encrypted with {other}, which this key ring cannot open (no \
             master key is open, and it is not a form trousseau reads)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_what_is_needed() {
        assert!(unsupported(DPAPI_NG).contains("protection descriptor"));
        assert!(unsupported(AZURE_KEY_VAULT).contains("unwrapKey"));
        assert!(unsupported(AZURE_KEY_VAULT_LEGACY).contains("Azure Key Vault"));
        #[cfg(not(windows))]
        assert!(unsupported(DPAPI).contains("needs Windows and the same user account"));
        assert!(unsupported(ENCRYPTED_XML).contains("certificate"));
        assert!(unsupported("Acme.Decryptor").contains("Acme.Decryptor"));
    }
}
