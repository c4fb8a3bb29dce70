//! KDF parameters ([`KdfParams`]) and [`transform_key`]: AES-KDF and Argon2d/Argon2id with
//! KDBX 4 semantics.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use trousseau_core::SecretBytes;

use super::{aes_kdf, MasterKeyError};

/// Which Argon2 variant (KDBX 4 offers both).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Argon2Variant {
    /// Argon2d (KDBX UUID `ef636ddf-8c29-444b-91f7-a9a403e30a0c`).
    D,
    /// Argon2id (KDBX UUID `9e298b19-56db-4773-b23d-fc3ec6f0a1e6`).
    Id,
}

/// The KDF and its parameters, stored with the master key (never secret). Byte fields are
/// serialized as Base64 strings, e.g.
/// `{"kdf":"argon2","variant":"id","salt":"…","memory_kib":65536,"iterations":2,"parallelism":2,"version":19}`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "kdf", rename_all = "kebab-case")]
pub enum KdfParams {
    /// KeePass AES-KDF: `rounds` of AES-256-ECB keyed with `seed` over both halves, then SHA-256.
    AesKdf {
        /// Number of rounds.
        rounds: u64,
        /// The AES key (KDBX `S`).
        #[serde(with = "b64_array")]
        seed: [u8; 32],
    },
    /// Argon2 with KDBX 4 semantics (32-byte output, no secret key or associated data).
    Argon2 {
        /// Argon2d or Argon2id.
        variant: Argon2Variant,
        /// The salt (KDBX `S`, 32 bytes when we create it; at least 8).
        #[serde(with = "b64_vec")]
        salt: Vec<u8>,
        /// Memory in KiB (KDBX `M` is in bytes).
        memory_kib: u32,
        /// Passes (KDBX `I`).
        iterations: u32,
        /// Lanes (KDBX `P`).
        parallelism: u32,
        /// Argon2 version: 0x13 (19, current) or 0x10 (16).
        version: u32,
    },
}

/// Default Argon2 memory: 64 MiB, as KeePass and KeePassXC propose.
pub(super) const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;

/// Ceilings on the KDF parameters this node runs for a slot read from the key ring.
///
/// A slot's KDF must run before the slot can be authenticated, so whoever can write the ring
/// could otherwise ask for 2^64 − 1 AES rounds or terabytes of Argon2 memory and stall or
/// exhaust every node. Parameters above a ceiling are refused before anything runs. The
/// defaults are four times what Trousseau chooses for new slots (Argon2id, 64 MiB, 2
/// iterations, 2 lanes); `[master_key.kdf_limits]` in the node's configuration raises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KdfLimits {
    /// Largest Argon2 memory, in KiB (default 262144: 256 MiB).
    pub max_memory_kib: u32,
    /// Most Argon2 iterations (default 8).
    pub max_iterations: u32,
    /// Most Argon2 lanes (default 8).
    pub max_parallelism: u32,
    /// Most AES-KDF rounds (default 60,000,000: about two seconds with AES-NI).
    pub max_aes_rounds: u64,
}

impl Default for KdfLimits {
    fn default() -> Self {
        KdfLimits {
            max_memory_kib: 4 * DEFAULT_MEMORY_KIB,
            max_iterations: 8,
            max_parallelism: 8,
            max_aes_rounds: 60_000_000,
        }
    }
}

impl KdfParams {
    /// A rough estimate of the KDF's running time in microseconds on a current x86-64 core
    /// (Argon2: about 0.75 µs per KiB and iteration; AES-KDF with AES-NI: about 33 ns per
    /// round), used only to try cheap slots first.
    pub fn work_estimate(&self) -> u64 {
        match self {
            KdfParams::AesKdf { rounds, .. } => rounds / 30,
            KdfParams::Argon2 {
                memory_kib,
                iterations,
                ..
            } => (u64::from(*memory_kib).saturating_mul(u64::from(*iterations)) / 4)
                .saturating_mul(3),
        }
    }
}

impl KdfLimits {
    /// Says which parameter of `params` is above its ceiling, if any.
    pub fn check(&self, params: &KdfParams) -> Result<(), String> {
        let over = |what: &str, value: u64, limit: u64, setting: &str| {
            Err(format!(
                "its KDF asks for {what} {value}, above this node's ceiling of {limit} \
                 ([master_key.kdf_limits] {setting})"
            ))
        };
        match params {
            KdfParams::AesKdf { rounds, .. } if *rounds > self.max_aes_rounds => over(
                "AES-KDF rounds",
                *rounds,
                self.max_aes_rounds,
                "max_aes_rounds",
            ),
            KdfParams::Argon2 { memory_kib, .. } if *memory_kib > self.max_memory_kib => over(
                "Argon2 memory (KiB)",
                u64::from(*memory_kib),
                u64::from(self.max_memory_kib),
                "max_memory_kib",
            ),
            KdfParams::Argon2 { iterations, .. } if *iterations > self.max_iterations => over(
                "Argon2 iterations",
                u64::from(*iterations),
                u64::from(self.max_iterations),
                "max_iterations",
            ),
            KdfParams::Argon2 { parallelism, .. } if *parallelism > self.max_parallelism => over(
                "Argon2 lanes",
                u64::from(*parallelism),
                u64::from(self.max_parallelism),
                "max_parallelism",
            ),
            _ => Ok(()),
        }
    }
}

/// 32 fresh random bytes for a salt or seed. These are public values that only need to be
/// unique: should the OS random source fail (it does not on supported systems), a hash of
/// the time, process id and a counter is used instead and a warning logged.
pub(super) fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut b) {
        use sha2::{Digest, Sha256};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        tracing::warn!("the system random generator failed ({e}); deriving a unique salt instead");
        let mut h = Sha256::new();
        h.update(format!("{:?}", std::time::SystemTime::now()));
        h.update(std::process::id().to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        b.copy_from_slice(&h.finalize());
    }
    b
}

impl KdfParams {
    /// The seed: the Argon2 salt or the AES-KDF seed. KeePassXC uses it as the challenge for
    /// challenge-response sources.
    pub fn seed(&self) -> &[u8] {
        match self {
            KdfParams::AesKdf { seed, .. } => seed,
            KdfParams::Argon2 { salt, .. } => salt,
        }
    }

    /// The KDF and its cost for people, e.g. `Argon2id 64 MiB, t=2, p=2` or `AES-KDF
    /// 60000000 rounds` (the salt is left out).
    pub fn summary(&self) -> String {
        match self {
            KdfParams::AesKdf { rounds, .. } => format!("AES-KDF {rounds} rounds"),
            KdfParams::Argon2 {
                variant,
                memory_kib,
                iterations,
                parallelism,
                ..
            } => {
                let name = match variant {
                    Argon2Variant::D => "Argon2d",
                    Argon2Variant::Id => "Argon2id",
                };
                let memory = if memory_kib % 1024 == 0 {
                    format!("{} MiB", memory_kib / 1024)
                } else {
                    format!("{memory_kib} KiB")
                };
                format!("{name} {memory}, t={iterations}, p={parallelism}")
            }
        }
    }

    /// Argon2id, 64 MiB, 2 iterations, 2 lanes, version 0x13, a fresh random 32-byte salt
    /// (the KeePass defaults, with the side-channel-resistant variant).
    pub fn new_default() -> Self {
        KdfParams::Argon2 {
            variant: Argon2Variant::Id,
            salt: random32().to_vec(),
            memory_kib: DEFAULT_MEMORY_KIB,
            iterations: 2,
            parallelism: 2,
            version: 0x13,
        }
    }

    /// AES-KDF rounds that take about `target` on this machine (at least 60 000, the old
    /// KeePass default). Fresh seed.
    pub fn calibrate_aes(target: Duration) -> Self {
        let seed = random32();
        let mut data = [0u8; 32];
        let mut rounds: u64 = 0;
        let chunk = 100_000;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(100) {
            aes_kdf::aes_rounds(&seed, &mut data, chunk);
            rounds += chunk;
        }
        let rate = rounds as f64 / start.elapsed().as_secs_f64();
        KdfParams::AesKdf {
            rounds: ((rate * target.as_secs_f64()) as u64).max(60_000),
            seed: random32(),
        }
    }
}

/// Runs the KDF on the 32-byte composite key.
///
/// - AES-KDF: `SHA-256(AES-256-ECB^rounds(composite))`, keyed with the seed (KeePass
///   `AesKdf.TransformKey`);
/// - Argon2d/Argon2id: `Argon2(password = composite, salt, m, t, p, version)` with a 32-byte
///   output, as KDBX 4 computes it.
///
/// ```
/// use trousseau::masterkey::{transform_key, KdfParams};
/// use trousseau_core::SecretBytes;
///
/// // The composite key of the password "correct horse battery staple" (see `composite_key`).
/// let composite = SecretBytes::copy_from(&hex::decode(
///     "b867db875479bcc0287352cdaa4a1755689b8338777d0915e9acd9f6edbc96cb",
/// )?);
/// // KeePass AES-KDF, 1000 rounds (far too few for real use), seed 00 01 … 1f.
/// let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
/// let key = transform_key(&composite, &KdfParams::AesKdf { rounds: 1000, seed })?;
/// assert_eq!(
///     hex::encode(key.expose()),
///     "965f30755d6f589d654133ea09360ae9d089c56b590b27ba320d3a4ad37427d0"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn transform_key(
    composite: &SecretBytes,
    params: &KdfParams,
) -> Result<SecretBytes, MasterKeyError> {
    let composite: &[u8; 32] = composite.expose().try_into().map_err(|_| {
        MasterKeyError::InvalidKdf(format!(
            "the composite key must be 32 bytes, not {}",
            composite.len()
        ))
    })?;
    match params {
        KdfParams::AesKdf { rounds, seed } => Ok(aes_kdf::aes_kdf(composite, seed, *rounds)),
        KdfParams::Argon2 {
            variant,
            salt,
            memory_kib,
            iterations,
            parallelism,
            version,
        } => {
            let algorithm = match variant {
                Argon2Variant::D => argon2::Algorithm::Argon2d,
                Argon2Variant::Id => argon2::Algorithm::Argon2id,
            };
            let version = match version {
                0x13 => argon2::Version::V0x13,
                0x10 => argon2::Version::V0x10,
                v => {
                    return Err(MasterKeyError::InvalidKdf(format!(
                        "Argon2 version {v:#x} is unknown (0x13 or 0x10)"
                    )))
                }
            };
            let params = argon2::Params::new(*memory_kib, *iterations, *parallelism, Some(32))
                .map_err(|e| MasterKeyError::InvalidKdf(format!("Argon2 parameters (m={memory_kib} KiB, t={iterations}, p={parallelism}): {e}")))?;
            let mut out = SecretBytes::from_vec(vec![0u8; 32]);
            argon2::Argon2::new(algorithm, version, params)
                .hash_password_into(composite, salt, out.expose_mut())
                .map_err(|e| MasterKeyError::InvalidKdf(format!("Argon2: {e}")))?;
            Ok(out)
        }
    }
}

/// [`transform_key`] run through `ui`'s
/// [`SourceInteraction::key_derivation`](super::SourceInteraction::key_derivation) (a host
/// shows progress there), expected to take about `expected`; returns the key and how long the
/// KDF took.
pub fn transform_key_with(
    ui: &dyn super::SourceInteraction,
    composite: &SecretBytes,
    params: &KdfParams,
    expected: Option<Duration>,
) -> Result<(SecretBytes, Duration), MasterKeyError> {
    let mut out = None;
    let mut took = Duration::ZERO;
    ui.key_derivation(params, expected, &mut || {
        let start = Instant::now();
        out = Some(transform_key(composite, params));
        took = start.elapsed();
    });
    match out {
        Some(key) => Ok((key?, took)),
        // A host that did not run the derivation: run it here rather than fail.
        None => {
            let start = Instant::now();
            let key = transform_key(composite, params)?;
            Ok((key, start.elapsed()))
        }
    }
}

mod b64_array {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| D::Error::custom(format!("expected 32 bytes, got {}", b.len())))
    }
}

mod b64_vec {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(D::Error::custom)
    }
}
