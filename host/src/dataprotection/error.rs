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
/// per-thread buffer refilled 4 KiB at a time: one system call per ~128 payloads instead of
/// one per payload. Never use it for secrets.
///
/// **Refill.** With AES-NI, the 4 KiB are the AES-256 counter-mode keystream of a fresh
/// 32-byte key read from the operating system for this refill alone and wiped after it: the
/// construction of NIST SP 800-90A's CTR_DRBG (as OpenSSL's `RAND_bytes`, which .NET uses for
/// these values on Linux), reseeded from the kernel every 4 KiB. Expanding 32 bytes with
/// AES-NI costs a fraction of what the kernel's generator spends on 4 KiB: protect of 64 bytes
/// took about 60 ns (4–5 %) less on a 2-core Xeon VM. Without AES-NI, the operating system
/// fills the 4 KiB itself.
///
/// **Fork safety.** A forked child starts with a copy of the forking thread's buffer; were it
/// served from, parent and child would hand out the same key modifiers and IVs. Each buffer
/// records the process's *fork generation* when filled, and a buffer of another generation is
/// dropped and refilled before use. The generation is a counter that a `pthread_atfork` child
/// handler (registered before any buffer is filled) increments in every child of `fork()`, so
/// the check on each call is one read of a word no thread writes. (Comparing a cached
/// `std::process::id()` instead would cost a `getpid` system call per call, about 120 ns here:
/// glibc no longer caches the pid.) Should registration fail, every call reads the operating
/// system directly. Processes made without `fork()` running the handlers (a raw `clone`,
/// `vfork`) must not draw from this pool before `exec`.
pub fn public_random_fill(buf: &mut [u8]) -> Result<()> {
    use std::cell::RefCell;
    const POOL: usize = 4096;
    struct Pool {
        bytes: Vec<u8>,
        used: usize,
        /// The fork generation the bytes were drawn in.
        generation: u64,
    }
    thread_local! {
        static POOL_BYTES: RefCell<Pool> = const {
            RefCell::new(Pool { bytes: Vec::new(), used: 0, generation: 0 })
        };
    }
    let Some(generation) = fork::generation() else {
        return random_fill(buf);
    };
    if buf.len() > POOL {
        return random_fill(buf);
    }
    POOL_BYTES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let pool = &mut *guard;
        if pool.bytes.len() != POOL || pool.generation != generation || pool.used + buf.len() > POOL
        {
            pool.bytes.resize(POOL, 0);
            refill(&mut pool.bytes)?;
            pool.used = 0;
            pool.generation = generation;
        }
        let taken = &mut pool.bytes[pool.used..pool.used + buf.len()];
        buf.copy_from_slice(taken);
        // Consumed bytes are erased so they cannot be handed out twice.
        taken.fill(0);
        pool.used += buf.len();
        Ok(())
    })
}

/// Refills a pool of [`public_random_fill`] (see its documentation).
fn refill(pool: &mut [u8]) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if let Some(ni) = crate::crypto::aes_ni::AesNi::detect() {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        random_fill(&mut key[..])?;
        ni.ctr_keystream(&key, pool);
        return Ok(());
    }
    random_fill(pool)
}

/// The fork generation of [`public_random_fill`]'s pools.
mod fork {
    use std::sync::atomic::{AtomicU64, Ordering};
    #[cfg(unix)]
    use std::sync::OnceLock;

    /// Incremented in the child of every `fork()`.
    static GENERATION: AtomicU64 = AtomicU64::new(0);

    /// The current fork generation, or `None` when forks cannot be detected (the pool must
    /// then not be used).
    #[cfg(unix)]
    pub(super) fn generation() -> Option<u64> {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        extern "C" fn in_child() {
            GENERATION.fetch_add(1, Ordering::Relaxed);
        }
        let registered = *REGISTERED.get_or_init(|| {
            // SAFETY: `pthread_atfork` only records the handler; the handler is a plain
            // `extern "C" fn` that performs one atomic add (async-signal-safe, no allocation,
            // no lock) and stays valid for the life of the process.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            rc == 0
        });
        // The forking thread is the only one in the child and runs the handler before fork
        // returns, so a relaxed load sees the increment.
        registered.then(|| GENERATION.load(Ordering::Relaxed))
    }

    /// No `fork()` here: the generation never changes.
    #[cfg(not(unix))]
    pub(super) fn generation() -> Option<u64> {
        Some(GENERATION.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::public_random_fill;

    /// Bytes drawn across several refills never repeat a 16-byte block (a refill that reused
    /// its key or its counter would).
    #[test]
    fn the_pool_never_repeats_across_refills() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 * 4096 / 32 {
            let mut piece = [0u8; 32];
            public_random_fill(&mut piece).unwrap();
            for half in piece.chunks_exact(16) {
                assert!(seen.insert(half.to_vec()), "a 16-byte block repeated");
            }
        }
    }

    /// A forked child never hands out the bytes its parent's pool still holds.
    #[cfg(unix)]
    #[test]
    fn a_forked_child_does_not_reuse_the_parents_pool() {
        // Fill this thread's pool: the next bytes the parent hands out are in memory, and a
        // child forked now starts with a copy of them.
        let mut first = [0u8; 16];
        public_random_fill(&mut first).unwrap();
        let mut fds = [0; 2];
        #[allow(unsafe_code)]
        // SAFETY: `fds` is an array of two ints, as `pipe` requires.
        let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
        assert_eq!(rc, 0, "pipe failed");
        #[allow(unsafe_code)]
        // SAFETY: the child only draws from the pool (no allocation: the pool's buffer exists),
        // writes to the pipe and leaves with `_exit`, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut drawn = [0u8; 32];
            let code = match public_random_fill(&mut drawn) {
                #[allow(unsafe_code)]
                // SAFETY: `drawn` is 32 readable bytes; the write end of the pipe is open.
                Ok(()) => unsafe {
                    let n = libc::write(fds[1], drawn.as_ptr().cast(), drawn.len());
                    if n == 32 {
                        0
                    } else {
                        2
                    }
                },
                Err(_) => 1,
            };
            #[allow(unsafe_code)]
            // SAFETY: ends the child at once, without running the parent's destructors.
            unsafe {
                libc::_exit(code)
            };
        }
        let mut parent = [0u8; 32];
        public_random_fill(&mut parent).unwrap();
        let mut child = [0u8; 32];
        #[allow(unsafe_code)]
        // SAFETY: reads at most 32 bytes into `child`; then closes our two descriptors and
        // reaps the child.
        let (read, status) = unsafe {
            libc::close(fds[1]);
            let n = libc::read(fds[0], child.as_mut_ptr().cast(), child.len());
            libc::close(fds[0]);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            (n, status)
        };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child failed to draw or write (status {status:#x})"
        );
        assert_eq!(read, 32);
        assert_ne!(child, [0u8; 32]);
        assert_ne!(
            parent, child,
            "the forked child handed out the parent's pooled bytes"
        );
        // The parent's own pool is untouched by the child's refill.
        let mut next = [0u8; 32];
        public_random_fill(&mut next).unwrap();
        assert_ne!(next, parent);
    }
}
