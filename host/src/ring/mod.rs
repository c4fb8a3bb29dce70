//! A node's key ring, opened and created the way this node is configured: the repository, the
//! master-key slots and which of them this node may try (its unlock sources), the composite key
//! and KDF under ceilings, unwrapping the ring's wrapping key W, creating the ring exactly once
//! when processes race, the policy new slots must meet, and slot expiry.
//!
//! [`RingOpener`] does all of it from a [`Registry`](crate::plugins::Registry) and
//! [`RingSettings`]; [`crate::Trousseau`] wraps it for applications. Prompts go only through
//! the host's [`SourceInteraction`](crate::masterkey::SourceInteraction). Errors are
//! [`RingError`], with a [`Hint`] a host renders in its own words.

mod enrollment;
mod error;
mod key_protection;
mod opener;
mod recovery;
mod sources;

pub use enrollment::WeakPasswords;
pub use error::{Hint, RingError};
pub use key_protection::{configured_key_protection, key_protection};
pub use opener::{
    inspect, location, CreatedRing, Creation, Expired, IfMissing, OpenedRing, RingOpener,
    RingSettings, RotationReport, SlotSecret,
};
pub use recovery::{RecoveryKey, RecoveryKeyError};

#[cfg(all(test, feature = "password"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
pub use sources::{check_key_sources, check_provider, default_sources, PASSWORD, USER_ACCOUNT};
