//! The composite master key, KeePass-compatible: components from key sources, their
//! composition, and the key-derivation functions.
//!
//! ```text
//! specs ──derive_components──▶ Vec<Component> ──composite_key──▶ 32 B ──transform_key(KdfParams)──▶ 32 B
//! ```
//!
//! - [`derive_components`] / [`enroll_components`] instantiate each [`SourceSpec`] through the
//!   provider [`Registry`](crate::plugins::Registry) and ask it for its component; the
//!   challenge handed to challenge-response sources is [`KdfParams::seed`] (KeePassXC).
//! - [`composite_key`] puts the components in KeePass order (password, key file or provider,
//!   user account, challenge-response last) and returns SHA-256 of their concatenation:
//!   exactly KeePass 2.x's `CompositeKey.CreateRawCompositeKey32` and KeePassXC's
//!   `CompositeKey::rawKey`.
//! - [`transform_key`] runs the KDF: AES-KDF (KDBX 3.1/4) or Argon2d/Argon2id (KDBX 4).
//!   Parameters and seed are stored with the master key ([`KdfParams`] is serde-serializable,
//!   byte fields as Base64); the key never is.

mod aes_kdf;
mod calibration;
mod composite;
mod error;
mod kdf;
mod sources;

pub use calibration::{
    unlock_time, Argon2Speed, FLOOR_ITERATIONS, FLOOR_MEMORY_KIB, MAX_UNLOCK_TIME,
};
pub use composite::{composite_key, Component};
pub use error::MasterKeyError;
pub use kdf::{transform_key, transform_key_with, Argon2Variant, KdfLimits, KdfParams};
pub use sources::{
    derive_components, enroll_components, EverySource, SourceInteraction, SourceSpec,
};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
