//! Interim key-encryption-key derivation for password slots: KeePass-style composite
//! (`SHA-256(SHA-256(password))`) stretched with Argon2id. The slot records the sources and
//! KDF parameters as JSON so that the composite-key module (`masterkey`, issue 3) can take over
//! this derivation without changing the slot format.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trousseau_core::SecretBytes;

use super::error::{random_fill, DataProtectionError, Result};

/// KDF parameters stored in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Always `argon2id` here.
    pub name: String,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Base64 seed (salt), 32 random bytes.
    pub seed: String,
}

impl KdfParams {
    /// Defaults (64 MiB, 3 passes, 2 lanes) with a fresh seed.
    pub fn new_default() -> Result<Self> {
        let mut seed = [0u8; 32];
        random_fill(&mut seed)?;
        Ok(KdfParams {
            name: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 2,
            seed: base64::engine::general_purpose::STANDARD.encode(seed),
        })
    }
}

/// The `sources` JSON of a password slot.
pub const PASSWORD_SOURCES: &str =
    r#"[{"provider":"password","config":"{}","public_params":"{}"}]"#;

/// Derives the 32-byte KEK from a password and the slot's KDF JSON.
pub fn password_kek(password: &SecretBytes, kdf_json: &str) -> Result<SecretBytes> {
    let p: KdfParams = serde_json::from_str(kdf_json).map_err(|e| {
        DataProtectionError::InvalidInput(format!("the slot's KDF parameters are unreadable: {e}"))
    })?;
    if p.name != "argon2id" {
        return Err(DataProtectionError::InvalidInput(format!(
            "KDF {} is not supported yet",
            p.name
        )));
    }
    let seed = base64::engine::general_purpose::STANDARD
        .decode(&p.seed)
        .map_err(|e| {
            DataProtectionError::InvalidInput(format!("the slot's KDF seed is not base64: {e}"))
        })?;
    let inner = Sha256::digest(password.expose());
    let composite = SecretBytes::copy_from(&Sha256::digest(inner));
    let params =
        argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, Some(32)).map_err(|e| {
            DataProtectionError::InvalidInput(format!(
                "the slot's Argon2 parameters are invalid: {e}"
            ))
        })?;
    let mut out = SecretBytes::from_vec(vec![0u8; 32]);
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(composite.expose(), &seed, out.expose_mut())
        .map_err(|e| DataProtectionError::InvalidInput(format!("Argon2 failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_password_same_kek_other_password_differs() {
        let mut p = KdfParams::new_default().unwrap();
        p.memory_kib = 64;
        p.iterations = 1;
        let json = serde_json::to_string(&p).unwrap();
        let a = password_kek(&SecretBytes::copy_from(b"pw"), &json).unwrap();
        assert_eq!(
            a,
            password_kek(&SecretBytes::copy_from(b"pw"), &json).unwrap()
        );
        assert_ne!(
            a,
            password_kek(&SecretBytes::copy_from(b"pw2"), &json).unwrap()
        );
        assert!(password_kek(&SecretBytes::copy_from(b"pw"), "{}").is_err());
    }
}
