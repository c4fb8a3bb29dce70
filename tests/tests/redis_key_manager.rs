//! The key manager over a real, private redis-server: a warm cache does not touch the server,
//! and a server that goes away and comes back (farm behaviour, issue 5).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

use trousseau::{
    dataprotection::{
        manager::{KeyManagementOptions, KeyManager, PlainKeys},
        refresh::MAX_BACKOFF_SECONDS,
        timestamp::{days, hours, Timestamp, TICKS_PER_SECOND},
        DataProtector, KeyRingSource,
    },
    plugins::Registry,
};
use trousseau_core::abi::RepositoryBox;
use trousseau_tests::Redis;

fn repository(redis: &Redis) -> RepositoryBox {
    let config = serde_json::json!({
        "url": redis.url(),
        "connect_timeout_ms": 2000,
        "command_timeout_ms": 2000,
    });
    Registry::with_builtins(None)
        .unwrap()
        .repository("redis", &config.to_string())
        .unwrap()
}

/// A node of the farm: a key manager over `redis` on the shared test clock.
fn node(redis: &Redis, clock: &Arc<AtomicI64>) -> Arc<KeyManager> {
    let clock = clock.clone();
    Arc::new(
        KeyManager::with_clock(
            repository(redis),
            KeyManagementOptions::default(),
            Arc::new(PlainKeys),
            Arc::new(move || Timestamp(clock.load(Ordering::SeqCst))),
        )
        .unwrap(),
    )
}

fn clock_at(text: &str) -> Arc<AtomicI64> {
    Arc::new(AtomicI64::new(Timestamp::parse(text).unwrap().0))
}

#[test]
fn protect_with_a_warm_cache_does_not_touch_the_server() {
    let redis = Redis::start();
    let manager = Arc::new(
        KeyManager::new(repository(&redis), Default::default(), Arc::new(PlainKeys)).unwrap(),
    );
    let protector = DataProtector::new(manager.clone(), vec!["app".into()]);
    let cold = redis.command_calls();
    protector.protect(&[0u8; 64]).unwrap();
    let warm = redis.command_calls();
    assert!(
        warm > cold,
        "the first protect loads the ring (and makes a key): the counter must move ({cold} -> {warm})"
    );
    let key = manager.key_ring().unwrap().default_key_id().to_bytes_le();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let p = protector.clone();
            s.spawn(move || {
                for i in 0..500u32 {
                    let payload = p.protect(&[i as u8; 64]).unwrap();
                    assert_eq!(payload[4..20], key);
                }
            });
        }
    });
    assert_eq!(
        redis.command_calls(),
        warm,
        "1,000 protects with a warm cache sent commands to redis"
    );
}

#[test]
fn a_killed_server_keeps_cached_operations_working_and_the_node_recovers_after_restart() {
    let mut redis = Redis::start();
    let clock = clock_at("2026-03-01T00:00:00Z");
    let advance = |ticks: i64| clock.fetch_add(ticks, Ordering::SeqCst);
    let manager = node(&redis, &clock);
    let p = DataProtector::new(manager.clone(), vec!["app".into()]);
    let before = p.protect(b"before the outage").unwrap();
    let first_key = manager.key_ring().unwrap().default_key_id();
    // What a persistent server (or a replica) would still hold after the restart.
    let backup = repository(&redis).load().unwrap().into_elements();

    redis.kill();
    // Cached operations keep working.
    assert_eq!(p.unprotect(&before).unwrap(), b"before the outage");
    let during = p.protect(b"during the outage").unwrap();
    assert_eq!(p.unprotect(&during).unwrap(), b"during the outage");
    // A payload naming a key the ring lacks needs the server: a clear error naming it.
    let mut unknown = before.clone();
    for b in &mut unknown[4..20] {
        *b ^= 0xff;
    }
    let e = p.unprotect(&unknown).unwrap_err().to_string();
    assert!(
        e.contains("the redis repository at redis+unix://") && e.contains("cannot be reached"),
        "{e}"
    );
    // So does making a key.
    let now = manager.now();
    let e = manager
        .create_key(now, now.plus(days(90)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("the redis repository at redis+unix://"), "{e}");
    // The ring is due for a refresh that fails: the cached ring serves, the backoff starts.
    advance(hours(25));
    assert_eq!(manager.key_ring().unwrap().default_key_id(), first_key);
    assert_eq!(p.unprotect(&during).unwrap(), b"during the outage");

    // The server comes back with its data, and another node adds a key that every node
    // prefers (dated 3 days back, so past the 2-day propagation window).
    redis.restart();
    let seed = repository(&redis);
    for e in &backup {
        seed.store(e).unwrap();
    }
    let now = manager.now();
    let second_key = node(&redis, &clock)
        .create_key(now.plus(-days(3)), now.plus(days(90)))
        .unwrap();
    let calls = redis.command_calls();
    advance(TICKS_PER_SECOND);
    assert_eq!(
        manager.key_ring().unwrap().default_key_id(),
        first_key,
        "read the server during the backoff"
    );
    assert_eq!(redis.command_calls(), calls);
    // Once the backoff elapses the same node reads the ring again, without being re-created.
    advance(MAX_BACKOFF_SECONDS * TICKS_PER_SECOND);
    assert_eq!(manager.key_ring().unwrap().default_key_id(), second_key);
    assert!(redis.command_calls() > calls);
    assert_eq!(p.unprotect(&before).unwrap(), b"before the outage");
    assert_eq!(p.unprotect(&during).unwrap(), b"during the outage");
    let after = p.protect(b"after").unwrap();
    assert_eq!(after[4..20], second_key.to_bytes_le());
}
