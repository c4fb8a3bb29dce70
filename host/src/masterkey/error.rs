//! [`MasterKeyError`]: why a master key could not be made.

use trousseau_core::ErrorCode;

/// Why a master key could not be derived or composed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// A key source failed (wrong key, missing file, no PIN…); `error` keeps its code.
    #[error("{label}: {error}")]
    Source {
        /// Which source (provider id or label).
        label: String,
        /// What it said.
        error: trousseau_core::Error,
    },
    /// No components at all: a master key needs at least one key source.
    #[error("a master key needs at least one key source (password, key file, …)")]
    NoComponents,
    /// The components cannot be combined (an exclusive source with others, two user accounts,
    /// an empty component).
    #[error("{0}")]
    Composition(String),
    /// The KDF parameters are invalid or unsupported.
    #[error("invalid KDF parameters: {0}")]
    InvalidKdf(String),
    /// This node's settings for the KDF of new slots cannot work (an unlock time out of range,
    /// ceilings under the floor).
    #[error("{0}")]
    KdfSettings(String),
}

impl MasterKeyError {
    /// The closest [`ErrorCode`], for hosts that branch on codes.
    pub fn code(&self) -> ErrorCode {
        match self {
            MasterKeyError::Source { error, .. } => error.code(),
            MasterKeyError::NoComponents
            | MasterKeyError::Composition(_)
            | MasterKeyError::KdfSettings(_) => ErrorCode::InvalidConfig,
            MasterKeyError::InvalidKdf(_) => ErrorCode::CorruptData,
        }
    }
}

impl From<MasterKeyError> for trousseau_core::Error {
    fn from(e: MasterKeyError) -> Self {
        trousseau_core::Error::new(e.code(), e.to_string())
    }
}
