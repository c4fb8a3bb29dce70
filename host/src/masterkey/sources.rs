//! From configured key sources to components: [`derive_components`] (unlock) and
//! [`enroll_components`] (create or change a master key).

use serde::{Deserialize, Serialize};
use trousseau_core::{
    abi::KeySourceBox, ComponentKind, DeriveContext, Interaction, SourceDescription,
};

use super::{Component, MasterKeyError};
use crate::plugins::Registry;

/// One key source of a master key, as stored with it: the provider id, the provider's
/// configuration (a JSON document) and the public parameters it returned at enrollment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// Provider id (`password`, `keyfile`, …).
    pub provider: String,
    /// The provider's configuration, a JSON document.
    pub config: String,
    /// Public parameters from enrollment (JSON chosen by the source; empty before enrollment).
    pub public_params: String,
}

impl SourceSpec {
    /// A source of `provider` with its default settings (`{}`), not enrolled yet.
    pub fn new(provider: &str) -> SourceSpec {
        SourceSpec::with_config(provider, "{}")
    }

    /// A source of `provider` with `config` (the provider's JSON settings), not enrolled yet.
    pub fn with_config(provider: &str, config: &str) -> SourceSpec {
        SourceSpec {
            provider: provider.to_string(),
            config: config.to_string(),
            public_params: String::new(),
        }
    }
}

/// The host's side of the dialogue with key sources: the [`Interaction`] each source gets,
/// chosen by the source's kind, so that an answer meant for one kind of source (a password
/// file the host was given answers the password source) is never handed to another one's
/// prompt (a token's PIN, where a wrong answer uses up attempts).
pub trait SourceInteraction {
    /// The interaction a source of `kind` talks to.
    fn for_source(&self, kind: ComponentKind) -> &dyn Interaction;

    /// Runs `derive`, a key derivation with `params` that is expected to take about
    /// `expected` (the time recorded when its slot was made, or the target a new slot was
    /// calibrated to; `None` when unknown), so that a host can show progress meanwhile. The
    /// default runs it and shows nothing. `derive` must be called exactly once.
    fn key_derivation(
        &self,
        params: &super::KdfParams,
        expected: Option<std::time::Duration>,
        derive: &mut dyn FnMut(),
    ) {
        let _ = (params, expected);
        derive();
    }
}

/// The same interaction for every source.
pub struct EverySource<'a>(pub &'a dyn Interaction);

impl std::fmt::Debug for EverySource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EverySource")
    }
}

impl SourceInteraction for EverySource<'_> {
    fn for_source(&self, _kind: ComponentKind) -> &dyn Interaction {
        self.0
    }
}

fn open(
    registry: &Registry,
    spec: &SourceSpec,
) -> Result<(KeySourceBox, SourceDescription), MasterKeyError> {
    let fail = |error| MasterKeyError::Source {
        label: format!("{} source", spec.provider),
        error,
    };
    let source = registry
        .key_source(&spec.provider, &spec.config)
        .map_err(fail)?;
    let description = source.describe().map_err(fail)?;
    Ok((source, description))
}

/// Asks every source for its component, with the stored public parameters and `challenge`
/// (the KDF seed, [`super::KdfParams::seed`]). `location` names what is being unlocked, for
/// prompts. The components come back in `specs` order; [`super::composite_key`] orders them.
pub fn derive_components(
    registry: &Registry,
    specs: &[SourceSpec],
    challenge: &[u8],
    ui: &dyn SourceInteraction,
    location: &str,
) -> Result<Vec<Component>, MasterKeyError> {
    specs
        .iter()
        .map(|spec| {
            let (source, d) = open(registry, spec)?;
            let ctx = DeriveContext::new(challenge, &spec.public_params, location);
            let bytes = source
                .derive(&ctx, ui.for_source(d.kind()))
                .map_err(|error| MasterKeyError::Source {
                    label: d.label().to_string(),
                    error,
                })?;
            Ok(Component {
                kind: d.kind(),
                flags: d.flags(),
                bytes,
            })
        })
        .collect()
}

/// Enrolls every source (creating material or binding to it, asking for confirmation where
/// the source prompts) and returns the components plus the specs with the public parameters
/// to store filled in.
pub fn enroll_components(
    registry: &Registry,
    specs: &[SourceSpec],
    challenge: &[u8],
    ui: &dyn SourceInteraction,
    location: &str,
) -> Result<(Vec<Component>, Vec<SourceSpec>), MasterKeyError> {
    let mut components = Vec::with_capacity(specs.len());
    let mut stored = Vec::with_capacity(specs.len());
    for spec in specs {
        let (source, d) = open(registry, spec)?;
        let ctx = DeriveContext::new(challenge, "", location);
        let enrollment = source
            .enroll(&ctx, ui.for_source(d.kind()))
            .map_err(|error| MasterKeyError::Source {
                label: d.label().to_string(),
                error,
            })?;
        let (bytes, public_params) = enrollment.into_parts();
        components.push(Component {
            kind: d.kind(),
            flags: d.flags(),
            bytes,
        });
        stored.push(SourceSpec {
            public_params,
            ..spec.clone()
        });
    }
    Ok((components, stored))
}
