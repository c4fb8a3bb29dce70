//! Errors of the data-protection layer.

use uuid::Uuid;

/// Why a protect/unprotect or key-ring operation failed. Every message says what was wrong
/// and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataProtectionError {
    /// The text is not unpadded base64url.
    #[error("the protected payload is not valid base64url ({0}); pass the text exactly as it was produced")]
    Base64(String),
    /// The payload is larger than the configured limit.
    #[error("the payload is {size} bytes, over the limit of {limit} bytes; raise data_protection.max_payload_size if this is expected")]
    TooLarge {
        /// The size met.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Fewer bytes than the smallest valid payload.
    #[error("the protected payload is truncated ({0} bytes is too short); it was cut when copied")]
    Truncated(usize),
    /// The payload does not start with the Data Protection magic header.
    #[error("the payload is not a Data Protection payload (bad magic header)")]
    BadMagic,
    /// The payload was made by a newer format version.
    #[error("the payload was made by a newer Data Protection version ({0}); upgrade trousseau")]
    NewerVersion(u8),
    /// The key id in the payload is not in the key ring.
    #[error("the key {0} was not found in the key ring; the payload was made with another key ring (check the repository and the application name) or the key was deleted")]
    UnknownKey(Uuid),
    /// The payload's key was revoked.
    #[error("the key {0} was revoked; the payload can no longer be trusted (pass the option to ignore revocation only to migrate data)")]
    RevokedKey(Uuid),
    /// The MAC did not verify: the purposes or application name differ, or the payload was altered.
    #[error("the payload does not verify with key {key} for application name {application:?} and purposes {purposes:?}: it was made for another application name or purpose chain, or it was altered")]
    InvalidPayload {
        /// The key the payload names.
        key: Uuid,
        /// The first purpose (the application name).
        application: String,
        /// The other purposes.
        purposes: Vec<String>,
    },
    /// A time-limited payload is past its expiration.
    #[error("the payload expired at {0}")]
    Expired(String),
    /// The key ring has no usable default key.
    #[error("{0}")]
    NoDefaultKey(String),
    /// Key XML could not be read.
    #[error("invalid key ring XML: {0}")]
    Xml(String),
    /// The key ring's contents are inconsistent.
    #[error("invalid key ring: {0}")]
    KeyRing(String),
    /// A key's secret cannot be used (unknown algorithm, encrypted with an unknown decryptor).
    #[error("key {key} cannot be used: {reason}")]
    KeyUnusable {
        /// The key.
        key: Uuid,
        /// Why.
        reason: String,
    },
    /// No master-key slot opens (the message lists the slots tried and why); the code says
    /// whether a key was wrong or sources were missing.
    #[error("{}", .0.message())]
    NoSlotOpens(trousseau_core::Error),
    /// The repository failed.
    #[error("key ring repository: {0}")]
    Repository(#[from] trousseau_core::Error),
    /// The system random generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// A caller-supplied argument is invalid.
    #[error("{0}")]
    InvalidInput(String),
}

/// Shorthand.
pub type Result<T, E = DataProtectionError> = std::result::Result<T, E>;

/// Fills `buf` from the operating system's random generator.
pub fn random_fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| DataProtectionError::Random(e.to_string()))
}

/// Fills `buf` with random bytes that become public (key modifiers, IVs, nonces), from a
/// per-thread buffer refilled from the operating system 4 KiB at a time: one system call per
/// ~128 payloads instead of one per payload. Never use it for secrets.
pub fn public_random_fill(buf: &mut [u8]) -> Result<()> {
    use std::cell::RefCell;
    const POOL: usize = 4096;
    thread_local! {
        static POOL_BYTES: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
    }
    if buf.len() > POOL {
        return random_fill(buf);
    }
    POOL_BYTES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (pool, used) = &mut *guard;
        if pool.len() != POOL || *used + buf.len() > POOL {
            pool.resize(POOL, 0);
            random_fill(pool)?;
            *used = 0;
        }
        let taken = &mut pool[*used..*used + buf.len()];
        buf.copy_from_slice(taken);
        // Consumed bytes are erased so they cannot be handed out twice.
        taken.fill(0);
        *used += buf.len();
        Ok(())
    })
}
