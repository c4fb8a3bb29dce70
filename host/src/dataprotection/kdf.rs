//! NIST SP800-108 counter-mode KDF with HMAC-SHA512, as ASP.NET Core Data Protection uses it
//! (`ManagedSP800_108_CTR_HMACSHA512`).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;

/// HMAC-SHA512 keyed with a key-derivation key; cloned for every derivation so that the key
/// schedule is computed once per key.
pub type KeyedPrf = Hmac<Sha512>;

/// Keys the PRF with `kdk` (any length: HMAC hashes or zero-pads it, so no key is refused).
pub fn keyed_prf(kdk: &[u8]) -> KeyedPrf {
    <KeyedPrf as KeyInit>::new_from_slice(kdk).unwrap_or_else(|_| hmac_any_key())
}

// HMAC's `new_from_slice` only rejects keys for MACs with fixed key sizes; HMAC-SHA512 takes
// every length. This keeps the signature infallible without an `unwrap`.
fn hmac_any_key() -> KeyedPrf {
    <KeyedPrf as KeyInit>::new(&Default::default())
}

/// Fills `out` with `SP800_108_CTR_HMACSHA512(kdk, label, contextHeader || context)`:
/// per block `HMAC(kdk, [i]_32be || label || 0x00 || contextHeader || context || [L]_32be)`.
pub fn derive(prf: &KeyedPrf, label: &[u8], context_header: &[u8], context: &[u8], out: &mut [u8]) {
    let bits = u32::try_from(out.len().saturating_mul(8)).unwrap_or(u32::MAX);
    for (i, chunk) in out.chunks_mut(64).enumerate() {
        let mut mac = prf.clone();
        mac.update(&(i as u32 + 1).to_be_bytes());
        mac.update(label);
        mac.update(&[0]);
        mac.update(context_header);
        mac.update(context);
        mac.update(&bits.to_be_bytes());
        let block = mac.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn run(kdk: &[u8], label: &[u8], header: &[u8], ctx: &[u8], len: usize) -> String {
        let mut out = vec![0u8; len];
        derive(&keyed_prf(kdk), label, header, ctx, &mut out);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    // Known answers from ASP.NET Core's `SP800_108Tests.cs`.
    #[test]
    fn spec_6_1_short_kdk() {
        let r = |n| run(b"kdk", b"label", b"contextHeader", b"context", n);
        assert_eq!(
            r(63),
            "V47WmHzPSkdC2vkLAomIjCzZlDOAetll3yJLcSvon7LJFjJpEN+KnSNp+gIpeydKMsENkflbrIZ/3s6GkEaH"
        );
        assert_eq!(r(64), "mVaFM4deXLl610CmnCteNzxgbM/VkmKznAlPauHcDBn0le06uOjAKLHx0LfoU2/Ttq9nd78Y6Nk6wArmdwJgJg==");
        assert_eq!(r(65), "GaHPeqdUxriFpjRtkYQYWr5/iqneD/+hPhVJQt4rXblxSpB1UUqGqL00DMU/FJkX0iMCfqUjQXtXyfks+p++Ev4=");
    }

    #[test]
    fn spec_6_1_long_kdk() {
        let kdk: Vec<u8> = (0..50000u32).map(|i| i as u8).collect();
        let r = |n| run(&kdk, b"label", b"contextHeader", b"context", n);
        assert_eq!(
            r(63),
            "rt2hM6kkQ8hAXmkHx0TU4o3Q+S7fie6b3S1LAq107k++P9v8uSYA2G+WX3pJf9ZkpYrTKD7WUIoLkgA1R9lk"
        );
        assert_eq!(r(64), "RKiXmHSrWq5gkiRSyNZWNJrMR0jDyYHJMt9odOayRAE5wLSX2caINpQmfzTH7voJQi3tbn5MmD//dcspghfBiw==");
        assert_eq!(r(65), "KedXO0zAIZ3AfnPqY1NnXxpC3HDHIxefG4bwD3g6nWYEc5+q7pjbam71Yqj0zgHMNC9Z7BX3wS1/tajFocRWZUk=");
    }

    #[test]
    fn spec_6_1_empty() {
        assert_eq!(run(b"", b"", b"", b"", 64), "fHGMWaDLmoncLsEKuKbZo8T+73paNohDeb5O7BSxbC8Gus8d/mUpa/9w2ss65OHlmFw1VZhIXzr5swMYVRndRw==");
        assert_eq!(run(b"", b"", b"", b"", 96), "iXd0KuWopclbxtWf9dO8fnerBqLJvndOUs74pTcj7Ck8Ctsvz4QttXkCY1DPd4aDbOE/CCU8/bIQtzoU1Xu3ZQ1pV0qEZmzFll+Vpf+q7av7AGEqwh56a+NPt6gxC5CP");
    }
}
