//! AES-256 with explicit AES-NI instructions (x86_64 only): the AES-KDF rounds of the master
//! key, AES-256-CBC of data protection, and the counter-mode keystream that refills the
//! per-thread pool of public random bytes (key modifiers, IVs).
//!
//! The 15 round keys are expanded once per call or once per [`EncryptionKeys`]/
//! [`DecryptionKeys`] for chained calls, and stay in XMM registers for the serial loops
//! (AES-KDF, CBC encryption); no call, dispatch or memory traffic per round. The expansion
//! takes each step's `SubWord` from `aesenclast` on the word broadcast to all four columns
//! (where `ShiftRows` moves nothing) rather than from `aeskeygenassist`, whose latency is
//! several times longer on current Intel cores: a data-protection call expands a fresh key
//! every time, and this halves the cost. CBC decryption has no chain between blocks, so
//! eight blocks go through the rounds interleaved and the CPU overlaps their `aesdec`
//! latencies.
//!
//! Every `unsafe` is either a call into a `#[target_feature]` function, guarded by the
//! [`AesNi`] token that exists only after run-time detection succeeded, or an unaligned
//! 16-byte load/store through a pointer into a slice of at least 16 bytes.

use std::arch::x86_64::{
    __m128i, _mm_aesdec_si128, _mm_aesdeclast_si128, _mm_aesenc_si128, _mm_aesenclast_si128,
    _mm_aesimc_si128, _mm_loadu_si128, _mm_set1_epi32, _mm_set_epi64x, _mm_shuffle_epi32,
    _mm_shuffle_epi8, _mm_slli_si128, _mm_storeu_si128, _mm_xor_si128,
};
use std::sync::OnceLock;

use zeroize::Zeroize;

/// AES block size in bytes.
pub const BLOCK: usize = 16;
/// Blocks decrypted side by side in [`AesNi::cbc_decrypt`].
const LANES: usize = 8;

/// Proof that the running CPU has AES-NI (with SSE2 and SSSE3): obtained only from
/// [`AesNi::detect`].
#[derive(Clone, Copy, Debug)]
pub struct AesNi(());

impl AesNi {
    /// `Some` when the CPU supports AES-NI. The CPUID probe runs once per process. Always
    /// `None` with the `portable-crypto` feature, which tests the portable fallbacks.
    pub fn detect() -> Option<Self> {
        if cfg!(feature = "portable-crypto") {
            return None;
        }
        static DETECTED: OnceLock<bool> = OnceLock::new();
        let present = *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("sse2")
                && std::arch::is_x86_feature_detected!("ssse3")
        });
        present.then_some(AesNi(()))
    }

    /// Encrypts both 16-byte halves of `data` `rounds` times with AES-256 keyed by `seed`
    /// (the AES-KDF loop).
    pub fn kdf_rounds(self, seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
        // SAFETY: `self` is an `AesNi` token, which `detect` only hands out after
        // `is_x86_feature_detected!` confirmed "aes", "sse2" and "ssse3" on this CPU, so the
        // target features `kdf_rounds_aesni` is compiled with are available.
        unsafe { kdf_rounds_aesni(seed, data, rounds) }
    }

    /// AES-256-CBC encryption in place of whole blocks (`buf.len()` a multiple of 16; a
    /// trailing partial block is left untouched). Padding is the caller's.
    pub fn cbc_encrypt(self, key: &[u8; 32], iv: &[u8; BLOCK], buf: &mut [u8]) {
        let keys = self.encryption_keys(key);
        self.cbc_encrypt_chained(&keys, &mut { *iv }, buf);
    }

    /// AES-256-CBC decryption in place of whole blocks (`buf.len()` a multiple of 16; a
    /// trailing partial block is left untouched). Padding is the caller's.
    pub fn cbc_decrypt(self, key: &[u8; 32], iv: &[u8; BLOCK], buf: &mut [u8]) {
        let keys = self.decryption_keys(key);
        self.cbc_decrypt_chained(&keys, &mut { *iv }, buf);
    }

    /// Overwrites `buf` with the AES-256 counter-mode keystream of `key`: block `i` is the
    /// encryption of `i` as a 128-bit big-endian integer, from 0 (a trailing partial block
    /// takes the first bytes of its block). Eight blocks at a time, interleaved. Only for a key
    /// used once: the counter always starts at 0.
    pub fn ctr_keystream(self, key: &[u8; 32], buf: &mut [u8]) {
        // SAFETY: as in `encryption_keys`.
        unsafe { ctr_keystream_aesni(key, buf) }
    }

    /// The 15 AES-256 encryption round keys of `key`, for many [`cbc_encrypt_chained`] calls.
    ///
    /// [`cbc_encrypt_chained`]: Self::cbc_encrypt_chained
    pub fn encryption_keys(self, key: &[u8; 32]) -> EncryptionKeys {
        // SAFETY: the token proves "aes", "sse2" and "ssse3" are available (see `kdf_rounds`).
        EncryptionKeys(unsafe { expand_key(key) })
    }

    /// The 15 AES-256 decryption round keys of `key`, for many [`cbc_decrypt_chained`] calls.
    ///
    /// [`cbc_decrypt_chained`]: Self::cbc_decrypt_chained
    pub fn decryption_keys(self, key: &[u8; 32]) -> DecryptionKeys {
        // SAFETY: as in `encryption_keys`.
        unsafe {
            let mut enc = expand_key(key);
            let dec = inverse_round_keys(&enc);
            enc.zeroize();
            DecryptionKeys(dec)
        }
    }

    /// CBC encryption in place of the whole blocks of `buf`, continuing from `chain` (the IV,
    /// or the last ciphertext block of the previous call), which is left at the last
    /// ciphertext block.
    pub fn cbc_encrypt_chained(
        self,
        keys: &EncryptionKeys,
        chain: &mut [u8; BLOCK],
        buf: &mut [u8],
    ) {
        // SAFETY: as in `encryption_keys`.
        unsafe { cbc_encrypt_aesni(&keys.0, chain, buf) }
    }

    /// CBC decryption in place of the whole blocks of `buf`, continuing from `chain` (the IV,
    /// or the last ciphertext block of the previous call), which is left at the last
    /// ciphertext block of `buf`.
    pub fn cbc_decrypt_chained(
        self,
        keys: &DecryptionKeys,
        chain: &mut [u8; BLOCK],
        buf: &mut [u8],
    ) {
        // SAFETY: as in `encryption_keys`.
        unsafe { cbc_decrypt_aesni(&keys.0, chain, buf) }
    }
}

/// Expanded AES-256 encryption round keys, wiped on drop.
pub struct EncryptionKeys([__m128i; 15]);

/// Expanded AES-256 decryption round keys (equivalent inverse cipher), wiped on drop.
pub struct DecryptionKeys([__m128i; 15]);

impl EncryptionKeys {
    /// The round keys, for the stitched loops of [`super::stitched_x86`].
    pub(crate) fn round_keys(&self) -> &[__m128i; 15] {
        &self.0
    }
}

impl DecryptionKeys {
    /// The round keys, for the stitched loops of [`super::stitched_x86`].
    pub(crate) fn round_keys(&self) -> &[__m128i; 15] {
        &self.0
    }
}

impl Drop for EncryptionKeys {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for DecryptionKeys {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Little-endian bytes -> XMM register for key material (SSE2 only, no pointer loads, the
/// temporaries are wiped).
#[inline]
#[target_feature(enable = "sse2")]
fn load_secret(bytes: &[u8]) -> __m128i {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&bytes[..8]);
    hi.copy_from_slice(&bytes[8..16]);
    let v = _mm_set_epi64x(i64::from_le_bytes(hi), i64::from_le_bytes(lo));
    lo.zeroize();
    hi.zeroize();
    v
}

/// Unaligned load of one block.
#[inline]
#[target_feature(enable = "sse2")]
fn load(block: &[u8; BLOCK]) -> __m128i {
    // SAFETY: `block` is 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

/// Unaligned store of one block.
#[inline]
#[target_feature(enable = "sse2")]
fn store(v: __m128i, block: &mut [u8; BLOCK]) {
    // SAFETY: `block` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), v) }
}

/// `w ^ (w << 32) ^ (w << 64) ^ (w << 96)`: the running XOR of the previous round key's words.
#[inline]
#[target_feature(enable = "sse2")]
fn prefix_xor(mut w: __m128i) -> __m128i {
    w = _mm_xor_si128(w, _mm_slli_si128::<4>(w));
    w = _mm_xor_si128(w, _mm_slli_si128::<4>(w));
    _mm_xor_si128(w, _mm_slli_si128::<4>(w))
}

/// `SubWord` of word 3 of `w` (rotated first when `ROTATE`), XORed with `rcon`, in all four
/// words: `aesenclast` of that word broadcast to every column, where `ShiftRows` is the
/// identity and `MixColumns` is skipped.
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn sub_last_word<const ROTATE: bool>(w: __m128i, rcon: i32) -> __m128i {
    let broadcast = if ROTATE {
        // Bytes 13, 14, 15, 12 (RotWord of word 3) into every word.
        _mm_shuffle_epi8(w, _mm_set1_epi32(0x0c0f_0e0d))
    } else {
        _mm_shuffle_epi32::<0xff>(w)
    };
    _mm_aesenclast_si128(broadcast, _mm_set1_epi32(rcon))
}

/// Next even round key: `SubWord(RotWord(last word of odd)) ^ RCON` mixed into `even`.
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn next_even(even: __m128i, odd: __m128i, rcon: i32) -> __m128i {
    _mm_xor_si128(prefix_xor(even), sub_last_word::<true>(odd, rcon))
}

/// Next odd round key: `SubWord(last word of even)` mixed into `odd` (AES-256 only).
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn next_odd(odd: __m128i, even: __m128i) -> __m128i {
    _mm_xor_si128(prefix_xor(odd), sub_last_word::<false>(even, 0))
}

/// FIPS-197 AES-256 key expansion into 15 encryption round keys.
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn expand_key(key: &[u8; 32]) -> [__m128i; 15] {
    let mut k = [load_secret(&key[..16]); 15];
    k[1] = load_secret(&key[16..]);
    k[2] = next_even(k[0], k[1], 0x01);
    k[3] = next_odd(k[1], k[2]);
    k[4] = next_even(k[2], k[3], 0x02);
    k[5] = next_odd(k[3], k[4]);
    k[6] = next_even(k[4], k[5], 0x04);
    k[7] = next_odd(k[5], k[6]);
    k[8] = next_even(k[6], k[7], 0x08);
    k[9] = next_odd(k[7], k[8]);
    k[10] = next_even(k[8], k[9], 0x10);
    k[11] = next_odd(k[9], k[10]);
    k[12] = next_even(k[10], k[11], 0x20);
    k[13] = next_odd(k[11], k[12]);
    k[14] = next_even(k[12], k[13], 0x40);
    k
}

/// Decryption round keys (equivalent inverse cipher): reversed, `InvMixColumns` on the inner 13.
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn inverse_round_keys(enc: &[__m128i; 15]) -> [__m128i; 15] {
    let mut d = [enc[14]; 15];
    for i in 1..14 {
        d[i] = _mm_aesimc_si128(enc[14 - i]);
    }
    d[14] = enc[0];
    d
}

/// One block through the 14 AES-256 rounds.
#[inline]
#[target_feature(enable = "aes,sse2,ssse3")]
fn encrypt_block(k: &[__m128i; 15], mut x: __m128i) -> __m128i {
    x = _mm_xor_si128(x, k[0]);
    for key in &k[1..14] {
        x = _mm_aesenc_si128(x, *key);
    }
    _mm_aesenclast_si128(x, k[14])
}

/// The AES-KDF loop: both halves through AES-256 `rounds` times, interleaved.
#[target_feature(enable = "aes,sse2,ssse3")]
fn kdf_rounds_aesni(seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
    let mut k = expand_key(seed);
    let mut a = load_secret(&data[..16]);
    let mut b = load_secret(&data[16..]);
    for _ in 0..rounds {
        a = _mm_xor_si128(a, k[0]);
        b = _mm_xor_si128(b, k[0]);
        for key in &k[1..14] {
            a = _mm_aesenc_si128(a, *key);
            b = _mm_aesenc_si128(b, *key);
        }
        a = _mm_aesenclast_si128(a, k[14]);
        b = _mm_aesenclast_si128(b, k[14]);
    }
    let (lo, hi) = data.split_at_mut(BLOCK);
    if let (Ok(lo), Ok(hi)) = (<&mut [u8; BLOCK]>::try_from(lo), hi.try_into()) {
        store(a, lo);
        store(b, hi);
    }
    k.zeroize();
    a.zeroize();
    b.zeroize();
}

/// Counter-mode keystream (see [`AesNi::ctr_keystream`]), [`LANES`] blocks interleaved.
#[target_feature(enable = "aes,sse2,ssse3")]
fn ctr_keystream_aesni(key: &[u8; 32], buf: &mut [u8]) {
    let mut k = expand_key(key);
    let mut counter = 0u128;
    for group in buf.chunks_mut(LANES * BLOCK) {
        let mut x = [k[0]; LANES];
        for v in &mut x {
            *v = _mm_xor_si128(load(&counter.to_be_bytes()), k[0]);
            counter += 1;
        }
        for key in &k[1..14] {
            for v in &mut x {
                *v = _mm_aesenc_si128(*v, *key);
            }
        }
        for (v, out) in x.iter().zip(group.chunks_mut(BLOCK)) {
            let mut block = [0u8; BLOCK];
            store(_mm_aesenclast_si128(*v, k[14]), &mut block);
            out.copy_from_slice(&block[..out.len()]);
        }
    }
    k.zeroize();
}

/// CBC encryption: `c_i = E(p_i ^ c_{i-1})`, serial; the round keys stay in registers.
#[target_feature(enable = "aes,sse2,ssse3")]
fn cbc_encrypt_aesni(k: &[__m128i; 15], iv: &mut [u8; BLOCK], buf: &mut [u8]) {
    let mut chain = load(iv);
    for block in buf.chunks_exact_mut(BLOCK) {
        let Ok(block) = <&mut [u8; BLOCK]>::try_from(block) else {
            continue;
        };
        chain = encrypt_block(k, _mm_xor_si128(load(block), chain));
        store(chain, block);
    }
    store(chain, iv);
}

/// CBC decryption: `p_i = D(c_i) ^ c_{i-1}`; [`LANES`] blocks interleaved, then one at a time.
#[target_feature(enable = "aes,sse2,ssse3")]
fn cbc_decrypt_aesni(d: &[__m128i; 15], iv: &mut [u8; BLOCK], buf: &mut [u8]) {
    let mut prev = load(iv);
    let whole = buf.len() / BLOCK * BLOCK;
    let (wide, tail) = buf[..whole].split_at_mut(whole / (LANES * BLOCK) * (LANES * BLOCK));
    for group in wide.chunks_exact_mut(LANES * BLOCK) {
        let mut c = [prev; LANES];
        for (lane, block) in c.iter_mut().zip(group.chunks_exact(BLOCK)) {
            if let Ok(block) = block.try_into() {
                *lane = load(block);
            }
        }
        let mut x = c.map(|v| _mm_xor_si128(v, d[0]));
        for key in &d[1..14] {
            for v in &mut x {
                *v = _mm_aesdec_si128(*v, *key);
            }
        }
        for v in &mut x {
            *v = _mm_aesdeclast_si128(*v, d[14]);
        }
        x[0] = _mm_xor_si128(x[0], prev);
        for i in 1..LANES {
            x[i] = _mm_xor_si128(x[i], c[i - 1]);
        }
        for (v, block) in x.iter().zip(group.chunks_exact_mut(BLOCK)) {
            if let Ok(block) = block.try_into() {
                store(*v, block);
            }
        }
        prev = c[LANES - 1];
        x.zeroize();
    }
    for block in tail.chunks_exact_mut(BLOCK) {
        let Ok(block) = <&mut [u8; BLOCK]>::try_from(block) else {
            continue;
        };
        let c = load(block);
        let mut x = _mm_xor_si128(c, d[0]);
        for key in &d[1..14] {
            x = _mm_aesdec_si128(x, *key);
        }
        x = _mm_xor_si128(_mm_aesdeclast_si128(x, d[14]), prev);
        store(x, block);
        prev = c;
        x.zeroize();
    }
    store(prev, iv);
}

// The portable-crypto run turns the AES-NI path off: nothing to compare there.
#[cfg(all(test, not(feature = "portable-crypto")))]
mod tests {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};

    use super::AesNi;

    /// The keystream is the `aes` crate's encryption of the big-endian counter blocks, whole
    /// and partial.
    #[test]
    fn ctr_keystream_matches_the_aes_crate() {
        let ni = AesNi::detect().expect("this x86_64 CPU reports no AES-NI to test");
        for (i, len) in [0usize, 1, 15, 16, 17, 127, 128, 129, 1000, 4096]
            .into_iter()
            .enumerate()
        {
            let key: [u8; 32] = std::array::from_fn(|j| (i * 37 + j * 11) as u8);
            let mut stream = vec![0xA5u8; len];
            ni.ctr_keystream(&key, &mut stream);
            let cipher = aes::Aes256::new(&key.into());
            let mut expected = Vec::new();
            for counter in 0..len.div_ceil(16) as u128 {
                let mut block = counter.to_be_bytes().into();
                cipher.encrypt_block(&mut block);
                expected.extend_from_slice(&block);
            }
            expected.truncate(len);
            assert_eq!(stream, expected, "{len} bytes");
        }
    }
}
