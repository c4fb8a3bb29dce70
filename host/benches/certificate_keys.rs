//! Certificate-protected rings (ASP.NET Core's `ProtectKeysWithCertificate`): loading 1,000
//! keys encrypted under an RSA-2048 certificate from a filesystem repository, a fresh
//! `KeyManager` each iteration. `ring_load` reads, parses and resolves the default key (one
//! RSA decryption); `ring_load_open_all` also decrypts every key's secret (1,000 RSA PKCS#1
//! v1.5 decryptions with implicit rejection, then AES-256-CBC), what a node pays when it
//! unprotects payloads of every key. The certificate is made with the `openssl` command.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::Path, sync::Arc};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use trousseau::dataprotection::{
    algorithms::Algorithm,
    at_rest::KeyEncryption,
    keyring::Key,
    keyxml,
    timestamp::{days, minutes, Timestamp},
    xmlenc::{Certificate, CertificateKeys},
    KeyRingSource,
};
use trousseau_core::SecretBytes;
use uuid::Uuid;

#[path = "../tests/support/certificates.rs"]
mod certificates;
#[path = "support/ring.rs"]
mod ring;
use ring::manager;

const KEYS: u128 = 1_000;

fn certificate(dir: &Path) -> Certificate {
    let (crt, key) = certificates::self_signed(dir, "bench");
    Certificate::load(&crt, Some(&key), "").unwrap()
}

/// Writes `KEYS` keys encrypted for the certificate into `dir`, one a minute from 2026-01-01.
fn write_ring(dir: &Path, keys: &CertificateKeys) {
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
        let secret_xml = keys
            .secret_xml(&key, Algorithm::default(), &secret)
            .unwrap();
        let xml = keyxml::key_xml(&key, Algorithm::default(), &secret_xml);
        std::fs::write(dir.join(format!("key-{}.xml", key.id)), xml).unwrap();
    }
}

fn certificate_ring_benches(c: &mut Criterion) {
    let certs = tempfile::tempdir().unwrap();
    let keys = Arc::new(CertificateKeys::new(certificate(certs.path()), vec![]));
    let dir = tempfile::tempdir().unwrap();
    write_ring(dir.path(), &keys);

    let mut g = c.benchmark_group("certificate_ring");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("ring_load", KEYS), |b| {
        b.iter_batched(
            || manager(dir.path(), keys.clone()),
            |m| {
                let ring = m.key_ring().unwrap();
                assert_eq!(ring.len(), KEYS as usize);
                (m, ring)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function(BenchmarkId::new("ring_load_open_all", KEYS), |b| {
        b.iter_batched(
            || manager(dir.path(), keys.clone()),
            |m| {
                let all = m.keys().unwrap();
                for k in &all {
                    k.encryptor(m.protection()).unwrap();
                }
                assert_eq!(all.len(), KEYS as usize);
                (m, all)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, certificate_ring_benches);
criterion_main!(benches);
