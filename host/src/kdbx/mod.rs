//! Reading just enough of a KeePass database (KDBX 3.1 and 4.x) to check a master key against
//! it: the header, the database's own KDF parameters, and the integrity value that proves a
//! key right (KDBX 4: the header HMAC; KDBX 3.1: the stream start bytes). Entries are never
//! decrypted.

mod header;
mod variant;
mod verify;

pub use header::{parse_header, Cipher, KdbxHeader};
pub use verify::{verify_key, Verdict};

/// Why a database could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum KdbxError {
    /// Not a KeePass database, a truncated or damaged header.
    #[error("{0}")]
    Corrupt(String),
    /// A database feature we do not read (unknown KDF or cipher, Argon2 secret key…).
    #[error("{0}")]
    Unsupported(String),
    /// The KDF parameters are unusable.
    #[error(transparent)]
    MasterKey(#[from] crate::masterkey::MasterKeyError),
}
