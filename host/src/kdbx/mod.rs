//! Reading just enough of a KeePass database (KDBX 3.1 and 4.x) to check a master key against
//! it: the header, the database's own KDF parameters, and the integrity value that proves a
//! key right (KDBX 4: the header HMAC; KDBX 3.1: the stream start bytes). Entries are never
//! decrypted. [`verify_database`] is the whole check with key sources.

mod database;
mod header;
mod variant;
mod verify;

pub use database::{
    keepass_sources, verify_database, verify_header, ChallengeResponseSecret, KdfRunner,
    NoProgress, Verification, CHALLENGE_RESPONSE_RECOVERY,
};
pub use header::{parse_header, Cipher, KdbxHeader};
pub use verify::{verify_key, Verdict};

/// Why a database could not be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KdbxError {
    /// The database file cannot be opened or read (missing, not a regular file, I/O).
    #[error(transparent)]
    Read(trousseau_core::Error),
    /// Not a KeePass database, a truncated or damaged header.
    #[error("{0}")]
    Corrupt(String),
    /// A database feature we do not read (unknown KDF or cipher, Argon2 secret key…).
    #[error("{0}")]
    Unsupported(String),
    /// The KDF parameters are unusable.
    #[error(transparent)]
    MasterKey(#[from] crate::masterkey::MasterKeyError),
    /// The composite key could not be made: a key source failed (missing key file, no
    /// password given, …), the components do not compose, or the KDF failed.
    #[error(transparent)]
    Key(crate::masterkey::MasterKeyError),
}
