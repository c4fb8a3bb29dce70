//! KDF speed: AES-KDF rounds per second and Argon2d time for fixed parameters (compare with
//! KeePassXC's benchmarked rounds and argon2-cffi's `hash_secret_raw` on the same machine).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trousseau::masterkey::{transform_key, Argon2Variant, KdfParams};
use trousseau_core::SecretBytes;

const AES_ROUNDS: u64 = 2_000_000;

fn aes_kdf(c: &mut Criterion) {
    let composite = SecretBytes::copy_from(&[7u8; 32]);
    let params = KdfParams::AesKdf {
        rounds: AES_ROUNDS,
        seed: [9u8; 32],
    };
    let mut g = c.benchmark_group("aes-kdf");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(AES_ROUNDS));
    g.bench_function("2M rounds", |b| {
        b.iter(|| transform_key(&composite, &params).unwrap())
    });
    g.finish();
}

fn argon2d(c: &mut Criterion) {
    let composite = SecretBytes::copy_from(&[7u8; 32]);
    let params = KdfParams::Argon2 {
        variant: Argon2Variant::D,
        salt: vec![3u8; 32],
        memory_kib: 65536,
        iterations: 2,
        parallelism: 2,
        version: 0x13,
    };
    let mut g = c.benchmark_group("argon2d");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("m=64MiB t=2 p=2", |b| {
        b.iter(|| transform_key(&composite, &params).unwrap())
    });
    g.finish();
}

criterion_group!(benches, aes_kdf, argon2d);
criterion_main!(benches);
