//! The software YubiKey response (HMAC-SHA1 over a padded 32-byte seed).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::SecretBytes;
use trousseau_pkcs11::yubikey_response;

fn bench(c: &mut Criterion) {
    let secret = SecretBytes::copy_from(&[7u8; 20]);
    let seed = [0x5au8; 32];
    c.bench_function("yubikey_response_32B_seed", |b| {
        b.iter(|| yubikey_response(&secret, std::hint::black_box(&seed)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
