//! The passphrase-protected backup of the user key (what `trousseau user-account export`
//! writes by default): the key sealed with AES-256-GCM under a key derived from the passphrase
//! with Argon2id — the same two primitives a password slot of the key ring uses. A text file:
//!
//! ```text
//! trousseau user-account key v2 (passphrase)
//! kdf: argon2id v=19 m=65536 t=3 p=4
//! salt: <32 hex digits: 16 random bytes>
//! sealed: <184 hex digits: 12-byte nonce ‖ AES-256-GCM ciphertext of the 64-byte key ‖ 16-byte tag>
//! ```
//!
//! - The wrapping key is Argon2id (RFC 9106, version 0x13) of the passphrase's UTF-8 bytes
//!   with the salt, `m` KiB of memory, `t` passes and `p` lanes, 32 bytes of output. New
//!   backups use m = 64 MiB, t = 3, p = 4 (RFC 9106's second recommended option).
//! - The associated data of the seal is the first three lines exactly as written, each with
//!   its `\n`: changing the parameters or the salt makes the backup fail to open, as a wrong
//!   passphrase does.
//! - Reading refuses parameters above 1 GiB of memory, 16 passes or 16 lanes before running
//!   anything, so a file someone else made cannot stall the machine.
//!
//! The plain backup (the `key` module's `trousseau user-account key v1`, the key in hex) is still
//! read, and written only on explicit request.

use aes_gcm::{aead::AeadInOut, Aes256Gcm, KeyInit};
use argon2::{Algorithm, Argon2, Params, Version};
use trousseau_core::{Error, ErrorCode, Result, SecretBytes};
use zeroize::Zeroizing;

use crate::key::USER_KEY_LEN;

/// First line of a passphrase-protected backup.
const HEADER: &str = "trousseau user-account key v2 (passphrase)";
/// Argon2id memory of new backups, in KiB (64 MiB).
const MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes of new backups.
const PASSES: u32 = 3;
/// Argon2id lanes of new backups.
const LANES: u32 = 4;
/// The most memory a backup may ask for, in KiB (1 GiB).
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// The most passes or lanes a backup may ask for.
const MAX_PASSES_OR_LANES: u32 = 16;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Whether `bytes` is a passphrase-protected backup (by its first line).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER.as_bytes())
}

/// The backup text of `key` sealed under `passphrase`.
pub fn seal(key: &SecretBytes, passphrase: &[u8]) -> Result<SecretBytes> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut salt)
        .and_then(|()| getrandom::fill(&mut nonce))
        .map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("the operating system's random generator failed: {e}"),
            )
        })?;
    let kdf = Kdf {
        memory_kib: MEMORY_KIB,
        passes: PASSES,
        lanes: LANES,
    };
    let head = head(&kdf, &salt);
    let wrapping = kdf.derive(passphrase, &salt)?;
    let cipher = Aes256Gcm::new_from_slice(wrapping.as_slice()).map_err(internal)?;
    let nonce_array = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..]).map_err(internal)?;
    let mut sealed = SecretBytes::copy_from(key.expose());
    let tag = cipher
        .encrypt_inout_detached(&nonce_array, head.as_bytes(), sealed.expose_mut().into())
        .map_err(internal)?;
    let mut body = Zeroizing::new(Vec::with_capacity(NONCE_LEN + key.len() + TAG_LEN));
    body.extend_from_slice(&nonce);
    body.extend_from_slice(sealed.expose());
    body.extend_from_slice(&tag);
    let mut out = SecretBytes::copy_from(head.as_bytes());
    out.extend_from_slice(b"sealed: ");
    out.extend_from_slice(hex::encode(&body[..]).as_bytes());
    out.extend_from_slice(b"\n");
    Ok(out)
}

/// The user key in a backup written by [`seal`] (`what` names the file in errors). A wrong
/// passphrase, or a file changed since, is [`ErrorCode::WrongKey`]; a file that is not such a
/// backup, or asks for more work than allowed, is [`ErrorCode::InvalidInput`].
pub fn open(bytes: &[u8], passphrase: &[u8], what: &str) -> Result<SecretBytes> {
    let bad = |why: &str| {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{what} is not a passphrase-protected user-key backup ({why}); expected the \
                 file written by `trousseau user-account export`"
            ),
        )
    };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not text"))?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(bad("missing header line"));
    }
    let kdf = lines
        .next()
        .and_then(|l| l.strip_prefix("kdf: "))
        .ok_or_else(|| bad("no kdf line"))
        .and_then(|l| {
            Kdf::parse(l).ok_or_else(|| bad("the kdf line is not argon2id v=19 m=… t=… p=…"))
        })?;
    if kdf.memory_kib > MAX_MEMORY_KIB
        || kdf.passes > MAX_PASSES_OR_LANES
        || kdf.lanes > MAX_PASSES_OR_LANES
    {
        return Err(bad(&format!(
            "it asks for Argon2id with {} KiB, {} passes and {} lanes, more than the {} KiB, {} \
             passes and {} lanes allowed",
            kdf.memory_kib,
            kdf.passes,
            kdf.lanes,
            MAX_MEMORY_KIB,
            MAX_PASSES_OR_LANES,
            MAX_PASSES_OR_LANES
        )));
    }
    let salt = lines
        .next()
        .and_then(|l| l.strip_prefix("salt: "))
        .and_then(|h| hex::decode(h.trim()).ok())
        .filter(|s| s.len() == SALT_LEN)
        .ok_or_else(|| bad("the salt line is not 32 hex digits"))?;
    let body = lines
        .next()
        .and_then(|l| l.strip_prefix("sealed: "))
        .and_then(|h| hex::decode(h.trim()).ok())
        .map(Zeroizing::new)
        .filter(|b| b.len() == NONCE_LEN + USER_KEY_LEN + TAG_LEN)
        .ok_or_else(|| bad("the sealed line is not the sealed key in hex"))?;
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(bad("unexpected extra lines"));
    }
    let head = head(&kdf, &salt);
    let wrapping = kdf.derive(passphrase, &salt)?;
    let cipher = Aes256Gcm::new_from_slice(wrapping.as_slice()).map_err(internal)?;
    let (nonce, rest) = body.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(USER_KEY_LEN);
    let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(nonce).map_err(internal)?;
    let tag = aes_gcm::aead::Tag::<Aes256Gcm>::try_from(tag).map_err(internal)?;
    let mut key = SecretBytes::copy_from(ciphertext);
    cipher
        .decrypt_inout_detached(&nonce, head.as_bytes(), key.expose_mut().into(), &tag)
        .map_err(|_| {
            Error::new(
                ErrorCode::WrongKey,
                format!(
                    "the passphrase does not open {what} (a wrong passphrase, or the file was \
                     changed); nothing was written — try again with the passphrase given to \
                     `trousseau user-account export`"
                ),
            )
        })?;
    Ok(key)
}

/// The Argon2id parameters of a backup.
struct Kdf {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl Kdf {
    /// Reads `argon2id v=19 m=65536 t=3 p=4`.
    fn parse(line: &str) -> Option<Kdf> {
        let mut parts = line.split_whitespace();
        if parts.next() != Some("argon2id") || parts.next() != Some("v=19") {
            return None;
        }
        let mut number = |name: &str| parts.next()?.strip_prefix(name)?.parse::<u32>().ok();
        let kdf = Kdf {
            memory_kib: number("m=")?,
            passes: number("t=")?,
            lanes: number("p=")?,
        };
        parts.next().is_none().then_some(kdf)
    }

    /// The 32-byte wrapping key for `passphrase` and `salt`.
    fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params =
            Params::new(self.memory_kib, self.passes, self.lanes, Some(32)).map_err(|e| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("the backup's Argon2id parameters are not valid: {e}"),
                )
            })?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, out.as_mut_slice())
            .map_err(internal)?;
        Ok(out)
    }
}

/// The first three lines (the associated data of the seal).
fn head(kdf: &Kdf, salt: &[u8]) -> String {
    format!(
        "{HEADER}\nkdf: argon2id v=19 m={} t={} p={}\nsalt: {}\n",
        kdf.memory_kib,
        kdf.passes,
        kdf.lanes,
        hex::encode(salt)
    )
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Internal,
        format!("sealing the user key failed: {e}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sealed_backup_opens_with_its_passphrase_only() {
        let key = crate::key::generate().unwrap();
        let text = seal(&key, b"correct horse").unwrap();
        assert!(is_sealed(text.expose()));
        let shown = std::str::from_utf8(text.expose()).unwrap();
        assert!(!shown.contains(&hex::encode(key.expose())));
        assert!(shown.starts_with(
            "trousseau user-account key v2 (passphrase)\nkdf: argon2id v=19 m=65536 t=3 p=4\nsalt: "
        ));
        let back = open(text.expose(), b"correct horse", "f").unwrap();
        assert!(back.ct_eq(key.expose()));
        let wrong = open(text.expose(), b"wrong horse", "f").unwrap_err();
        assert_eq!(wrong.code(), ErrorCode::WrongKey);
        // The parameters are bound: lowering them fails like a wrong passphrase.
        let altered = shown.replace("t=3", "t=2");
        assert_eq!(
            open(altered.as_bytes(), b"correct horse", "f")
                .unwrap_err()
                .code(),
            ErrorCode::WrongKey
        );
    }

    #[test]
    fn a_backup_asking_for_too_much_work_is_refused_before_running() {
        let key = crate::key::generate().unwrap();
        let text = seal(&key, b"p").unwrap();
        let shown = std::str::from_utf8(text.expose()).unwrap();
        let greedy = shown.replace("m=65536", "m=4194304");
        let e = open(greedy.as_bytes(), b"p", "f").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.to_string().contains("more than"), "{e}");
        let e = open(
            b"trousseau user-account key v2 (passphrase)\nkdf: x\n",
            b"p",
            "f",
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput);
    }
}
