//! Which key sources a node's slots are made of, and checks that named providers exist.

use trousseau_core::ProviderKind;

use super::RingError;
use crate::{masterkey::SourceSpec, plugins::Registry};

/// The provider the zero-configuration default uses when it is installed.
pub const USER_ACCOUNT: &str = "user-account";
/// The fallback of the zero-configuration default.
pub const PASSWORD: &str = "password";

/// The zero-configuration sources of a new ring: `user-account` when that key source is
/// installed (no prompt, bound to this account), else `password`.
pub fn default_sources(registry: &Registry) -> Vec<SourceSpec> {
    let user_account = registry
        .provider(USER_ACCOUNT)
        .is_some_and(|p| p.kind() == ProviderKind::KeySource);
    vec![SourceSpec::new(if user_account {
        USER_ACCOUNT
    } else {
        PASSWORD
    })]
}

/// Checks that `id` names a provider of `kind` in the registry; otherwise an error saying
/// where it was named (`origin`, e.g. `[[master_key.sources]]:` or `[repository] provider`,
/// written just before the id) and what is available.
pub fn check_provider(
    registry: &Registry,
    id: &str,
    kind: ProviderKind,
    origin: &str,
) -> Result<(), RingError> {
    match registry.provider(id) {
        Some(p) if p.kind() == kind => Ok(()),
        found => Err(RingError::Provider {
            origin: origin.to_string(),
            provider: id.to_string(),
            found: found.map(|p| p.kind()),
            wanted: kind,
            available: registry
                .providers()
                .filter(|p| p.kind() == kind)
                .map(|p| p.id().to_string())
                .collect(),
        }),
    }
}

/// Checks that every spec names an installed key source (see [`check_provider`]).
pub fn check_key_sources(
    registry: &Registry,
    specs: &[SourceSpec],
    origin: &str,
) -> Result<(), RingError> {
    specs
        .iter()
        .try_for_each(|s| check_provider(registry, &s.provider, ProviderKind::KeySource, origin))
}
