//! The key check value stored in a key-file source's public parameters.
//!
//! `check = hex(SHA-256("trousseau key check" || key)[0..4])`: 32 bits, enough to tell "this is
//! not the key file this master key was created with" apart from a wrong password, too short
//! to help anyone guess the key (the key itself has 256 bits of entropy).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const DOMAIN: &[u8] = b"trousseau key check";

/// The key check value of `key`: 8 lowercase hex characters.
pub fn key_check(key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(key);
    hex::encode(&h.finalize()[..4])
}

/// Whether `key` has the check value `expected` (constant-time, case-insensitive hex).
pub fn check_matches(key: &[u8], expected: &str) -> bool {
    let actual = key_check(key);
    actual
        .as_bytes()
        .ct_eq(expected.to_ascii_lowercase().as_bytes())
        .into()
}
