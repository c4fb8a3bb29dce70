//! `IDataProtector`: protect/unprotect with a purpose chain over a key ring, the string API,
//! and the time-limited protector (ASP.NET Core's `TimeLimitedDataProtector`: one more purpose,
//! and the expiry as 8 big-endian bytes of .NET ticks before the plaintext).

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::{
    encryptor::{AuthenticatedEncryptor, DecryptFailure},
    error::{public_random_fill, DataProtectionError, Result},
    kdf,
    keyring::{KeyRing, RingKey},
    payload::{self, ENVELOPE_LEN, MAGIC},
    refresh::RingGuard,
    timestamp::Timestamp,
};

/// Where a protector gets its key ring.
pub trait KeyRingSource: Send + Sync {
    /// The current ring (cached, refreshed when due; may generate a key).
    fn key_ring(&self) -> Result<Arc<KeyRing>>;
    /// Called when a payload names a key the ring does not hold: returns a freshly loaded
    /// ring if a forced refresh is allowed now (once, within 2 minutes of start), else `None`.
    fn refresh_for_unknown_key(&self) -> Result<Option<Arc<KeyRing>>>;
    /// The current ring for one protect or unprotect, as [`KeyRingSource::key_ring`] decides,
    /// held as cheaply as the source can: the default wraps `key_ring` (a reference-count
    /// increment on the ring every call, one cache line all threads write); a source that can
    /// lend its ring without that (the [`KeyManager`](super::manager::KeyManager)'s lock-free
    /// snapshot, [`FixedKeyRing`]) overrides it.
    fn current_ring(&self) -> Result<RingGuard<'_>> {
        self.key_ring().map(RingGuard::from)
    }
}

/// A source that always returns the same ring (tests, benchmarks, embedders that manage the
/// ring themselves).
#[derive(Debug)]
pub struct FixedKeyRing(pub Arc<KeyRing>);

impl KeyRingSource for FixedKeyRing {
    fn key_ring(&self) -> Result<Arc<KeyRing>> {
        Ok(self.0.clone())
    }

    fn refresh_for_unknown_key(&self) -> Result<Option<Arc<KeyRing>>> {
        Ok(None)
    }

    fn current_ring(&self) -> Result<RingGuard<'_>> {
        Ok(RingGuard::borrowed(&self.0))
    }
}

/// The result of [`DataProtector::unprotect_detailed`].
#[derive(Debug)]
pub struct Unprotected {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The payload was made with a key that is not the default key (or a revoked one):
    /// re-protect it (ASP.NET's `requiresMigration`).
    pub requires_migration: bool,
    /// The key was revoked (only possible with `ignore_revocation`).
    pub was_revoked: bool,
}

/// Default largest payload accepted by unprotect, in bytes.
pub const DEFAULT_MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// The purpose ASP.NET's `ITimeLimitedDataProtector` appends.
pub const TIME_LIMITED_PURPOSE: &str =
    "Microsoft.AspNetCore.DataProtection.TimeLimitedDataProtector.v1";

/// A data protector: a key ring and a purpose chain, the application name first
/// (ASP.NET's `IDataProtector`). Made by [`Trousseau::protector`](crate::Trousseau::protector);
/// cheap to clone and to share across threads; it follows key rotation by itself.
///
/// ```
/// let tr = trousseau::Trousseau::ephemeral()?;
/// let p = tr.protector("cookies");
/// let payload = p.protect(b"session 42")?;
/// assert_eq!(p.unprotect(&payload)?, b"session 42");
/// // A single changed byte, or another purpose, and nothing opens.
/// let mut tampered = payload.clone();
/// *tampered.last_mut().ok_or("empty")? ^= 1;
/// assert!(p.unprotect(&tampered).is_err());
/// assert!(tr.protector("csrf").unprotect(&payload).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DataProtector {
    source: Arc<dyn KeyRingSource>,
    purposes: Vec<String>,
    /// The AAD after `magic || key id` (the purpose count and purposes), built once.
    aad_tail: Arc<[u8]>,
    /// The derivation prefix of this purpose chain under the default key it was last used
    /// with (shared by clones, which have the same chain).
    prefix: Arc<ArcSwapOption<CachedPrefix>>,
    max_payload: usize,
}

/// A [`kdf::Prefix`] and the encryptor it belongs to, held so that its address identifies it
/// for as long as the prefix is cached.
struct CachedPrefix {
    encryptor: Arc<AuthenticatedEncryptor>,
    prefix: kdf::Prefix,
}

/// The AAD of a call is assembled on the stack up to this size (else on the heap).
const AAD_ON_STACK: usize = 256;

fn aad_tail(purposes: &[String]) -> Arc<[u8]> {
    payload::aad(uuid::Uuid::nil(), purposes)[ENVELOPE_LEN..].into()
}

impl std::fmt::Debug for DataProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataProtector({:?})", self.purposes)
    }
}

impl DataProtector {
    /// A protector with the given purpose chain (ASP.NET: the application name, then the
    /// purposes given to `CreateProtector`).
    pub fn new(source: Arc<dyn KeyRingSource>, purposes: Vec<String>) -> Self {
        DataProtector {
            source,
            aad_tail: aad_tail(&purposes),
            prefix: Arc::default(),
            purposes,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }

    /// Sets the largest payload (and plaintext) accepted.
    #[must_use]
    pub fn with_max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// A child protector with `purpose` appended (ASP.NET's `CreateProtector`): what it
    /// protects opens only with the same chain.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let orders = tr.protector("orders");
    /// let v2 = orders.create_protector("v2");
    /// assert_eq!(v2.purposes(), ["trousseau", "orders", "v2"]);
    /// let payload = v2.protect(b"order 7")?;
    /// assert!(orders.unprotect(&payload).is_err());
    /// assert_eq!(tr.protector_for(&["orders", "v2"]).unprotect(&payload)?, b"order 7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn create_protector(&self, purpose: &str) -> DataProtector {
        let mut p = self.clone();
        p.purposes.push(purpose.to_string());
        p.aad_tail = aad_tail(&p.purposes);
        p.prefix = Arc::default();
        p
    }

    /// Calls `f` with [`payload::aad`] for key `id` and this protector's purposes, assembled
    /// from the precomputed tail on the stack when it fits (no allocation per call).
    fn with_aad<R>(&self, id: uuid::Uuid, f: impl FnOnce(&[u8]) -> R) -> R {
        let len = ENVELOPE_LEN + self.aad_tail.len();
        let fill = |buf: &mut [u8]| {
            buf[..MAGIC.len()].copy_from_slice(&MAGIC);
            buf[MAGIC.len()..ENVELOPE_LEN].copy_from_slice(&payload::guid_bytes(id));
            buf[ENVELOPE_LEN..].copy_from_slice(&self.aad_tail);
        };
        if len <= AAD_ON_STACK {
            let mut buf = [0u8; AAD_ON_STACK];
            fill(&mut buf[..len]);
            f(&buf[..len])
        } else {
            let mut buf = vec![0u8; len];
            fill(&mut buf);
            f(&buf)
        }
    }

    /// [`with_aad`](Self::with_aad) for `key`, whose encryptor is `enc`, also handing `f` the
    /// derivation prefix when `key` is the ring's default. The prefix is made on the first call
    /// with a new default key and cached; other keys (older payloads) derive in full and do
    /// not replace it.
    fn with_derivation<R>(
        &self,
        ring: &KeyRing,
        key: &RingKey,
        enc: &AuthenticatedEncryptor,
        f: impl FnOnce(&[u8], Option<&kdf::Prefix>) -> R,
    ) -> R {
        let id = key.key.id;
        self.with_aad(id, |aad| {
            let cached = self.prefix.load();
            if let Some(c) = cached.as_ref() {
                if std::ptr::eq(Arc::as_ptr(&c.encryptor), enc) {
                    return f(aad, Some(&c.prefix));
                }
            }
            let fresh = (id == ring.default_key_id())
                .then(|| ring.encryptor(key).ok())
                .flatten()
                .map(|encryptor| {
                    let prefix = encryptor.derivation_prefix(aad);
                    Arc::new(CachedPrefix { encryptor, prefix })
                });
            match fresh {
                Some(c) => {
                    self.prefix.store(Some(Arc::clone(&c)));
                    f(aad, Some(&c.prefix))
                }
                None => f(aad, None),
            }
        })
    }

    /// The purpose chain.
    pub fn purposes(&self) -> &[String] {
        &self.purposes
    }

    /// Protects `plaintext` with the default key.
    pub fn protect(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        if plaintext.len() > self.max_payload {
            return Err(DataProtectionError::TooLarge {
                size: plaintext.len(),
                limit: self.max_payload,
            });
        }
        let ring = self.source.current_ring()?;
        self.protect_with(&ring, plaintext, &mut |b: &mut [u8]| public_random_fill(b))
    }

    /// Protects with an explicit ring and random source (known-answer tests, benchmarks).
    pub fn protect_with(
        &self,
        ring: &KeyRing,
        plaintext: &[u8],
        random: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let (id, key) = (ring.default_key_id(), ring.default_key());
        let enc = ring.encryptor_ref(key)?;
        let mut out = Vec::with_capacity(ENVELOPE_LEN + enc.body_len(plaintext.len()));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&payload::guid_bytes(id));
        self.with_derivation(ring, key, enc, |aad, prefix| {
            enc.encrypt_into(&mut out, plaintext, aad, prefix, random)
        })?;
        Ok(out)
    }

    /// Unprotects; revoked keys are refused.
    pub fn unprotect(&self, protected: &[u8]) -> Result<Vec<u8>> {
        self.unprotect_detailed(protected, false)
            .map(|u| u.plaintext)
    }

    /// Unprotects and tells whether the payload should be re-protected. With
    /// `ignore_revocation`, payloads of revoked keys are returned (flagged) instead of refused.
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let p = tr.protector("cookies");
    /// let payload = p.protect(b"session 42")?;
    /// let id = tr.key_manager().keys()?[0].key.id;
    /// tr.key_manager().revoke_key(id, "leaked")?;
    /// let opened = p.unprotect_detailed(&payload, true)?;
    /// assert!(opened.was_revoked && opened.requires_migration);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unprotect_detailed(
        &self,
        protected: &[u8],
        ignore_revocation: bool,
    ) -> Result<Unprotected> {
        if protected.len() > self.max_payload.saturating_add(256) {
            return Err(DataProtectionError::TooLarge {
                size: protected.len(),
                limit: self.max_payload,
            });
        }
        let (id, body) = payload::open_envelope(protected)?;
        let mut ring = self.source.current_ring()?;
        if ring.get(&id).is_none() {
            if let Some(fresh) = self.source.refresh_for_unknown_key()? {
                ring = RingGuard::from(fresh);
            }
        }
        let key = ring.get(&id).ok_or(DataProtectionError::UnknownKey(id))?;
        if key.revoked && !ignore_revocation {
            return Err(DataProtectionError::RevokedKey(id));
        }
        let enc = ring.encryptor_ref(key)?;
        let plaintext = self
            .with_derivation(&ring, key, enc, |aad, prefix| {
                enc.decrypt(body, aad, prefix)
            })
            .map_err(|f| match f {
                DecryptFailure::Truncated => DataProtectionError::Truncated(protected.len()),
                DecryptFailure::Invalid => DataProtectionError::InvalidPayload {
                    key: id,
                    application: self.purposes.first().cloned().unwrap_or_default(),
                    purposes: self.purposes.iter().skip(1).cloned().collect(),
                },
            })?;
        Ok(Unprotected {
            plaintext,
            requires_migration: key.revoked || id != ring.default_key_id(),
            was_revoked: key.revoked,
        })
    }

    /// Protects UTF-8 text and returns unpadded base64url (what ASP.NET's string `Protect`
    /// extension returns, so either side opens the other's tokens over a shared ring).
    ///
    /// ```
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let p = tr.protector("cookies");
    /// let token = p.protect_str("session 42")?;
    /// assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// assert_eq!(p.unprotect_str(&token)?, "session 42");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protect_str(&self, plaintext: &str) -> Result<String> {
        self.protect(plaintext.as_bytes())
            .map(|p| payload::to_base64url(&p))
    }

    /// Reverses [`DataProtector::protect_str`].
    pub fn unprotect_str(&self, protected: &str) -> Result<String> {
        if protected.len() > self.max_payload.saturating_mul(4) / 3 + 512 {
            return Err(DataProtectionError::TooLarge {
                size: protected.len(),
                limit: self.max_payload,
            });
        }
        let bytes = self.unprotect(&payload::from_base64url(protected)?)?;
        String::from_utf8(bytes).map_err(|_| {
            DataProtectionError::InvalidInput(
                "the unprotected data is not UTF-8 text; use the byte API".into(),
            )
        })
    }

    /// The time-limited form of this protector (ASP.NET's `ToTimeLimitedDataProtector`).
    ///
    /// ```
    /// use trousseau::{dataprotection::timestamp::days, Timestamp};
    ///
    /// let tr = trousseau::Trousseau::ephemeral()?;
    /// let invitations = tr.protector("invitations").time_limited();
    /// let token = invitations.protect(b"team 3", Timestamp::now().plus(days(7)))?;
    /// let (data, _expires) = invitations.unprotect(&token, Timestamp::now())?;
    /// assert_eq!(data, b"team 3");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn time_limited(&self) -> TimeLimitedProtector {
        TimeLimitedProtector {
            inner: self.create_protector(TIME_LIMITED_PURPOSE),
        }
    }
}

/// ASP.NET's `ITimeLimitedDataProtector`: an extra purpose and an 8-byte big-endian expiration
/// (UTC .NET ticks) before the plaintext.
///
/// ```
/// use trousseau::{dataprotection::timestamp::hours, Timestamp};
///
/// let tr = trousseau::Trousseau::ephemeral()?;
/// let links = tr.time_limited_protector("password-reset");
/// let issued = Timestamp::now();
/// let token = links.protect(b"user 42", issued.plus(hours(1)))?;
/// let (data, expires) = links.unprotect(&token, issued.plus(hours(1)))?; // still valid
/// assert_eq!((data.as_slice(), expires), (&b"user 42"[..], issued.plus(hours(1))));
/// assert!(links.unprotect(&token, issued.plus(hours(2))).is_err()); // expired
/// // The plain protector under it sees the frame: 8 bytes of expiration, then the data.
/// let framed = links.inner().unprotect(&token)?;
/// assert_eq!(&framed[8..], b"user 42");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TimeLimitedProtector {
    inner: DataProtector,
}

impl TimeLimitedProtector {
    /// The underlying protector (its purposes end with the time-limited purpose).
    pub fn inner(&self) -> &DataProtector {
        &self.inner
    }

    /// The inner plaintext: expiration ticks (BE) then the data.
    pub fn frame(expiration: Timestamp, plaintext: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + plaintext.len());
        v.extend_from_slice(&expiration.0.to_be_bytes());
        v.extend_from_slice(plaintext);
        v
    }

    /// Protects `plaintext` until `expiration`.
    pub fn protect(&self, plaintext: &[u8], expiration: Timestamp) -> Result<Vec<u8>> {
        self.inner.protect(&Self::frame(expiration, plaintext))
    }

    /// Unprotects, refusing expired payloads (checked against `now`); returns the data and its
    /// expiration.
    pub fn unprotect(&self, protected: &[u8], now: Timestamp) -> Result<(Vec<u8>, Timestamp)> {
        Self::split(&self.inner.unprotect(protected)?, now)
    }

    /// Splits an unprotected inner plaintext into data and expiration, refusing it when
    /// expired at `now`.
    pub fn split(inner: &[u8], now: Timestamp) -> Result<(Vec<u8>, Timestamp)> {
        if inner.len() < 8 {
            return Err(DataProtectionError::Truncated(inner.len()));
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&inner[..8]);
        let expiration = Timestamp(i64::from_be_bytes(t));
        if now > expiration {
            return Err(DataProtectionError::Expired(expiration.to_string()));
        }
        Ok((inner[8..].to_vec(), expiration))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use trousseau_core::SecretBytes;
    use uuid::Uuid;

    use super::*;
    use crate::dataprotection::{
        algorithms::Algorithm,
        keyring::{Descriptor, Key, MasterKeySecret, RingKey},
    };

    fn key(id: Uuid, secret: u8, revoked: bool) -> (Uuid, Arc<RingKey>) {
        let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let k = Key {
            id,
            creation: t,
            activation: t,
            expiration: t.plus(crate::dataprotection::timestamp::days(90)),
            descriptor: Ok(Descriptor {
                algorithm: Algorithm::default(),
                secret: MasterKeySecret::Plain(SecretBytes::copy_from(&[secret; 64])),
            }),
        };
        (id, Arc::new(RingKey::new(k, revoked)))
    }

    const A: Uuid = Uuid::from_u128(0xaaaa_0000_0000_4000_8000_0000_0000_0001);
    const B: Uuid = Uuid::from_u128(0xbbbb_0000_0000_4000_8000_0000_0000_0002);

    fn protector(default: Uuid, revoked_b: bool, app: &str) -> DataProtector {
        let keys: HashMap<_, _> = [key(A, 1, false), key(B, 2, revoked_b)]
            .into_iter()
            .collect();
        let ring = KeyRing::new(
            keys,
            default,
            Arc::new(crate::dataprotection::at_rest::PlainKeys),
        )
        .unwrap();
        DataProtector::new(
            Arc::new(FixedKeyRing(Arc::new(ring))),
            vec![app.to_string()],
        )
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let p = protector(A, false, "app").create_protector("purpose");
        let data: Vec<u8> = (0..100u8).collect();
        let payload = p.protect(&data).unwrap();
        assert_eq!(p.unprotect(&payload).unwrap(), data);
        for i in 0..payload.len() * 8 {
            let mut t = payload.clone();
            t[i / 8] ^= 1 << (i % 8);
            assert!(p.unprotect(&t).is_err(), "flip of bit {i} was accepted");
        }
    }

    #[test]
    fn errors_are_distinct() {
        let p = protector(A, true, "app").create_protector("purpose");
        let payload = p.protect(b"secret").unwrap();
        let wrong_purpose = protector(A, true, "app").create_protector("other");
        let e = wrong_purpose.unprotect(&payload).unwrap_err();
        assert!(
            matches!(&e, DataProtectionError::InvalidPayload { purposes, .. } if purposes == &["other"]),
            "{e}"
        );
        let wrong_app = protector(A, true, "app2").create_protector("purpose");
        let e = wrong_app.unprotect(&payload).unwrap_err();
        assert!(
            matches!(&e, DataProtectionError::InvalidPayload { application, .. } if application == "app2"),
            "{e}"
        );
        assert!(e.to_string().contains("\"app2\""), "{e}");
        let e = p.unprotect(&payload[..40]).unwrap_err();
        assert!(matches!(e, DataProtectionError::Truncated(40)), "{e}");
        let mut unknown = payload.clone();
        unknown[4..20].copy_from_slice(&Uuid::from_u128(7).to_bytes_le());
        let e = p.unprotect(&unknown).unwrap_err();
        assert!(
            matches!(e, DataProtectionError::UnknownKey(id) if id == Uuid::from_u128(7)),
            "{e}"
        );
        let by_b = protector(B, true, "app").create_protector("purpose");
        let revoked = by_b.protect(b"x").unwrap();
        let e = p.unprotect(&revoked).unwrap_err();
        assert!(
            matches!(e, DataProtectionError::RevokedKey(id) if id == B),
            "{e}"
        );
        let u = p.unprotect_detailed(&revoked, true).unwrap();
        assert!(u.was_revoked && u.requires_migration);
        assert_eq!(u.plaintext, b"x");
        let e = p.unprotect_str("CfDJ8$$").unwrap_err();
        assert!(matches!(e, DataProtectionError::Base64(_)), "{e}");
    }

    #[test]
    fn requires_migration_when_not_default() {
        let old = protector(A, false, "app").protect(b"x").unwrap();
        let now_b = protector(B, false, "app");
        let u = now_b.unprotect_detailed(&old, false).unwrap();
        assert!(u.requires_migration && !u.was_revoked);
        let fresh = now_b.protect(b"y").unwrap();
        assert!(
            !now_b
                .unprotect_detailed(&fresh, false)
                .unwrap()
                .requires_migration
        );
    }

    #[test]
    fn string_api_is_unpadded_base64url() {
        let p = protector(A, false, "app");
        let s = p.protect_str("héllo").unwrap();
        assert!(s.starts_with("CfDJ8") && !s.contains('=') && !s.contains('+') && !s.contains('/'));
        assert_eq!(p.unprotect_str(&s).unwrap(), "héllo");
    }

    #[test]
    fn the_precomputed_aad_is_the_payload_aad() {
        let long = "p".repeat(300);
        for purposes in [
            vec![],
            vec!["app".to_string()],
            vec!["app".into(), "héllo".into(), String::new()],
            vec!["app".into(), long.clone()],
            vec!["a".into(); 200],
        ] {
            let mut p = protector(A, false, "app");
            p.purposes = purposes.clone();
            p.aad_tail = aad_tail(&purposes);
            p.with_aad(B, |aad| assert_eq!(aad, payload::aad(B, &purposes)));
            let child = p.create_protector(&long);
            let mut all = purposes.clone();
            all.push(long.clone());
            child.with_aad(A, |aad| assert_eq!(aad, payload::aad(A, &all)));
        }
    }

    /// With the cached derivation prefix, payloads are byte for byte those of a full
    /// derivation, with a purpose chain whose fixed part fills a SHA-512 block (ASP.NET's
    /// cookie chain) and with a short one; the default key's prefix is cached, and
    /// unprotecting a payload of another key neither uses nor replaces it.
    #[test]
    fn the_cached_derivation_prefix_gives_the_same_payloads() {
        let cookies = [
            "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware",
            "Cookies",
            "v2",
        ];
        let p = protector(A, false, "app").create_protector(&cookies.join("/"));
        let short = protector(A, false, "app");
        let counting = || {
            let mut next = 0u8;
            move |b: &mut [u8]| {
                b.fill_with(|| {
                    next = next.wrapping_add(1);
                    next
                });
                Ok(())
            }
        };
        let ring = p.source.current_ring().unwrap();
        let enc = ring.encryptor_ref(ring.get(&A).unwrap()).unwrap();
        for protector in [&p, &short] {
            for len in [0usize, 64, 1000] {
                let data = vec![7u8; len];
                let ours = protector
                    .protect_with(&ring, &data, &mut counting())
                    .unwrap();
                let mut full = Vec::new();
                full.extend_from_slice(&MAGIC);
                full.extend_from_slice(&payload::guid_bytes(A));
                protector.with_aad(A, |aad| {
                    enc.encrypt_into(&mut full, &data, aad, None, &mut counting())
                        .unwrap()
                });
                assert_eq!(ours, full, "{len} bytes");
                assert_eq!(protector.unprotect(&ours).unwrap(), data);
            }
            assert!(protector.prefix.load().is_some());
        }
        let cached =
            |p: &DataProtector| p.prefix.load().as_ref().map(|c| Arc::as_ptr(&c.encryptor));
        let before = cached(&p);
        assert_eq!(before, Some(enc as *const _));
        // A payload of key B (not the default) opens and leaves A's prefix in place.
        let mut of_b = p.clone();
        of_b.source = protector(B, false, "app").source;
        of_b.prefix = Arc::default();
        let old = of_b.protect(b"old").unwrap();
        assert_eq!(p.unprotect(&old).unwrap(), b"old");
        assert_eq!(cached(&p), before);
    }

    #[test]
    fn oversized_is_refused() {
        let p = protector(A, false, "app").with_max_payload(10);
        assert!(matches!(
            p.protect(&[0; 11]),
            Err(DataProtectionError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
        assert!(matches!(
            p.unprotect(&[0; 1000]),
            Err(DataProtectionError::TooLarge { .. })
        ));
    }

    // As in ASP.NET Core's `TimeLimitedDataProtectorTests.cs`.
    #[test]
    fn spec_6_7_time_limited() {
        let base = protector(A, false, "app").create_protector("new purpose");
        let tl = base.time_limited();
        assert_eq!(
            tl.inner().purposes(),
            ["app", "new purpose", TIME_LIMITED_PURPOSE]
        );
        let exp = Timestamp::parse("2000-01-01T00:00:00Z").unwrap();
        let framed = TimeLimitedProtector::frame(exp, b"payload");
        assert_eq!(
            &framed[..8],
            &[0x08, 0xC1, 0x22, 0x02, 0x47, 0xE4, 0x40, 0x00]
        );
        let p = tl.protect(b"payload", exp).unwrap();
        // The inner protector sees exactly the framed plaintext.
        assert_eq!(tl.inner().unprotect(&p).unwrap(), framed);
        let (data, e) = tl.unprotect(&p, exp.plus(-1)).unwrap();
        assert_eq!((data.as_slice(), e), (&b"payload"[..], exp));
        assert!(matches!(
            tl.unprotect(&p, exp.plus(1)),
            Err(DataProtectionError::Expired(_))
        ));
        assert!(base.unprotect(&p).is_err());
    }
}
