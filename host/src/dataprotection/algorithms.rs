//! Algorithm names as they appear in key XML, their sizes, and their context headers (as in
//! ASP.NET Core's "context headers" documentation).

use aes::cipher::{
    block_padding::{NoPadding, Pkcs7},
    BlockModeEncrypt, KeyIvInit,
};
use aes_gcm::{
    aead::{consts::U12, AeadInOut},
    AesGcm, KeyInit,
};
use hmac::Mac;
use zeroize::Zeroizing;

use super::{
    error::{DataProtectionError, Result},
    kdf,
};

/// `<encryption algorithm="…"/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncryptionAlgorithm {
    /// AES-128 in CBC mode (with an HMAC).
    Aes128Cbc,
    /// AES-192 in CBC mode (with an HMAC).
    Aes192Cbc,
    /// AES-256 in CBC mode (with an HMAC): the default.
    Aes256Cbc,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-192-GCM.
    Aes192Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
}

const ENCRYPTION_NAMES: [(EncryptionAlgorithm, &str); 6] = [
    (EncryptionAlgorithm::Aes128Cbc, "AES_128_CBC"),
    (EncryptionAlgorithm::Aes192Cbc, "AES_192_CBC"),
    (EncryptionAlgorithm::Aes256Cbc, "AES_256_CBC"),
    (EncryptionAlgorithm::Aes128Gcm, "AES_128_GCM"),
    (EncryptionAlgorithm::Aes192Gcm, "AES_192_GCM"),
    (EncryptionAlgorithm::Aes256Gcm, "AES_256_GCM"),
];

impl EncryptionAlgorithm {
    /// The XML name (`AES_256_CBC`).
    pub fn name(self) -> &'static str {
        ENCRYPTION_NAMES
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, n)| n)
    }

    /// Parses an XML name, case-sensitively as .NET's `Enum.Parse`.
    pub fn parse(name: &str) -> Result<Self> {
        ENCRYPTION_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
            .ok_or_else(|| {
                DataProtectionError::Xml(format!(
                    "unknown encryption algorithm {name:?} (expected one of AES_128_CBC, AES_192_CBC, AES_256_CBC, AES_128_GCM, AES_192_GCM, AES_256_GCM)"
                ))
            })
    }

    /// Key size in bytes.
    pub fn key_size(self) -> usize {
        match self {
            Self::Aes128Cbc | Self::Aes128Gcm => 16,
            Self::Aes192Cbc | Self::Aes192Gcm => 24,
            Self::Aes256Cbc | Self::Aes256Gcm => 32,
        }
    }

    /// Whether this is a GCM algorithm (no separate validation algorithm).
    pub fn is_gcm(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes192Gcm | Self::Aes256Gcm)
    }
}

/// `<validation algorithm="…"/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidationAlgorithm {
    /// HMAC-SHA256: the default.
    HmacSha256,
    /// HMAC-SHA512.
    HmacSha512,
}

impl ValidationAlgorithm {
    /// The XML name.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMACSHA256",
            Self::HmacSha512 => "HMACSHA512",
        }
    }

    /// Parses an XML name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "HMACSHA256" => Ok(Self::HmacSha256),
            "HMACSHA512" => Ok(Self::HmacSha512),
            _ => Err(DataProtectionError::Xml(format!(
                "unknown validation algorithm {name:?} (expected HMACSHA256 or HMACSHA512)"
            ))),
        }
    }

    /// Digest size = HMAC key size, in bytes.
    pub fn digest_size(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha512 => 64,
        }
    }

    /// HMAC of the concatenation of `parts` under `key`, written to `out` (digest size).
    pub fn mac(self, key: &[u8], parts: &[&[u8]], out: &mut [u8]) {
        self.mac_streamed(
            key,
            |update| {
                for p in parts {
                    update(p);
                }
            },
            out,
        );
    }

    /// HMAC under `key` of everything `feed` passes to its `update` callback, written to `out`
    /// (digest size): lets the caller MAC data while it produces it, chunk by chunk.
    pub fn mac_streamed(
        self,
        key: &[u8],
        feed: impl FnOnce(&mut dyn FnMut(&[u8])),
        out: &mut [u8],
    ) {
        fn run<M: Mac + hmac::KeyInit>(
            key: &[u8],
            feed: impl FnOnce(&mut dyn FnMut(&[u8])),
            out: &mut [u8],
        ) {
            if let Ok(mut m) = <M as hmac::KeyInit>::new_from_slice(key) {
                feed(&mut |p: &[u8]| m.update(p));
                out.copy_from_slice(&m.finalize().into_bytes());
            }
        }
        match self {
            Self::HmacSha256 => run::<hmac::Hmac<sha2::Sha256>>(key, feed, out),
            Self::HmacSha512 => run::<hmac::Hmac<sha2::Sha512>>(key, feed, out),
        }
    }
}

/// An encryption algorithm with its validation algorithm (ignored for GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithm {
    /// The cipher.
    pub encryption: EncryptionAlgorithm,
    /// The MAC (unused by GCM).
    pub validation: ValidationAlgorithm,
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm {
            encryption: EncryptionAlgorithm::Aes256Cbc,
            validation: ValidationAlgorithm::HmacSha256,
        }
    }
}

impl Algorithm {
    /// The context header fed to every subkey derivation, computed per algorithm, never stored.
    /// CBC + HMAC: `00 00 || BE32(key size, block size, HMAC key size, digest size) ||
    /// AES-CBC(K_E', IV 0, "") || HMAC(K_H', "")`; GCM: `00 01 || BE32(key size, 12, 16, 16) ||
    /// GCM tag of "" under K_E' with nonce 0`; K_E' || K_H' = SP800-108 of an empty key, label
    /// and context.
    pub fn context_header(self) -> Vec<u8> {
        let ks = self.encryption.key_size();
        let empty = kdf::keyed_prf(b"");
        let mut out = Vec::with_capacity(100);
        if self.encryption.is_gcm() {
            out.extend_from_slice(&[0, 1]);
            for v in [ks, 12, 16, 16] {
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            let mut k = Zeroizing::new(vec![0u8; ks]);
            kdf::derive(&empty, None, b"", b"", b"", &mut k);
            let mut tag = [0u8; 16];
            gcm_encrypt(self.encryption, &k, &[0u8; 12], &mut [], &mut tag);
            out.extend_from_slice(&tag);
        } else {
            let ds = self.validation.digest_size();
            out.extend_from_slice(&[0, 0]);
            for v in [ks, 16, ds, ds] {
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
            let mut k = Zeroizing::new(vec![0u8; ks + ds]);
            kdf::derive(&empty, None, b"", b"", b"", &mut k);
            let mut block = [0u8; 16];
            cbc_encrypt(self.encryption, &k[..ks], &[0u8; 16], &mut block, 0);
            out.extend_from_slice(&block);
            let mut mac = vec![0u8; ds];
            self.validation.mac(&k[ks..], &[], &mut mac);
            out.extend_from_slice(&mac);
        }
        out
    }
}

/// AES-CBC-PKCS7 in place: `buf` holds `len` plaintext bytes followed by room for the padding
/// (its length is the padded length).
pub(crate) fn cbc_encrypt(
    alg: EncryptionAlgorithm,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
    len: usize,
) {
    let n = buf.len();
    buf[len.min(n)..].fill(n.saturating_sub(len) as u8);
    cbc_encrypt_blocks(alg, key, iv, buf);
}

/// AES-CBC in place over whole blocks, no padding (`buf.len()` a multiple of 16). AES-256 runs
/// on AES-NI when the CPU has it.
pub(crate) fn cbc_encrypt_blocks(alg: EncryptionAlgorithm, key: &[u8], iv: &[u8], buf: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(ni), Ok(key), Ok(iv)) = (
        crate::crypto::aes_ni::AesNi::detect(),
        <&[u8; 32]>::try_from(key),
        <&[u8; 16]>::try_from(iv),
    ) {
        return ni.cbc_encrypt(key, iv, buf);
    }
    portable_cbc_encrypt_blocks(alg, key, iv, buf);
}

/// [`cbc_encrypt_blocks`] with the `aes` and `cbc` crates: other key sizes, other CPUs.
pub(crate) fn portable_cbc_encrypt_blocks(
    alg: EncryptionAlgorithm,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) {
    fn run<C>(key: &[u8], iv: &[u8], buf: &mut [u8])
    where
        C: aes::cipher::BlockCipherEncrypt<BlockSize = aes::cipher::consts::U16>
            + aes::cipher::KeyInit,
    {
        if let Ok(e) = cbc::Encryptor::<C>::new_from_slices(key, iv) {
            let _ = e.encrypt_padded::<NoPadding>(buf, buf.len());
        }
    }
    match alg.key_size() {
        16 => run::<aes::Aes128>(key, iv, buf),
        24 => run::<aes::Aes192>(key, iv, buf),
        _ => run::<aes::Aes256>(key, iv, buf),
    }
}

/// AES-CBC-PKCS7 decryption in place; returns the plaintext length, or `None` on bad padding.
/// AES-256 runs on AES-NI when the CPU has it.
pub(crate) fn cbc_decrypt(
    alg: EncryptionAlgorithm,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let (Some(ni), Ok(key), Ok(iv)) = (
        crate::crypto::aes_ni::AesNi::detect(),
        <&[u8; 32]>::try_from(key),
        <&[u8; 16]>::try_from(iv),
    ) {
        if buf.is_empty() || !buf.len().is_multiple_of(16) {
            return None;
        }
        ni.cbc_decrypt(key, iv, buf);
        return pkcs7_unpadded_len(buf);
    }
    portable_cbc_decrypt(alg, key, iv, buf)
}

/// The length of `buf` without its PKCS7 padding, `None` when the padding is malformed. Runs
/// only after the MAC verified, so its timing reveals nothing an attacker can use.
pub(crate) fn pkcs7_unpadded_len(buf: &[u8]) -> Option<usize> {
    let pad = usize::from(*buf.last()?);
    if pad == 0 || pad > 16 || pad > buf.len() {
        return None;
    }
    let len = buf.len() - pad;
    buf[len..]
        .iter()
        .all(|&b| usize::from(b) == pad)
        .then_some(len)
}

/// [`cbc_decrypt`] with the `aes` and `cbc` crates: other key sizes, other CPUs.
pub(crate) fn portable_cbc_decrypt(
    alg: EncryptionAlgorithm,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Option<usize> {
    use aes::cipher::BlockModeDecrypt;
    fn run<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<usize>
    where
        C: aes::cipher::BlockCipherDecrypt<BlockSize = aes::cipher::consts::U16>
            + aes::cipher::KeyInit,
    {
        let d = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
        d.decrypt_padded::<Pkcs7>(buf).ok().map(<[u8]>::len)
    }
    match alg.key_size() {
        16 => run::<aes::Aes128>(key, iv, buf),
        24 => run::<aes::Aes192>(key, iv, buf),
        _ => run::<aes::Aes256>(key, iv, buf),
    }
}

/// AES-GCM encryption in place with empty AAD; writes the tag.
pub(crate) fn gcm_encrypt(
    alg: EncryptionAlgorithm,
    key: &[u8],
    nonce: &[u8],
    buf: &mut [u8],
    tag: &mut [u8; 16],
) {
    fn run<C>(key: &[u8], nonce: &[u8], buf: &mut [u8], tag: &mut [u8; 16])
    where
        AesGcm<C, U12>: KeyInit + AeadInOut,
    {
        let Ok(c) = AesGcm::<C, U12>::new_from_slice(key) else {
            return;
        };
        let Ok(n) = aes_gcm::aead::Nonce::<AesGcm<C, U12>>::try_from(nonce) else {
            return;
        };
        if let Ok(t) = c.encrypt_inout_detached(&n, b"", buf.into()) {
            tag.copy_from_slice(&t);
        }
    }
    match alg.key_size() {
        16 => run::<aes::Aes128>(key, nonce, buf, tag),
        24 => run::<aes::Aes192>(key, nonce, buf, tag),
        _ => run::<aes::Aes256>(key, nonce, buf, tag),
    }
}

/// AES-GCM decryption in place with empty AAD; `false` when the tag does not verify.
pub(crate) fn gcm_decrypt(
    alg: EncryptionAlgorithm,
    key: &[u8],
    nonce: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> bool {
    fn run<C>(key: &[u8], nonce: &[u8], buf: &mut [u8], tag: &[u8]) -> bool
    where
        AesGcm<C, U12>: KeyInit + AeadInOut,
    {
        let Ok(c) = AesGcm::<C, U12>::new_from_slice(key) else {
            return false;
        };
        let Ok(n) = aes_gcm::aead::Nonce::<AesGcm<C, U12>>::try_from(nonce) else {
            return false;
        };
        let Ok(t) = aes_gcm::aead::Tag::<AesGcm<C, U12>>::try_from(tag) else {
            return false;
        };
        c.decrypt_inout_detached(&n, b"", buf.into(), &t).is_ok()
    }
    match alg.key_size() {
        16 => run::<aes::Aes128>(key, nonce, buf, tag),
        24 => run::<aes::Aes192>(key, nonce, buf, tag),
        _ => run::<aes::Aes256>(key, nonce, buf, tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(e: EncryptionAlgorithm, v: ValidationAlgorithm) -> String {
        hex::encode_upper(
            Algorithm {
                encryption: e,
                validation: v,
            }
            .context_header(),
        )
    }

    // AES-192 + HMACSHA256 is ASP.NET Core's documented example; the others are computed the
    // same way (a regression check: the same code reproduces the documented value).
    #[test]
    fn spec_2_3_cbc_headers() {
        use EncryptionAlgorithm::*;
        use ValidationAlgorithm::*;
        assert_eq!(header(Aes192Cbc, HmacSha256), "000000000018000000100000002000000020F474B1872B3B53E4721DE19C0841DB6FD4791184B996092EE1202F36E8608FA8FBD98ABDFF5402F264B1D7211536220C");
        assert_eq!(header(Aes256Cbc, HmacSha256), "000000000020000000100000002000000020EA10387AC9273B7FD5321177776F1530F946D3C71D60DD7B287366D81CB03FE5E5A701FA16F1554F1581FDDD576CE844");
        assert_eq!(header(Aes128Cbc, HmacSha256), "0000000000100000001000000020000000204D199260677DCD65EEE55E807B9695128602E399BED6F9779A66796276FF025688001BDB49CC4A7F8F7A192BCD48F4E7");
        assert_eq!(header(Aes256Cbc, HmacSha512), "000000000020000000100000004000000040376E17E169255362126076F9D90392039348C1B5A269A82F77BDBB68A38939E4B9C5C51277112840AE4BA315212C956A4D1F4BD74B0CDF5057B0E2D4AE5A014F5CF059F15AE95E484742E70707DD17D9");
    }

    // K_E || K_H of the documented AES-192 + HMACSHA256 example.
    #[test]
    fn spec_2_3_docs_subkeys() {
        let mut k = [0u8; 56];
        kdf::derive(&kdf::keyed_prf(b""), None, b"", b"", b"", &mut k);
        assert_eq!(hex::encode_upper(k), "5BB6C9831378221D8E1073CACF658EB061624271CB8321DDA04A05005BABC0A2496FA561E3E24987AA6355CD740ADAC4B7923DBF599000A9");
    }

    // The headers precomputed in ASP.NET Core's `AesGcmAuthenticatedEncryptor.cs`; K_E' for
    // AES-256 from its documentation.
    #[test]
    fn spec_2_4_gcm_headers() {
        use EncryptionAlgorithm::*;
        let v = ValidationAlgorithm::HmacSha256;
        assert_eq!(
            header(Aes128Gcm, v),
            "0001000000100000000C0000001000000010957C50FF692E388B9AD5C7689E4B9E2B"
        );
        assert_eq!(
            header(Aes192Gcm, v),
            "0001000000180000000C00000010000000100DAA013A950ADA2B798F5FF272FAD363"
        );
        assert_eq!(
            header(Aes256Gcm, v),
            "0001000000200000000C0000001000000010E7DCCE66DF855A323A6BB7BD7A59BE45"
        );
        let mut k = [0u8; 32];
        kdf::derive(&kdf::keyed_prf(b""), None, b"", b"", b"", &mut k);
        assert_eq!(
            hex::encode_upper(k),
            "22BC6F1B171C08C4AE2F27444AF8FC8B3087A90006CAEA91FDCFB47C1B8733B8"
        );
    }

    #[test]
    fn names_round_trip_and_unknown_refused() {
        for (a, n) in ENCRYPTION_NAMES {
            assert_eq!(EncryptionAlgorithm::parse(n).ok(), Some(a));
            assert_eq!(a.name(), n);
        }
        assert!(EncryptionAlgorithm::parse("aes_256_cbc").is_err());
        assert!(ValidationAlgorithm::parse("HMACSHA1").is_err());
    }

    /// The AES-NI CBC path and the `aes`/`cbc` crate path agree byte for byte, both ways.
    // Runs in the main test run; the portable-crypto run has no AES-NI path to compare.
    #[cfg(all(target_arch = "x86_64", not(feature = "portable-crypto")))]
    #[test]
    fn aes_ni_cbc_matches_portable() {
        use sha2::{Digest, Sha256};
        assert!(
            crate::crypto::aes_ni::AesNi::detect().is_some(),
            "this x86_64 CPU reports no AES-NI, so the AES-NI path cannot be tested"
        );
        let alg = EncryptionAlgorithm::Aes256Cbc;
        let bytes = |label: &str, i: usize| Sha256::digest(format!("{label}{i}"));
        let mut lens: Vec<usize> = (0..=100).collect();
        lens.extend([127, 128, 129, 255, 256, 4096, 1 << 20]);
        for i in 0..4 {
            let key = bytes("key", i);
            let iv = &bytes("iv", i)[..16];
            for &len in &lens {
                let pt: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
                let padded = (len / 16 + 1) * 16;
                let mut fast = pt.clone();
                fast.resize(padded, 0);
                let mut reference = fast.clone();
                cbc_encrypt(alg, &key, iv, &mut fast, len);
                crate_pkcs7_encrypt(&key, iv, &mut reference, len);
                assert_eq!(fast, reference, "encrypt: key {i}, {len} bytes");
                let mut slow = pt.clone();
                slow.resize(padded, (padded - len) as u8);
                portable_cbc_encrypt_blocks(alg, &key, iv, &mut slow);
                assert_eq!(fast, slow, "portable encrypt: key {i}, {len} bytes");
                let mut plain_padded = pt.clone();
                plain_padded.resize(padded, (padded - len) as u8);
                assert_ne!(
                    fast[..16],
                    plain_padded[..16],
                    "key {i}, {len} bytes unchanged"
                );
                let mut back = fast.clone();
                assert_eq!(cbc_decrypt(alg, &key, iv, &mut back), Some(len));
                assert_eq!(back[..len], pt[..], "decrypt: key {i}, {len} bytes");
                let mut slow_back = fast;
                assert_eq!(
                    portable_cbc_decrypt(alg, &key, iv, &mut slow_back),
                    Some(len)
                );
                assert_eq!(slow_back, back, "decrypt: key {i}, {len} bytes");
            }
        }
    }

    /// Both CBC decryption paths refuse the same malformed paddings and lengths.
    #[test]
    fn cbc_decrypt_refuses_bad_padding() {
        let alg = EncryptionAlgorithm::Aes256Cbc;
        let (key, iv) = ([9u8; 32], [3u8; 16]);
        for last in [0u8, 17, 255, 5] {
            // Encrypt a block whose last byte is `last` without padding: decrypting it yields
            // that byte as the padding length (5 with a non-matching 4th-last byte).
            let mut block = [1u8; 16];
            block[15] = last;
            let mut ct = block;
            raw_encrypt(&key, &iv, &mut ct);
            assert_eq!(cbc_decrypt(alg, &key, &iv, &mut ct.clone()), None, "{last}");
            assert_eq!(portable_cbc_decrypt(alg, &key, &iv, &mut ct.clone()), None);
        }
        for len in [0usize, 15, 17] {
            let mut buf = vec![0u8; len];
            assert_eq!(cbc_decrypt(alg, &key, &iv, &mut buf), None, "{len} bytes");
        }
    }

    /// AES-256-CBC-PKCS7 through the `cbc` crate alone: the reference.
    #[cfg(all(target_arch = "x86_64", not(feature = "portable-crypto")))]
    fn crate_pkcs7_encrypt(key: &[u8], iv: &[u8], buf: &mut [u8], len: usize) {
        let e = cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv).unwrap();
        e.encrypt_padded::<Pkcs7>(buf, len).unwrap();
    }

    /// One AES-256-CBC block without padding, through the crate (test helper).
    fn raw_encrypt(key: &[u8; 32], iv: &[u8; 16], block: &mut [u8; 16]) {
        let e = cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv).unwrap();
        e.encrypt_padded::<NoPadding>(block, 16).unwrap();
    }
}
