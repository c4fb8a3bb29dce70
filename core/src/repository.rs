//! Key-ring repositories: providers that store opaque XML elements by friendly name.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};

use crate::Error;

/// One stored element: its friendly name (e.g. `key-{guid}`) and its XML text.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Element {
    name: RString,
    xml: RString,
}

impl Element {
    /// An element with a friendly name and XML text.
    pub fn new(name: impl Into<String>, xml: impl Into<String>) -> Self {
        Element {
            name: RString::from(name.into()),
            xml: RString::from(xml.into()),
        }
    }

    /// The friendly name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The XML text of the element.
    pub fn xml(&self) -> &str {
        self.xml.as_str()
    }
}

/// Every element of a repository, read at one moment, with an opaque version token.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    elements: RVec<Element>,
    version: RString,
}

impl Snapshot {
    /// A snapshot. `version` changes whenever the stored elements change (an ETag, a listing
    /// digest, a counter); repositories without conditional store may leave it empty.
    pub fn new(elements: Vec<Element>, version: impl Into<String>) -> Self {
        Snapshot {
            elements: RVec::from(elements),
            version: RString::from(version.into()),
        }
    }

    /// The elements, in the repository's order.
    pub fn elements(&self) -> &[Element] {
        self.elements.as_slice()
    }

    /// The version token.
    pub fn version(&self) -> &str {
        self.version.as_str()
    }

    /// Takes the elements out.
    pub fn into_elements(self) -> Vec<Element> {
        self.elements.into_vec()
    }
}

/// Optional capabilities a repository reports.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// Only load and store.
    pub const NONE: Capabilities = Capabilities(0);
    /// [`Repository::delete`] works.
    pub const DELETE: Capabilities = Capabilities(1);
    /// [`Repository::store_conditional`] works.
    pub const CONDITIONAL_STORE: Capabilities = Capabilities(1 << 1);

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Capabilities from raw bits.
    pub const fn from_bits(bits: u32) -> Self {
        Capabilities(bits)
    }

    /// Whether every capability in `other` is present.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets.
    #[must_use]
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Capabilities) -> Capabilities {
        self.union(rhs)
    }
}

/// What a repository says about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct RepositoryDescription {
    provider_id: RString,
    location: RString,
    capabilities: Capabilities,
}

impl RepositoryDescription {
    /// A description: provider id, a human location (a path, a URL without password, a
    /// container name) and capabilities.
    pub fn new(
        provider_id: impl Into<String>,
        location: impl Into<String>,
        capabilities: Capabilities,
    ) -> Self {
        RepositoryDescription {
            provider_id: RString::from(provider_id.into()),
            location: RString::from(location.into()),
            capabilities,
        }
    }

    /// The id of the provider that made this repository.
    pub fn provider_id(&self) -> &str {
        self.provider_id.as_str()
    }

    /// Where the elements live, for messages (never contains credentials).
    pub fn location(&self) -> &str {
        self.location.as_str()
    }

    /// The optional capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}

/// A key-ring repository, as a provider author implements it.
///
/// A panic in a method is caught at the plugin boundary and reported as
/// [`crate::ErrorCode::Internal`].
pub trait Repository: Send + Sync {
    /// Describes the repository (cheap, no I/O).
    fn describe(&self) -> RepositoryDescription;

    /// Reads every element with the current version token.
    fn load(&self) -> Result<Snapshot, Error>;

    /// Stores one element, replacing none: friendly names are unique by construction (ASP.NET
    /// semantics). The write is atomic: readers see the whole element or nothing.
    fn store(&self, element: &Element) -> Result<(), Error>;

    /// Deletes the named elements. Repositories without [`Capabilities::DELETE`] return
    /// [`crate::ErrorCode::Unsupported`].
    fn delete(&self, names: &[String]) -> Result<(), Error> {
        let _ = names;
        Err(Error::new(
            crate::ErrorCode::Unsupported,
            format!(
                "the {} repository cannot delete elements",
                self.describe().provider_id()
            ),
        ))
    }

    /// Stores `elements` only if the repository's version is still `expected_version` (from
    /// [`Repository::load`]); otherwise fails with [`crate::ErrorCode::Conflict`] and stores
    /// nothing. Returns the new version token. Repositories without
    /// [`Capabilities::CONDITIONAL_STORE`] return [`crate::ErrorCode::Unsupported`].
    fn store_conditional(
        &self,
        expected_version: &str,
        elements: &[Element],
    ) -> Result<String, Error> {
        let _ = (expected_version, elements);
        Err(Error::new(
            crate::ErrorCode::Unsupported,
            format!(
                "the {} repository has no conditional store",
                self.describe().provider_id()
            ),
        ))
    }
}
