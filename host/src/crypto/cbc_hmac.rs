//! AES-256-CBC and HMAC-SHA256 over `IV || ciphertext` in one pass (ASP.NET Core's default
//! algorithm pair), "stitched": the two run side by side, 64 bytes at a time, so the CPU
//! overlaps them.
//!
//! CBC encryption is one long dependency chain (each block waits for the previous one's 14
//! AES rounds) and so is SHA-256 (each 64-byte block waits for the previous state). Run one
//! after the other, protect costs the sum of both; interleaved in small steps, the
//! out-of-order core executes the SHA-256 rounds of one 64-byte block while the AES rounds of
//! the next four blocks wait on their latency, and the pair costs about as much as the slower
//! of the two. [`seal`] encrypts group `w + 1` of the plaintext straight into the output and
//! then MACs window `w` of `IV || ciphertext`; [`open`] MACs the input and decrypts the same
//! bytes into the output, whose plaintext the caller releases only after comparing the MAC.
//!
//! On x86_64 with AES-NI and SHA-NI all but the last bytes run in [`super::stitched_x86`], where
//! the two are interleaved in one function. Elsewhere AES runs on AES-NI where
//! [`AesNi::detect`] finds it, else on the `aes`/`cbc` crates' portable code, and SHA-256
//! through `sha2`'s block function (which picks SHA-NI at run time), 64 bytes at a time. Every
//! path is compared with the `cbc` and `hmac` crates on random inputs in the tests.

use aes::cipher::{array::Array, consts::U16, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha2::block_api::compress256;
use zeroize::Zeroize;

#[cfg(target_arch = "x86_64")]
use super::{
    aes_ni::{AesNi, DecryptionKeys, EncryptionKeys},
    stitched_x86::ShaNi,
};

/// AES block size.
const BLOCK: usize = 16;
/// SHA-256 block size: the step of [`seal`].
const WINDOW: usize = 64;
/// The step of [`open`]: eight blocks, what the AES-NI decryption interleaves.
const OPEN_STEP: usize = 128;
/// HMAC-SHA256 output size.
pub const MAC_SIZE: usize = 32;

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
pub(super) const SHA256_H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// CBC encryption that continues its chain across calls.
#[allow(clippy::large_enum_variant)] // AES-NI on the stack: no allocation per payload.
pub enum CbcEncryptor {
    /// AES-NI with the round keys expanded once.
    #[cfg(target_arch = "x86_64")]
    AesNi(AesNi, EncryptionKeys, [u8; BLOCK]),
    /// The `aes`/`cbc` crates.
    Portable(Box<cbc::Encryptor<aes::Aes256>>),
}

impl CbcEncryptor {
    /// AES-NI when the CPU has it, else [`portable`](Self::portable).
    pub fn new(key: &[u8; 32], iv: &[u8; BLOCK]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = AesNi::detect() {
            return CbcEncryptor::AesNi(ni, ni.encryption_keys(key), *iv);
        }
        Self::portable(key, iv)
    }

    /// The crates' portable code, whatever the CPU.
    pub fn portable(key: &[u8; 32], iv: &[u8; BLOCK]) -> Self {
        CbcEncryptor::Portable(Box::new(cbc::Encryptor::new(key.into(), iv.into())))
    }

    /// Encrypts the whole blocks of `buf` in place (a trailing partial block is left alone).
    fn encrypt(&mut self, buf: &mut [u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            CbcEncryptor::AesNi(ni, keys, chain) => ni.cbc_encrypt_chained(keys, chain, buf),
            CbcEncryptor::Portable(e) => {
                e.encrypt_blocks(Array::<u8, U16>::slice_as_chunks_mut(buf).0)
            }
        }
    }
}

/// CBC decryption that continues its chain across calls.
#[allow(clippy::large_enum_variant)] // AES-NI on the stack: no allocation per payload.
pub enum CbcDecryptor {
    /// AES-NI with the round keys expanded once.
    #[cfg(target_arch = "x86_64")]
    AesNi(AesNi, DecryptionKeys, [u8; BLOCK]),
    /// The `aes`/`cbc` crates.
    Portable(Box<cbc::Decryptor<aes::Aes256>>),
}

impl CbcDecryptor {
    /// AES-NI when the CPU has it, else [`portable`](Self::portable).
    pub fn new(key: &[u8; 32], iv: &[u8; BLOCK]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = AesNi::detect() {
            return CbcDecryptor::AesNi(ni, ni.decryption_keys(key), *iv);
        }
        Self::portable(key, iv)
    }

    /// The crates' portable code, whatever the CPU.
    pub fn portable(key: &[u8; 32], iv: &[u8; BLOCK]) -> Self {
        CbcDecryptor::Portable(Box::new(cbc::Decryptor::new(key.into(), iv.into())))
    }

    /// Decrypts the whole blocks of `buf` in place (a trailing partial block is left alone).
    fn decrypt(&mut self, buf: &mut [u8]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            CbcDecryptor::AesNi(ni, keys, chain) => ni.cbc_decrypt_chained(keys, chain, buf),
            CbcDecryptor::Portable(d) => {
                d.decrypt_blocks(Array::<u8, U16>::slice_as_chunks_mut(buf).0)
            }
        }
    }
}

/// HMAC-SHA256 over whole 64-byte blocks, then a tail: the inner and outer states after the
/// padded key, and the message length so far. Wiped on drop.
pub struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
    len: u64,
}

impl HmacSha256 {
    /// HMAC keyed with `key` (up to 64 bytes; longer keys are not used here). With SHA-NI the
    /// two padded-key blocks are built in registers and hashed side by side.
    pub fn new(key: &[u8; 32]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(sha) = ShaNi::detect() {
            let (inner, outer) = sha.hmac_key_states(key);
            return HmacSha256 {
                inner,
                outer,
                len: 0,
            };
        }
        let mut pads = [[0x36u8; WINDOW], [0x5c; WINDOW]];
        for pad in &mut pads {
            for (p, k) in pad.iter_mut().zip(key) {
                *p ^= k;
            }
        }
        let (mut inner, mut outer) = (SHA256_H0, SHA256_H0);
        compress256(&mut inner, &pads[..1]);
        compress256(&mut outer, &pads[1..]);
        pads.zeroize();
        HmacSha256 {
            inner,
            outer,
            len: 0,
        }
    }

    /// Feeds whole blocks.
    fn blocks(&mut self, blocks: &[[u8; WINDOW]]) {
        compress256(&mut self.inner, blocks);
        self.len += (blocks.len() * WINDOW) as u64;
    }

    /// Feeds the last bytes (any length; whole blocks first, then the rest) and returns the MAC.
    pub fn finish(mut self, tail: &[u8]) -> [u8; MAC_SIZE] {
        let (blocks, rest) = tail.as_chunks::<WINDOW>();
        self.blocks(blocks);
        let bits = (WINDOW as u64 + self.len + rest.len() as u64) * 8;
        let mut last = [[0u8; WINDOW]; 2];
        let flat = last.as_flattened_mut();
        flat[..rest.len()].copy_from_slice(rest);
        flat[rest.len()] = 0x80;
        let n = if rest.len() < WINDOW - 8 { 1 } else { 2 };
        flat[n * WINDOW - 8..n * WINDOW].copy_from_slice(&bits.to_be_bytes());
        compress256(&mut self.inner, &last[..n]);

        let mut outer_block = [[0u8; WINDOW]];
        for (chunk, word) in outer_block[0].chunks_exact_mut(4).zip(self.inner) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        outer_block[0][MAC_SIZE] = 0x80;
        outer_block[0][WINDOW - 8..]
            .copy_from_slice(&((WINDOW + MAC_SIZE) as u64 * 8).to_be_bytes());
        compress256(&mut self.outer, &outer_block);
        let mut mac = [0u8; MAC_SIZE];
        for (chunk, word) in mac.chunks_exact_mut(4).zip(self.outer) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        // `last` holds MACed bytes (public); the outer block holds the inner hash.
        outer_block[0][..MAC_SIZE].zeroize();
        mac
    }
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// Appends AES-256-CBC of `plaintext` with PKCS#7 padding to `out`, which ends with the IV
/// (`cbc` starts at that IV), and returns HMAC-SHA256 of `IV || ciphertext`. The plaintext is
/// encrypted straight into `out`, never copied there first.
pub fn seal(
    cbc: &mut CbcEncryptor,
    mac: HmacSha256,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> [u8; MAC_SIZE] {
    seal_in_steps(cbc, mac, plaintext, out, true)
}

/// [`seal`], with the stitched x86 loop only when `stitch` (tests compare both).
fn seal_in_steps(
    cbc: &mut CbcEncryptor,
    mut mac: HmacSha256,
    plaintext: &[u8],
    out: &mut Vec<u8>,
    stitch: bool,
) -> [u8; MAC_SIZE] {
    let mac_start = out.len().saturating_sub(BLOCK);
    let padded = (plaintext.len() / BLOCK + 1) * BLOCK;
    out.reserve(padded + MAC_SIZE);
    // `IV || ciphertext` from `mac_start`: `hashed` bytes of it are MACed, `encrypted` bytes
    // of it are ciphertext (the IV counts), `taken` bytes of the plaintext are consumed.
    let (mut taken, mut hashed) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if let (CbcEncryptor::AesNi(ni, keys, chain), Some(sha), true) = (
        &mut *cbc,
        ShaNi::detect(),
        // One group alone has no window to hash beside it.
        stitch && plaintext.len() >= 2 * WINDOW,
    ) {
        (taken, hashed) = sha.seal_append(*ni, keys, chain, &mut mac.inner, plaintext, out);
        mac.len += hashed as u64;
    }
    let encrypted = BLOCK + taken - hashed;
    out.extend_from_slice(&plaintext[taken..]);
    out.resize(mac_start + BLOCK + padded, (padded - plaintext.len()) as u8);
    seal_in_place(cbc, mac, &mut out[mac_start + hashed..], encrypted)
}

/// Encrypts `buf[encrypted..]` (whole blocks, continuing `cbc`) while MACing all of `buf` in
/// 64-byte steps: each step encrypts up to the end of the next window, then MACs this one.
fn seal_in_place(
    cbc: &mut CbcEncryptor,
    mut mac: HmacSha256,
    buf: &mut [u8],
    mut encrypted: usize,
) -> [u8; MAC_SIZE] {
    let mut done = 0;
    while buf.len() - done >= WINDOW {
        let ahead = (done + 2 * WINDOW).min(buf.len());
        if encrypted < ahead {
            cbc.encrypt(&mut buf[encrypted..ahead]);
            encrypted = ahead;
        }
        mac.blocks(buf[done..done + WINDOW].as_chunks::<WINDOW>().0);
        done += WINDOW;
    }
    if encrypted < buf.len() {
        cbc.encrypt(&mut buf[encrypted..]);
    }
    mac.finish(&buf[done..])
}

/// Appends the CBC decryption of `iv_ct[16..]` (continuing `cbc`, which starts at the IV
/// `iv_ct[..16]`) to `out` and returns HMAC-SHA256 of `iv_ct`. The caller compares the MAC
/// before it releases anything in `out`, and wipes `out` when it does not match.
pub fn open(
    cbc: &mut CbcDecryptor,
    mac: HmacSha256,
    iv_ct: &[u8],
    out: &mut Vec<u8>,
) -> [u8; MAC_SIZE] {
    open_in_steps(cbc, mac, iv_ct, out, true)
}

/// [`open`], with the stitched x86 loop only when `stitch` (tests compare both).
fn open_in_steps(
    cbc: &mut CbcDecryptor,
    mut mac: HmacSha256,
    iv_ct: &[u8],
    out: &mut Vec<u8>,
    stitch: bool,
) -> [u8; MAC_SIZE] {
    let ciphertext = iv_ct.get(BLOCK..).unwrap_or_default();
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if let (CbcDecryptor::AesNi(ni, keys, chain), Some(sha), true) =
        (&mut *cbc, ShaNi::detect(), stitch)
    {
        // Whole windows of the ciphertext, and as many of the MAC's input.
        done = sha.open_append(*ni, keys, chain, &mut mac.inner, iv_ct, out);
        mac.len += done as u64;
    }
    let (blocks, mac_tail) = iv_ct[done..].as_chunks::<WINDOW>();
    let mut ciphertext = ciphertext[done..].chunks(OPEN_STEP);
    for pair in blocks.chunks(OPEN_STEP / WINDOW) {
        mac.blocks(pair);
        if let Some(chunk) = ciphertext.next() {
            let start = out.len();
            out.extend_from_slice(chunk);
            cbc.decrypt(&mut out[start..]);
        }
    }
    for chunk in ciphertext {
        let start = out.len();
        out.extend_from_slice(chunk);
        cbc.decrypt(&mut out[start..]);
    }
    mac.finish(mac_tail)
}

#[cfg(test)]
mod tests {
    use hmac::{KeyInit, Mac};

    use super::*;

    fn random(len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        getrandom::fill(&mut v).unwrap();
        v
    }

    fn reference_mac(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    #[test]
    fn hmac_matches_the_hmac_crate_at_every_length_around_the_padding_edges() {
        let key: [u8; 32] = random(32).try_into().unwrap();
        for len in (0..=200).chain([1000, 4096, 4097]) {
            let data = random(len);
            let ours = HmacSha256::new(&key).finish(&data);
            assert_eq!(ours.to_vec(), reference_mac(&key, &data), "{len} bytes");
        }
    }

    /// Both AES paths (AES-NI where present, and the portable one) against the `cbc` crate
    /// and the `hmac` crate, on random keys, IVs and plaintexts of every length around the
    /// 64-byte groups and of a few large ones.
    #[test]
    fn seal_and_open_match_the_crates_on_random_inputs_for_both_aes_paths() {
        for len in (0..=330).chain([1023, 1024, 1025, 16_000, 16_049]) {
            let (k_e, k_h): ([u8; 32], [u8; 32]) = (
                random(32).try_into().unwrap(),
                random(32).try_into().unwrap(),
            );
            let iv: [u8; 16] = random(16).try_into().unwrap();
            let pt = random(len);
            let pad = BLOCK - len % BLOCK;
            let mut padded = pt.clone();
            padded.resize(len + pad, pad as u8);
            let mut expected_ct = padded.clone();
            cbc::Encryptor::<aes::Aes256>::new(&k_e.into(), &iv.into())
                .encrypt_blocks(Array::<u8, U16>::slice_as_chunks_mut(&mut expected_ct).0);
            let mut iv_ct = iv.to_vec();
            iv_ct.extend_from_slice(&expected_ct);
            let expected_mac = reference_mac(&k_h, &iv_ct);

            type Paths = (
                fn(&[u8; 32], &[u8; 16]) -> CbcEncryptor,
                fn(&[u8; 32], &[u8; 16]) -> CbcDecryptor,
                bool,
            );
            let paths: [(&str, Paths); 3] = [
                // Stitched x86 loop where the CPU has AES-NI and SHA-NI.
                ("detected", (CbcEncryptor::new, CbcDecryptor::new, true)),
                // AES-NI where present, SHA-256 through sha2, in 64-byte steps.
                ("in steps", (CbcEncryptor::new, CbcDecryptor::new, false)),
                (
                    "portable",
                    (CbcEncryptor::portable, CbcDecryptor::portable, true),
                ),
            ];
            for (name, (enc, dec, stitch)) in paths {
                let mut out = b"before".to_vec();
                out.extend_from_slice(&iv);
                let mac = seal_in_steps(
                    &mut enc(&k_e, &iv),
                    HmacSha256::new(&k_h),
                    &pt,
                    &mut out,
                    stitch,
                );
                assert_eq!(out[..6], *b"before", "{name}, {len} bytes: prefix");
                assert_eq!(out[6..], iv_ct, "{name}, {len} bytes: ciphertext");
                assert_eq!(mac.to_vec(), expected_mac, "{name}, {len} bytes: seal MAC");

                let mut out = b"before".to_vec();
                let mac = open_in_steps(
                    &mut dec(&k_e, &iv),
                    HmacSha256::new(&k_h),
                    &iv_ct,
                    &mut out,
                    stitch,
                );
                assert_eq!(out[..6], *b"before", "{name}, {len} bytes: prefix");
                assert_eq!(out[6..], padded, "{name}, {len} bytes: plaintext");
                assert_eq!(mac.to_vec(), expected_mac, "{name}, {len} bytes: open MAC");
            }
        }
    }
}
