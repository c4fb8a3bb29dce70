//! ASP.NET Core-compatible data protection: payload format, subkey derivation, encryptors,
//! key ring model and XML, key manager, and the protector.

pub mod algorithms;
pub mod at_rest;
mod binding;
pub mod decryptors;
pub mod dpapi;
pub(crate) mod encryptor;
pub mod error;
pub(crate) mod kdf;
pub mod keyring;
pub mod keyxml;
pub mod manager;
pub mod payload;
pub mod protector;
pub mod refresh;
pub mod rotation;
pub mod slots;
pub mod timestamp;
pub mod unlock;
pub mod wrapping;
#[cfg(feature = "certificate-keys")]
pub mod xmlenc;
pub mod xmltree;

pub use error::{DataProtectionError, Result};
pub use protector::{DataProtector, KeyRingSource, TimeLimitedProtector, Unprotected};
pub use refresh::RingGuard;
