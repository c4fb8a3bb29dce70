//! The key manager's cache of the key ring, and what it does when the repository fails.
//!
//! A ring is served from the cache until its refresh time (24 hours less up to 20 % jitter, or
//! the default key's expiration if sooner, as ASP.NET Core's `CacheableKeyRing`). When a refresh
//! fails, as ASP.NET's `KeyRingProvider` does:
//!
//! - if the cached ring's default key has not expired, the failure is logged (`warn`, naming
//!   the repository and the error) and the cached ring keeps serving;
//! - otherwise (no cached ring, or its default key expired) the caller gets the error, which
//!   names the repository.
//!
//! Either way the next attempt waits for a **backoff**: [`FIRST_BACKOFF_SECONDS`] after the
//! first failure, doubling after each further failure up to [`MAX_BACKOFF_SECONDS`], each delay
//! shortened by a random 0–20 % so that the nodes of a farm do not retry in step. A successful
//! refresh resets it. A caller without a usable cached ring does not wait for the backoff (it
//! has nothing else to serve), and neither does a forced refresh (a payload names a key the
//! ring lacks): both read the repository and get its error.
//!
//! Only one thread reads the repository at a time, and the cache lock is never held while it
//! does: during a slow refresh the other threads keep protecting with the cached ring; a thread
//! with no usable cached ring waits for the refresh under way.
//!
//! **The warm path takes no lock.** Whatever the cache may serve without looking at the
//! repository is published as an immutable snapshot (the ring and the instant until which it
//! may be served so: the refresh time, or during a backoff the retry time if the default key
//! lives that long) in an [`ArcSwapOption`]. A protect or unprotect reads the clock, loads the
//! snapshot ([`RingCache::fresh`]: a per-thread debt slot of `arc-swap`, no reference count
//! touched and no shared cache line written in the common case) and compares; only when the
//! snapshot is missing or stale does it take the locks below, which decide exactly as before
//! and publish the new snapshot while holding the state lock, so that snapshot and state
//! never disagree once the lock is released.

use std::{
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError},
};

use arc_swap::{ArcSwapOption, Guard};

use super::{
    error::{random_fill, DataProtectionError, Result},
    keyring::KeyRing,
    timestamp::{Timestamp, TICKS_PER_SECOND},
};

/// Delay before the first retry after a failed refresh, in seconds.
pub const FIRST_BACKOFF_SECONDS: i64 = 5;
/// Longest delay between retries, in seconds.
pub const MAX_BACKOFF_SECONDS: i64 = 300;

/// The delay in ticks before retrying after `failures` consecutive failed refreshes (at least
/// 1), shortened by `jitter` (0.0–1.0) times 20 %.
pub fn backoff(failures: u32, jitter: f64) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    let seconds = FIRST_BACKOFF_SECONDS
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_SECONDS);
    let full = seconds * TICKS_PER_SECOND;
    full - (full as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64
}

/// Whether a refresh is wanted only when due, or now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// When the cached ring is due for a refresh (and no backoff is running).
    WhenDue,
    /// Now, whatever the cache holds; a failure is returned to the caller.
    Now,
}

struct Cached {
    ring: Arc<KeyRing>,
    /// When to read the repository again.
    refresh_at: Timestamp,
    /// When the ring's default key expires: after that it is not served on failures.
    default_expires: Timestamp,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// Consecutive failed refreshes.
    failures: u32,
    /// No refresh before this instant (backoff after a failure).
    retry_at: Option<Timestamp>,
}

impl State {
    /// Until when [`State::current`] serves the cached ring without a refresh (exclusive):
    /// the refresh time, or during a backoff the retry time while the default key lives.
    fn serve_until(&self) -> Option<(Arc<KeyRing>, Timestamp)> {
        let c = self.cached.as_ref()?;
        let until = match self.retry_at {
            Some(at) => c.refresh_at.max(at.min(c.default_expires)),
            None => c.refresh_at,
        };
        Some((c.ring.clone(), until))
    }

    /// The cached ring if it may still serve at `now` (its default key has not expired).
    fn usable(&self, now: Timestamp) -> Option<Arc<KeyRing>> {
        self.cached
            .as_ref()
            .filter(|c| now < c.default_expires)
            .map(|c| c.ring.clone())
    }

    /// The cached ring if no refresh is needed at `now`.
    fn current(&self, now: Timestamp, mode: Refresh) -> Option<Arc<KeyRing>> {
        if mode == Refresh::Now {
            return None;
        }
        let c = self.cached.as_ref()?;
        if now < c.refresh_at {
            return Some(c.ring.clone());
        }
        match self.retry_at {
            Some(at) if now < at => self.usable(now),
            _ => None,
        }
    }
}

/// What the warm path reads: a ring and the instant (exclusive) until which it is served
/// without a refresh.
#[derive(Debug)]
struct Snapshot {
    ring: Arc<KeyRing>,
    serve_until: Timestamp,
}

/// A key ring held for one protect or unprotect: a loaded cache snapshot (no reference count
/// touched), a borrowed ring, or a shared one. Dereferences to the [`KeyRing`].
pub struct RingGuard<'a>(GuardInner<'a>);

enum GuardInner<'a> {
    Borrowed(&'a KeyRing),
    /// Always `Some` (checked when made).
    Snapshot(Guard<Option<Arc<Snapshot>>>),
    Shared(Arc<KeyRing>),
}

impl<'a> RingGuard<'a> {
    /// A guard over a ring the caller keeps alive.
    pub fn borrowed(ring: &'a KeyRing) -> Self {
        RingGuard(GuardInner::Borrowed(ring))
    }
}

impl From<Arc<KeyRing>> for RingGuard<'_> {
    fn from(ring: Arc<KeyRing>) -> Self {
        RingGuard(GuardInner::Shared(ring))
    }
}

impl Deref for RingGuard<'_> {
    type Target = KeyRing;

    fn deref(&self) -> &KeyRing {
        match &self.0 {
            GuardInner::Borrowed(ring) => ring,
            GuardInner::Shared(ring) => ring,
            GuardInner::Snapshot(guard) => match guard.as_deref() {
                Some(snapshot) => &snapshot.ring,
                None => unreachable!("a snapshot guard is only made over a snapshot"),
            },
        }
    }
}

impl std::fmt::Debug for RingGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingGuard(default key {})", self.default_key_id())
    }
}

/// The cached ring and the backoff state; see the module documentation.
#[derive(Default)]
pub struct RingCache {
    state: Mutex<State>,
    /// Held by the one thread reading the repository.
    refreshing: Mutex<()>,
    /// What `state` serves without a refresh, for the lock-free warm path; replaced only while
    /// `state` is locked.
    snapshot: ArcSwapOption<Snapshot>,
}

impl std::fmt::Debug for RingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingCache")
    }
}

impl RingCache {
    fn state(&self) -> Result<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| DataProtectionError::KeyRing("the key-ring cache lock is poisoned".into()))
    }

    /// Publishes what `state` serves without a refresh; called with the state lock held after
    /// every change.
    fn publish(&self, state: &State) {
        self.snapshot.store(
            state
                .serve_until()
                .map(|(ring, serve_until)| Arc::new(Snapshot { ring, serve_until })),
        );
    }

    /// The cached ring if it is served at `now` without a refresh, read without a lock (see
    /// the module documentation); `None` when the caller must go through [`RingCache::get`].
    pub fn fresh(&self, now: Timestamp) -> Option<RingGuard<'static>> {
        let guard = self.snapshot.load();
        match guard.as_deref() {
            Some(s) if now < s.serve_until => Some(RingGuard(GuardInner::Snapshot(guard))),
            _ => None,
        }
    }

    /// Makes the next call read the repository (after a write of ours), keeping the cached
    /// ring to serve should that read fail.
    pub fn invalidate(&self) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(c) = s.cached.as_mut() {
                c.refresh_at = Timestamp(i64::MIN);
            }
            s.failures = 0;
            s.retry_at = None;
            self.publish(&s);
        }
    }

    /// The ring at `now`: the cached one, or one made by `build` (which returns the ring and
    /// when to refresh it). `repository` names the repository in the failure log.
    pub fn get(
        &self,
        now: Timestamp,
        mode: Refresh,
        repository: &str,
        build: impl FnOnce() -> Result<(KeyRing, Timestamp)>,
    ) -> Result<Arc<KeyRing>> {
        if mode == Refresh::WhenDue {
            let snapshot = self.snapshot.load();
            if let Some(s) = snapshot.as_deref().filter(|s| now < s.serve_until) {
                return Ok(s.ring.clone());
            }
        }
        let fallback = {
            let state = self.state()?;
            if let Some(ring) = state.current(now, mode) {
                return Ok(ring);
            }
            state.usable(now)
        };
        let _refreshing = match (&fallback, mode) {
            // Another thread is reading the repository: serve the cached ring meanwhile.
            (Some(ring), Refresh::WhenDue) => match self.refreshing.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => return Ok(ring.clone()),
            },
            _ => self
                .refreshing
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        };
        // A refresh that ended meanwhile may have produced what we need.
        if let Some(ring) = self.state()?.current(now, mode) {
            return Ok(ring);
        }
        let built = build();
        let mut state = self.state()?;
        match built {
            Ok((ring, refresh_at)) => {
                let ring = Arc::new(ring);
                let default_expires = ring.default_key().key.expiration;
                state.cached = Some(Cached {
                    ring: ring.clone(),
                    refresh_at,
                    default_expires,
                });
                state.failures = 0;
                state.retry_at = None;
                self.publish(&state);
                Ok(ring)
            }
            Err(e) => {
                state.failures = state.failures.saturating_add(1);
                let mut jitter = [0u8; 2];
                random_fill(&mut jitter)?;
                let jitter = f64::from(u16::from_le_bytes(jitter)) / 65536.0;
                let delay = backoff(state.failures, jitter);
                let retry_at = now.plus(delay);
                state.retry_at = Some(retry_at);
                self.publish(&state);
                let seconds = delay / TICKS_PER_SECOND;
                match state.usable(now) {
                    Some(ring) if mode == Refresh::WhenDue => {
                        tracing::warn!(
                            "cannot refresh the key ring from {repository}: {e}; serving the cached ring (default key {}) and retrying in {seconds} s",
                            ring.default_key_id()
                        );
                        Ok(ring)
                    }
                    _ => {
                        tracing::warn!(
                            "cannot read the key ring from {repository}: {e}; next automatic retry in {seconds} s"
                        );
                        Err(e)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::{
            atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering},
            mpsc, OnceLock,
        },
        time::Duration,
    };

    use trousseau_core::{
        abi::{create_repository, RepositoryBox},
        Capabilities, Element, Error, ErrorCode, Factory, PluginDef, ProviderDef, Repository,
        RepositoryDescription, Snapshot,
    };

    use super::*;
    use crate::dataprotection::{
        at_rest::PlainKeys,
        manager::{KeyManagementOptions, KeyManager},
        protector::{DataProtector, KeyRingSource},
        timestamp::{days, hours},
    };

    /// An in-memory repository that fails on demand, counts its loads, and can hold a load
    /// until released.
    #[derive(Default)]
    struct Shared {
        elements: Mutex<Vec<Element>>,
        failing: AtomicBool,
        loads: AtomicUsize,
        /// When set: a load reports it has started, then waits for the release.
        gate: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
    }

    struct Flaky(Arc<Shared>);

    impl Repository for Flaky {
        fn describe(&self) -> RepositoryDescription {
            RepositoryDescription::new("flaky", "memory://ring", Capabilities::NONE)
        }

        fn load(&self) -> std::result::Result<Snapshot, Error> {
            self.0.loads.fetch_add(1, Ordering::SeqCst);
            if let Some((entered, release)) = self.0.gate.lock().unwrap().take() {
                entered.send(()).unwrap();
                release.recv().unwrap();
            }
            if self.0.failing.load(Ordering::SeqCst) {
                return Err(Error::new(ErrorCode::Unavailable, "connection refused"));
            }
            Ok(Snapshot::new(self.0.elements.lock().unwrap().clone(), "v"))
        }

        fn store(&self, element: &Element) -> std::result::Result<(), Error> {
            if self.0.failing.load(Ordering::SeqCst) {
                return Err(Error::new(ErrorCode::Unavailable, "connection refused"));
            }
            self.0.elements.lock().unwrap().push(element.clone());
            Ok(())
        }
    }

    /// The repositories the factory hands out, by the name given as configuration.
    fn shared() -> &'static Mutex<HashMap<String, Arc<Shared>>> {
        static SHARED: OnceLock<Mutex<HashMap<String, Arc<Shared>>>> = OnceLock::new();
        SHARED.get_or_init(Default::default)
    }

    fn create(config: &str) -> std::result::Result<Box<dyn Repository>, Error> {
        Ok(Box::new(Flaky(shared().lock().unwrap()[config].clone())))
    }

    static PLUGIN: PluginDef = PluginDef {
        name: "refresh-tests",
        version: "0",
        providers: &[ProviderDef {
            id: "flaky",
            summary: "in-memory repository failing on demand",
            config_help: "",
            factory: Factory::Repository(create),
        }],
    };

    /// A manager over a fresh flaky repository, with a clock the test moves.
    struct Node {
        repo: Arc<Shared>,
        clock: Arc<AtomicI64>,
        manager: Arc<KeyManager>,
    }

    impl Node {
        fn new(name: &str) -> Node {
            let repo = Arc::new(Shared::default());
            shared()
                .lock()
                .unwrap()
                .insert(name.to_string(), repo.clone());
            let boxed = RepositoryBox::new(
                create_repository(&PLUGIN, "flaky", name)
                    .into_result()
                    .unwrap(),
            );
            let start = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
            let clock = Arc::new(AtomicI64::new(start.0));
            let c = clock.clone();
            let manager = KeyManager::with_clock(
                boxed,
                KeyManagementOptions::default(),
                Arc::new(PlainKeys),
                Arc::new(move || Timestamp(c.load(Ordering::SeqCst))),
            )
            .unwrap();
            Node {
                repo,
                clock,
                manager: Arc::new(manager),
            }
        }

        fn advance(&self, ticks: i64) {
            self.clock.fetch_add(ticks, Ordering::SeqCst);
        }

        fn fail(&self, failing: bool) {
            self.repo.failing.store(failing, Ordering::SeqCst);
        }

        fn loads(&self) -> usize {
            self.repo.loads.load(Ordering::SeqCst)
        }

        fn protector(&self) -> DataProtector {
            DataProtector::new(self.manager.clone(), vec!["app".into()])
        }
    }

    const SECOND: i64 = TICKS_PER_SECOND;

    #[test]
    fn a_failed_refresh_serves_the_cached_ring_backs_off_and_recovers() {
        let node = Node::new("serves-cached");
        let p = node.protector();
        let before = p.protect(b"hello").unwrap();
        let default = node.manager.key_ring().unwrap().default_key_id();
        let loads = node.loads();

        node.fail(true);
        node.advance(hours(25)); // past the 24-hour refresh
        assert_eq!(node.manager.key_ring().unwrap().default_key_id(), default);
        assert_eq!(node.loads(), loads + 1, "one attempt");
        // During the backoff: no attempt, protect and unprotect keep working.
        node.advance(SECOND);
        let during = p.protect(b"during").unwrap();
        assert_eq!(p.unprotect(&before).unwrap(), b"hello");
        assert_eq!(p.unprotect(&during).unwrap(), b"during");
        assert_eq!(node.loads(), loads + 1, "no attempt within the backoff");
        // First backoff (at most 5 s) elapsed: one more attempt; the next waits longer.
        node.advance(5 * SECOND);
        node.manager.key_ring().unwrap();
        assert_eq!(node.loads(), loads + 2);
        node.advance(6 * SECOND); // second backoff is 8–10 s
        node.manager.key_ring().unwrap();
        assert_eq!(node.loads(), loads + 2, "the backoff doubled");

        // The repository is back: once the backoff elapses the ring is read again.
        node.fail(false);
        node.advance(MAX_BACKOFF_SECONDS * SECOND);
        node.manager.key_ring().unwrap();
        assert_eq!(node.loads(), loads + 3);
        node.manager.key_ring().unwrap();
        assert_eq!(node.loads(), loads + 3, "served from the cache again");

        // A success reset the backoff: the next failure waits the first delay again.
        node.fail(true);
        node.advance(hours(25));
        node.manager.key_ring().unwrap();
        node.advance(5 * SECOND);
        node.manager.key_ring().unwrap();
        assert_eq!(node.loads(), loads + 5);
    }

    #[test]
    fn without_a_usable_cached_ring_the_error_names_the_repository() {
        let node = Node::new("no-cache");
        node.fail(true);
        for attempt in 1..=2 {
            let e = node.manager.key_ring().unwrap_err().to_string();
            assert!(
                e.contains("the flaky repository at memory://ring: connection refused"),
                "{e}"
            );
            // Nothing cached to serve: every call tries the repository.
            assert_eq!(node.loads(), attempt);
        }
        assert!(node.protector().protect(b"x").is_err());

        // A ring whose default key has expired is not served.
        node.fail(false);
        node.manager.key_ring().unwrap();
        node.fail(true);
        node.advance(days(91));
        let e = node.manager.key_ring().unwrap_err().to_string();
        assert!(e.contains("flaky repository at memory://ring"), "{e}");
    }

    #[test]
    fn a_forced_refresh_reports_the_failure_and_keeps_the_cache() {
        let node = Node::new("forced");
        let p = node.protector();
        let payload = p.protect(b"kept").unwrap();
        node.fail(true);
        let e = node.manager.refresh_for_unknown_key().unwrap_err();
        assert!(e.to_string().contains("flaky repository"), "{e}");
        assert_eq!(p.unprotect(&payload).unwrap(), b"kept");
    }

    #[test]
    fn a_slow_refresh_does_not_block_other_threads() {
        let node = Node::new("slow");
        let p = node.protector();
        p.protect(b"warm").unwrap();
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        *node.repo.gate.lock().unwrap() = Some((entered_tx, release_rx));
        node.advance(hours(25));
        let loads = node.loads();

        let refresher = {
            let m = node.manager.clone();
            std::thread::spawn(move || m.key_ring().map(|r| r.default_key_id()))
        };
        entered
            .recv_timeout(Duration::from_secs(60))
            .expect("the refresh never reached the repository");
        // The refresher is inside the repository: another thread protects meanwhile.
        let (done_tx, done) = mpsc::channel();
        let other = p.clone();
        std::thread::spawn(move || done_tx.send(other.protect(b"meanwhile").is_ok()));
        let protected = done.recv_timeout(Duration::from_secs(60));
        release.send(()).unwrap();
        assert_eq!(
            protected,
            Ok(true),
            "protect waited for the refresh under way"
        );
        assert!(refresher.join().unwrap().is_ok());
        assert_eq!(
            node.loads(),
            loads + 1,
            "only one thread read the repository"
        );
    }

    /// A one-key ring whose default key expires at `expires`.
    fn one_key_ring(expires: Timestamp) -> KeyRing {
        use crate::dataprotection::keyring::{Key, RingKey};
        let id = uuid::Uuid::from_u128(1);
        let key = Key {
            id,
            creation: Timestamp(0),
            activation: Timestamp(0),
            expiration: expires,
            descriptor: Err("unused".into()),
        };
        KeyRing::new(
            [(id, Arc::new(RingKey::new(key, false)))].into(),
            id,
            Arc::new(PlainKeys),
        )
        .unwrap()
    }

    #[test]
    fn the_warm_path_takes_no_lock_and_follows_refresh_and_backoff() {
        let cache = RingCache::default();
        let t0 = Timestamp(1_000 * SECOND);
        assert!(cache.fresh(t0).is_none(), "nothing cached yet");
        let refresh_at = t0.plus(100 * SECOND);
        let expires = t0.plus(1_000 * SECOND);
        cache
            .get(t0, Refresh::WhenDue, "repo", || {
                Ok((one_key_ring(expires), refresh_at))
            })
            .unwrap();
        {
            // With both locks held elsewhere the warm path still answers.
            let _state = cache.state.lock().unwrap();
            let _refreshing = cache.refreshing.lock().unwrap();
            assert!(cache.fresh(t0).is_some());
            assert!(cache.fresh(refresh_at.plus(-1)).is_some());
            let served = cache.get(t0.plus(SECOND), Refresh::WhenDue, "repo", || {
                unreachable!("no build while the snapshot is fresh")
            });
            assert!(served.is_ok());
        }
        assert!(cache.fresh(refresh_at).is_none(), "due for a refresh");
        // A failed refresh: the snapshot serves through the backoff, then is due again.
        let failed = cache.get(refresh_at, Refresh::WhenDue, "repo", || {
            Err(DataProtectionError::KeyRing("down".into()))
        });
        assert!(failed.is_ok(), "the cached ring keeps serving");
        let retry_at = cache.state.lock().unwrap().retry_at.unwrap();
        assert!(retry_at > refresh_at);
        assert!(cache.fresh(retry_at.plus(-1)).is_some());
        assert!(cache.fresh(retry_at).is_none());
        // An invalidation is seen by the very next read.
        cache.invalidate();
        assert!(cache.fresh(t0).is_none());
        // A backoff never serves past the default key's expiration.
        let cache = RingCache::default();
        let soon = t0.plus(2 * SECOND);
        cache
            .get(t0, Refresh::WhenDue, "repo", || {
                Ok((one_key_ring(soon), t0))
            })
            .unwrap();
        let _ = cache.get(t0, Refresh::WhenDue, "repo", || {
            Err(DataProtectionError::KeyRing("down".into()))
        });
        assert!(cache.fresh(soon.plus(-1)).is_some());
        assert!(cache.fresh(soon).is_none());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_only_shortens() {
        let s = |failures, jitter| backoff(failures, jitter) / TICKS_PER_SECOND;
        assert_eq!(
            (1..=8).map(|f| s(f, 0.0)).collect::<Vec<_>>(),
            [5, 10, 20, 40, 80, 160, 300, 300]
        );
        assert_eq!(s(u32::MAX, 0.0), MAX_BACKOFF_SECONDS);
        assert_eq!(s(0, 0.0), FIRST_BACKOFF_SECONDS);
        assert_eq!(backoff(1, 1.0), 4 * TICKS_PER_SECOND);
        assert_eq!(backoff(7, 0.5), 270 * TICKS_PER_SECOND);
    }
}
