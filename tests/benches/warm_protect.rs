//! Protect throughput with a warm key-ring cache over a real private Redis, on 1 and 2
//! threads (64-byte payloads). With a warm cache protect never talks to the server (the
//! `redis_key_manager` test asserts it with Redis's own command counter), so the figures are
//! the protector's own cost and how it scales across threads.
//!
//! `cargo bench -p trousseau-tests --bench warm_protect`
// A private redis-server on a unix socket: Unix only (an empty program elsewhere).
#![cfg_attr(not(unix), allow(unused_imports, dead_code, unused_macros))]
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{hint::black_box, sync::Arc, time::Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trousseau::{
    dataprotection::{
        manager::{KeyManager, PlainKeys},
        DataProtector,
    },
    plugins::Registry,
};
#[cfg(unix)]
use trousseau_tests::Redis;

#[cfg(unix)]
fn warm_protect(c: &mut Criterion) {
    let redis = Redis::start();
    let config = serde_json::json!({ "url": redis.url() }).to_string();
    let repo = Registry::with_builtins(None)
        .unwrap()
        .repository("redis", &config)
        .unwrap();
    let manager = KeyManager::new(repo, Default::default(), Arc::new(PlainKeys)).unwrap();
    let protector = DataProtector::new(Arc::new(manager), vec!["bench".into()]);
    protector.protect(b"warm the cache").unwrap();
    let payload = [0x5au8; 64];

    let mut g = c.benchmark_group("warm_protect_redis");
    for threads in [1u64, 2] {
        // One element = one protect; each of the `threads` threads protects `iters` times.
        g.throughput(Throughput::Elements(threads));
        g.bench_function(format!("{threads} thread(s)"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        let p = &protector;
                        s.spawn(move || {
                            for _ in 0..iters {
                                black_box(p.protect(black_box(&payload)).unwrap());
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

#[cfg(unix)]
criterion_group!(benches, warm_protect);
#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
criterion_main!(benches);
