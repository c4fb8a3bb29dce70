//! NIST SP800-108 counter-mode KDF with HMAC-SHA512, as ASP.NET Core Data Protection uses it
//! (`ManagedSP800_108_CTR_HMACSHA512`), on SHA-512's block function directly.
//!
//! Each payload derives its subkeys with block `i` = `HMAC(kdk, [i]_32be || label || 0x00 ||
//! contextHeader || context || [L]_32be)`. Two things never change between the payloads of one
//! key: the HMAC key states ([`KeyedPrf`], once per key), and, for one purpose chain, every
//! byte before the random key modifier (`context`). A [`Prefix`] holds that fixed part
//! hashed as far as it fills whole 128-byte blocks, and its remaining bytes ready in a block
//! buffer; each payload's block 1 starts from there and adds only its key modifier and the
//! length. With ASP.NET's own purpose chains (cookies, antiforgery) the fixed part fills a
//! block, which saves one SHA-512 compression of three per payload; with short chains it
//! saves assembling the message.

use sha2::{block_api::compress512, Digest, Sha512};
use zeroize::Zeroize;

/// SHA-512 block size.
const BLOCK: usize = 128;
/// HMAC-SHA512 output size.
const OUT: usize = 64;

/// SHA-512 initial hash value (FIPS 180-4, 5.3.5).
const SHA512_H0: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// HMAC-SHA512 keyed with a key-derivation key: the inner and outer hash states after the
/// padded key, computed once per key. Wiped on drop.
pub struct KeyedPrf {
    inner: [u64; 8],
    outer: [u64; 8],
}

impl std::fmt::Debug for KeyedPrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedPrf(redacted)")
    }
}

impl Drop for KeyedPrf {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// Keys the PRF with `kdk` (any length: HMAC hashes a key longer than a block and zero-pads a
/// shorter one, so no key is refused).
pub fn keyed_prf(kdk: &[u8]) -> KeyedPrf {
    let mut key = [[0u8; BLOCK]];
    if kdk.len() > BLOCK {
        let mut digest = Sha512::digest(kdk);
        key[0][..OUT].copy_from_slice(&digest);
        digest.zeroize();
    } else {
        key[0][..kdk.len()].copy_from_slice(kdk);
    }
    let state = |pad: u8| {
        let mut block = key;
        for b in block[0].iter_mut() {
            *b ^= pad;
        }
        let mut s = SHA512_H0;
        compress512(&mut s, &block);
        block.zeroize();
        s
    };
    let prf = KeyedPrf {
        inner: state(0x36),
        outer: state(0x5c),
    };
    key.zeroize();
    prf
}

/// The fixed part of derivation block 1, `[1]_32be || label || 0x00 || contextHeader`, for
/// one key, one label and one context header: the inner hash state after its whole 128-byte
/// blocks, and the bytes after them. The state is wiped on drop; the bytes are public
/// (counter, AAD, context header).
pub struct Prefix {
    state: [u64; 8],
    /// Message bytes the state has absorbed (whole blocks, after the key block).
    absorbed: usize,
    /// The fixed part's bytes after those blocks, in `rest[..rest_len]`.
    rest: [u8; BLOCK],
    rest_len: usize,
}

impl std::fmt::Debug for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Prefix({} + {} bytes, state redacted)",
            self.absorbed, self.rest_len
        )
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl Prefix {
    /// The prefix of `prf`'s derivations with `label` and `context_header`.
    pub fn new(prf: &KeyedPrf, label: &[u8], context_header: &[u8]) -> Prefix {
        let s = Stream::fixed_part(prf, 1, label, context_header);
        Prefix {
            state: s.state,
            absorbed: s.len - BLOCK - s.fill,
            rest: s.buf[0],
            rest_len: s.fill,
        }
    }
}

/// SHA-512 over a message given in pieces, after the HMAC key block, or resumed from a
/// [`Prefix`]. Its buffer holds message bytes only, which are public (counter, AAD, context
/// header, a payload's key modifier); the key-derived state is wiped on drop.
struct Stream {
    state: [u64; 8],
    /// The bytes not yet compressed (in the first block), and room for their padding.
    buf: [[u8; BLOCK]; 2],
    fill: usize,
    /// Bytes hashed so far, the key block included.
    len: usize,
}

impl Stream {
    /// Block `counter` of a derivation after its fixed part, `[counter]_32be || label || 0x00
    /// || contextHeader`.
    #[inline]
    fn fixed_part(prf: &KeyedPrf, counter: u32, label: &[u8], context_header: &[u8]) -> Stream {
        // After the HMAC key block.
        let mut s = Stream {
            state: prf.inner,
            buf: [[0; BLOCK]; 2],
            fill: 0,
            len: BLOCK,
        };
        s.update(&counter.to_be_bytes());
        s.update(label);
        s.update(&[0]);
        s.update(context_header);
        s
    }

    /// Block 1 of a derivation after its fixed part, from its [`Prefix`].
    #[inline]
    fn resume(prefix: &Prefix) -> Stream {
        Stream {
            state: prefix.state,
            buf: [prefix.rest, [0; BLOCK]],
            fill: prefix.rest_len,
            len: BLOCK + prefix.absorbed + prefix.rest_len,
        }
    }

    #[inline]
    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len();
        if self.fill > 0 {
            let n = (BLOCK - self.fill).min(data.len());
            self.buf[0][self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill < BLOCK {
                return;
            }
            compress512(&mut self.state, &self.buf[..1]);
            self.fill = 0;
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        compress512(&mut self.state, blocks);
        self.buf[0][..rest.len()].copy_from_slice(rest);
        self.fill = rest.len();
    }

    /// The digest as words: padding (0x80, zeros, the length in bits as 128 bits big-endian),
    /// written after the buffered bytes in place.
    #[inline]
    fn finish(mut self) -> [u64; 8] {
        let bits = (self.len as u128) * 8;
        let fill = self.fill;
        let n = if fill < BLOCK - 16 { 1 } else { 2 };
        let flat = self.buf.as_flattened_mut();
        flat[fill] = 0x80;
        // Bytes of earlier blocks may still sit after `fill`.
        flat[fill + 1..n * BLOCK - 16].fill(0);
        flat[n * BLOCK - 16..n * BLOCK].copy_from_slice(&bits.to_be_bytes());
        compress512(&mut self.state, &self.buf[..n]);
        self.state
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

/// The outer hash of HMAC-SHA512 over the inner digest `inner`: one block from the outer key
/// state. The block holds the inner digest and is wiped.
fn outer_hash(prf: &KeyedPrf, inner: &[u64; 8]) -> [u64; 8] {
    let mut block = [[0u8; BLOCK]];
    for (bytes, word) in block[0].chunks_exact_mut(8).zip(inner) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    block[0][OUT] = 0x80;
    block[0][BLOCK - 16..].copy_from_slice(&(((BLOCK + OUT) as u128) * 8).to_be_bytes());
    let mut state = prf.outer;
    compress512(&mut state, &block);
    block[0][..OUT].zeroize();
    state
}

/// Fills `out` with `SP800_108_CTR_HMACSHA512(kdk, label, contextHeader || context)`:
/// per block `HMAC(kdk, [i]_32be || label || 0x00 || contextHeader || context || [L]_32be)`.
/// `prefix`, made by [`Prefix::new`] from the same `prf`, `label` and `context_header`, lets
/// block 1 start after its fixed part.
pub fn derive(
    prf: &KeyedPrf,
    prefix: Option<&Prefix>,
    label: &[u8],
    context_header: &[u8],
    context: &[u8],
    out: &mut [u8],
) {
    let bits = u32::try_from(out.len().saturating_mul(8)).unwrap_or(u32::MAX);
    for (i, chunk) in out.chunks_mut(OUT).enumerate() {
        let mut inner = match prefix {
            Some(p) if i == 0 => Stream::resume(p),
            _ => Stream::fixed_part(prf, i as u32 + 1, label, context_header),
        };
        inner.update(context);
        inner.update(&bits.to_be_bytes());
        let mut inner_hash = inner.finish();
        let mut block = outer_hash(prf, &inner_hash);
        for (bytes, word) in chunk.chunks_mut(8).zip(block) {
            bytes.copy_from_slice(&word.to_be_bytes()[..bytes.len()]);
        }
        inner_hash.zeroize();
        block.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn run(kdk: &[u8], label: &[u8], header: &[u8], ctx: &[u8], len: usize) -> String {
        let mut out = vec![0u8; len];
        derive(&keyed_prf(kdk), None, label, header, ctx, &mut out);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// The derivation written out with the `hmac` crate, as the format defines it.
    fn reference(kdk: &[u8], label: &[u8], header: &[u8], ctx: &[u8], out: &mut [u8]) {
        use hmac::{KeyInit, Mac};
        let bits = (out.len() as u32 * 8).to_be_bytes();
        for (i, chunk) in out.chunks_mut(OUT).enumerate() {
            let mut mac = <hmac::Hmac<Sha512> as KeyInit>::new_from_slice(kdk).unwrap();
            for part in [
                &(i as u32 + 1).to_be_bytes()[..],
                label,
                &[0],
                header,
                ctx,
                &bits,
            ] {
                mac.update(part);
            }
            chunk.copy_from_slice(&mac.finalize().into_bytes()[..chunk.len()]);
        }
    }

    /// Every label length from 0 to 400 bytes (the fixed part from 5 bytes to several blocks,
    /// the key modifier on every side of a block edge), with and without the prefix, several
    /// key lengths and output lengths, against the `hmac` crate.
    #[test]
    fn derive_with_and_without_the_prefix_matches_the_hmac_crate() {
        let bytes = |n: usize, seed: u8| -> Vec<u8> {
            (0..n)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect()
        };
        let header = bytes(66, 1);
        let modifier = bytes(16, 2);
        for (kdk_len, out_len) in [(64, 64), (0, 32), (200, 96), (128, 64)] {
            let kdk = bytes(kdk_len, 3);
            let prf = keyed_prf(&kdk);
            for label_len in 0..=400 {
                let label = bytes(label_len, label_len as u8);
                let mut expected = vec![0u8; out_len];
                reference(&kdk, &label, &header, &modifier, &mut expected);
                let mut plain = vec![0u8; out_len];
                derive(&prf, None, &label, &header, &modifier, &mut plain);
                assert_eq!(plain, expected, "label {label_len}, kdk {kdk_len}");
                let prefix = Prefix::new(&prf, &label, &header);
                let mut resumed = vec![0u8; out_len];
                derive(
                    &prf,
                    Some(&prefix),
                    &label,
                    &header,
                    &modifier,
                    &mut resumed,
                );
                assert_eq!(
                    resumed, expected,
                    "prefix, label {label_len}, kdk {kdk_len}"
                );
            }
        }
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
