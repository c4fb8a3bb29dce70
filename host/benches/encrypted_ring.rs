//! Encrypted key rings (secrets sealed under the ring-wrapping key W): loading a 10,000-key ring
//! with one revocation from a filesystem repository (a fresh `KeyManager` each iteration: read,
//! parse, authenticate, resolve the default key; not the slot KDF), and protect/unprotect of
//! 64 bytes once the ring is built.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{hint::black_box, path::Path, sync::Arc};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use trousseau::dataprotection::{
    algorithms::Algorithm,
    keyring::Key,
    keyxml,
    manager::KeyEncryption,
    timestamp::{days, minutes, Timestamp},
    wrapping::RingWrappingKey,
    DataProtector, KeyRingSource,
};
use trousseau_core::SecretBytes;
use uuid::Uuid;

#[path = "support/ring.rs"]
mod ring;
use ring::manager;

const KEYS: u128 = 10_000;

/// W, in this version's API.
fn wrapping_key() -> Arc<RingWrappingKey> {
    Arc::new(RingWrappingKey::generate(0).unwrap())
}

/// The `<encryptedSecret>` of `key`, in this version's API.
fn secret_xml(w: &RingWrappingKey, key: &Key, secret: &SecretBytes) -> String {
    w.secret_xml(key, Algorithm::default(), secret).unwrap()
}

/// Writes `KEYS` keys sealed under `w` into `dir` (one a minute from 2026-01-01, 90-day
/// lifetime), then revokes the oldest through the manager.
fn write_ring(dir: &Path, w: &Arc<RingWrappingKey>) {
    let base = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    for i in 0..KEYS {
        let t = base.plus(minutes(i as i64));
        let key = Key {
            id: Uuid::from_u128(i * 0x9E37_79B9_7F4A_7C15 + 1),
            creation: t,
            activation: t,
            expiration: t.plus(days(90)),
            descriptor: Err(String::new()),
        };
        let secret = SecretBytes::copy_from(&[(i % 251) as u8; 64]);
        let xml = keyxml::key_xml(&key, Algorithm::default(), &secret_xml(w, &key, &secret));
        std::fs::write(dir.join(format!("key-{}.xml", key.id)), xml).unwrap();
    }
    manager(dir, w.clone())
        .revoke_key(Uuid::from_u128(1), "bench")
        .unwrap();
}

fn encrypted_ring_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let w = wrapping_key();
    write_ring(dir.path(), &w);

    let mut g = c.benchmark_group("ring_load");
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter(KEYS), |b| {
        b.iter_batched(
            || manager(dir.path(), w.clone()),
            |m| {
                let ring = m.key_ring().unwrap();
                assert_eq!(ring.len(), KEYS as usize);
                (m, ring)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let p = DataProtector::new(
        Arc::new(manager(dir.path(), w.clone())),
        vec!["app".into(), "bench".into()],
    );
    let data = [0x5Au8; 64];
    let payload = p.protect(&data).unwrap();
    assert_eq!(p.unprotect(&payload).unwrap(), data);

    let mut g = c.benchmark_group("unprotect_warm");
    g.bench_with_input(BenchmarkId::from_parameter(64), &payload, |b, d| {
        b.iter(|| p.unprotect(black_box(d)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("protect_warm");
    g.bench_with_input(BenchmarkId::from_parameter(64), &data, |b, d| {
        b.iter(|| p.protect(black_box(d)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, encrypted_ring_benches);
criterion_main!(benches);
