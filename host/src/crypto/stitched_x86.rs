//! The inner loops of [`super::cbc_hmac`] on x86_64 CPUs with AES-NI and SHA-NI: AES-256-CBC
//! and SHA-256 in one function, so that both run at once on one core, reading the plaintext
//! or ciphertext where the caller holds it and writing straight into the output `Vec`'s spare
//! capacity (no copy first, no zero fill).
//!
//! - **Encryption** is two serial chains (CBC and SHA-256). Called through `sha2`'s block
//!   function, the SHA-256 of one 64-byte block and the AES of the next four blocks only
//!   overlap as far as the scheduler reaches, which is not far: the AES chain's waiting
//!   instructions fill it. Here each group of four SHA-256 rounds is written next to a quarter
//!   of one AES block's rounds, and [`ShaBlock::pin`] keeps LLVM from regrouping them (it
//!   otherwise may emit a whole SHA-256 block, then the AES rounds), so the two chains advance
//!   together in program order.
//! - **Decryption** has no chain between blocks: each window's four blocks go through their AES
//!   rounds first, then the window's SHA-256 rounds; the out-of-order core overlaps them. This
//!   measured faster than spreading the AES rounds between the SHA-256 quads, where they get in
//!   the way of the SHA-256 chain.
//!
//! The round keys and the SHA-256 state stay in registers for the whole buffer.
//!
//! Every `unsafe` is either a call into a `#[target_feature]` function, guarded by a [`ShaNi`]
//! and an [`AesNi`] token that exist only after run-time detection succeeded, an unaligned
//! 16-byte load/store through a pointer into a slice of at least 16 bytes, the output `Vec`'s
//! spare capacity and its new length, or the empty `asm!` of [`ShaBlock::pin`].

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_aesdec_si128, _mm_aesdeclast_si128, _mm_aesenc_si128,
    _mm_aesenclast_si128, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128, _mm_set1_epi8,
    _mm_set_epi64x, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
    _mm_shuffle_epi32, _mm_shuffle_epi8, _mm_storeu_si128, _mm_xor_si128,
};
use std::{mem::MaybeUninit, sync::OnceLock};

use super::{
    aes_ni::{AesNi, DecryptionKeys, EncryptionKeys},
    cbc_hmac::SHA256_H0,
};

const BLOCK: usize = 16;
const WINDOW: usize = 64;

/// SHA-256 round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Proof that the running CPU has the SHA extensions (with SSSE3 and SSE4.1): obtained only
/// from [`ShaNi::detect`].
#[derive(Clone, Copy, Debug)]
pub struct ShaNi(());

impl ShaNi {
    /// `Some` when the CPU has SHA-NI, SSSE3 and SSE4.1 (never with the `portable-crypto`
    /// feature). The CPUID probe runs once per process.
    pub fn detect() -> Option<Self> {
        if cfg!(feature = "portable-crypto") {
            return None;
        }
        static DETECTED: OnceLock<bool> = OnceLock::new();
        let present = *DETECTED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("sha")
                && std::arch::is_x86_feature_detected!("ssse3")
                && std::arch::is_x86_feature_detected!("sse4.1")
        });
        present.then_some(ShaNi(()))
    }

    /// CBC-encrypts the whole 64-byte groups of `plaintext` (continuing `chain`, which holds
    /// the IV at the start) and appends the ciphertext to `out`, while feeding `IV ||
    /// ciphertext` to `state` one window behind: the MAC's window `w` is hashed while group
    /// `w + 1` is encrypted. Returns `(taken, hashed)`: the plaintext bytes encrypted (a
    /// multiple of 64) and the bytes of `IV || ciphertext` hashed, `taken - 64` (the last 80
    /// bytes of `IV || ciphertext` are left for the caller, who appends the rest).
    pub fn seal_append(
        self,
        _aes: AesNi,
        keys: &EncryptionKeys,
        chain: &mut [u8; BLOCK],
        state: &mut [u32; 8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> (usize, usize) {
        let taken = plaintext.len() / WINDOW * WINDOW;
        let Some(iv_at) = out.len().checked_sub(BLOCK) else {
            return (0, 0);
        };
        out.reserve(taken);
        // SAFETY: the IV's 16 bytes and the `taken` reserved after them lie inside `out`'s
        // allocation, borrowed exclusively; as `MaybeUninit` they may be uninitialized.
        let iv_ct = unsafe {
            std::slice::from_raw_parts_mut(
                out.as_mut_ptr().add(iv_at).cast::<MaybeUninit<u8>>(),
                BLOCK + taken,
            )
        };
        // SAFETY: `self` and `_aes` prove "sha", "ssse3", "sse4.1", "aes" and "sse2".
        unsafe { seal_groups(keys.round_keys(), chain, state, &plaintext[..taken], iv_ct) };
        // SAFETY: `seal_groups` stored all four blocks of every group, `taken` bytes after the IV.
        unsafe { out.set_len(iv_at + BLOCK + taken) };
        (taken, taken.saturating_sub(WINDOW))
    }

    /// HMAC-SHA256's inner and outer states for `key`, the states after the padded-key
    /// blocks `key ^ 0x36…` and `key ^ 0x5c…` (each key byte XORed, then 32 pad bytes). The
    /// blocks are built in registers, never in memory, and hashed side by side: two
    /// independent SHA-256 chains that overlap on one core. Every payload has a fresh MAC key.
    pub fn hmac_key_states(self, key: &[u8; 32]) -> ([u32; 8], [u32; 8]) {
        // SAFETY: `self` proves "sha", "ssse3" and "sse4.1" (SSE2 is part of x86_64).
        unsafe { hmac_key_states(key) }
    }

    /// Decrypts the whole 64-byte windows of the ciphertext `iv_ct[16..]` (continuing
    /// `chain`) and appends them to `out`, while feeding as many bytes of `iv_ct` to `state`.
    /// Returns that number of bytes.
    pub fn open_append(
        self,
        _aes: AesNi,
        keys: &DecryptionKeys,
        chain: &mut [u8; BLOCK],
        state: &mut [u32; 8],
        iv_ct: &[u8],
        out: &mut Vec<u8>,
    ) -> usize {
        let done = iv_ct.len().saturating_sub(BLOCK) / WINDOW * WINDOW;
        let start = out.len();
        out.reserve(done);
        // SAFETY: as in `seal_append`.
        unsafe {
            open_windows(
                keys.round_keys(),
                chain,
                state,
                iv_ct,
                &mut out.spare_capacity_mut()[..done],
            );
        }
        // SAFETY: `open_windows` stored all four blocks of each of the `done / 64` windows
        // (`iv_ct` and its ciphertext both hold at least `done` bytes).
        unsafe { out.set_len(start + done) };
        done
    }
}

#[inline]
#[target_feature(enable = "sse2")]
fn load(bytes: &[u8]) -> __m128i {
    debug_assert!(bytes.len() >= BLOCK);
    // SAFETY: callers pass slices of at least 16 bytes (windows and blocks); `loadu` has no
    // alignment requirement.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store(v: __m128i, bytes: &mut [u8]) {
    debug_assert!(bytes.len() >= BLOCK);
    // SAFETY: as in `load`.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store_uninit(v: __m128i, bytes: &mut [MaybeUninit<u8>]) {
    debug_assert!(bytes.len() >= BLOCK);
    // SAFETY: as in `load`; writing to `MaybeUninit` bytes needs no initialized value.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) }
}

/// Loads 16 bytes that this module's loops (or the caller, for an IV) have already written.
#[inline]
#[target_feature(enable = "sse2")]
fn load_written(bytes: &[MaybeUninit<u8>]) -> __m128i {
    debug_assert!(bytes.len() >= BLOCK);
    // SAFETY: as in `load`; callers only read bytes stored before (the IV, or ciphertext that
    // `store_uninit` wrote), so every byte read is initialized.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// The state as SHA-NI wants it: `(ABEF, CDGH)`.
#[inline]
#[target_feature(enable = "sse2,ssse3,sse4.1")]
fn load_state(state: &[u32; 8]) -> (__m128i, __m128i) {
    let word = |i: usize| i64::from(state[i]) & 0xffff_ffff;
    let dcba = _mm_set_epi64x(word(3) << 32 | word(2), word(1) << 32 | word(0));
    let hgfe = _mm_set_epi64x(word(7) << 32 | word(6), word(5) << 32 | word(4));
    let cdab = _mm_shuffle_epi32::<0xB1>(dcba);
    let efgh = _mm_shuffle_epi32::<0x1B>(hgfe);
    (
        _mm_alignr_epi8::<8>(cdab, efgh),
        _mm_blend_epi16::<0xF0>(efgh, cdab),
    )
}

#[inline]
#[target_feature(enable = "sse2,ssse3,sse4.1")]
fn store_state(abef: __m128i, cdgh: __m128i, state: &mut [u32; 8]) {
    let feba = _mm_shuffle_epi32::<0x1B>(abef);
    let dchg = _mm_shuffle_epi32::<0xB1>(cdgh);
    let mut bytes = [0u8; 32];
    store(_mm_blend_epi16::<0xF0>(feba, dchg), &mut bytes[..16]);
    store(_mm_alignr_epi8::<8>(dchg, feba), &mut bytes[16..]);
    for (word, b) in state.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

/// One SHA-256 block in flight: the state, the saved state to add at the end, and the message
/// schedule's last four quads.
struct ShaBlock {
    abef: __m128i,
    cdgh: __m128i,
    saved: (__m128i, __m128i),
    w: [__m128i; 4],
}

impl ShaBlock {
    /// Loads a 64-byte block (big-endian words) to hash on top of `(abef, cdgh)`.
    #[inline]
    #[target_feature(enable = "sse2,ssse3")]
    fn start(abef: __m128i, cdgh: __m128i, block: &[u8]) -> ShaBlock {
        let parts = [
            load(block),
            load(&block[BLOCK..]),
            load(&block[2 * BLOCK..]),
            load(&block[3 * BLOCK..]),
        ];
        Self::start_blocks(abef, cdgh, parts)
    }

    /// [`start`](Self::start) from the block's four 16-byte parts, in registers.
    #[inline]
    #[target_feature(enable = "sse2,ssse3")]
    fn start_blocks(abef: __m128i, cdgh: __m128i, parts: [__m128i; 4]) -> ShaBlock {
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        ShaBlock {
            abef,
            cdgh,
            saved: (abef, cdgh),
            w: [
                _mm_shuffle_epi8(parts[0], swap),
                _mm_shuffle_epi8(parts[1], swap),
                _mm_shuffle_epi8(parts[2], swap),
                _mm_shuffle_epi8(parts[3], swap),
            ],
        }
    }

    /// Rounds `4q .. 4q + 4` (`q` in 0..16), extending the message schedule from `q = 4` on.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1,sha")]
    fn quad(&mut self, q: usize) {
        let w = if q < 4 {
            self.w[q]
        } else {
            let [w0, w1, w2, w3] = self.w;
            let next = _mm_sha256msg2_epu32(
                _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8::<4>(w3, w2)),
                w3,
            );
            self.w = [w1, w2, w3, next];
            next
        };
        let k = &K[4 * q..4 * q + 4];
        let k = _mm_set_epi64x(
            i64::from(k[3]) << 32 | i64::from(k[2]),
            i64::from(k[1]) << 32 | i64::from(k[0]),
        );
        let wk = _mm_add_epi32(w, k);
        self.cdgh = _mm_sha256rnds2_epu32(self.cdgh, self.abef, wk);
        self.abef = _mm_sha256rnds2_epu32(self.abef, self.cdgh, _mm_shuffle_epi32::<0x0E>(wk));
    }

    /// Keeps the compiler's instruction order: everything computed for the SHA-256 state and
    /// for `aes` so far is emitted before what comes after. Emits no instruction, so the CPU
    /// sees no dependency between the two chains. Without it, LLVM may emit a whole SHA-256
    /// block and then the AES rounds, and the two no longer overlap.
    #[inline]
    fn pin(&mut self, aes: &mut __m128i) {
        // SAFETY: an empty instruction sequence, which reads and writes nothing but its
        // register operands, and leaves them unchanged.
        unsafe {
            std::arch::asm!(
                "/* {0} {1} {2} */",
                inout(xmm_reg) self.abef,
                inout(xmm_reg) self.cdgh,
                inout(xmm_reg) *aes,
                options(nomem, nostack, preserves_flags),
            );
        }
    }

    /// The state after the block.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn finish(self) -> (__m128i, __m128i) {
        (
            _mm_add_epi32(self.abef, self.saved.0),
            _mm_add_epi32(self.cdgh, self.saved.1),
        )
    }
}

/// The two padded-key blocks, quad by quad (see [`ShaNi::hmac_key_states`]).
#[target_feature(enable = "sse2,ssse3,sse4.1,sha")]
fn hmac_key_states(key: &[u8; 32]) -> ([u32; 8], [u32; 8]) {
    let (k0, k1) = (load(key), load(&key[BLOCK..]));
    let (abef, cdgh) = load_state(&SHA256_H0);
    let (ipad, opad) = (_mm_set1_epi8(0x36), _mm_set1_epi8(0x5c));
    // Key bytes XORed with the pad, then 32 bytes of pad alone.
    let mut inner = ShaBlock::start_blocks(
        abef,
        cdgh,
        [_mm_xor_si128(k0, ipad), _mm_xor_si128(k1, ipad), ipad, ipad],
    );
    let mut outer = ShaBlock::start_blocks(
        abef,
        cdgh,
        [_mm_xor_si128(k0, opad), _mm_xor_si128(k1, opad), opad, opad],
    );
    for q in 0..16 {
        inner.quad(q);
        outer.quad(q);
    }
    let mut states = ([0; 8], [0; 8]);
    let (abef, cdgh) = inner.finish();
    store_state(abef, cdgh, &mut states.0);
    let (abef, cdgh) = outer.finish();
    store_state(abef, cdgh, &mut states.1);
    states
}

/// The stitched encryption loop (see [`ShaNi::seal_append`]). `iv_ct` holds the IV (written)
/// and then room for the ciphertext of `plaintext`, which is whole groups.
#[target_feature(enable = "aes,sse2,ssse3,sse4.1,sha")]
fn seal_groups(
    k: &[__m128i; 15],
    chain: &mut [u8; BLOCK],
    state: &mut [u32; 8],
    plaintext: &[u8],
    iv_ct: &mut [MaybeUninit<u8>],
) {
    let (mut abef, mut cdgh) = load_state(state);
    let mut c = load(chain);
    for (g, plain) in plaintext.chunks_exact(WINDOW).enumerate() {
        // `IV || ciphertext` so far, and the room for this group's ciphertext.
        let (written, out) = iv_ct.split_at_mut(BLOCK + g * WINDOW);
        if g == 0 {
            // The first group has no window before it to hash: plain CBC.
            for b in 0..4 {
                c = _mm_xor_si128(_mm_xor_si128(load(&plain[b * BLOCK..]), c), k[0]);
                for key in &k[1..14] {
                    c = _mm_aesenc_si128(c, *key);
                }
                c = _mm_aesenclast_si128(c, k[14]);
                store_uninit(c, &mut out[b * BLOCK..]);
            }
            continue;
        }
        // No closures in these loops: they would not inherit the target features, and every
        // call would pass its vectors through memory.
        let window = &written[(g - 1) * WINDOW..];
        let mut sha = ShaBlock::start_blocks(
            abef,
            cdgh,
            [
                load_written(window),
                load_written(&window[BLOCK..]),
                load_written(&window[2 * BLOCK..]),
                load_written(&window[3 * BLOCK..]),
            ],
        );
        for b in 0..4 {
            // One AES block's 14 rounds, a quarter beside each of four SHA-256 quads.
            c = _mm_xor_si128(_mm_xor_si128(load(&plain[b * BLOCK..]), c), k[0]);
            sha.quad(4 * b);
            for key in &k[1..5] {
                c = _mm_aesenc_si128(c, *key);
            }
            sha.pin(&mut c);
            sha.quad(4 * b + 1);
            for key in &k[5..9] {
                c = _mm_aesenc_si128(c, *key);
            }
            sha.pin(&mut c);
            sha.quad(4 * b + 2);
            for key in &k[9..14] {
                c = _mm_aesenc_si128(c, *key);
            }
            c = _mm_aesenclast_si128(c, k[14]);
            sha.pin(&mut c);
            sha.quad(4 * b + 3);
            store_uninit(c, &mut out[b * BLOCK..]);
            sha.pin(&mut c);
        }
        (abef, cdgh) = sha.finish();
    }
    store(c, chain);
    store_state(abef, cdgh, state);
}

/// The stitched decryption loop (see [`ShaNi::open_append`]): per window, the four blocks'
/// AES rounds first, then the window's SHA-256 rounds (see the module documentation).
#[target_feature(enable = "aes,sse2,ssse3,sse4.1,sha")]
fn open_windows(
    d: &[__m128i; 15],
    chain: &mut [u8; BLOCK],
    state: &mut [u32; 8],
    iv_ct: &[u8],
    out: &mut [MaybeUninit<u8>],
) {
    let (mut abef, mut cdgh) = load_state(state);
    let mut prev = load(chain);
    let ciphertext = iv_ct.get(BLOCK..).unwrap_or_default();
    for ((window, cipher), plain) in iv_ct
        .chunks_exact(WINDOW)
        .zip(ciphertext.chunks_exact(WINDOW))
        .zip(out.chunks_exact_mut(WINDOW))
    {
        let c = [
            load(cipher),
            load(&cipher[BLOCK..]),
            load(&cipher[2 * BLOCK..]),
            load(&cipher[3 * BLOCK..]),
        ];
        let mut x = c;
        for v in &mut x {
            *v = _mm_xor_si128(*v, d[0]);
        }
        for key in &d[1..14] {
            for v in &mut x {
                *v = _mm_aesdec_si128(*v, *key);
            }
        }
        for v in &mut x {
            *v = _mm_aesdeclast_si128(*v, d[14]);
        }
        let mut sha = ShaBlock::start(abef, cdgh, window);
        for q in 0..16 {
            sha.quad(q);
        }
        let before = [prev, c[0], c[1], c[2]];
        for ((v, p), block) in x.iter().zip(before).zip(plain.chunks_exact_mut(BLOCK)) {
            store_uninit(_mm_xor_si128(*v, p), block);
        }
        prev = c[3];
        (abef, cdgh) = sha.finish();
    }
    store(prev, chain);
    store_state(abef, cdgh, state);
}
