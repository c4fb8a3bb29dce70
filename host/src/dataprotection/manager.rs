//! The key manager: reads the ring from a repository, resolves and caches the default key,
//! generates keys (conditionally when the repository can), revokes and deletes keys
//! as ASP.NET Core's `XmlKeyManager` and `KeyRingProvider` do (deletion as in .NET 9's
//! `DeleteKeys`: keys first, then the revocations they make obsolete). A repository that fails
//! during a refresh does not stop the manager: the cached ring keeps serving until its default
//! key expires, and the repository is retried with backoff (see [`super::refresh`]).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use trousseau_core::{abi::RepositoryBox, Capabilities, Element, ErrorCode, SecretBytes};
use uuid::Uuid;

pub use super::at_rest::{KeyEncryption, PlainKeys};
use super::{
    algorithms::Algorithm,
    error::{random_fill, DataProtectionError, Result},
    keyring::{resolve, Key, KeyRing, RingKey, MAX_SERVER_CLOCK_SKEW},
    keyxml::{self, ParsedElements, Revocation},
    protector::KeyRingSource,
    refresh::{Refresh, RingCache, RingGuard},
    timestamp::{days, hours, minutes, Timestamp},
};

/// Key-management settings (ASP.NET `KeyManagementOptions`).
#[derive(Debug, Clone, Copy)]
pub struct KeyManagementOptions {
    /// Lifetime of new keys in days ([`MIN_KEY_LIFETIME_DAYS`] to [`MAX_KEY_LIFETIME_DAYS`];
    /// default 90).
    pub new_key_lifetime_days: i64,
    /// Generate keys when needed (default true).
    pub auto_generate_keys: bool,
    /// Algorithm of new keys.
    pub algorithm: Algorithm,
}

impl Default for KeyManagementOptions {
    fn default() -> Self {
        KeyManagementOptions {
            new_key_lifetime_days: 90,
            auto_generate_keys: true,
            algorithm: Algorithm::default(),
        }
    }
}

/// A clock (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The shortest lifetime of new keys, in days (as ASP.NET Core).
pub const MIN_KEY_LIFETIME_DAYS: i64 = 7;

/// The longest lifetime of new keys, in days (100 years): a key's expiration must stay far
/// inside what key XML can hold (see [`LATEST`]), and a longer-lived key defeats rotation.
pub const MAX_KEY_LIFETIME_DAYS: i64 = 36_500;

/// The latest instant a key or payload may carry: 9999-12-31T23:59:59.9999999Z, .NET's
/// `DateTime.MaxValue`. Key XML and ASP.NET Core cannot represent a later one, so a key
/// expiring later could be written but never read back.
pub const LATEST: Timestamp = Timestamp(3_155_378_975_999_999_999);

/// `at` plus `ticks`, or an error naming `what` (e.g. `a lifetime of 90000000 days`) when the
/// result is past [`LATEST`] or before 0001-01-01 (including when the sum overflows).
pub fn checked_later(at: Timestamp, ticks: i64, what: &str) -> Result<Timestamp> {
    match at.0.checked_add(ticks) {
        Some(t) if (0..=LATEST.0).contains(&t) => Ok(Timestamp(t)),
        _ => Err(DataProtectionError::InvalidInput(format!(
            "{what} is out of range: from {at} it ends outside 0001-01-01 to {LATEST}, the \
             dates a key ring or payload can hold; give a shorter time"
        ))),
    }
}

/// Size of new master keys: 512 bits.
pub const MASTER_KEY_SIZE: usize = 64;
const REFRESH_PERIOD: i64 = hours(24);
const AUTO_REFRESH_WINDOW: i64 = minutes(2);
const CONFLICT_RETRIES: usize = 10;

/// The key manager over a repository (ASP.NET's `IKeyManager` and key-ring provider): lists,
/// creates, revokes and deletes keys, and gives protectors their ring. An application gets
/// it from [`Trousseau::key_manager`](crate::Trousseau::key_manager).
///
/// ```
/// use trousseau::Timestamp;
///
/// let tr = trousseau::Trousseau::ephemeral()?;
/// let km = tr.key_manager();
/// let now = Timestamp::now();
/// let id = km.create_key(now, km.expiration_from(now)?)?;
/// km.revoke_key(id, "rotated by hand")?;
/// assert!(km.keys()?.iter().any(|k| k.key.id == id && k.revoked));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyManager {
    repo: RepositoryBox,
    options: KeyManagementOptions,
    encryption: Arc<dyn KeyEncryption>,
    clock: Clock,
    started: Timestamp,
    /// "the redis repository at …", for messages.
    name: String,
    cache: RingCache,
    forced_refresh_used: AtomicBool,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyManager({:?})", self.options)
    }
}

/// A loaded repository: parsed elements and the version token.
#[derive(Debug)]
pub struct Loaded {
    /// Keys, revocations and other elements.
    pub parsed: ParsedElements,
    /// The version token (for conditional stores).
    pub version: String,
}

fn check_clock(now: Timestamp) -> Result<()> {
    let lo = Timestamp::parse("2000-01-01T00:00:00Z")?;
    let hi = Timestamp::parse("2200-01-01T00:00:00Z")?;
    if now < lo || now > hi {
        return Err(DataProtectionError::InvalidInput(format!(
            "the system clock reads {now}, which cannot be right; fix the clock before using the key ring"
        )));
    }
    Ok(())
}

impl KeyManager {
    /// A manager over `repo`, storing new keys' secrets with `encryption`.
    pub fn new(
        repo: RepositoryBox,
        options: KeyManagementOptions,
        encryption: Arc<dyn KeyEncryption>,
    ) -> Result<Self> {
        Self::with_clock(repo, options, encryption, Arc::new(Timestamp::now))
    }

    /// Same with an explicit clock.
    pub fn with_clock(
        repo: RepositoryBox,
        options: KeyManagementOptions,
        encryption: Arc<dyn KeyEncryption>,
        clock: Clock,
    ) -> Result<Self> {
        let days = options.new_key_lifetime_days;
        if !(MIN_KEY_LIFETIME_DAYS..=MAX_KEY_LIFETIME_DAYS).contains(&days) {
            return Err(DataProtectionError::InvalidInput(format!(
                "the key lifetime must be from {MIN_KEY_LIFETIME_DAYS} to \
                 {MAX_KEY_LIFETIME_DAYS} days (got {days})"
            )));
        }
        let started = clock();
        let name = repo.describe().map_or_else(
            |_| "the key-ring repository".to_string(),
            |d| format!("the {} repository at {}", d.provider_id(), d.location()),
        );
        Ok(KeyManager {
            repo,
            options,
            encryption,
            clock,
            started,
            name,
            cache: RingCache::default(),
            forced_refresh_used: AtomicBool::new(false),
        })
    }

    /// The repository, given back (e.g. to open a ring another process created first).
    pub fn into_repository(self) -> RepositoryBox {
        self.repo
    }

    /// The repository.
    pub fn repository(&self) -> &RepositoryBox {
        &self.repo
    }

    /// The current time per the manager's clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    fn capabilities(&self) -> Capabilities {
        self.repo
            .describe()
            .map(|d| d.capabilities())
            .unwrap_or(Capabilities::NONE)
    }

    /// Reads and parses every element.
    pub fn load(&self) -> Result<Loaded> {
        let snap = self.repo.load()?;
        let version = snap.version().to_string();
        Ok(Loaded {
            parsed: ParsedElements::read(snap.into_elements())?,
            version,
        })
    }

    /// How this ring's key secrets and revocations are trusted.
    pub fn protection(&self) -> &dyn KeyEncryption {
        self.encryption.as_ref()
    }

    /// Every key with its (trusted) revocation state, ordered by creation date.
    ///
    /// ```
    /// use trousseau::Timestamp;
    ///
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// tr.protector("warm-up").protect(b"")?; // the first use makes the first key
    /// for k in tr.key_manager().keys()? {
    ///     let expired = k.is_expired(Timestamp::now());
    ///     let state = if k.revoked { "revoked" } else if expired { "expired" } else { "usable" };
    ///     println!("{} from {} to {}: {state}", k.key.id, k.key.activation, k.key.expiration);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> Result<Vec<RingKey>> {
        let mut keys = self
            .load()?
            .parsed
            .into_ring_keys(self.encryption.as_ref())?;
        keys.sort_by_key(|k| (k.key.creation, k.key.id));
        Ok(keys)
    }

    fn invalidate(&self) {
        self.cache.invalidate();
    }

    /// [`KeyManager::build_ring`] with repository failures naming the repository.
    fn build_named(&self) -> Result<(KeyRing, Timestamp)> {
        self.build_ring().map_err(|e| match e {
            DataProtectionError::Repository(e) if !e.message().contains(&self.name) => {
                DataProtectionError::Repository(trousseau_core::Error::new(
                    e.code(),
                    format!("{}: {}", self.name, e.message()),
                ))
            }
            e => e,
        })
    }

    fn new_key_element(
        &self,
        activation: Timestamp,
        expiration: Timestamp,
        now: Timestamp,
    ) -> Result<(Uuid, Element)> {
        if expiration < activation {
            return Err(DataProtectionError::InvalidInput(format!(
                "the key would expire ({expiration}) before it activates ({activation})"
            )));
        }
        if activation.0 < 0 || expiration > LATEST {
            return Err(DataProtectionError::InvalidInput(format!(
                "the key's dates ({activation} to {expiration}) must lie between \
                 0001-01-01 and {LATEST}, or the key could not be read back"
            )));
        }
        let mut secret = SecretBytes::from_vec(vec![0u8; MASTER_KEY_SIZE]);
        random_fill(secret.expose_mut())?;
        let id = Uuid::new_v4();
        let key = Key {
            id,
            creation: now.min(activation),
            activation,
            expiration,
            descriptor: Err(String::new()),
        };
        let xml = keyxml::key_xml(
            &key,
            self.options.algorithm,
            &self
                .encryption
                .secret_xml(&key, self.options.algorithm, &secret)?,
        );
        Ok((id, Element::new(format!("key-{id}"), xml)))
    }

    /// Creates a key (ASP.NET `CreateNewKey`) and stores it unconditionally. A key activated
    /// in the future becomes the default key when it activates (to stage a rotation ahead of
    /// time).
    ///
    /// ```
    /// use trousseau::{dataprotection::timestamp::days, Timestamp};
    ///
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let km = tr.key_manager();
    /// let next_week = Timestamp::now().plus(days(7));
    /// let id = km.create_key(next_week, km.expiration_from(next_week)?)?;
    /// let key = km.keys()?.into_iter().find(|k| k.key.id == id).ok_or("stored")?;
    /// assert_eq!(key.key.activation, next_week);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_key(&self, activation: Timestamp, expiration: Timestamp) -> Result<Uuid> {
        let now = self.now();
        check_clock(now)?;
        let (id, el) = self.new_key_element(activation, expiration, now)?;
        self.repo.store(&el)?;
        self.invalidate();
        Ok(id)
    }

    /// Creates the first key of an empty ring (active now) together with `with`, e.g. the
    /// ring's first master-key slot. When the repository supports it, everything is stored in
    /// one conditional store against `expected_version` (the version of the empty ring), so that
    /// of several processes creating the ring at once exactly one succeeds: the others get a
    /// [`ErrorCode::Conflict`] repository error and should open the ring that won. Otherwise
    /// the elements are stored one by one.
    pub fn create_ring(&self, expected_version: &str, with: &[Element]) -> Result<Uuid> {
        let now = self.now();
        check_clock(now)?;
        let (id, key) = self.new_key_element(now, self.expiration_from(now)?, now)?;
        let mut all = with.to_vec();
        all.push(key);
        if self
            .capabilities()
            .contains(Capabilities::CONDITIONAL_STORE)
        {
            self.repo.store_conditional(expected_version, &all)?;
        } else {
            for e in &all {
                self.repo.store(e)?;
            }
        }
        self.invalidate();
        Ok(id)
    }

    /// The default lifetime of new keys, in ticks.
    pub fn lifetime(&self) -> i64 {
        days(self.options.new_key_lifetime_days)
    }

    /// When a new key whose lifetime starts at `start` expires: `start` plus
    /// [`KeyManager::lifetime`]; an error when that is past [`LATEST`].
    pub fn expiration_from(&self, start: Timestamp) -> Result<Timestamp> {
        checked_later(
            start,
            self.lifetime(),
            &format!(
                "a key lifetime of {} days starting at {start}",
                self.options.new_key_lifetime_days
            ),
        )
    }

    /// Stores a revocation, authenticated under W in an encrypted ring.
    fn store_revocation(&self, r: &Revocation, now: Timestamp, reason: &str) -> Result<()> {
        let mac = self.encryption.revocation_mac(r)?;
        self.repo
            .store(&keyxml::revocation_element(r, now, reason, mac.as_deref()))?;
        self.invalidate();
        Ok(())
    }

    /// Revokes one key: payloads it protected no longer open (except through
    /// [`DataProtector::unprotect_detailed`](crate::DataProtector::unprotect_detailed) with
    /// `ignore_revocation`), and a new default key is made when needed.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let p = tr.protector("cookies");
    /// let payload = p.protect(b"session 42")?;
    /// let km = tr.key_manager();
    /// let id = km.keys()?[0].key.id;
    /// km.revoke_key(id, "the host was compromised")?;
    /// assert!(p.unprotect(&payload).is_err());
    /// // New payloads use a new key.
    /// assert_eq!(p.unprotect(&p.protect(b"again")?)?, b"again");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn revoke_key(&self, id: Uuid, reason: &str) -> Result<()> {
        let now = self.now();
        if !self.load()?.parsed.keys.iter().any(|(_, k)| k.id == id) {
            return Err(DataProtectionError::UnknownKey(id));
        }
        self.store_revocation(&Revocation::Single { id, date: now }, now, reason)
    }

    /// Revokes every key created strictly before `date`.
    pub fn revoke_all_created_before(&self, date: Timestamp, reason: &str) -> Result<()> {
        let now = self.now();
        self.store_revocation(&Revocation::AllCreatedBefore(date), now, reason)
    }

    /// Whether the repository can delete.
    pub fn can_delete_keys(&self) -> bool {
        self.capabilities().contains(Capabilities::DELETE)
    }

    /// The element names to delete for the keys `choose` picks, in ASP.NET 9 order: keys,
    /// then revocations of deleted or missing keys, then superseded mass revocations.
    pub fn deletion_plan(
        &self,
        choose: &dyn Fn(&RingKey) -> bool,
    ) -> Result<(Vec<Uuid>, Vec<String>)> {
        let parsed = self.load()?.parsed;
        let protection = self.encryption.as_ref();
        let mass = parsed.mass_revocation(protection);
        let revs: Vec<(String, Revocation)> = parsed
            .trusted_revocations(protection)
            .map(|r| (r.name.clone(), r.revocation.clone()))
            .collect();
        let names_by_id: HashMap<Uuid, String> =
            parsed.keys.iter().map(|(n, k)| (k.id, n.clone())).collect();
        let ring_keys = parsed.into_ring_keys(protection)?;
        let mut remaining: std::collections::HashSet<Uuid> =
            ring_keys.iter().map(|k| k.key.id).collect();
        let mut names = Vec::new();
        let mut deleted = Vec::new();
        for rk in ring_keys.iter().filter(|k| choose(k)) {
            remaining.remove(&rk.key.id);
            deleted.push(rk.key.id);
            names.extend(names_by_id.get(&rk.key.id).cloned());
        }
        for (name, r) in &revs {
            if let Revocation::Single { id, .. } = r {
                if !remaining.contains(id) {
                    names.push(name.clone());
                }
            }
        }
        for (name, r) in &revs {
            if let Revocation::AllCreatedBefore(d) = r {
                if Some(*d) != mass {
                    names.push(name.clone());
                }
            }
        }
        Ok((deleted, names))
    }

    /// Deletes the keys `choose` picks (see [`KeyManager::deletion_plan`]); returns their ids.
    /// Payloads of a deleted key can never be opened again: revoke first, delete much later.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let km = tr.key_manager();
    /// tr.protector("warm-up").protect(b"")?;
    /// let first = km.keys()?[0].key.id;
    /// km.revoke_key(first, "retired")?;
    /// assert!(km.can_delete_keys());
    /// let deleted = km.delete_keys(&|k| k.revoked)?;
    /// assert_eq!(deleted, [first]);
    /// assert!(km.keys()?.iter().all(|k| k.key.id != first));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete_keys(&self, choose: &dyn Fn(&RingKey) -> bool) -> Result<Vec<Uuid>> {
        if !self.can_delete_keys() {
            return Err(DataProtectionError::Repository(trousseau_core::Error::new(
                ErrorCode::Unsupported,
                "this repository cannot delete elements",
            )));
        }
        let (ids, names) = self.deletion_plan(choose)?;
        if !names.is_empty() {
            self.repo.delete(&names)?;
        }
        self.invalidate();
        Ok(ids)
    }

    fn usable(&self) -> impl Fn(&RingKey) -> bool + '_ {
        move |k: &RingKey| k.encryptor(self.encryption.as_ref()).is_ok()
    }

    /// Builds the ring as ASP.NET's `KeyRingProvider.CreateCacheableKeyRingCore`, generating a
    /// key when needed: read–decide–store_conditional, re-reading on conflict when the
    /// repository supports it. Returns the ring and when it should be refreshed.
    pub fn build_ring(&self) -> Result<(KeyRing, Timestamp)> {
        let now = self.now();
        check_clock(now)?;
        let conditional = self
            .capabilities()
            .contains(Capabilities::CONDITIONAL_STORE);
        let usable = self.usable();
        let mut generated: Option<Uuid> = None;
        for _ in 0..CONFLICT_RETRIES {
            let loaded = self.load()?;
            let keys: Vec<Arc<RingKey>> = loaded
                .parsed
                .into_ring_keys(self.encryption.as_ref())?
                .into_iter()
                .map(Arc::new)
                .collect();
            let refs: Vec<&RingKey> = keys.iter().map(Arc::as_ref).collect();
            let closed = self.encryption.is_closed();
            let res = resolve(&refs, now, &usable, closed);
            let horizon = now.plus(hours(72));
            let mut adopted = None;
            let plan = match res
                .default
                .and_then(|id| keys.iter().find(|k| k.key.id == id))
            {
                Some(def) => {
                    let later = resolve(&refs, def.key.expiration, &usable, closed);
                    let later_ok = later
                        .default
                        .and_then(|id| keys.iter().find(|k| k.key.id == id))
                        .is_some_and(|k| k.key.expiration >= horizon);
                    let successor = || {
                        covering_key(
                            &refs,
                            Some(def.key.id),
                            def.key.expiration,
                            horizon,
                            &usable,
                        )
                    };
                    if def.key.expiration < horizon && !later_ok && successor().is_none() {
                        Some(def.key.expiration)
                    } else {
                        None
                    }
                }
                None => {
                    adopted = covering_key(&refs, None, now, horizon, &usable).map(|k| k.key.id);
                    adopted.is_none().then_some(now)
                }
            };
            let chosen = match plan {
                Some(activation) if self.options.auto_generate_keys && generated.is_none() => {
                    let (id, el) =
                        self.new_key_element(activation, self.expiration_from(now)?, now)?;
                    if conditional {
                        match self
                            .repo
                            .store_conditional(&loaded.version, std::slice::from_ref(&el))
                        {
                            Ok(_) => generated = Some(id),
                            Err(e) if e.code() == ErrorCode::Conflict => {
                                tracing::debug!("another writer changed the key ring; re-reading");
                                continue;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    } else {
                        self.repo.store(&el)?;
                        generated = Some(id);
                    }
                    tracing::info!("generated key {id} (activation {activation})");
                    continue;
                }
                _ => res.default.or(adopted).or(res.fallback).or(generated),
            };
            let Some(chosen) = chosen else {
                return Err(DataProtectionError::NoDefaultKey(
                    if self.options.auto_generate_keys {
                        "the key ring has no usable key".into()
                    } else {
                        "the key ring has no usable key and automatic key generation is disabled; create a key".into()
                    },
                ));
            };
            let map: HashMap<Uuid, Arc<RingKey>> =
                keys.iter().map(|k| (k.key.id, k.clone())).collect();
            let Some(def) = map.get(&chosen) else {
                continue;
            };
            if def.revoked {
                return Err(DataProtectionError::NoDefaultKey(format!(
                    "the default key {chosen} is revoked; create a new key"
                )));
            }
            let mut jitter = [0u8; 2];
            random_fill(&mut jitter)?;
            let fraction = 1.0 - 0.2 * f64::from(u16::from_le_bytes(jitter)) / 65536.0;
            let refresh = now.plus((REFRESH_PERIOD as f64 * fraction) as i64);
            let expires = if def.key.expiration > now {
                refresh.min(def.key.expiration)
            } else {
                refresh
            };
            return Ok((KeyRing::new(map, chosen, self.encryption.clone())?, expires));
        }
        Err(DataProtectionError::KeyRing(
            "the key ring kept changing while a key was being generated; try again".into(),
        ))
    }
}

/// A key other than `except` that already covers `activation`: not revoked, usable, active by
/// `activation` (within the clock skew) and alive until `horizon`; the earliest activated.
///
/// ASP.NET's resolver ignores a key created within the propagation window whenever an older
/// (propagated) key is preferred, even an expired one, so a successor written less than 2 days
/// before its predecessor expires is not seen: every later ring build would generate yet
/// another key (one per node and refresh in a farm). A key this finds makes a new one
/// pointless, as in ASP.NET Core up to 7.0 ("a key activated by the default key's expiration
/// and not expiring within the propagation window exists").
fn covering_key<'a>(
    keys: &[&'a RingKey],
    except: Option<Uuid>,
    activation: Timestamp,
    horizon: Timestamp,
    usable: &dyn Fn(&RingKey) -> bool,
) -> Option<&'a RingKey> {
    let by = activation.plus(MAX_SERVER_CLOCK_SKEW);
    keys.iter()
        .copied()
        .filter(|k| {
            Some(k.key.id) != except
                && !k.revoked
                && k.key.activation <= by
                && k.key.expiration >= horizon
                && usable(k)
        })
        .min_by(|a, b| {
            a.key
                .activation
                .cmp(&b.key.activation)
                .then_with(|| a.key.id.cmp(&b.key.id))
        })
}

impl KeyRingSource for KeyManager {
    fn key_ring(&self) -> Result<Arc<KeyRing>> {
        self.cache
            .get(self.now(), Refresh::WhenDue, &self.name, || {
                self.build_named()
            })
    }

    /// Lock-free while the cached ring is served: a clock read and a snapshot load
    /// ([`RingCache::fresh`]); the locked path only when a refresh is due.
    fn current_ring(&self) -> Result<RingGuard<'_>> {
        let now = self.now();
        if let Some(ring) = self.cache.fresh(now) {
            return Ok(ring);
        }
        self.cache
            .get(now, Refresh::WhenDue, &self.name, || self.build_named())
            .map(RingGuard::from)
    }

    fn refresh_for_unknown_key(&self) -> Result<Option<Arc<KeyRing>>> {
        let now = self.now();
        if now > self.started.plus(AUTO_REFRESH_WINDOW)
            || self.forced_refresh_used.swap(true, Ordering::SeqCst)
        {
            return Ok(None);
        }
        self.cache
            .get(now, Refresh::Now, &self.name, || self.build_named())
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trousseau_core::abi::create_repository;

    fn manager(dir: &std::path::Path, lifetime_days: i64) -> Result<KeyManager> {
        let cfg = serde_json::json!({ "directory": dir }).to_string();
        let repo = RepositoryBox::new(
            create_repository(&trousseau_filesystem::PLUGIN, "filesystem", &cfg)
                .into_result()
                .unwrap(),
        );
        let options = KeyManagementOptions {
            new_key_lifetime_days: lifetime_days,
            ..Default::default()
        };
        let now = Timestamp::parse("2199-06-01T00:00:00Z").unwrap();
        KeyManager::with_clock(repo, options, Arc::new(PlainKeys), Arc::new(move || now))
    }

    #[test]
    fn key_lifetime_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for days in [
            i64::MIN,
            -1,
            6,
            MAX_KEY_LIFETIME_DAYS + 1,
            10_000_000,
            i64::MAX,
        ] {
            let err = manager(dir.path(), days).unwrap_err().to_string();
            assert!(err.contains(&format!("(got {days})")), "{days}: {err}");
        }
        assert!(manager(dir.path(), MAX_KEY_LIFETIME_DAYS).is_ok());
    }

    #[test]
    fn dates_past_what_key_xml_holds_are_refused_naming_the_value() {
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        for ticks in [i64::MAX, days(3_000_000)] {
            let err = checked_later(t, ticks, "--ttl 9d").unwrap_err().to_string();
            assert!(err.starts_with("--ttl 9d is out of range"), "{err}");
        }
        assert!(checked_later(Timestamp(i64::MAX), 1, "x").is_err());
        assert!(checked_later(t, -t.0 - 1, "x").is_err());
        assert_eq!(checked_later(t, days(1), "x").unwrap(), t.plus(days(1)));
        assert_eq!(checked_later(LATEST, 0, "x").unwrap(), LATEST);
    }

    #[test]
    fn every_key_written_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(dir.path(), MAX_KEY_LIFETIME_DAYS).unwrap();
        // The longest lifetime from the latest clock the manager accepts still reads back.
        let id = m
            .create_key(m.now(), m.expiration_from(m.now()).unwrap())
            .unwrap();
        assert_eq!(m.keys().unwrap().len(), 1);
        assert_eq!(m.keys().unwrap()[0].key.id, id);
        // A key activated near the end of the calendar cannot be made, and nothing is written.
        let late = Timestamp::parse("9999-12-01T00:00:00Z").unwrap();
        let err = m.expiration_from(late).unwrap_err().to_string();
        assert!(err.contains("36500 days starting at 9999-12-01"), "{err}");
        let err = m
            .create_key(late, Timestamp(i64::MAX))
            .unwrap_err()
            .to_string();
        assert!(err.contains("could not be read back"), "{err}");
        assert_eq!(m.keys().unwrap().len(), 1);
    }
}
