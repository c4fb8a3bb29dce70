//! [`CertificateKeys`]: key secrets encrypted under X.509 certificates, ASP.NET Core's
//! `ProtectKeysWithCertificate` and `UnprotectKeysWithAnyCertificate`, as a
//! [`KeyEncryption`].

use std::path::Path;

use trousseau_core::SecretBytes;
use zeroize::Zeroizing;

use super::{certificate::Certificate, encrypted_data};
use crate::{
    config::{CertificateFile, KeyProtectionConfig, Pkcs11PrivateKey},
    dataprotection::{
        algorithms::Algorithm,
        at_rest::{self, KeyEncryption, UnusableKeys},
        decryptors::ENCRYPTED_XML,
        error::{DataProtectionError, Result},
        keyring::{Descriptor, Key, MasterKeySecret},
        keyxml::{self, DP_NAMESPACE, UNENCRYPTED_WARNING},
        xmltree,
    },
};

/// Key secrets encrypted at rest under an X.509 certificate, byte-compatible with ASP.NET
/// Core's `CertificateXmlEncryptor` and `EncryptedXmlDecryptor`: new keys are encrypted for
/// the current certificate; existing keys are decrypted with whichever configured certificate
/// their `<EncryptedKey>` names (the current one or older ones still trusted to read, as
/// `UnprotectKeysWithAnyCertificate`). Keys stored in clear are read too, as ASP.NET does, and
/// on Windows keys protected with DPAPI by this user or machine.
///
/// The trust model is ASP.NET Core's: secrets are confidential to holders of a private key,
/// but nothing authenticates them. Whoever can write the repository and has the public
/// certificate can plant a key or a revocation, as in interop mode.
pub struct CertificateKeys {
    /// The certificate new keys are encrypted for: `certificates[0]`.
    certificates: Vec<Certificate>,
    unusable: UnusableKeys,
}

impl std::fmt::Debug for CertificateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let thumbprints: Vec<&str> = self.certificates.iter().map(|c| c.thumbprint()).collect();
        write!(f, "CertificateKeys({thumbprints:?})")
    }
}

fn password(env: Option<&str>) -> Result<Zeroizing<String>> {
    match env {
        None => Ok(Zeroizing::new(String::new())),
        Some(name) => std::env::var(name).map(Zeroizing::new).map_err(|_| {
            DataProtectionError::InvalidInput(format!(
                "the certificate password is read from the environment variable {name}, which \
                 is not set (or not UTF-8)"
            ))
        }),
    }
}

/// The certificate at `path` with its private key: from the certificate file, from the PEM
/// file `private_key`, or on the PKCS#11 token `token_key` names.
fn load(
    path: &Path,
    private_key: Option<&Path>,
    password_env: Option<&str>,
    token_key: Option<&Pkcs11PrivateKey>,
) -> Result<Certificate> {
    let Some(token_key) = token_key else {
        return Certificate::load(path, private_key, &password(password_env)?);
    };
    if private_key.is_some() {
        return Err(DataProtectionError::InvalidInput(format!(
            "certificate {}: private_key and private_key_pkcs11 are both set; the private key \
             is in a file or on a token, keep one",
            path.display()
        )));
    }
    load_with_token_key(path, token_key)
}

#[cfg(feature = "pkcs11")]
fn load_with_token_key(path: &Path, token_key: &Pkcs11PrivateKey) -> Result<Certificate> {
    Certificate::with_token_key(path, token_key)
}

#[cfg(not(feature = "pkcs11"))]
fn load_with_token_key(path: &Path, _token_key: &Pkcs11PrivateKey) -> Result<Certificate> {
    Err(DataProtectionError::InvalidInput(format!(
        "certificate {}: a private key on a PKCS#11 token (private_key_pkcs11) needs trousseau \
         built with the pkcs11 feature (as well as certificate-keys)",
        path.display()
    )))
}

impl CertificateKeys {
    /// Protection writing new keys for `current` and reading keys encrypted for `current` or
    /// any of `older`.
    pub fn new(current: Certificate, older: Vec<Certificate>) -> Self {
        let mut certificates = vec![current];
        certificates.extend(older);
        CertificateKeys {
            certificates,
            unusable: UnusableKeys::default(),
        }
    }

    /// The protection a `[key_protection]` table describes, `None` when it names no
    /// certificate. The certificate files are read now; PKCS#12 passwords and token PINs come
    /// from the environment variables the table names, and a key on a token is checked
    /// against its certificate now.
    pub fn from_config(config: &KeyProtectionConfig) -> Result<Option<Self>> {
        let Some(path) = &config.certificate else {
            if config.unprotect_certificates.is_empty()
                && config.private_key.is_none()
                && config.private_key_pkcs11.is_none()
            {
                return Ok(None);
            }
            return Err(DataProtectionError::InvalidInput(
                "[key_protection] names older certificates or a private key but no certificate; \
                 set certificate (the one new keys are encrypted for)"
                    .into(),
            ));
        };
        let current = load(
            path,
            config.private_key.as_deref(),
            config.password_env.as_deref(),
            config.private_key_pkcs11.as_ref(),
        )?;
        let older = config
            .unprotect_certificates
            .iter()
            .map(|f| match f {
                CertificateFile::Path(p) => load(p, None, config.password_env.as_deref(), None),
                CertificateFile::File {
                    path,
                    private_key,
                    password_env,
                    private_key_pkcs11,
                } => load(
                    path,
                    private_key.as_deref(),
                    password_env.as_deref().or(config.password_env.as_deref()),
                    private_key_pkcs11.as_deref(),
                ),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Self::new(current, older)))
    }

    /// The certificate new keys are encrypted for.
    pub fn current(&self) -> &Certificate {
        &self.certificates[0]
    }

    /// Every certificate keys are decrypted with, the current one first.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    fn decrypt(&self, xml: &str) -> Result<SecretBytes> {
        let secret = xmltree::parse(xml)?;
        let mut children = secret.children.iter();
        let (Some(data), None) = (children.next(), children.next()) else {
            return Err(DataProtectionError::InvalidInput(
                "its <encryptedSecret> must hold exactly one element, the <EncryptedData>".into(),
            ));
        };
        let plain = encrypted_data::EncryptedData::read(data)?.decrypt(&self.certificates)?;
        keyxml::decrypted_master_key(&plain)
    }
}

/// The `<masterKey>` element ASP.NET Core encrypts (its `requiresEncryption` mark and warning
/// comment included), serialised as .NET's `OuterXml` does: no whitespace between nodes.
fn master_key_plaintext(secret: &SecretBytes) -> Zeroizing<String> {
    use base64::Engine;
    let mut b64 = Zeroizing::new(String::new());
    base64::engine::general_purpose::STANDARD.encode_string(secret.expose(), &mut b64);
    Zeroizing::new(format!(
        "<masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"{DP_NAMESPACE}\"><!--{UNENCRYPTED_WARNING}--><value>{}</value></masterKey>",
        b64.as_str()
    ))
}

impl KeyEncryption for CertificateKeys {
    fn secret_xml(
        &self,
        _key: &Key,
        _algorithm: Algorithm,
        secret: &SecretBytes,
    ) -> Result<String> {
        let plaintext = master_key_plaintext(secret);
        let data = encrypted_data::encrypt(plaintext.as_bytes(), self.current(), 8)?;
        Ok(format!(
            "      <encryptedSecret decryptorType=\"{ENCRYPTED_XML}{}\" xmlns=\"{DP_NAMESPACE}\">\n{data}\n      </encryptedSecret>",
            keyxml::DESERIALIZER_ASSEMBLY
        ))
    }

    fn open_secret(&self, key: &Key, descriptor: &Descriptor) -> Result<SecretBytes> {
        match &descriptor.secret {
            MasterKeySecret::Encrypted {
                decryptor_type,
                xml,
            } if decryptor_type == ENCRYPTED_XML => self
                .decrypt(xml)
                .map_err(|e| self.unusable.refuse(key, e.to_string())),
            _ => at_rest::open_shared(descriptor).map_err(|why| self.unusable.refuse(key, why)),
        }
    }

    fn is_closed(&self) -> bool {
        false
    }
}
