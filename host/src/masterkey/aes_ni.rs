//! AES-KDF rounds with explicit AES-NI instructions (x86_64 only).
//!
//! The 15 AES-256 round keys are expanded once with `aeskeygenassist` and stay in XMM
//! registers (all but one fit; the compiler reloads the last from L1). The two 16-byte halves
//! are two independent dependency chains, interleaved instruction by instruction so the CPU
//! overlaps their `aesenc` latencies. No call, dispatch or memory traffic per round.
//!
//! The only `unsafe` is the call into the `#[target_feature]` function, guarded by the
//! [`AesNi`] token that exists only after run-time detection succeeded.

use std::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128, _mm_cvtsi128_si64,
    _mm_set_epi64x, _mm_shuffle_epi32, _mm_slli_si128, _mm_unpackhi_epi64, _mm_xor_si128,
};
use std::sync::OnceLock;

use zeroize::Zeroize;

/// Proof that the running CPU has AES-NI (and SSE2): obtained only from [`AesNi::detect`].
#[derive(Clone, Copy, Debug)]
pub(super) struct AesNi(());

impl AesNi {
    /// `Some` when the CPU supports AES-NI. The CPUID probe runs once per process.
    pub(super) fn detect() -> Option<Self> {
        static DETECTED: OnceLock<bool> = OnceLock::new();
        let present = *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("sse2")
        });
        present.then_some(AesNi(()))
    }

    /// Encrypts both 16-byte halves of `data` `rounds` times with AES-256 keyed by `seed`.
    pub(super) fn rounds(self, seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
        // SAFETY: `self` is an `AesNi` token, which `detect` only hands out after
        // `is_x86_feature_detected!` confirmed "aes" and "sse2" on this CPU, so the
        // target features `rounds_aesni` is compiled with are available.
        unsafe { rounds_aesni(seed, data, rounds) }
    }
}

/// Little-endian bytes -> XMM register (SSE2 only, no pointer loads).
#[inline]
#[target_feature(enable = "sse2")]
fn load(bytes: &[u8]) -> __m128i {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&bytes[..8]);
    hi.copy_from_slice(&bytes[8..16]);
    let v = _mm_set_epi64x(i64::from_le_bytes(hi), i64::from_le_bytes(lo));
    lo.zeroize();
    hi.zeroize();
    v
}

/// XMM register -> little-endian bytes (SSE2 only, no pointer stores).
#[inline]
#[target_feature(enable = "sse2")]
fn store(v: __m128i, out: &mut [u8]) {
    out[..8].copy_from_slice(&_mm_cvtsi128_si64(v).to_le_bytes());
    out[8..16].copy_from_slice(&_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)).to_le_bytes());
}

/// `w ^ (w << 32) ^ (w << 64) ^ (w << 96)`: the running XOR of the previous round key's words.
#[inline]
#[target_feature(enable = "sse2")]
fn prefix_xor(mut w: __m128i) -> __m128i {
    w = _mm_xor_si128(w, _mm_slli_si128::<4>(w));
    w = _mm_xor_si128(w, _mm_slli_si128::<4>(w));
    _mm_xor_si128(w, _mm_slli_si128::<4>(w))
}

/// Next even round key: `SubWord(RotWord(last word of odd)) ^ RCON` mixed into `even`.
#[inline]
#[target_feature(enable = "aes,sse2")]
fn next_even<const RCON: i32>(even: __m128i, odd: __m128i) -> __m128i {
    let t = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<RCON>(odd));
    _mm_xor_si128(prefix_xor(even), t)
}

/// Next odd round key: `SubWord(last word of even)` mixed into `odd` (AES-256 only).
#[inline]
#[target_feature(enable = "aes,sse2")]
fn next_odd(odd: __m128i, even: __m128i) -> __m128i {
    let t = _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(even));
    _mm_xor_si128(prefix_xor(odd), t)
}

/// FIPS-197 AES-256 key expansion into 15 round keys.
#[inline]
#[target_feature(enable = "aes,sse2")]
fn expand_key(seed: &[u8; 32]) -> [__m128i; 15] {
    let mut k = [load(&seed[..16]); 15];
    k[1] = load(&seed[16..]);
    k[2] = next_even::<0x01>(k[0], k[1]);
    k[3] = next_odd(k[1], k[2]);
    k[4] = next_even::<0x02>(k[2], k[3]);
    k[5] = next_odd(k[3], k[4]);
    k[6] = next_even::<0x04>(k[4], k[5]);
    k[7] = next_odd(k[5], k[6]);
    k[8] = next_even::<0x08>(k[6], k[7]);
    k[9] = next_odd(k[7], k[8]);
    k[10] = next_even::<0x10>(k[8], k[9]);
    k[11] = next_odd(k[9], k[10]);
    k[12] = next_even::<0x20>(k[10], k[11]);
    k[13] = next_odd(k[11], k[12]);
    k[14] = next_even::<0x40>(k[12], k[13]);
    k
}

/// The AES-KDF loop: both halves through AES-256 `rounds` times, interleaved.
#[target_feature(enable = "aes,sse2")]
fn rounds_aesni(seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
    let mut k = expand_key(seed);
    let mut a = load(&data[..16]);
    let mut b = load(&data[16..]);
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
    store(a, &mut data[..16]);
    store(b, &mut data[16..]);
    k.zeroize();
    a.zeroize();
    b.zeroize();
}
