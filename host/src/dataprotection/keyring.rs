//! The in-memory key ring: keys with their dates and revocation state, encryptors created
//! lazily, and default-key resolution exactly as ASP.NET Core's `DefaultKeyResolver`.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use trousseau_core::SecretBytes;
use uuid::Uuid;

use super::{
    algorithms::Algorithm,
    at_rest::KeyEncryption,
    encryptor::AuthenticatedEncryptor,
    error::{DataProtectionError, Result},
    timestamp::{days, minutes, Timestamp},
};

/// Clock skew tolerated between servers when looking at activation dates.
pub const MAX_SERVER_CLOCK_SKEW: i64 = minutes(5);
/// How long a new key takes to reach every node.
pub const KEY_PROPAGATION_WINDOW: i64 = days(2);

/// A key's master key as stored: in clear, or inside an `<encryptedSecret>`.
pub enum MasterKeySecret {
    /// The 512-bit (usually) key derivation key.
    Plain(SecretBytes),
    /// Encrypted at rest; `xml` is the whole `<encryptedSecret>` element.
    Encrypted {
        /// The `decryptorType` attribute.
        decryptor_type: String,
        /// The element's XML text.
        xml: String,
    },
}

impl std::fmt::Debug for MasterKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Plain(<redacted>)"),
            Self::Encrypted { decryptor_type, .. } => write!(f, "Encrypted({decryptor_type})"),
        }
    }
}

/// What a key's descriptor says: algorithm and master key.
#[derive(Debug)]
pub struct Descriptor {
    /// The algorithms.
    pub algorithm: Algorithm,
    /// The master key.
    pub secret: MasterKeySecret,
}

/// One `<key>` element, parsed.
#[derive(Debug)]
pub struct Key {
    /// The key id.
    pub id: Uuid,
    /// `creationDate`.
    pub creation: Timestamp,
    /// `activationDate`.
    pub activation: Timestamp,
    /// `expirationDate`.
    pub expiration: Timestamp,
    /// The descriptor, or why it cannot be used (unknown deserializer, bad algorithm).
    pub descriptor: std::result::Result<Descriptor, String>,
}

/// A key in a ring: the key, whether it is revoked, and its encryptor once made.
pub struct RingKey {
    /// The key.
    pub key: Key,
    /// Revoked (individually or by a mass revocation).
    pub revoked: bool,
    encryptor: OnceLock<std::result::Result<Arc<AuthenticatedEncryptor>, String>>,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingKey({}, revoked: {})", self.key.id, self.revoked)
    }
}

impl RingKey {
    /// A ring entry.
    pub fn new(key: Key, revoked: bool) -> Self {
        RingKey {
            key,
            revoked,
            encryptor: OnceLock::new(),
        }
    }

    /// Whether `ExpirationDate <= now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.key.expiration <= now
    }

    /// The encryptor, made on first use: the master key is authenticated and, if needed,
    /// decrypted by `protection` (in an encrypted ring, a key that does not authenticate is
    /// never usable).
    pub fn encryptor(&self, protection: &dyn KeyEncryption) -> Result<Arc<AuthenticatedEncryptor>> {
        self.encryptor_slot(protection)
            .clone()
            .map_err(|reason| DataProtectionError::KeyUnusable {
                key: self.key.id,
                reason,
            })
    }

    /// [`RingKey::encryptor`] borrowed: no reference count is touched, so threads sharing the
    /// key write no common cache line (the warm protect/unprotect path).
    pub(crate) fn encryptor_ref(
        &self,
        protection: &dyn KeyEncryption,
    ) -> Result<&AuthenticatedEncryptor> {
        match self.encryptor_slot(protection) {
            Ok(e) => Ok(e),
            Err(reason) => Err(DataProtectionError::KeyUnusable {
                key: self.key.id,
                reason: reason.clone(),
            }),
        }
    }

    fn encryptor_slot(
        &self,
        protection: &dyn KeyEncryption,
    ) -> &std::result::Result<Arc<AuthenticatedEncryptor>, String> {
        self.encryptor.get_or_init(|| {
            let d = self.key.descriptor.as_ref().map_err(Clone::clone)?;
            let secret = protection.open_secret(&self.key, d).map_err(|e| match e {
                DataProtectionError::KeyUnusable { reason, .. } => reason,
                other => other.to_string(),
            })?;
            Ok(Arc::new(AuthenticatedEncryptor::new(&secret, d.algorithm)))
        })
    }
}

/// The outcome of default-key resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resolution {
    /// The default key, if one qualifies.
    pub default: Option<Uuid>,
    /// When there is no default: the key to use meanwhile.
    pub fallback: Option<Uuid>,
    /// No default key: a new key should be generated.
    pub should_generate: bool,
}

/// `DefaultKeyResolver.FindDefaultKey`, exactly as ASP.NET Core's source does it. `usable`
/// says whether a key's encryptor can be created.
///
/// The preferred key is the most recently activated key old enough to have propagated to every
/// node (created before `now − 2 days`), else the *least* recently activated newer one. A
/// consequence ASP.NET shares: while a revoked or expired key is the newest propagated one, it
/// stays preferred, so no default resolves and callers fall back (or generate) until the
/// replacement has propagated.
///
/// With `hide_unusable` (encrypted rings, where an unusable key is an untrusted one), keys that
/// are not usable do not exist for the resolution: a planted key cannot even be preferred. Keys
/// are then checked in order of preference and only until one is usable, so a ring of many
/// keys is not authenticated key by key.
pub fn resolve<'a>(
    keys: &[&'a RingKey],
    now: Timestamp,
    usable: &dyn Fn(&RingKey) -> bool,
    hide_unusable: bool,
) -> Resolution {
    let cutoff = now.plus(-KEY_PROPAGATION_WINDOW);
    let skewed = now.plus(MAX_SERVER_CLOCK_SKEW);
    let activated = || keys.iter().copied().filter(|k| k.key.activation <= skewed);
    let pick = |candidates: Vec<&'a RingKey>, latest: bool| {
        first_in_order(candidates, latest, hide_unusable.then_some(usable))
    };
    let preferred = pick(
        activated().filter(|k| k.key.creation <= cutoff).collect(),
        true,
    )
    .or_else(|| {
        pick(
            activated().filter(|k| k.key.creation > cutoff).collect(),
            false,
        )
    });
    if let Some(p) = preferred {
        if !p.revoked && !p.is_expired(now) && usable(p) {
            return Resolution {
                default: Some(p.key.id),
                fallback: None,
                should_generate: false,
            };
        }
    }
    let preferred_id = preferred.map(|p| p.key.id);
    let mut candidates: Vec<&&RingKey> = keys
        .iter()
        .filter(|k| !k.revoked && Some(k.key.id) != preferred_id)
        .collect();
    candidates.sort_by(|a, b| {
        let (ao, bo) = (a.key.creation <= cutoff, b.key.creation <= cutoff);
        bo.cmp(&ao).then_with(|| {
            if ao {
                b.key.creation.cmp(&a.key.creation)
            } else {
                a.key.creation.cmp(&b.key.creation)
            }
        })
    });
    let fallback = candidates.into_iter().find(|k| usable(k)).map(|k| k.key.id);
    Resolution {
        default: None,
        fallback,
        should_generate: true,
    }
}

/// The first of `candidates` by activation (the latest with `latest`, else the earliest; ties by
/// id), or with `usable` the first usable one in that order.
fn first_in_order<'a>(
    mut candidates: Vec<&'a RingKey>,
    latest: bool,
    usable: Option<&dyn Fn(&RingKey) -> bool>,
) -> Option<&'a RingKey> {
    let order = |a: &&RingKey, b: &&RingKey| {
        let by_activation = if latest {
            b.key.activation.cmp(&a.key.activation)
        } else {
            a.key.activation.cmp(&b.key.activation)
        };
        by_activation.then_with(|| a.key.id.cmp(&b.key.id))
    };
    match usable {
        None => candidates.into_iter().min_by(order),
        Some(usable) => {
            candidates.sort_by(order);
            candidates.into_iter().find(|k| usable(k))
        }
    }
}

/// A resolved key ring: every key by id and the key that protects.
#[derive(Debug)]
pub struct KeyRing {
    keys: HashMap<Uuid, Arc<RingKey>>,
    default_key: Uuid,
    /// `keys[default_key]`, held apart so that protect needs no lookup.
    default: Arc<RingKey>,
    protection: Arc<dyn KeyEncryption>,
}

impl KeyRing {
    /// A ring whose default key is `default_key` (which must be in `keys`).
    pub fn new(
        keys: HashMap<Uuid, Arc<RingKey>>,
        default_key: Uuid,
        protection: Arc<dyn KeyEncryption>,
    ) -> Result<Self> {
        let Some(default) = keys.get(&default_key).cloned() else {
            return Err(DataProtectionError::KeyRing(format!(
                "default key {default_key} is not in the ring"
            )));
        };
        Ok(KeyRing {
            keys,
            default_key,
            default,
            protection,
        })
    }

    /// The default key id.
    pub fn default_key_id(&self) -> Uuid {
        self.default_key
    }

    /// The default key (the key of [`default_key_id`](Self::default_key_id)).
    pub fn default_key(&self) -> &Arc<RingKey> {
        &self.default
    }

    /// A key by id.
    pub fn get(&self, id: &Uuid) -> Option<&Arc<RingKey>> {
        self.keys.get(id)
    }

    /// The encryptor of a key.
    pub fn encryptor(&self, key: &RingKey) -> Result<Arc<AuthenticatedEncryptor>> {
        key.encryptor(self.protection.as_ref())
    }

    /// The encryptor of a key, borrowed (see [`RingKey::encryptor_ref`]).
    pub(crate) fn encryptor_ref<'r>(&self, key: &'r RingKey) -> Result<&'r AuthenticatedEncryptor> {
        key.encryptor_ref(self.protection.as_ref())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key (never true for a built ring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn k(n: u128, created: &str, activated: &str, expires: &str, revoked: bool) -> RingKey {
        RingKey::new(
            Key {
                id: Uuid::from_u128(n),
                creation: t(created),
                activation: t(activated),
                expiration: t(expires),
                descriptor: Err("test".into()),
            },
            revoked,
        )
    }

    fn run(keys: &[RingKey], now: &str) -> Resolution {
        let refs: Vec<&RingKey> = keys.iter().collect();
        resolve(&refs, t(now), &|_| true, false)
    }

    const NOW: &str = "2026-06-01T12:00:00Z";
    fn id(n: u128) -> Option<Uuid> {
        Some(Uuid::from_u128(n))
    }

    #[test]
    fn resolution_table() {
        // (keys, expected default, expected fallback)
        type Case = (&'static str, Vec<RingKey>, Option<Uuid>, Option<Uuid>);
        let cases: Vec<Case> = vec![
            (
                "one active key",
                vec![k(1, "2026-05-01", "2026-05-01", "2026-07-30", false)],
                id(1),
                None,
            ),
            (
                "future activation beyond skew",
                vec![k(
                    1,
                    "2026-06-01T12:00:00Z",
                    "2026-06-01T12:06:00Z",
                    "2026-08-30",
                    false,
                )],
                None,
                id(1),
            ),
            (
                "activation within 5-minute skew",
                vec![k(
                    1,
                    "2026-06-01T12:00:00Z",
                    "2026-06-01T12:04:59Z",
                    "2026-08-30",
                    false,
                )],
                id(1),
                None,
            ),
            (
                "all revoked",
                vec![
                    k(1, "2026-05-01", "2026-05-01", "2026-07-30", true),
                    k(2, "2026-05-02", "2026-05-02", "2026-07-30", true),
                ],
                None,
                None,
            ),
            (
                "expired default with fallback",
                vec![
                    k(1, "2026-01-01", "2026-01-01", "2026-03-01", false),
                    k(2, "2026-02-01", "2026-02-01", "2026-05-01", false),
                ],
                None,
                id(1),
            ),
            (
                "latest activation among propagated keys",
                vec![
                    k(1, "2026-04-01", "2026-04-01", "2026-07-01", false),
                    k(2, "2026-05-01", "2026-05-20", "2026-08-01", false),
                ],
                id(2),
                None,
            ),
            (
                "a propagated key is preferred over a newer unpropagated one",
                vec![
                    k(1, "2026-05-01", "2026-05-01", "2026-07-30", false),
                    k(
                        2,
                        "2026-06-01T00:00:00Z",
                        "2026-06-01T00:00:00Z",
                        "2026-08-30",
                        false,
                    ),
                ],
                id(1),
                None,
            ),
            (
                "unpropagated keys: the least recently activated is preferred; revoked → fallback",
                vec![
                    k(
                        2,
                        "2026-06-01T10:00:00Z",
                        "2026-06-01T10:00:00Z",
                        "2026-08-30",
                        true,
                    ),
                    k(
                        1,
                        "2026-06-01T11:00:00Z",
                        "2026-06-01T11:00:00Z",
                        "2026-08-30",
                        false,
                    ),
                ],
                None,
                id(1),
            ),
            (
                "tie broken by key id",
                vec![
                    k(9, "2026-05-01", "2026-05-01", "2026-07-30", false),
                    k(3, "2026-05-01", "2026-05-01", "2026-07-30", false),
                ],
                id(3),
                None,
            ),
            (
                "preferred revoked → fallback",
                vec![
                    k(1, "2026-04-01", "2026-04-01", "2026-07-01", false),
                    k(2, "2026-05-01", "2026-05-20", "2026-08-01", true),
                ],
                None,
                id(1),
            ),
        ];
        for (name, keys, default, fallback) in cases {
            let r = run(&keys, NOW);
            assert_eq!((r.default, r.fallback), (default, fallback), "{name}");
            assert_eq!(r.should_generate, default.is_none(), "{name}");
        }
    }

    #[test]
    fn hidden_unusable_keys_are_never_preferred_and_trust_is_checked_lazily() {
        let mut keys = vec![k(1, "2026-04-01", "2026-04-01", "2026-07-01", false)];
        // A planted key that ASP.NET would prefer (propagated, latest activation).
        keys.push(k(666, "2026-05-01", "2026-05-20", "2026-08-01", false));
        for n in 2..1000 {
            keys.push(k(n, "2026-03-01", "2026-03-01", "2026-07-01", false));
        }
        let refs: Vec<&RingKey> = keys.iter().collect();
        let checked = std::cell::Cell::new(0);
        let usable = |key: &RingKey| {
            checked.set(checked.get() + 1);
            key.key.id != Uuid::from_u128(666)
        };
        let open = resolve(&refs, t(NOW), &usable, false);
        assert_eq!((open.default, open.fallback), (None, id(1)));
        checked.set(0);
        let closed = resolve(&refs, t(NOW), &usable, true);
        assert_eq!((closed.default, closed.fallback), (id(1), None));
        assert!(checked.get() <= 3, "{} keys checked", checked.get());
    }

    #[test]
    fn unusable_preferred_is_skipped() {
        let keys = [
            k(1, "2026-04-01", "2026-04-01", "2026-07-01", false),
            k(2, "2026-05-01", "2026-05-20", "2026-08-01", false),
        ];
        let refs: Vec<&RingKey> = keys.iter().collect();
        let r = resolve(&refs, t(NOW), &|k| k.key.id != Uuid::from_u128(2), false);
        assert_eq!((r.default, r.fallback), (None, id(1)));
    }
}
