//! Host-facing handles over the ABI objects, with plain Rust signatures.

use abi_stable::std_types::{RSlice, RStr, RString};

use super::{
    guard::with_interaction,
    traits::{KeySourceObject, RepositoryObject},
};
use crate::{
    DeriveContext, Element, Enrollment, Error, Interaction, RepositoryDescription, SecretBytes,
    Snapshot, SourceDescription,
};

/// A key source instantiated by the host, from a built-in or a dynamic plugin alike.
pub struct KeySourceBox {
    object: KeySourceObject,
}

impl KeySourceBox {
    /// Wraps an ABI object.
    pub fn new(object: KeySourceObject) -> Self {
        KeySourceBox { object }
    }

    /// See [`crate::KeySource::describe`].
    pub fn describe(&self) -> Result<SourceDescription, Error> {
        self.object.describe().into_result()
    }

    /// See [`crate::KeySource::enroll`].
    pub fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error> {
        with_interaction(ui, |ui| self.object.enroll(ctx, ui).into_result())
    }

    /// See [`crate::KeySource::derive`].
    pub fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        with_interaction(ui, |ui| self.object.derive(ctx, ui).into_result())
    }
}

impl std::fmt::Debug for KeySourceBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySourceBox")
    }
}

/// A repository instantiated by the host, from a built-in or a dynamic plugin alike.
pub struct RepositoryBox {
    object: RepositoryObject,
}

impl RepositoryBox {
    /// Wraps an ABI object.
    pub fn new(object: RepositoryObject) -> Self {
        RepositoryBox { object }
    }

    /// Wraps a repository written in the host's own process (no plugin, no registry), guarded
    /// like every provider: a panic in it becomes an [`crate::ErrorCode::Internal`] error
    /// naming `origin`.
    pub fn in_process(origin: &'static str, repository: Box<dyn crate::Repository>) -> Self {
        RepositoryBox::new(super::module::repository_object(origin, repository))
    }

    /// See [`crate::Repository::describe`].
    pub fn describe(&self) -> Result<RepositoryDescription, Error> {
        self.object.describe().into_result()
    }

    /// See [`crate::Repository::load`].
    pub fn load(&self) -> Result<Snapshot, Error> {
        self.object.load().into_result()
    }

    /// See [`crate::Repository::store`].
    pub fn store(&self, element: &Element) -> Result<(), Error> {
        self.object.store(element).into_result()
    }

    /// See [`crate::Repository::delete`].
    pub fn delete(&self, names: &[String]) -> Result<(), Error> {
        let names: Vec<RString> = names.iter().map(|n| RString::from(n.as_str())).collect();
        self.object.delete(RSlice::from_slice(&names)).into_result()
    }

    /// See [`crate::Repository::store_conditional`].
    pub fn store_conditional(
        &self,
        expected_version: &str,
        elements: &[Element],
    ) -> Result<String, Error> {
        self.object
            .store_conditional(RStr::from(expected_version), RSlice::from_slice(elements))
            .into_result()
            .map(RString::into_string)
    }
}

impl std::fmt::Debug for RepositoryBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RepositoryBox")
    }
}
