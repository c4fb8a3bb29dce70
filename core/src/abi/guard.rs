//! Panic containment and the adapters between the plain Rust traits and the ABI objects.
//!
//! A panic that unwinds into an `extern "C"` frame aborts the process (abi_stable turns it into
//! `exit(1)`). Every call that crosses the boundary, in either direction, therefore runs inside
//! [`guard`], which turns a panic into an [`ErrorCode::Internal`] error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::{
    sabi_trait::TD_Opaque,
    sabi_types::RRef,
    std_types::{RResult, RSlice, RStr, RString},
};

use super::traits::{
    InteractionAbi, InteractionAbi_TO, InteractionRef, KeySourceAbi, RepositoryAbi,
};
use crate::{
    DeriveContext, Element, Enrollment, Error, ErrorCode, Interaction, KeySource, MessageLevel,
    Repository, RepositoryDescription, SecretBytes, Snapshot, SourceDescription,
};

/// Runs `f`, turning a panic into an `internal` error that names `origin: method`. The label is
/// only formatted when a panic happens: this runs on every call across the boundary.
pub(crate) fn guard<T>(
    origin: &str,
    method: &str,
    f: impl FnOnce() -> Result<T, Error>,
) -> RResult<T, Error> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            RResult::RErr(Error::new(
                ErrorCode::Internal,
                format!("{origin}: {method} panicked: {detail}"),
            ))
        }
    }
}

/// A provider's key source behind the ABI, every method guarded.
pub(crate) struct GuardedSource {
    pub(crate) inner: Box<dyn KeySource>,
    pub(crate) origin: &'static str,
}

impl KeySourceAbi for GuardedSource {
    fn describe(&self) -> RResult<SourceDescription, Error> {
        guard(self.origin, "describe", || Ok(self.inner.describe()))
    }

    fn enroll<'a>(
        &self,
        ctx: &DeriveContext,
        ui: InteractionRef<'a>,
    ) -> RResult<Enrollment, Error> {
        guard(self.origin, "enroll", || self.inner.enroll(ctx, &ui))
    }

    fn derive<'a>(
        &self,
        ctx: &DeriveContext,
        ui: InteractionRef<'a>,
    ) -> RResult<SecretBytes, Error> {
        guard(self.origin, "derive", || self.inner.derive(ctx, &ui))
    }
}

/// A provider's repository behind the ABI, every method guarded.
pub(crate) struct GuardedRepository {
    pub(crate) inner: Box<dyn Repository>,
    pub(crate) origin: &'static str,
}

impl RepositoryAbi for GuardedRepository {
    fn describe(&self) -> RResult<RepositoryDescription, Error> {
        guard(self.origin, "describe", || Ok(self.inner.describe()))
    }

    fn load(&self) -> RResult<Snapshot, Error> {
        guard(self.origin, "load", || self.inner.load())
    }

    fn store(&self, element: &Element) -> RResult<(), Error> {
        guard(self.origin, "store", || self.inner.store(element))
    }

    fn delete<'a>(&self, names: RSlice<'a, RString>) -> RResult<(), Error> {
        guard(self.origin, "delete", || {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            self.inner.delete(&names)
        })
    }

    fn store_conditional<'a>(
        &self,
        expected_version: RStr<'a>,
        elements: RSlice<'a, Element>,
    ) -> RResult<RString, Error> {
        guard(self.origin, "store_conditional", || {
            self.inner
                .store_conditional(expected_version.as_str(), elements.as_slice())
                .map(RString::from)
        })
    }
}

/// The host's interaction behind the ABI, every method guarded.
struct GuardedInteraction<'a>(&'a dyn Interaction);

impl InteractionAbi for GuardedInteraction<'_> {
    fn message(&self, level: MessageLevel, text: RStr<'_>) {
        // A panicking message sink loses the message, nothing else.
        let _ = guard("host interaction", "message", || {
            self.0.message(level, text.as_str());
            Ok(())
        });
    }

    fn request_secret(&self, prompt: RStr<'_>, confirm: bool) -> RResult<SecretBytes, Error> {
        guard("host interaction", "request_secret", || {
            self.0.request_secret(prompt.as_str(), confirm)
        })
    }

    fn request_value(&self, prompt: RStr<'_>) -> RResult<RString, Error> {
        guard("host interaction", "request_value", || {
            self.0.request_value(prompt.as_str()).map(RString::from)
        })
    }

    fn confirm(&self, question: RStr<'_>, default: bool) -> RResult<bool, Error> {
        guard("host interaction", "confirm", || {
            self.0.confirm(question.as_str(), default)
        })
    }
}

/// Calls `f` with the host's `ui` turned into an ABI object.
pub(crate) fn with_interaction<R>(
    ui: &dyn Interaction,
    f: impl FnOnce(InteractionRef<'_>) -> R,
) -> R {
    let guarded = GuardedInteraction(ui);
    f(InteractionAbi_TO::from_ptr(RRef::new(&guarded), TD_Opaque))
}

/// The plugin's view of the host's interaction.
impl Interaction for InteractionRef<'_> {
    fn message(&self, level: MessageLevel, text: &str) {
        InteractionAbi::message(self, level, RStr::from(text));
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        InteractionAbi::request_secret(self, RStr::from(prompt), confirm).into_result()
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        InteractionAbi::request_value(self, RStr::from(prompt))
            .into_result()
            .map(RString::into_string)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        InteractionAbi::confirm(self, RStr::from(question), default).into_result()
    }
}
