//! The user key itself: generation, its public check value, and the backup text format.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trousseau_core::{Error, ErrorCode, Result, SecretBytes};
use zeroize::Zeroizing;

/// Length of a user key: 64 random bytes, used raw as KeePass's `KcpUserAccount` does.
pub const USER_KEY_LEN: usize = 64;

/// First line of an exported backup.
const BACKUP_HEADER: &str = "trousseau user-account key v1";

/// A fresh random user key.
pub fn generate() -> Result<SecretBytes> {
    let mut key = SecretBytes::copy_from(&[0u8; USER_KEY_LEN]);
    getrandom::fill(key.expose_mut()).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("the operating system's random generator failed: {e}"),
        )
    })?;
    Ok(key)
}

/// Checks the length of a key read from `location`.
pub fn validate(key: SecretBytes, location: &str) -> Result<SecretBytes> {
    if key.len() == USER_KEY_LEN {
        return Ok(key);
    }
    Err(Error::new(
        ErrorCode::CorruptData,
        format!(
            "the user key at {location} is {} bytes long, expected {USER_KEY_LEN} (truncated or \
             damaged); nothing was changed — restore it with `trousseau user-account import BACKUP`",
            key.len()
        ),
    ))
}

/// A public check value of the key (16 hex digits of a domain-separated SHA-256), stored in the
/// public parameters so that a different user key is told apart from a wrong password.
pub fn check_value(key: &SecretBytes) -> String {
    let mut h = Sha256::new();
    h.update(b"trousseau user-account check value\0");
    h.update(key.expose());
    hex::encode(&h.finalize()[..8])
}

/// Whether `key` has the check value `expected` (constant-time).
pub fn matches_check_value(key: &SecretBytes, expected: &str) -> bool {
    check_value(key)
        .as_bytes()
        .ct_eq(expected.to_ascii_lowercase().as_bytes())
        .into()
}

/// The backup text: a header line and the key in hex.
pub fn encode_backup(key: &SecretBytes) -> SecretBytes {
    let hex = Zeroizing::new(hex::encode(key.expose()));
    let mut out = SecretBytes::with_capacity(BACKUP_HEADER.len() + hex.len() + 2);
    out.extend_from_slice(BACKUP_HEADER.as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(hex.as_bytes());
    out.extend_from_slice(b"\n");
    out
}

/// Reads a backup: the text written by [`encode_backup`], or the raw 64 key bytes.
pub fn decode_backup(bytes: &[u8], what: &str) -> Result<SecretBytes> {
    if bytes.len() == USER_KEY_LEN && !bytes.starts_with(BACKUP_HEADER.as_bytes()) {
        return Ok(SecretBytes::copy_from(bytes));
    }
    let bad = |why: &str| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{what} is not a user-key backup ({why}); expected the file written by \
                 `trousseau user-account export` or the raw {USER_KEY_LEN} key bytes"
            ),
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not text"))?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(BACKUP_HEADER) {
        return Err(bad("missing header line"));
    }
    let body = lines.next().ok_or_else(|| bad("no key line"))?;
    if lines.next().is_some() {
        return Err(bad("unexpected extra lines"));
    }
    let raw = Zeroizing::new(hex::decode(body).map_err(|_| bad("the key line is not hex"))?);
    if raw.len() != USER_KEY_LEN {
        return Err(bad("the key has the wrong length"));
    }
    Ok(SecretBytes::copy_from(&raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backup_round_trips_and_rejects_damage() {
        let key = generate().unwrap();
        let text = encode_backup(&key);
        let back = decode_backup(text.expose(), "f").unwrap();
        assert!(back.ct_eq(key.expose()));
        let mut cut = text.expose().to_vec();
        cut.truncate(cut.len() - 5);
        assert_eq!(
            decode_backup(&cut, "f").unwrap_err().code(),
            ErrorCode::InvalidInput
        );
        let raw = decode_backup(key.expose(), "f").unwrap();
        assert!(raw.ct_eq(key.expose()));
    }

    #[test]
    fn check_value_tells_keys_apart() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(matches_check_value(&a, &check_value(&a)));
        assert!(!matches_check_value(&b, &check_value(&a)));
        assert_eq!(check_value(&a).len(), 16);
    }
}
