//! W3C XML Encryption 1.0 `<EncryptedData>` as ASP.NET Core's `CertificateXmlEncryptor`
//! writes it (through .NET's `EncryptedXml.Encrypt(element, certificate)`) and its
//! `EncryptedXmlDecryptor` reads it:
//!
//! - the element is encrypted whole (`Type="…xmlenc#Element"`): the UTF-8 text of the
//!   `<masterKey>` element;
//! - content encryption AES-256-CBC (`xmlenc#aes256-cbc`) with a random key and IV; the
//!   `<CipherValue>` is base64 of the 16-byte IV followed by the ciphertext; padding per XML
//!   Encryption (ISO 10126: the last byte counts the padding bytes, the others are arbitrary;
//!   Trousseau writes PKCS#7, which is one case of it);
//! - the AES key transported in one `<EncryptedKey>` inside `<KeyInfo>`, RSA PKCS#1 v1.5
//!   (`xmlenc#rsa-1_5`, what .NET writes) or RSA-OAEP with SHA-1 (`xmlenc#rsa-oaep-mgf1p`,
//!   read only, as .NET reads it), under the certificate that the `<EncryptedKey>`'s own
//!   `<KeyInfo><X509Data><X509Certificate>` carries.
//!
//! Nothing here is authenticated: XML Encryption 1.0 in CBC mode has no MAC. Whoever holds
//! the public certificate can make an `<EncryptedData>` that decrypts; that is ASP.NET Core's
//! model too (see the threat model). Every size read from the element is bounded before it is
//! decoded.

use aes::cipher::{
    block_padding::{NoPadding, Pkcs7},
    BlockModeDecrypt, BlockModeEncrypt, KeyIvInit,
};
use base64::Engine;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::certificate::Certificate;
use crate::dataprotection::{
    error::{DataProtectionError, Result},
    xmltree::XmlElement,
};

/// The XML Encryption namespace.
pub const XMLENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// The XML Signature namespace (`<KeyInfo>`, `<X509Data>`).
pub const XMLDSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// `Type` of an `<EncryptedData>` that replaces a whole element.
pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
/// AES-256-CBC content encryption.
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
/// RSA PKCS#1 v1.5 key transport.
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
/// RSA-OAEP key transport with MGF1 over SHA-1.
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const DIGEST_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// The most `<EncryptedKey>` elements read from one `<EncryptedData>` (.NET writes one).
pub const MAX_ENCRYPTED_KEYS: usize = 8;
/// The most certificates read from one `<EncryptedKey>`'s `<X509Data>`.
pub const MAX_CERTIFICATES: usize = 8;
/// The largest encrypted AES key accepted, in bytes (an RSA-8192 block).
pub const MAX_WRAPPED_KEY: usize = 1024;
/// The largest certificate accepted in a `<KeyInfo>`, in bytes of DER.
pub const MAX_CERTIFICATE: usize = 16 * 1024;
/// The largest `<CipherValue>` of the content accepted, in bytes (a `<masterKey>` element is
/// about 250).
pub const MAX_CIPHERTEXT: usize = 64 * 1024;
const AES_KEY: usize = 32;
const BLOCK: usize = 16;

/// How the content key is transported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// `rsa-1_5`.
    Pkcs1v15,
    /// `rsa-oaep-mgf1p` with SHA-1.
    OaepSha1,
}

/// One `<EncryptedKey>`: the certificates it names and the encrypted AES key.
#[derive(Debug)]
struct WrappedKey {
    transport: Transport,
    certificates: Vec<Vec<u8>>,
    cipher: Vec<u8>,
}

/// An `<EncryptedData>` element, read and checked, not yet decrypted.
#[derive(Debug)]
pub struct EncryptedData {
    keys: Vec<WrappedKey>,
    /// IV followed by the AES-CBC ciphertext.
    cipher: Vec<u8>,
}

fn bad(why: impl Into<String>) -> DataProtectionError {
    DataProtectionError::InvalidInput(format!(
        "its <EncryptedData> (XML Encryption) is not valid: {}",
        why.into()
    ))
}

/// Decodes base64 text (whitespace allowed, as XML writers wrap it) of at most `max` bytes.
fn base64_bounded(text: &str, max: usize, what: &str) -> Result<Vec<u8>> {
    let compact: String = text.split_whitespace().collect();
    if compact.len() / 4 * 3 > max + 3 {
        return Err(bad(format!(
            "the {what} is {} characters of base64, more than the {max} bytes accepted",
            compact.len()
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| bad(format!("the {what} is not base64 ({e})")))?;
    if bytes.len() > max {
        return Err(bad(format!(
            "the {what} is {} bytes, more than the {max} accepted",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn algorithm<'a>(e: &'a XmlElement, whose: &str) -> Result<&'a str> {
    e.child("EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .ok_or_else(|| bad(format!("the {whose} has no <EncryptionMethod Algorithm=…>")))
}

fn cipher_value(e: &XmlElement, max: usize, what: &str) -> Result<Vec<u8>> {
    let data = e
        .child("CipherData")
        .ok_or_else(|| bad(format!("the {what} has no <CipherData>")))?;
    if data.child("CipherReference").is_some() {
        return Err(bad(format!(
            "the {what} refers to its ciphertext elsewhere (<CipherReference>), which is never \
             followed"
        )));
    }
    let value = data
        .child("CipherValue")
        .ok_or_else(|| bad(format!("the {what} has no <CipherValue>")))?;
    base64_bounded(&value.text, max, what)
}

impl WrappedKey {
    fn read(e: &XmlElement) -> Result<WrappedKey> {
        let transport = match algorithm(e, "<EncryptedKey>")? {
            RSA_1_5 => Transport::Pkcs1v15,
            RSA_OAEP_MGF1P => {
                let method = e.child("EncryptionMethod");
                if method.is_some_and(|m| m.child("OAEPparams").is_some()) {
                    return Err(bad("RSA-OAEP with a label (<OAEPparams>) is not supported"));
                }
                match method
                    .and_then(|m| m.child("DigestMethod"))
                    .and_then(|d| d.attr("Algorithm"))
                {
                    None | Some(DIGEST_SHA1) => Transport::OaepSha1,
                    Some(other) => {
                        return Err(bad(format!(
                            "RSA-OAEP digest {other} is not supported (only SHA-1, what .NET \
                             reads)"
                        )))
                    }
                }
            }
            other => {
                return Err(bad(format!(
                    "key transport {other} is not supported ({RSA_1_5} or {RSA_OAEP_MGF1P})"
                )))
            }
        };
        let mut certificates = Vec::new();
        if let Some(info) = e.child("KeyInfo") {
            for data in info.children_named("X509Data") {
                for c in data.children_named("X509Certificate") {
                    if certificates.len() == MAX_CERTIFICATES {
                        return Err(bad(format!(
                            "an <EncryptedKey> names more than {MAX_CERTIFICATES} certificates"
                        )));
                    }
                    certificates.push(base64_bounded(&c.text, MAX_CERTIFICATE, "certificate")?);
                }
            }
        }
        if certificates.is_empty() {
            return Err(bad(
                "its <EncryptedKey> carries no certificate (<KeyInfo><X509Data>\
                 <X509Certificate>), which is how ASP.NET Core names the certificate to decrypt \
                 with",
            ));
        }
        Ok(WrappedKey {
            transport,
            certificates,
            cipher: cipher_value(e, MAX_WRAPPED_KEY, "encrypted AES key")?,
        })
    }

    /// The AES key, decrypted with the private key of `certificate`; `Ok(None)` when it does
    /// not decrypt to one. PKCS#1 v1.5 in software uses implicit rejection: a ciphertext that
    /// is not for this key gives a pseudo-random key, not an error, so nothing observable
    /// tells bad padding apart from a wrong key until the content fails to decrypt. A token
    /// refuses bad padding instead, which the caller reports exactly as a content that does
    /// not decrypt. `Err` only when the token cannot be used at all.
    fn unwrap(&self, certificate: &Certificate) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let plain = certificate.decrypt_key(self.transport, &self.cipher)?;
        Ok(plain.filter(|p| p.len() == AES_KEY))
    }
}

impl EncryptedData {
    /// Reads an `<EncryptedData>` element (the child of an `<encryptedSecret>`), checking its
    /// form and bounding every size; nothing is decrypted.
    pub fn read(e: &XmlElement) -> Result<EncryptedData> {
        if e.local_name() != "EncryptedData" {
            return Err(bad(format!(
                "expected <EncryptedData>, found <{}>",
                e.local_name()
            )));
        }
        if let Some(t) = e.attr("Type") {
            if t != TYPE_ELEMENT {
                return Err(bad(format!(
                    "Type {t} is not supported (only {TYPE_ELEMENT}, a whole element)"
                )));
            }
        }
        match algorithm(e, "<EncryptedData>")? {
            AES256_CBC => {}
            other => {
                return Err(bad(format!(
                    "content encryption {other} is not supported (only {AES256_CBC}, what \
                     ASP.NET Core writes)"
                )))
            }
        }
        let info = e
            .child("KeyInfo")
            .ok_or_else(|| bad("the <EncryptedData> has no <KeyInfo>"))?;
        let mut keys = Vec::new();
        for k in info.children_named("EncryptedKey") {
            if keys.len() == MAX_ENCRYPTED_KEYS {
                return Err(bad(format!(
                    "more than {MAX_ENCRYPTED_KEYS} <EncryptedKey> elements"
                )));
            }
            keys.push(WrappedKey::read(k)?);
        }
        if keys.is_empty() {
            return Err(bad(
                "its <KeyInfo> has no <EncryptedKey> (the key must travel RSA-encrypted under \
                 a certificate)",
            ));
        }
        let cipher = cipher_value(e, MAX_CIPHERTEXT, "ciphertext")?;
        if cipher.len() < 2 * BLOCK || !cipher.len().is_multiple_of(BLOCK) {
            return Err(bad(format!(
                "the ciphertext is {} bytes, not a 16-byte IV followed by whole AES blocks \
                 (it was truncated or damaged)",
                cipher.len()
            )));
        }
        Ok(EncryptedData { keys, cipher })
    }

    /// The SHA-1 thumbprints (upper-case hex) of the certificates the element is encrypted
    /// for, for messages.
    pub fn thumbprints(&self) -> Vec<String> {
        use sha1::Digest;
        self.keys
            .iter()
            .flat_map(|k| &k.certificates)
            .map(|c| hex::encode_upper(sha1::Sha1::digest(c)))
            .collect()
    }

    /// The plaintext (the encrypted element's UTF-8 text), decrypted with whichever of
    /// `certificates` an `<EncryptedKey>` names (by the whole certificate, as ASP.NET Core
    /// matches its thumbprint).
    /// Each configured certificate is tried at most once, so an element naming it many times
    /// costs no more RSA decryptions than one that names it once.
    pub fn decrypt(&self, certificates: &[Certificate]) -> Result<Zeroizing<Vec<u8>>> {
        let mut tried: Option<String> = None;
        let mut used = vec![false; certificates.len()];
        for wrapped in &self.keys {
            for named in &wrapped.certificates {
                let Some(i) = certificates
                    .iter()
                    .position(|c| c.der() == named.as_slice())
                else {
                    continue;
                };
                if std::mem::replace(&mut used[i], true) {
                    continue;
                }
                let cert = &certificates[i];
                tried = Some(cert.thumbprint().to_string());
                if let Some(plain) = wrapped
                    .unwrap(cert)?
                    .and_then(|key| self.decrypt_content(&key))
                {
                    return Ok(plain);
                }
            }
        }
        Err(match tried {
            Some(thumbprint) => DataProtectionError::InvalidInput(format!(
                "it does not decrypt under certificate {thumbprint}, which it names: its \
                 encrypted key or ciphertext was altered or damaged"
            )),
            None => DataProtectionError::InvalidInput(format!(
                "it is encrypted for certificate {} and no configured certificate is that \
                 one; add it with its private key ([key_protection] unprotect_certificates)",
                self.thumbprints().join(", ")
            )),
        })
    }

    /// AES-256-CBC decryption of the content; `None` when the padding is not XML
    /// Encryption's (a last byte from 1 to 16).
    fn decrypt_content(&self, key: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (iv, body) = self.cipher.split_at(BLOCK);
        let mut buf = Zeroizing::new(body.to_vec());
        let d = cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv).ok()?;
        let len = d.decrypt_padded::<NoPadding>(&mut buf).ok()?.len();
        let pad = usize::from(*buf.get(len.checked_sub(1)?)?);
        if pad == 0 || pad > BLOCK {
            return None;
        }
        buf.truncate(len - pad);
        Some(buf)
    }
}

/// The `<EncryptedData>` element holding `plaintext` encrypted for `certificate`, exactly as
/// .NET's `EncryptedXml.Encrypt(element, certificate)` forms it (AES-256-CBC, RSA PKCS#1 v1.5
/// key transport, the certificate in the `<EncryptedKey>`'s `<KeyInfo>`), indented by
/// `indent` spaces as in a key file.
pub fn encrypt(plaintext: &[u8], certificate: &Certificate, indent: usize) -> Result<String> {
    let mut key = Zeroizing::new([0u8; AES_KEY]);
    let mut iv = [0u8; BLOCK];
    getrandom::fill(key.as_mut_slice())
        .and_then(|()| getrandom::fill(&mut iv))
        .map_err(|e| DataProtectionError::Random(e.to_string()))?;
    let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
    let mut out = Zeroizing::new(vec![0u8; padded]);
    out[..plaintext.len()].copy_from_slice(plaintext);
    let e = cbc::Encryptor::<aes::Aes256>::new_from_slices(key.as_slice(), &iv)
        .map_err(|e| DataProtectionError::InvalidInput(format!("AES-256-CBC: {e}")))?;
    let ct = e
        .encrypt_padded::<Pkcs7>(&mut out, plaintext.len())
        .map_err(|e| DataProtectionError::InvalidInput(format!("AES-256-CBC: {e}")))?;
    let mut content = iv.to_vec();
    content.extend_from_slice(ct);
    let public = certificate.public_key();
    let wrapped = public.pkcs1v15_encrypt(key.as_slice()).map_err(|e| {
        DataProtectionError::InvalidInput(format!(
            "cannot encrypt under certificate {} ({} bits): {e}",
            certificate.thumbprint(),
            public.size() * 8
        ))
    })?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let p = |n: usize| " ".repeat(indent + n);
    Ok(format!(
        "{}<EncryptedData Type=\"{TYPE_ELEMENT}\" xmlns=\"{XMLENC_NS}\">\n\
         {}<EncryptionMethod Algorithm=\"{AES256_CBC}\" />\n\
         {}<KeyInfo xmlns=\"{XMLDSIG_NS}\">\n\
         {}<EncryptedKey xmlns=\"{XMLENC_NS}\">\n\
         {}<EncryptionMethod Algorithm=\"{RSA_1_5}\" />\n\
         {}<KeyInfo xmlns=\"{XMLDSIG_NS}\">\n\
         {}<X509Data>\n\
         {}<X509Certificate>{}</X509Certificate>\n\
         {}</X509Data>\n\
         {}</KeyInfo>\n\
         {}<CipherData>\n\
         {}<CipherValue>{}</CipherValue>\n\
         {}</CipherData>\n\
         {}</EncryptedKey>\n\
         {}</KeyInfo>\n\
         {}<CipherData>\n\
         {}<CipherValue>{}</CipherValue>\n\
         {}</CipherData>\n\
         {}</EncryptedData>",
        p(0),
        p(2),
        p(2),
        p(4),
        p(6),
        p(6),
        p(8),
        p(10),
        b64(certificate.der()),
        p(8),
        p(6),
        p(6),
        p(8),
        b64(&wrapped),
        p(6),
        p(4),
        p(2),
        p(2),
        p(4),
        b64(&content),
        p(2),
        p(0),
    ))
}
