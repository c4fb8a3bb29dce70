//! X.509 certificates with their RSA private keys, read from the files the node's configuration
//! names: PEM (the certificate and a `PRIVATE KEY` or `RSA PRIVATE KEY` block, in one file or
//! two) or PKCS#12 (`.pfx`/`.p12`, as Windows and `dotnet dev-certs` export them, with a
//! password). The private key may instead stay on a PKCS#11 token (feature `pkcs11`), which
//! then decrypts: see [`Certificate::with_token_key`].
//!
//! These files come from the node's own configuration, never from the key ring; they are still
//! read with a size ceiling, and only regular files are opened.

use std::{io::Read, path::Path};

use der::{Decode, Encode};
use rsa::{
    pkcs1::DecodeRsaPrivateKey,
    pkcs8::{DecodePrivateKey, DecodePublicKey},
    traits::PublicKeyParts,
    PrivateKey, PublicKey,
};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use super::encrypted_data::Transport;
use crate::dataprotection::error::{DataProtectionError, Result};

/// The largest certificate or key file read (a PKCS#12 file with a long chain is a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The smallest RSA modulus accepted for a configured certificate, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// An X.509 certificate with an RSA public key, and its private key.
pub struct Certificate {
    der: Vec<u8>,
    thumbprint: String,
    public: PublicKey,
    private: Private,
}

/// Where the private key is.
enum Private {
    /// In memory, read from a file.
    Software(PrivateKey),
    /// On a PKCS#11 token, which decrypts.
    #[cfg(feature = "pkcs11")]
    Token(super::token_key::TokenKey),
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate({})", self.thumbprint)
    }
}

pub(super) fn invalid(path: &Path, why: impl std::fmt::Display) -> DataProtectionError {
    DataProtectionError::InvalidInput(format!("certificate file {}: {why}", path.display()))
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`] into a buffer wiped on drop.
fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path).map_err(|e| invalid(path, e))?;
    let meta = file.metadata().map_err(|e| invalid(path, e))?;
    if !meta.is_file() {
        return Err(invalid(path, "not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(invalid(
            path,
            format!(
                "{} bytes, more than the {MAX_FILE_BYTES} accepted",
                meta.len()
            ),
        ));
    }
    let mut data = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| invalid(path, e))?;
    Ok(data)
}

/// A PEM block: its label and its DER, wiped on drop.
type PemBlock = (String, Zeroizing<Vec<u8>>);

/// The PEM blocks of `text`.
fn pem_blocks(text: &[u8]) -> std::result::Result<Vec<PemBlock>, String> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, BEGIN) {
        let from = &rest[start..];
        let end = find(from, END).ok_or("a PEM block has no END line")?;
        let after_end = &from[end..];
        let line_end = after_end
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(after_end.len());
        let block = &from[..end + line_end];
        let (label, der) = der::pem::decode_vec(block).map_err(|e| format!("bad PEM: {e}"))?;
        blocks.push((label.to_string(), Zeroizing::new(der)));
        rest = &from[end + line_end..];
    }
    Ok(blocks)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Certificate {
    /// Reads a certificate and its private key from `path`: a PEM file, or a PKCS#12 file
    /// (anything that does not start as PEM text) opened with `password`. With `key_path`,
    /// the private key is read from that PEM file instead.
    pub fn load(path: &Path, key_path: Option<&Path>, password: &str) -> Result<Certificate> {
        let data = read_file(path)?;
        if find(&data, b"-----BEGIN ").is_none() {
            if key_path.is_some() {
                return Err(invalid(
                    path,
                    "a separate private key file goes only with a PEM certificate; a PKCS#12 \
                     file holds its own key",
                ));
            }
            return Self::from_pkcs12(path, &data, password);
        }
        let (cert, mut private) = Self::from_pem_parts(path, &data, true, key_path.is_none())?;
        let der = cert.ok_or_else(|| invalid(path, "no CERTIFICATE block"))?;
        if let Some(kp) = key_path {
            let key_data = read_file(kp)?;
            private = Self::from_pem_parts(kp, &key_data, false, true)?.1;
            if private.is_none() {
                return Err(invalid(kp, "no PRIVATE KEY or RSA PRIVATE KEY block"));
            }
        }
        let private = private.ok_or_else(|| {
            invalid(
                path,
                "no private key: add its PRIVATE KEY block to the file, or name the key file \
                 (private_key)",
            )
        })?;
        Self::new(path, der, private)
    }

    /// The first certificate's DER and the first private key in the PEM text.
    fn from_pem_parts(
        path: &Path,
        data: &[u8],
        want_cert: bool,
        want_key: bool,
    ) -> Result<(Option<Vec<u8>>, Option<PrivateKey>)> {
        let mut cert = None;
        let mut private = None;
        for (label, der) in pem_blocks(data).map_err(|e| invalid(path, e))? {
            match label.as_str() {
                "CERTIFICATE" if want_cert && cert.is_none() => cert = Some(der.to_vec()),
                "PRIVATE KEY" if want_key && private.is_none() => {
                    private = Some(PrivateKey::from_pkcs8_der(&der).map_err(|e| {
                        invalid(path, format!("the private key is not an RSA key ({e})"))
                    })?);
                }
                "RSA PRIVATE KEY" if want_key && private.is_none() => {
                    private = Some(
                        PrivateKey::from_pkcs1_der(&der)
                            .map_err(|e| invalid(path, format!("bad RSA private key ({e})")))?,
                    );
                }
                "ENCRYPTED PRIVATE KEY" if want_key && private.is_none() => {
                    return Err(invalid(
                        path,
                        "the private key is encrypted; use a PKCS#12 file with its password \
                         in an environment variable (password_env), or an unencrypted key \
                         readable only by this service",
                    ));
                }
                _ => {}
            }
        }
        Ok((cert, private))
    }

    fn from_pkcs12(path: &Path, data: &[u8], password: &str) -> Result<Certificate> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(data, password).map_err(|e| {
            invalid(
                path,
                format!("cannot open it as PKCS#12 (wrong password, or not a .pfx/.p12 file): {e}"),
            )
        })?;
        let keys = archive
            .keys
            .iter()
            .filter_map(|bag| PrivateKey::from_pkcs8_der(bag.key.as_der()).ok())
            .collect::<Vec<_>>();
        if keys.is_empty() {
            return Err(invalid(path, "the PKCS#12 file holds no RSA private key"));
        }
        // The certificate whose public key is one of the private keys (the leaf, not its CAs).
        for bag in &archive.certs {
            let der = bag.cert.as_der();
            let Ok(public) = public_key(der) else {
                continue;
            };
            if let Some(private) = keys.iter().find(|k| k.as_public_key() == &public) {
                return Self::new(path, der.to_vec(), private.clone());
            }
        }
        Err(invalid(
            path,
            "the PKCS#12 file holds no certificate matching its private key",
        ))
    }

    /// Reads the certificate alone from `path` (a PEM `CERTIFICATE` block or DER) and uses
    /// the RSA private key on the PKCS#11 token that `key` names, after checking that it is
    /// this certificate's key (same modulus and exponent).
    #[cfg(feature = "pkcs11")]
    pub fn with_token_key(
        path: &Path,
        key: &crate::config::Pkcs11PrivateKey,
    ) -> Result<Certificate> {
        let data = read_file(path)?;
        let der = if find(&data, b"-----BEGIN ").is_some() {
            Self::from_pem_parts(path, &data, true, false)?
                .0
                .ok_or_else(|| invalid(path, "no CERTIFICATE block"))?
        } else {
            data.to_vec()
        };
        let (public, thumbprint) = checked_public_key(path, &der)?;
        let token = super::token_key::TokenKey::open(path, key, &public, &thumbprint)?;
        Ok(Certificate {
            der,
            thumbprint,
            public,
            private: Private::Token(token),
        })
    }

    fn new(path: &Path, der: Vec<u8>, private: PrivateKey) -> Result<Certificate> {
        let (public, thumbprint) = checked_public_key(path, &der)?;
        check_pair(path, &public, &private, &thumbprint)?;
        Ok(Certificate {
            der,
            thumbprint,
            public,
            private: Private::Software(private),
        })
    }

    /// The certificate, DER-encoded (what `<X509Certificate>` carries in base64).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-1 thumbprint in upper-case hex, as Windows and .NET show it.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The RSA public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The content key `cipher` transports, decrypted with the private key; `Ok(None)` when
    /// it does not decrypt (PKCS#1 v1.5 in software uses implicit rejection: a ciphertext that
    /// is not for this key gives a pseudo-random key, not `None`). `Err` only when a token
    /// holding the key cannot be used, which does not depend on the ciphertext.
    pub(super) fn decrypt_key(
        &self,
        transport: Transport,
        cipher: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match &self.private {
            Private::Software(key) => Ok(match transport {
                Transport::Pkcs1v15 => key.pkcs1v15_decrypt(cipher),
                Transport::OaepSha1 => key.decrypt(rsa::Oaep::<sha1::Sha1>::new(), cipher),
            }
            .ok()
            .map(Zeroizing::new)),
            #[cfg(feature = "pkcs11")]
            Private::Token(token) => token.decrypt(transport, cipher),
        }
    }
}

/// The RSA public key of a DER certificate of at least [`MIN_RSA_BITS`] bits, and the
/// certificate's thumbprint.
fn checked_public_key(path: &Path, der: &[u8]) -> Result<(PublicKey, String)> {
    let public = public_key(der).map_err(|e| invalid(path, e))?;
    if public.size() * 8 < MIN_RSA_BITS {
        return Err(invalid(
            path,
            format!(
                "the RSA key has {} bits, fewer than the {MIN_RSA_BITS} accepted",
                public.size() * 8
            ),
        ));
    }
    Ok((public, hex::encode_upper(Sha1::digest(der))))
}
fn check_pair(
    path: &Path,
    public: &PublicKey,
    private: &PrivateKey,
    thumbprint: &str,
) -> Result<()> {
    if private.as_public_key() == public {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("the private key does not belong to certificate {thumbprint}"),
        ))
    }
}

/// The RSA public key of a DER certificate.
fn public_key(der: &[u8]) -> std::result::Result<PublicKey, String> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| format!("bad public key ({e})"))?;
    PublicKey::from_public_key_der(&spki)
        .map_err(|e| format!("the certificate's key is not an RSA key ({e})"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_split() {
        let text = b"junk\n-----BEGIN A-----\nAAEC\n-----END A-----\nmore\n-----BEGIN B-----\nAw==\n-----END B-----";
        let blocks = pem_blocks(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            (blocks[0].0.as_str(), blocks[0].1.as_slice()),
            ("A", &[0u8, 1, 2][..])
        );
        assert_eq!(
            (blocks[1].0.as_str(), blocks[1].1.as_slice()),
            ("B", &[3u8][..])
        );
        assert!(pem_blocks(b"-----BEGIN A-----\nAAEC\n").is_err());
        assert!(pem_blocks(b"-----BEGIN A-----\n!!!!\n-----END A-----\n").is_err());
    }
}
