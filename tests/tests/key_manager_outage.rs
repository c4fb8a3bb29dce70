//! The key manager over real, private servers: a warm cache does not touch the server (Redis's
//! own command counter), and a server that goes away and comes back (Redis, and Azure Blob on
//! Azurite), as a web-farm node sees it.
// Unix only: a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
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
use trousseau_tests::{Azurite, Redis};

const CONTAINER: &str = "keys";

/// A repository server the test can kill and restart (empty: nothing is persisted).
trait Service {
    /// The repository provider and its configuration.
    fn config(&self) -> (&'static str, serde_json::Value);
    /// How the repository's errors name it.
    fn named(&self) -> &'static str;
    /// What its errors say when the server is gone.
    fn gone(&self) -> &'static str;
    fn kill(&mut self);
    /// Starts the server again, empty but ready for the ring (container made).
    fn restart(&mut self);
    /// Commands the server executed so far, when it can tell.
    fn calls(&self) -> Option<u64>;
}

impl Service for Redis {
    fn config(&self) -> (&'static str, serde_json::Value) {
        let config = serde_json::json!({
            "url": self.url(),
            "connect_timeout_ms": 2000,
            "command_timeout_ms": 2000,
        });
        ("redis", config)
    }
    fn named(&self) -> &'static str {
        "the redis repository at redis+unix://"
    }
    fn gone(&self) -> &'static str {
        "cannot be reached"
    }
    fn kill(&mut self) {
        Redis::kill(self);
    }
    fn restart(&mut self) {
        Redis::restart(self);
    }
    fn calls(&self) -> Option<u64> {
        Some(self.command_calls())
    }
}

impl Service for Azurite {
    fn config(&self) -> (&'static str, serde_json::Value) {
        let config = serde_json::json!({
            "service": "azure",
            "emulator": true,
            "endpoint": self.endpoint(),
            "container": CONTAINER,
            "blob": "ring.xml",
        });
        ("blob", config)
    }
    fn named(&self) -> &'static str {
        "the blob repository at azure blob devstoreaccount1/keys/ring.xml"
    }
    fn gone(&self) -> &'static str {
        "check that the service is reachable"
    }
    fn kill(&mut self) {
        Azurite::kill(self);
    }
    fn restart(&mut self) {
        Azurite::restart(self);
        self.create_container(CONTAINER);
    }
    fn calls(&self) -> Option<u64> {
        None
    }
}

fn repository(server: &dyn Service) -> RepositoryBox {
    let (provider, config) = server.config();
    Registry::with_builtins(None)
        .unwrap()
        .repository(provider, &config.to_string())
        .unwrap()
}

/// A node of the farm: a key manager over `server` on the shared test clock.
fn node(server: &dyn Service, clock: &Arc<AtomicI64>) -> Arc<KeyManager> {
    let clock = clock.clone();
    Arc::new(
        KeyManager::with_clock(
            repository(server),
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
fn a_killed_redis_keeps_cached_operations_working_and_the_node_recovers_after_restart() {
    outage_and_recovery(&mut Redis::start());
}

#[test]
fn a_killed_azurite_keeps_cached_operations_working_and_the_node_recovers_after_restart() {
    let mut azurite = Azurite::start();
    azurite.create_container(CONTAINER);
    outage_and_recovery(&mut azurite);
}

fn outage_and_recovery(server: &mut dyn Service) {
    let clock = clock_at("2026-03-01T00:00:00Z");
    let advance = |ticks: i64| clock.fetch_add(ticks, Ordering::SeqCst);
    let manager = node(server, &clock);
    let p = DataProtector::new(manager.clone(), vec!["app".into()]);
    let before = p.protect(b"before the outage").unwrap();
    let first_key = manager.key_ring().unwrap().default_key_id();
    // What a persistent server (or a replica) would still hold after the restart.
    let backup = repository(server).load().unwrap().into_elements();

    server.kill();
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
        e.contains(server.named()) && e.contains(server.gone()),
        "{e}"
    );
    // So does making a key.
    let now = manager.now();
    let e = manager
        .create_key(now, now.plus(days(90)))
        .unwrap_err()
        .to_string();
    assert!(e.contains(server.named()), "{e}");
    // The ring is due for a refresh that fails: the cached ring serves, the backoff starts.
    advance(hours(25));
    assert_eq!(manager.key_ring().unwrap().default_key_id(), first_key);
    assert_eq!(p.unprotect(&during).unwrap(), b"during the outage");

    // The server comes back with its data, and another node adds a key that every node
    // prefers (dated 3 days back, so past the 2-day propagation window).
    server.restart();
    let seed = repository(server);
    for e in &backup {
        seed.store(e).unwrap();
    }
    let now = manager.now();
    let second_key = node(server, &clock)
        .create_key(now.plus(-days(3)), now.plus(days(90)))
        .unwrap();
    let calls = server.calls();
    advance(TICKS_PER_SECOND);
    assert_eq!(
        manager.key_ring().unwrap().default_key_id(),
        first_key,
        "read the server during the backoff"
    );
    assert_eq!(server.calls(), calls);
    // Once the backoff elapses the same node reads the ring again, without being re-created.
    advance(MAX_BACKOFF_SECONDS * TICKS_PER_SECOND);
    assert_eq!(manager.key_ring().unwrap().default_key_id(), second_key);
    assert!(server.calls() > calls || calls.is_none());
    assert_eq!(p.unprotect(&before).unwrap(), b"before the outage");
    assert_eq!(p.unprotect(&during).unwrap(), b"during the outage");
    let after = p.protect(b"after").unwrap();
    assert_eq!(after[4..20], second_key.to_bytes_le());
}
