//! Key secrets encrypted under X.509 certificates with W3C XML Encryption, as ASP.NET Core's
//! `ProtectKeysWithCertificate` writes them and `UnprotectKeysWithAnyCertificate` reads them
//! (feature `certificate-keys`).
//!
//! - [`certificate`]: a certificate and its RSA private key from a PEM or PKCS#12 file, or
//!   with the private key on a PKCS#11 token (feature `pkcs11`);
//! - [`encrypted_data`]: the `<EncryptedData>` element, written and read;
//! - [`CertificateKeys`]: the [`KeyEncryption`](super::at_rest::KeyEncryption) a ring
//!   configured for certificate protection uses.

pub mod certificate;
pub mod encrypted_data;
mod keys;
#[cfg(feature = "pkcs11")]
mod token_key;

pub use certificate::Certificate;
pub use keys::CertificateKeys;
