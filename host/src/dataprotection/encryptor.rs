//! The authenticated encryptor of one key, byte-compatible with ASP.NET Core's: CBC + HMAC
//! (`keyModifier(16) || IV(16) || AES-CBC-PKCS7 || HMAC(IV || ciphertext)`) or GCM
//! (`keyModifier(16) || nonce(12) || ciphertext || tag(16)`, no GCM associated data), with
//! subkeys derived per payload from the key's master key by SP800-108 (label = the payload's
//! AAD, context = context header || key modifier).

use subtle::ConstantTimeEq;
use trousseau_core::SecretBytes;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::cbc_hmac;

use super::{
    algorithms::{self, Algorithm, EncryptionAlgorithm, ValidationAlgorithm},
    error::Result,
    kdf::{self, KeyedPrf},
};

/// Size of the random key modifier.
pub const KEY_MODIFIER_SIZE: usize = 16;
const BLOCK: usize = 16;
const GCM_NONCE: usize = 12;
const GCM_TAG: usize = 16;
/// Room for the largest `K_E || K_H`: AES-256 key + HMAC-SHA512 key.
const MAX_SUBKEYS: usize = 32 + 64;
/// Bytes encrypted before they are MACed: small enough to stay in L1.
const CHUNK: usize = 8192;

/// Why decryption failed (the caller turns it into a message with the key and purposes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptFailure {
    /// Shorter than the fixed overhead.
    Truncated,
    /// MAC or tag mismatch, or bad padding after a valid MAC.
    Invalid,
}

/// Encrypts and decrypts payload bodies for one master key.
pub struct AuthenticatedEncryptor {
    algorithm: Algorithm,
    prf: KeyedPrf,
    context_header: Vec<u8>,
}

impl std::fmt::Debug for AuthenticatedEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthenticatedEncryptor({:?})", self.algorithm)
    }
}

impl AuthenticatedEncryptor {
    /// An encryptor for `master_key` (the key derivation key) and `algorithm`.
    pub fn new(master_key: &SecretBytes, algorithm: Algorithm) -> Self {
        AuthenticatedEncryptor {
            algorithm,
            prf: kdf::keyed_prf(master_key.expose()),
            context_header: algorithm.context_header(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The smallest body this encryptor can have produced.
    pub fn min_body_len(&self) -> usize {
        if self.algorithm.encryption.is_gcm() {
            KEY_MODIFIER_SIZE + GCM_NONCE + GCM_TAG
        } else {
            KEY_MODIFIER_SIZE + BLOCK + self.algorithm.validation.digest_size()
        }
    }

    /// The body length [`encrypt_into`](Self::encrypt_into) appends for `plaintext_len` bytes.
    pub fn body_len(&self, plaintext_len: usize) -> usize {
        if self.algorithm.encryption.is_gcm() {
            KEY_MODIFIER_SIZE + GCM_NONCE + plaintext_len + GCM_TAG
        } else {
            KEY_MODIFIER_SIZE
                + BLOCK
                + (plaintext_len / BLOCK + 1) * BLOCK
                + self.algorithm.validation.digest_size()
        }
    }

    /// The [`kdf::Prefix`] of this key's derivations for payloads with `aad`.
    pub fn derivation_prefix(&self, aad: &[u8]) -> kdf::Prefix {
        kdf::Prefix::new(&self.prf, aad, &self.context_header)
    }

    /// `K_E || K_H` for one payload (label = AAD, context = context header || key modifier), in
    /// a stack buffer wiped on drop.
    fn subkeys(
        &self,
        aad: &[u8],
        prefix: Option<&kdf::Prefix>,
        key_modifier: &[u8],
    ) -> Zeroizing<[u8; MAX_SUBKEYS]> {
        let enc = self.algorithm.encryption;
        let len = if enc.is_gcm() {
            enc.key_size()
        } else {
            enc.key_size() + self.algorithm.validation.digest_size()
        };
        let mut k = Zeroizing::new([0u8; MAX_SUBKEYS]);
        kdf::derive(
            &self.prf,
            prefix,
            aad,
            &self.context_header,
            key_modifier,
            &mut k[..len],
        );
        k
    }

    /// Appends `keyModifier || IV || ciphertext || MAC` (or the GCM form) to `out`, taking
    /// the key modifier and IV from `random`. Reserve [`body_len`](Self::body_len) bytes in
    /// `out` to avoid reallocation. `prefix`, when given, is
    /// [`derivation_prefix`](Self::derivation_prefix) of `aad`.
    pub fn encrypt_into(
        &self,
        out: &mut Vec<u8>,
        plaintext: &[u8],
        aad: &[u8],
        prefix: Option<&kdf::Prefix>,
        random: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let enc = self.algorithm.encryption;
        let ks = enc.key_size();
        let start = out.len();
        let iv_len = if enc.is_gcm() { GCM_NONCE } else { BLOCK };
        out.resize(start + KEY_MODIFIER_SIZE + iv_len, 0);
        random(&mut out[start..])?;
        let (modifier, iv) = out[start..].split_at(KEY_MODIFIER_SIZE);
        let mut chain = [0u8; BLOCK];
        chain[..iv_len].copy_from_slice(iv);
        let k = self.subkeys(aad, prefix, modifier);
        let ct_start = out.len();
        if enc.is_gcm() {
            out.extend_from_slice(plaintext);
            let mut tag = [0u8; GCM_TAG];
            algorithms::gcm_encrypt(
                enc,
                &k[..ks],
                &chain[..iv_len],
                &mut out[ct_start..],
                &mut tag,
            );
            out.extend_from_slice(&tag);
        } else {
            let val = self.algorithm.validation;
            let ds = val.digest_size();
            let (k_e, k_h) = k[..ks + ds].split_at(ks);
            if let Some((k_e, k_h)) = Self::stitched(enc, val, k_e, k_h) {
                // Encrypted into `out` after the IV and MACed in one pass.
                let mac = cbc_hmac::seal(
                    &mut cbc_hmac::CbcEncryptor::new(k_e, &chain),
                    cbc_hmac::HmacSha256::new(k_h),
                    plaintext,
                    out,
                );
                out.extend_from_slice(&mac);
                return Ok(());
            }
            let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
            out.extend_from_slice(plaintext);
            out.resize(ct_start + padded, (padded - plaintext.len()) as u8);
            let mut mac = [0u8; 64];
            // Encrypt and MAC chunk by chunk so the MAC reads ciphertext still in L1.
            val.mac_streamed(
                k_h,
                |update| {
                    update(&chain);
                    for chunk in out[ct_start..].chunks_mut(CHUNK) {
                        algorithms::cbc_encrypt_blocks(enc, k_e, &chain, chunk);
                        chain.copy_from_slice(&chunk[chunk.len() - BLOCK..]);
                        update(chunk);
                    }
                },
                &mut mac[..ds],
            );
            out.extend_from_slice(&mac[..ds]);
        }
        Ok(())
    }

    /// Verifies (in constant time, before decrypting) and decrypts a body. `prefix` as in
    /// [`encrypt_into`](Self::encrypt_into).
    pub fn decrypt(
        &self,
        body: &[u8],
        aad: &[u8],
        prefix: Option<&kdf::Prefix>,
    ) -> Result<Vec<u8>, DecryptFailure> {
        if body.len() < self.min_body_len() {
            return Err(DecryptFailure::Truncated);
        }
        let enc = self.algorithm.encryption;
        let ks = enc.key_size();
        let (modifier, rest) = body.split_at(KEY_MODIFIER_SIZE);
        if enc.is_gcm() {
            let (nonce, rest) = rest.split_at(GCM_NONCE);
            let (ct, tag) = rest.split_at(rest.len() - GCM_TAG);
            let k = self.subkeys(aad, prefix, modifier);
            let mut buf = ct.to_vec();
            let k = &k[..ks];
            if algorithms::gcm_decrypt(enc, k, nonce, &mut buf, tag) {
                Ok(buf)
            } else {
                Err(DecryptFailure::Invalid)
            }
        } else {
            let val = self.algorithm.validation;
            let ds = val.digest_size();
            let (iv_ct, mac) = rest.split_at(rest.len() - ds);
            let k = self.subkeys(aad, prefix, modifier);
            let k = &k[..ks + ds];
            let (iv, ct) = iv_ct.split_at(BLOCK);
            if ct.is_empty() || ct.len() % BLOCK != 0 {
                return Err(DecryptFailure::Invalid);
            }
            let mut buf = Vec::with_capacity(ct.len());
            if let (Some((k_e, k_h)), Ok(iv)) =
                (Self::stitched(enc, val, &k[..ks], &k[ks..]), iv.try_into())
            {
                // Decrypted side by side with the MAC check; released only if the MAC matches.
                let expected = cbc_hmac::open(
                    &mut cbc_hmac::CbcDecryptor::new(k_e, iv),
                    cbc_hmac::HmacSha256::new(k_h),
                    iv_ct,
                    &mut buf,
                );
                if !bool::from(expected.ct_eq(mac)) {
                    buf.zeroize();
                    return Err(DecryptFailure::Invalid);
                }
                let n = algorithms::pkcs7_unpadded_len(&buf).ok_or(DecryptFailure::Invalid)?;
                buf.truncate(n);
                return Ok(buf);
            }
            let mut expected = [0u8; 64];
            val.mac(&k[ks..], &[iv_ct], &mut expected[..ds]);
            if !bool::from(expected[..ds].ct_eq(mac)) {
                return Err(DecryptFailure::Invalid);
            }
            buf.extend_from_slice(ct);
            let n = algorithms::cbc_decrypt(enc, &k[..ks], iv, &mut buf)
                .ok_or(DecryptFailure::Invalid)?;
            buf.truncate(n);
            Ok(buf)
        }
    }

    /// `(K_E, K_H)` as fixed-size keys when the pair is AES-256-CBC with HMAC-SHA256, which
    /// runs stitched ([`cbc_hmac`]); `None` for the other pairs.
    fn stitched<'k>(
        enc: EncryptionAlgorithm,
        val: ValidationAlgorithm,
        k_e: &'k [u8],
        k_h: &'k [u8],
    ) -> Option<(&'k [u8; 32], &'k [u8; 32])> {
        if enc != EncryptionAlgorithm::Aes256Cbc || val != ValidationAlgorithm::HmacSha256 {
            return None;
        }
        Some((k_e.try_into().ok()?, k_h.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn counting_rng() -> impl FnMut(&mut [u8]) -> Result<()> {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
            Ok(())
        }
    }

    fn kat(encryption: EncryptionAlgorithm) -> (AuthenticatedEncryptor, Vec<u8>) {
        let alg = Algorithm {
            encryption,
            validation: ValidationAlgorithm::HmacSha256,
        };
        let e = AuthenticatedEncryptor::new(&SecretBytes::copy_from(b"master key"), alg);
        let mut out = Vec::new();
        e.encrypt_into(
            &mut out,
            &[2, 3, 4],
            &[6, 5, 4, 3],
            None,
            &mut counting_rng(),
        )
        .unwrap();
        (e, out)
    }

    // Known answers from ASP.NET Core's tests: `ManagedAuthenticatedEncryptorTests` (CBC) and
    // `GcmAuthenticatedEncryptorTests` (GCM, whose buffer has 3 bytes before and 4 after),
    // `Encrypt_KnownKey`: key "master key", a counting RNG, plaintext 02 03 04, AAD 06 05 04 03.
    #[test]
    fn spec_6_2_cbc_known_answer() {
        let (e, out) = kat(EncryptionAlgorithm::Aes256Cbc);
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(&out),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+36j4yWJOjBgOJxmYDYwhLnYqFxw+9mNh/cudyPrWmJmw4d/dmGaLJLLut2udiAAA="
        );
        assert_eq!(e.decrypt(&out, &[6, 5, 4, 3], None).unwrap(), vec![2, 3, 4]);
        assert_eq!(
            e.decrypt(&out, &[6, 5, 4, 2], None),
            Err(DecryptFailure::Invalid)
        );
    }

    #[test]
    fn spec_6_3_gcm_known_answer() {
        let (e, out) = kat(EncryptionAlgorithm::Aes128Gcm);
        let mut framed = vec![0u8; 3];
        framed.extend_from_slice(&out);
        framed.extend_from_slice(&[0; 4]);
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(&framed),
            "AAAAAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG0O2kY0NZtmh2UQtXY5B2jlgnOgAAAAA"
        );
        assert_eq!(e.decrypt(&out, &[6, 5, 4, 3], None).unwrap(), vec![2, 3, 4]);
        assert_eq!(
            e.decrypt(&out, &[6, 5, 4, 2], None),
            Err(DecryptFailure::Invalid)
        );
    }

    #[test]
    fn every_algorithm_round_trips() {
        use EncryptionAlgorithm::*;
        use ValidationAlgorithm::*;
        for enc in [
            Aes128Cbc, Aes192Cbc, Aes256Cbc, Aes128Gcm, Aes192Gcm, Aes256Gcm,
        ] {
            for val in [HmacSha256, HmacSha512] {
                let e = AuthenticatedEncryptor::new(
                    &SecretBytes::copy_from(&[7u8; 64]),
                    Algorithm {
                        encryption: enc,
                        validation: val,
                    },
                );
                for len in [0usize, 1, 15, 16, 17, 100] {
                    let pt: Vec<u8> = (0..len as u8).collect();
                    let mut out = Vec::new();
                    e.encrypt_into(&mut out, &pt, b"aad", None, &mut |b: &mut [u8]| {
                        crate::dataprotection::error::random_fill(b)
                    })
                    .unwrap();
                    assert_eq!(
                        e.decrypt(&out, b"aad", None).unwrap(),
                        pt,
                        "{enc:?} {val:?} {len}"
                    );
                    assert!(e.decrypt(&out[..out.len() - 1], b"aad", None).is_err());
                }
            }
        }
    }
}
