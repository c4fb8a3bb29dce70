//! The `#[sabi_trait]` objects that cross the boundary. Provider code never sees them: it
//! implements the plain Rust traits, and [`super::guard`] adapts.

// The sabi_trait macro expands to items that trip these lints on current rustc (see
// docs/plugin-abi.md); they are in generated code, not ours.
#![allow(
    non_local_definitions,
    unused_braces,
    non_camel_case_types,
    missing_docs
)]
#![allow(clippy::needless_lifetimes)]

use abi_stable::{
    sabi_trait,
    sabi_types::RRef,
    std_types::{RBox, RResult, RSlice, RStr, RString},
};

use crate::{
    DeriveContext, Element, Enrollment, Error, MessageLevel, RepositoryDescription, SecretBytes,
    Snapshot, SourceDescription,
};

/// The host's [`crate::Interaction`] as it crosses the boundary.
#[sabi_trait]
pub trait InteractionAbi {
    fn message(&self, level: MessageLevel, text: RStr<'_>);
    fn request_secret(&self, prompt: RStr<'_>, confirm: bool) -> RResult<SecretBytes, Error>;
    fn request_value(&self, prompt: RStr<'_>) -> RResult<RString, Error>;
    #[sabi(last_prefix_field)]
    fn confirm(&self, question: RStr<'_>, default: bool) -> RResult<bool, Error>;
}

/// A borrowed host interaction, passed into key-source calls.
pub type InteractionRef<'a> = InteractionAbi_TO<'a, RRef<'a, ()>>;

/// A [`crate::KeySource`] as it crosses the boundary.
#[sabi_trait]
pub trait KeySourceAbi: Send + Sync {
    fn describe(&self) -> RResult<SourceDescription, Error>;
    fn enroll<'a>(&self, ctx: &DeriveContext, ui: InteractionRef<'a>)
        -> RResult<Enrollment, Error>;
    #[sabi(last_prefix_field)]
    fn derive<'a>(
        &self,
        ctx: &DeriveContext,
        ui: InteractionRef<'a>,
    ) -> RResult<SecretBytes, Error>;
}

/// An owned key source object.
pub type KeySourceObject = KeySourceAbi_TO<'static, RBox<()>>;

/// A [`crate::Repository`] as it crosses the boundary.
#[sabi_trait]
pub trait RepositoryAbi: Send + Sync {
    fn describe(&self) -> RResult<RepositoryDescription, Error>;
    fn load(&self) -> RResult<Snapshot, Error>;
    fn store(&self, element: &Element) -> RResult<(), Error>;
    fn delete<'a>(&self, names: RSlice<'a, RString>) -> RResult<(), Error>;
    #[sabi(last_prefix_field)]
    fn store_conditional<'a>(
        &self,
        expected_version: RStr<'a>,
        elements: RSlice<'a, Element>,
    ) -> RResult<RString, Error>;
}

/// An owned repository object.
pub type RepositoryObject = RepositoryAbi_TO<'static, RBox<()>>;
