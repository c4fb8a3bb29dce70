//! [`SecretBytes`]: the zeroizing, ABI-stable buffer in which secrets cross the plugin boundary.

use std::fmt;

use abi_stable::{std_types::RVec, StableAbi};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Secret bytes (a key component, a password, a PIN) that may cross the plugin boundary.
///
/// - The buffer is wiped when dropped, and before any reallocation it causes.
/// - `Debug` shows the length only, never the bytes.
/// - Equality is constant-time in the contents (it does reveal the length).
/// - There is no `Deref`: reading the bytes takes an explicit [`SecretBytes::expose`].
#[repr(transparent)]
#[derive(StableAbi)]
pub struct SecretBytes {
    bytes: RVec<u8>,
}

impl SecretBytes {
    /// An empty buffer.
    pub fn new() -> Self {
        SecretBytes { bytes: RVec::new() }
    }

    /// An empty buffer that can hold `capacity` bytes without reallocating.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBytes {
            bytes: RVec::with_capacity(capacity),
        }
    }

    /// Takes ownership of `bytes` without copying them.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        SecretBytes {
            bytes: RVec::from(bytes),
        }
    }

    /// Copies `bytes` into a new buffer of exactly that size.
    pub fn copy_from(bytes: &[u8]) -> Self {
        let mut s = SecretBytes::with_capacity(bytes.len());
        s.bytes.extend_from_slice(bytes);
        s
    }

    /// The secret bytes. Keep the borrow short and do not copy them into unmanaged memory.
    pub fn expose(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Mutable access to the secret bytes (for in-place derivation).
    pub fn expose_mut(&mut self) -> &mut [u8] {
        self.bytes.as_mut_slice()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends `more`. When the buffer must grow, the old allocation is wiped before it is freed.
    pub fn extend_from_slice(&mut self, more: &[u8]) {
        let needed = self.bytes.len() + more.len();
        if needed > self.bytes.capacity() {
            let mut grown = RVec::with_capacity(needed.max(2 * self.bytes.capacity()));
            grown.extend_from_slice(self.bytes.as_slice());
            std::mem::swap(&mut grown, &mut self.bytes);
            wipe_rvec(&mut grown);
        }
        self.bytes.extend_from_slice(more);
    }

    /// Overwrites every byte of the allocation, including spare capacity, with zeros and
    /// empties the buffer. `Drop` calls this.
    pub fn wipe(&mut self) {
        wipe_rvec(&mut self.bytes);
    }

    /// Constant-time comparison of the contents.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.expose().ct_eq(other).into()
    }
}

fn wipe_rvec(v: &mut RVec<u8>) {
    // Zero the initialised part, then grow to full capacity with zeros so that the spare
    // capacity (which may hold bytes from earlier truncations) is overwritten as well.
    v.as_mut_slice().zeroize();
    let cap = v.capacity();
    v.clear();
    v.resize(cap, 0);
    v.as_mut_slice().zeroize();
    v.clear();
}

impl Default for SecretBytes {
    fn default() -> Self {
        SecretBytes::new()
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Clone for SecretBytes {
    fn clone(&self) -> Self {
        SecretBytes::copy_from(self.expose())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose())
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.len())
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes::from_vec(bytes)
    }
}

impl zeroize::ZeroizeOnDrop for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_bytes() {
        let s = SecretBytes::copy_from(b"hunter2-\x01\x02");
        let shown = format!("{s:?} {s:#?}");
        assert_eq!(
            shown,
            "SecretBytes(<10 bytes redacted>) SecretBytes(<10 bytes redacted>)"
        );
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("104")); // 'h' as a decimal byte
    }

    #[test]
    fn wipe_zeroes_the_whole_allocation() {
        let mut s = SecretBytes::with_capacity(16);
        s.extend_from_slice(b"0123456789");
        s.wipe();
        assert!(s.is_empty());
        // After wiping, the full capacity reads as zeros (spare capacity was overwritten too).
        let raw = unsafe_free_view(&s.bytes);
        assert!(
            raw.iter().all(|&b| b == 0),
            "spare capacity not wiped: {raw:?}"
        );
    }

    // Reads the allocation of `v` up to its capacity. Sound here: every byte of the allocation
    // was initialised by `wipe` (it resizes to capacity before clearing).
    #[allow(unsafe_code)]
    fn unsafe_free_view(v: &RVec<u8>) -> Vec<u8> {
        // SAFETY: the allocation is `capacity` bytes long and fully initialised (see above).
        unsafe { std::slice::from_raw_parts(v.as_ptr(), v.capacity()).to_vec() }
    }

    #[test]
    fn equality_and_ct_eq() {
        let a = SecretBytes::copy_from(b"abc");
        assert_eq!(a, a.clone());
        assert!(a.ct_eq(b"abc"));
        assert!(!a.ct_eq(b"abd"));
        assert!(!a.ct_eq(b"ab"));
    }

    #[test]
    fn growth_keeps_contents() {
        let mut s = SecretBytes::new();
        for i in 0..100u8 {
            s.extend_from_slice(&[i]);
        }
        assert_eq!(s.expose(), (0..100u8).collect::<Vec<_>>().as_slice());
    }
}
