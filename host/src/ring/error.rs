//! [`RingError`]: why a key ring could not be opened, created or given a slot, with a
//! structured [`Hint`] saying what would fix it, for a host to render in its own words (a
//! command-line tool as a command, a service as a log line).

use trousseau_core::{ErrorCode, ProviderKind};

use crate::{
    config::ConfigError,
    dataprotection::{timestamp::Timestamp, DataProtectionError},
    masterkey::MasterKeyError,
    plugins::RegistryError,
    policy::{PolicyConfigError, PolicyViolation},
};

/// What the operator can do about a [`RingError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Create the key ring (it does not exist yet).
    CreateRing,
    /// Declare the ring an ASP.NET Core (interop) ring, if every writer of the repository is
    /// trusted, or restore its slot elements from a backup.
    EnableInteropOrRestoreSlots,
    /// Replace the master key: the policy forces a change of the slot that opened the ring.
    ChangeMasterKey,
    /// Give this node its key sources (its unlock sources): they are never read from the ring.
    ConfigureUnlockSources,
    /// Give this node the sources of the slots that did not open, or drop those slots.
    UnlockOrDropSlots,
    /// List the installed providers (a source or repository named is not one of them).
    ListProviders,
    /// Choose a stronger password, or say explicitly that this weak one is wanted.
    StrongerPassword,
}

/// Why a key ring could not be opened, created or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RingError {
    /// There is no key ring in the repository, and the caller asked not to create one.
    #[error("there is no key ring yet in the {location}")]
    NoRing {
        /// Where the ring was looked for.
        location: String,
    },
    /// The repository holds keys but no master-key slot, and interop mode is off: trusting
    /// it would let whoever deleted the slots plant keys.
    #[error(
        "the {location} holds keys but no master-key slot: it is an ASP.NET Core ring, or its \
         slots were deleted. Keys without a master key are trusted only in interop mode"
    )]
    KeysWithoutSlots {
        /// Where the ring is.
        location: String,
    },
    /// The policy forces a change of the slot that opened the ring.
    #[error(
        "{why}: master-key slot {slot} ({label}) was created {created}; change the master key \
         (nothing else is allowed until then)"
    )]
    SlotExpired {
        /// The policy's reason.
        why: String,
        /// The slot.
        slot: uuid::Uuid,
        /// Its label.
        label: String,
        /// When it was made.
        created: Timestamp,
    },
    /// No slot of the ring opens with this node's sources.
    #[error("{}", .error.message())]
    NoSlotOpens {
        /// Which slots were tried and why each failed; the code says whether a key was wrong
        /// or sources were missing.
        error: trousseau_core::Error,
        /// Whether the node has no unlock sources at all.
        no_unlock_sources: bool,
    },
    /// A rotation would lose slots that cannot be opened on this node.
    #[error(
        "these slots cannot be opened here, so they cannot be re-wrapped: {}",
        .slots.join("; ")
    )]
    UnopenedSlots {
        /// Each slot with why it did not open.
        slots: Vec<String>,
    },
    /// A provider named by the configuration or the caller is not installed, or is not of
    /// the kind it is used as.
    #[error("{origin} {provider:?} is {}; available {}: {}", problem(.found, .wanted), plural(.wanted), list(.available))]
    Provider {
        /// Where it was named (`[[master_key.sources]]`, `[repository] provider`, …).
        origin: String,
        /// The provider id.
        provider: String,
        /// The kind of the provider of that id, if there is one (then not the kind wanted).
        found: Option<ProviderKind>,
        /// The kind wanted.
        wanted: ProviderKind,
        /// The installed providers of that kind.
        available: Vec<String>,
    },
    /// The repository could not be opened from its configuration.
    #[error("cannot open the {provider} repository: {error}")]
    Repository {
        /// The provider id.
        provider: String,
        /// What it said.
        error: trousseau_core::Error,
    },
    /// The new master key does not meet the policy.
    #[error(transparent)]
    Policy(#[from] PolicyViolation),
    /// The policy configuration is contradictory.
    #[error(transparent)]
    PolicyConfig(#[from] PolicyConfigError),
    /// The policy has password rules, but a password source's password cannot be read back
    /// to check it (a plugin password source that does not ask through the interaction).
    #[error(
        "the policy sets a minimum password length or quality, but the password of the \
         {provider} source cannot be read back to check it; use the built-in password source"
    )]
    PasswordUnchecked {
        /// The provider.
        provider: String,
    },
    /// A new password's estimated strength is under the floor and it was not confirmed
    /// ([`super::WeakPasswords`]).
    #[error(
        "the new password is {strength}{}; nothing was changed",
        if *.declined { " and its use was not confirmed" } else { ", and weak passwords are used only once confirmed, which cannot be asked here" }
    )]
    WeakPassword {
        /// The estimate, for people.
        strength: String,
        /// Whether the question was asked and answered no (else nobody could be asked, or
        /// the host refuses weak passwords).
        declined: bool,
    },
    /// The provider registry could not be built (a plugin directory named explicitly cannot
    /// be read).
    #[error(transparent)]
    Plugins(#[from] RegistryError),
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A master key could not be made (a source failed, the KDF parameters are invalid).
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The key ring or the repository failed.
    #[error(transparent)]
    DataProtection(#[from] DataProtectionError),
    /// The `[key_protection]` settings cannot be used (a certificate file that cannot be read,
    /// a private key that does not match, a password variable that is not set).
    #[error("[key_protection]: {0}")]
    KeyProtection(String),
}

impl RingError {
    /// What would fix it, if the engine knows; a host words it for its users.
    ///
    /// ```
    /// use trousseau::{Hint, MemoryRepository, Trousseau};
    ///
    /// let opened = Trousseau::builder()
    ///     .repository_in_process("memory", MemoryRepository::new())
    ///     .create_if_missing(false)
    ///     .build();
    /// if let Err(error) = opened {
    ///     let advice = match error.hint() {
    ///         Some(Hint::CreateRing) => "create the key ring first",
    ///         Some(Hint::ConfigureUnlockSources) => "configure this node's unlock sources",
    ///         _ => "see the message",
    ///     };
    ///     eprintln!("{error} ({advice})");
    ///     assert_eq!(error.hint(), Some(Hint::CreateRing));
    /// }
    /// ```
    pub fn hint(&self) -> Option<Hint> {
        match self {
            RingError::NoRing { .. } => Some(Hint::CreateRing),
            RingError::KeysWithoutSlots { .. } => Some(Hint::EnableInteropOrRestoreSlots),
            RingError::SlotExpired { .. } => Some(Hint::ChangeMasterKey),
            RingError::NoSlotOpens {
                error,
                no_unlock_sources: true,
            } if error.code() != ErrorCode::WrongKey => Some(Hint::ConfigureUnlockSources),
            RingError::Provider { .. } => Some(Hint::ListProviders),
            RingError::UnopenedSlots { .. } => Some(Hint::UnlockOrDropSlots),
            RingError::WeakPassword { .. } => Some(Hint::StrongerPassword),
            _ => None,
        }
    }

    /// Whether the operator's configuration is what must change (a provider that does not
    /// exist, a policy that contradicts itself, a provider refusing its settings), as opposed
    /// to an operation that failed.
    pub fn is_configuration(&self) -> bool {
        match self {
            RingError::Provider { .. }
            | RingError::PolicyConfig(_)
            | RingError::Config(_)
            | RingError::KeyProtection(_)
            | RingError::Plugins(_) => true,
            RingError::Repository { error, .. } => error.code() == ErrorCode::InvalidConfig,
            RingError::MasterKey(e) => e.code() == ErrorCode::InvalidConfig,
            RingError::DataProtection(DataProtectionError::Repository(e)) => {
                e.code() == ErrorCode::InvalidConfig
            }
            _ => false,
        }
    }
}

fn problem(found: &Option<ProviderKind>, wanted: &ProviderKind) -> String {
    match found {
        Some(kind) => format!("a {}, not a {}", kind.as_str(), wanted.as_str()),
        None => "unknown".to_string(),
    }
}

fn plural(kind: &ProviderKind) -> &'static str {
    match kind {
        ProviderKind::KeySource => "key sources",
        ProviderKind::Repository => "repositories",
    }
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_string()
    } else {
        ids.join(", ")
    }
}
