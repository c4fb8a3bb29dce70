//! Data-protection benchmarks: protect/unprotect by payload size, 64-byte payloads under
//! ASP.NET's cookie purpose chain, and a 10,000-key ring's load time and unprotect time
//! against a 1-key ring. `bench/compare-openssl.sh` puts the 1 MiB
//! figures next to `openssl speed`.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{collections::HashMap, hint::black_box, sync::Arc};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use trousseau::dataprotection::{
    algorithms::Algorithm,
    keyring::{Descriptor, Key, KeyRing, MasterKeySecret, RingKey},
    keyxml,
    manager::{KeyManagementOptions, KeyManager, PlainKeys},
    protector::FixedKeyRing,
    timestamp::{days, Timestamp},
    DataProtector,
};
use trousseau_core::{
    abi::{create_repository, RepositoryBox},
    SecretBytes,
};
use uuid::Uuid;

fn key(i: u128) -> Key {
    let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    Key {
        id: Uuid::from_u128(i * 0x9E37_79B9_7F4A_7C15 + 1),
        creation: t,
        activation: t,
        expiration: t.plus(days(90)),
        descriptor: Ok(Descriptor {
            algorithm: Algorithm::default(),
            secret: MasterKeySecret::Plain(SecretBytes::copy_from(&[(i % 251) as u8; 64])),
        }),
    }
}

fn ring(n: u128) -> (DataProtector, Uuid) {
    let keys: HashMap<Uuid, Arc<RingKey>> = (0..n)
        .map(|i| {
            let k = key(i);
            (k.id, Arc::new(RingKey::new(k, false)))
        })
        .collect();
    let default = key(n / 2).id;
    let ring = KeyRing::new(keys, default, Arc::new(PlainKeys)).unwrap();
    (
        DataProtector::new(
            Arc::new(FixedKeyRing(Arc::new(ring))),
            vec!["app".into(), "bench".into()],
        ),
        default,
    )
}

fn sizes(c: &mut Criterion) {
    let (p, _) = ring(1);
    let mut g = c.benchmark_group("protect");
    for (name, n) in [
        ("64B", 64usize),
        ("1KiB", 1024),
        ("64KiB", 65536),
        ("1MiB", 1 << 20),
    ] {
        let data = vec![0x5Au8; n];
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &data, |b, d| {
            b.iter(|| p.protect(black_box(d)).unwrap())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("unprotect");
    for (name, n) in [
        ("64B", 64usize),
        ("1KiB", 1024),
        ("64KiB", 65536),
        ("1MiB", 1 << 20),
    ] {
        let payload = p.protect(&vec![0x5Au8; n]).unwrap();
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &payload, |b, d| {
            b.iter(|| p.unprotect(black_box(d)).unwrap())
        });
    }
    g.finish();
}

/// 64-byte payloads under ASP.NET Core's cookie-authentication purpose chain: long enough
/// that the fixed part of each payload's key derivation is cached (one SHA-512 compression
/// fewer per call than the short `app/bench` chain above).
fn cookie_chain(c: &mut Criterion) {
    let (p, _) = ring(1);
    let p = p
        .create_protector(
            "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware",
        )
        .create_protector("Cookies")
        .create_protector("v2");
    let data = [0x5Au8; 64];
    let payload = p.protect(&data).unwrap();
    let mut g = c.benchmark_group("cookie_chain");
    g.throughput(Throughput::Bytes(64));
    g.bench_function("protect/64B", |b| {
        b.iter(|| p.protect(black_box(&data)).unwrap())
    });
    g.bench_function("unprotect/64B", |b| {
        b.iter(|| p.unprotect(black_box(&payload)).unwrap())
    });
    g.finish();
}

fn ring_size(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_unprotect_64B");
    for n in [1u128, 10_000] {
        let (p, _) = ring(n);
        let payload = p.protect(&[1u8; 64]).unwrap();
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}-keys")),
            &payload,
            |b, d| b.iter(|| p.unprotect(black_box(d)).unwrap()),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("ring_load");
    g.sample_size(10);
    for n in [1u128, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..n {
            let k = key(i);
            let Ok(d) = &k.descriptor else { unreachable!() };
            let MasterKeySecret::Plain(s) = &d.secret else {
                unreachable!()
            };
            let xml = keyxml::key_xml(&k, Algorithm::default(), &keyxml::plain_master_key_xml(s));
            std::fs::write(dir.path().join(format!("key-{}.xml", k.id)), xml).unwrap();
        }
        let cfg = serde_json::json!({ "directory": dir.path() }).to_string();
        let repo = RepositoryBox::new(
            create_repository(&trousseau_filesystem::PLUGIN, "filesystem", &cfg)
                .into_result()
                .unwrap(),
        );
        let opts = KeyManagementOptions {
            auto_generate_keys: false,
            ..Default::default()
        };
        let now = Timestamp::parse("2026-02-01T00:00:00Z").unwrap();
        let m =
            KeyManager::with_clock(repo, opts, Arc::new(PlainKeys), Arc::new(move || now)).unwrap();
        g.bench_function(BenchmarkId::from_parameter(format!("{n}-keys")), |b| {
            b.iter(|| m.build_ring().unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, sizes, cookie_chain, ring_size);
criterion_main!(benches);
