//! Load time of a 1,000-element key ring from a private redis-server (unix socket).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::{Element, Repository};
use trousseau_redis::{RedisConfig, RedisRepository};
use trousseau_tests::fixtures::{key_id, key_xml};
use trousseau_tests::Redis;

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

criterion_group!(benches, load_1000);
criterion_main!(benches);
