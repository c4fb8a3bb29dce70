//! AES-KDF (KeePass): N rounds of AES-256-ECB, keyed with the seed, over both 16-byte halves
//! of the composite key, then SHA-256.
//!
//! Speed: on x86_64 CPUs with AES-NI (detected once at run time) the rounds run in
//! [`crate::crypto::aes_ni`] with the round keys held in registers. Elsewhere the portable path uses the
//! `aes` crate: the two halves are independent chains, encrypted alternately inside one backend
//! closure, so the CPU overlaps them without per-round dispatch.

use aes::{
    cipher::{
        consts::U16, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt,
        BlockSizeUser, KeyInit,
    },
    Aes256, Block,
};
use sha2::{Digest, Sha256};
use trousseau_core::SecretBytes;
use zeroize::Zeroize;

struct Rounds<'a> {
    halves: &'a mut [Block; 2],
    rounds: u64,
}

impl BlockSizeUser for Rounds<'_> {
    type BlockSize = U16;
}

impl BlockCipherEncClosure for Rounds<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let [a, b] = self.halves;
        for _ in 0..self.rounds {
            backend.encrypt_block(a.into());
            backend.encrypt_block(b.into());
        }
    }
}

/// Runs the AES rounds in place on a 32-byte buffer (no final hash), with AES-NI when the CPU
/// has it.
pub(crate) fn aes_rounds(seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
    #[cfg(target_arch = "x86_64")]
    if let Some(ni) = crate::crypto::aes_ni::AesNi::detect() {
        return ni.kdf_rounds(seed, data, rounds);
    }
    portable_rounds(seed, data, rounds);
}

/// [`aes_rounds`] with the `aes` crate: the fallback on CPUs without AES-NI.
pub(super) fn portable_rounds(seed: &[u8; 32], data: &mut [u8; 32], rounds: u64) {
    let cipher = Aes256::new(seed.into());
    let mut halves = [Block::default(), Block::default()];
    halves[0].copy_from_slice(&data[..16]);
    halves[1].copy_from_slice(&data[16..]);
    cipher.encrypt_with_backend(Rounds {
        halves: &mut halves,
        rounds,
    });
    data[..16].copy_from_slice(&halves[0]);
    data[16..].copy_from_slice(&halves[1]);
    halves[0].zeroize();
    halves[1].zeroize();
}

/// AES-KDF: `SHA-256(AES-256-ECB^rounds_seed(composite))`.
pub(crate) fn aes_kdf(composite: &[u8; 32], seed: &[u8; 32], rounds: u64) -> SecretBytes {
    let mut data = *composite;
    aes_rounds(seed, &mut data, rounds);
    let out = SecretBytes::copy_from(Sha256::digest(data).as_slice());
    data.zeroize();
    out
}
