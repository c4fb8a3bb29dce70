//! Key sources: providers that yield one component of a composite master key.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::{Error, Interaction, SecretBytes};

/// What kind of component a key source yields. Decides its place in the composite key
/// (KeePass order: password, key file or provider, user account, challenge-response last)
/// and how its bytes are combined.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    /// A password: the component is SHA-256 of its UTF-8 bytes.
    Password = 1,
    /// A key file: the component is the file's 32-byte key (KeePass key-file rules).
    KeyFile = 2,
    /// A custom key provider (KeePass `KeyProvider`): the component is hashed with SHA-256
    /// unless the source declares [`SourceFlags::DIRECT_KEY`].
    Provider = 3,
    /// The OS user account: a per-user random key, used raw (64 bytes in KeePass).
    UserAccount = 4,
    /// Challenge-response (hardware token): answers the KDF seed; responses are combined
    /// as KeePassXC does and appended last.
    ChallengeResponse = 5,
}

impl ComponentKind {
    /// A short stable name (`password`, `key-file`, `provider`, `user-account`,
    /// `challenge-response`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Password => "password",
            ComponentKind::KeyFile => "key-file",
            ComponentKind::Provider => "provider",
            ComponentKind::UserAccount => "user-account",
            ComponentKind::ChallengeResponse => "challenge-response",
        }
    }
}

/// Capability flags of a key source, modelled on KeePass's `KeyProvider` properties.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceFlags(u32);

impl SourceFlags {
    /// No flags.
    pub const NONE: SourceFlags = SourceFlags(0);
    /// The component is used as is instead of being hashed (KeePass `DirectKey`).
    pub const DIRECT_KEY: SourceFlags = SourceFlags(1);
    /// The source cannot be combined with any other source (KeePass `Exclusive`).
    pub const EXCLUSIVE: SourceFlags = SourceFlags(1 << 1);
    /// Deriving may ask the user something through [`Interaction`].
    pub const MIGHT_PROMPT: SourceFlags = SourceFlags(1 << 2);
    /// The component depends on a hardware device.
    pub const HARDWARE: SourceFlags = SourceFlags(1 << 3);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Flags from raw bits (unknown bits are kept, so newer flags survive a round trip).
    pub const fn from_bits(bits: u32) -> Self {
        SourceFlags(bits)
    }

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: SourceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn union(self, other: SourceFlags) -> SourceFlags {
        SourceFlags(self.0 | other.0)
    }
}

impl std::ops::BitOr for SourceFlags {
    type Output = SourceFlags;
    fn bitor(self, rhs: SourceFlags) -> SourceFlags {
        self.union(rhs)
    }
}

/// What a key source says about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct SourceDescription {
    provider_id: RString,
    kind: ComponentKind,
    flags: SourceFlags,
    label: RString,
}

impl SourceDescription {
    /// A description: the provider id, the component kind, flags and a human label
    /// (e.g. `key file /home/a/x.keyx`; never secret).
    pub fn new(
        provider_id: impl Into<String>,
        kind: ComponentKind,
        flags: SourceFlags,
        label: impl Into<String>,
    ) -> Self {
        SourceDescription {
            provider_id: RString::from(provider_id.into()),
            kind,
            flags,
            label: RString::from(label.into()),
        }
    }

    /// The id of the provider that made this source.
    pub fn provider_id(&self) -> &str {
        self.provider_id.as_str()
    }

    /// The component kind.
    pub fn kind(&self) -> ComponentKind {
        self.kind
    }

    /// The capability flags.
    pub fn flags(&self) -> SourceFlags {
        self.flags
    }

    /// A human label for messages and listings.
    pub fn label(&self) -> &str {
        self.label.as_str()
    }
}

/// What the host tells a key source when asking for its component.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct DeriveContext {
    challenge: RVec<u8>,
    public_params: RString,
    location: RString,
}

impl DeriveContext {
    /// A context with the challenge (the KDF seed, for challenge-response sources), the public
    /// parameters the source returned at enrollment (empty when enrolling) and a human label
    /// of what is being unlocked.
    pub fn new(challenge: &[u8], public_params: &str, location: &str) -> Self {
        DeriveContext {
            challenge: RVec::from(challenge),
            public_params: RString::from(public_params),
            location: RString::from(location),
        }
    }

    /// The challenge: the KDF seed of the master key (KeePassXC challenge-response semantics).
    pub fn challenge(&self) -> &[u8] {
        self.challenge.as_slice()
    }

    /// The public parameters stored at enrollment (a JSON document chosen by the source), or
    /// an empty string when enrolling.
    ///
    /// **Untrusted input.** They come from the key ring, which parties without the master key
    /// may be able to write, and they are handed over *before* anything is authenticated (the
    /// slot is checked only once the derived key opens it). Use them to select within what
    /// the source's own configuration names (a key label, a check value); never to locate a
    /// file, a device, a library or a program to run — those come only from the node's
    /// configuration, which the host passes as the source's config.
    pub fn public_params(&self) -> &str {
        self.public_params.as_str()
    }

    /// What is being unlocked, for prompts (e.g. `key ring /var/lib/app/keys`).
    pub fn location(&self) -> &str {
        self.location.as_str()
    }
}

/// What enrollment yields: the component, and public parameters for the host to store with
/// the master key and hand back in [`DeriveContext::public_params`].
#[repr(C)]
#[derive(StableAbi, Debug)]
pub struct Enrollment {
    component: SecretBytes,
    public_params: RString,
}

impl Enrollment {
    /// An enrollment result. `public_params` must not contain secrets; use `"{}"` or `""` when
    /// there are none.
    pub fn new(component: SecretBytes, public_params: impl Into<String>) -> Self {
        Enrollment {
            component,
            public_params: RString::from(public_params.into()),
        }
    }

    /// The component.
    pub fn component(&self) -> &SecretBytes {
        &self.component
    }

    /// The public parameters.
    pub fn public_params(&self) -> &str {
        self.public_params.as_str()
    }

    /// Splits into the component and the public parameters.
    pub fn into_parts(self) -> (SecretBytes, String) {
        (self.component, self.public_params.into_string())
    }
}

/// A key source, as a provider author implements it.
///
/// Implementations must not touch the terminal: every question goes through `ui`. A panic in a
/// method is caught at the plugin boundary and reported as [`crate::ErrorCode::Internal`].
pub trait KeySource: Send + Sync {
    /// Describes the source (cheap, no I/O).
    fn describe(&self) -> SourceDescription;

    /// Creates new material (or binds to existing material) and returns the component plus
    /// public parameters to store.
    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error>;

    /// Returns the component, given the public parameters stored at enrollment and the
    /// challenge.
    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes, Error>;
}
