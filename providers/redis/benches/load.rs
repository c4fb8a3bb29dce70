//! Load time of a 1,000-element key ring from a private redis-server (unix socket).
// A private redis-server on a unix socket: Unix only (an empty program elsewhere).
#![cfg_attr(not(unix), allow(unused_imports, dead_code, unused_macros))]
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::{Element, Repository};
use trousseau_redis::{RedisConfig, RedisRepository};
use trousseau_tests::fixtures::{key_id, key_xml};
#[cfg(unix)]
use trousseau_tests::Redis;

#[cfg(unix)]
fn load_1000(c: &mut Criterion) {
    let redis = Redis::start();
    let config = format!(r#"{{"url":"{}"}}"#, redis.url());
    let repo = RedisRepository::new(RedisConfig::from_json(&config).unwrap()).unwrap();
    for i in 0..1000 {
        let id = key_id(i);
        repo.store(&Element::new(format!("key-{id}"), key_xml(&id)))
            .unwrap();
    }
    assert_eq!(repo.load().unwrap().elements().len(), 1000);
    c.bench_function("redis load 1000-element ring", |b| {
        b.iter(|| repo.load().unwrap())
    });
}

#[cfg(unix)]
criterion_group!(benches, load_1000);
#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
criterion_main!(benches);
