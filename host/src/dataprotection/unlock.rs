//! Opening an encrypted ring on this node: which slots to try, with which sources, and W.
//!
//! Nothing a slot says is acted on before the slot is authenticated, except what is bounded by
//! design:
//! - **Where the sources are** (a key file's path, a token's module, a command's argv, a PIN
//!   file) comes only from this node's own configuration: its *unlock sources*
//!   (`[[master_key.sources]]`, [`crate::Builder::unlock_with`], or what the host's user
//!   named). A slot source whose recorded configuration is empty (`{}`: the provider's local
//!   defaults, e.g. `password` or `user-account`) may be used as recorded; any other recorded
//!   configuration is shown to people but never used.
//!   Hints are deliberately not supported: even an admitted file of known content (a
//!   world-readable system file) would let a ring writer build a slot whose key they know.
//! - **Which sources make a slot** must equal the node's unlock sources when it has some (a
//!   ring writer who learnt one factor cannot plant a slot made of that factor alone). A node
//!   without unlock sources tries slots made only of settings-free sources.
//! - **The KDF** is checked against [`KdfLimits`] before it runs.
//! - At most [`MAX_SLOTS_TRIED`] slots are tried, and only those of the ring's current
//!   rotation generation ([`slots::current`]); those that need no prompt first, then the
//!   cheapest KDF first, so that planted slots cannot run expensive KDFs before the real one.
//!
//! The public parameters a slot recorded (a key-file check value, a token's key label) are
//! handed to the sources: they select nothing outside what the node configured, and the slot's
//! authentication covers them once W opens.

use trousseau_core::{ErrorCode, ProviderKind, SecretBytes, SourceFlags};

use super::{
    error::{DataProtectionError, Result},
    keyxml::ParsedElements,
    slots::{self, describe, Slot},
    wrapping::{RingWrappingKey, REWRAPPED},
};
use crate::{
    masterkey::{self, KdfLimits, MasterKeyError, SourceInteraction, SourceSpec},
    plugins::Registry,
};

/// Most slots tried in one opening (each may cost a KDF run and a prompt).
pub const MAX_SLOTS_TRIED: usize = 8;

/// Why the key-encryption key of a slot could not be rebuilt.
#[derive(Debug)]
pub enum SlotFailure {
    /// The slot is not for this node, or its sources are not available here (the text says
    /// why); the slot is not tried.
    Unavailable(String),
    /// A source failed (wrong key file, no terminal to ask on, …); the code is kept.
    Source(trousseau_core::Error),
}

/// How a slot's sources are matched with the node's unlock sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Composition {
    /// Opening W: the slot must be made of exactly the node's unlock sources.
    Exact,
    /// Re-wrapping a slot with a W already open (a rotation): each source takes its settings
    /// from the node's unlock source of the same provider; the unwrapped key proves the slot.
    ByProvider,
}

/// A ring opened through one of its slots.
#[derive(Debug)]
pub struct Opened {
    /// W, with the rotation's re-wrapped secrets of its generation.
    pub w: RingWrappingKey,
    /// The slot that opened it.
    pub slot: Slot,
    /// That slot's key-encryption key (to re-wrap it in a rotation).
    pub kek: SecretBytes,
}

/// Opens slots on this node: the registry that makes sources, the node's unlock sources, its
/// KDF ceilings, and where the ring is (for prompts).
#[derive(Debug)]
pub struct Unlocker<'a> {
    registry: &'a Registry,
    local: &'a [SourceSpec],
    limits: KdfLimits,
    location: String,
}

/// Whether a recorded configuration names nothing (the provider's local defaults).
fn settings_free(config: &str) -> bool {
    let text = config.trim();
    text.is_empty()
        || serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .is_ok_and(|m| m.is_empty())
}

fn sorted_providers(specs: &[SourceSpec]) -> Vec<&str> {
    let mut v: Vec<&str> = specs.iter().map(|s| s.provider.as_str()).collect();
    v.sort_unstable();
    v
}

impl<'a> Unlocker<'a> {
    /// An unlocker. `local` are the node's unlock sources (empty: none configured).
    pub fn new(
        registry: &'a Registry,
        local: &'a [SourceSpec],
        limits: KdfLimits,
        location: impl Into<String>,
    ) -> Self {
        Unlocker {
            registry,
            local,
            limits,
            location: location.into(),
        }
    }

    /// The sources to rebuild `slot`'s key with on this node: the slot's providers and public
    /// parameters, each with this node's settings; or why the slot is not for this node.
    pub fn sources_for(
        &self,
        slot: &Slot,
        composition: Composition,
    ) -> Result<Vec<SourceSpec>, SlotFailure> {
        if composition == Composition::Exact
            && !self.local.is_empty()
            && sorted_providers(&slot.sources) != sorted_providers(self.local)
        {
            return Err(SlotFailure::Unavailable(format!(
                "made of {}, while this node unlocks with {} (its [[master_key.sources]] or the \
                 command line)",
                slot.describe_sources(),
                describe(self.local)
            )));
        }
        let mut out = Vec::with_capacity(slot.sources.len());
        for (i, recorded) in slot.sources.iter().enumerate() {
            let nth = slot.sources[..i]
                .iter()
                .filter(|s| s.provider == recorded.provider)
                .count();
            let mine = self
                .local
                .iter()
                .filter(|s| s.provider == recorded.provider)
                .nth(nth);
            let config = match mine {
                Some(m) => m.config.clone(),
                None if settings_free(&recorded.config) => recorded.config.clone(),
                None => {
                    return Err(SlotFailure::Unavailable(format!(
                        "its {p} source was enrolled with settings ({}) that are taken only from \
                         this node's own configuration, never from the key ring: give them in \
                         [[master_key.sources]] or on the command line ({p}:KEY=VALUE,…)",
                        recorded.config,
                        p = recorded.provider
                    )))
                }
            };
            if self
                .registry
                .provider(&recorded.provider)
                .is_none_or(|p| p.kind() != ProviderKind::KeySource)
            {
                return Err(SlotFailure::Unavailable(format!(
                    "key source {} is not installed",
                    recorded.provider
                )));
            }
            out.push(SourceSpec {
                provider: recorded.provider.clone(),
                config,
                public_params: recorded.public_params.clone(),
            });
        }
        Ok(out)
    }

    /// Whether any source of `specs` may prompt (such slots are tried last).
    fn may_prompt(&self, specs: &[SourceSpec]) -> bool {
        specs.iter().any(|s| {
            self.registry
                .key_source(&s.provider, &s.config)
                .and_then(|k| k.describe())
                .is_ok_and(|d| d.flags().contains(SourceFlags::MIGHT_PROMPT))
        })
    }

    /// Rebuilds the key-encryption key of `slot` from this node's sources (asking through
    /// `ui`), after checking its KDF against the ceilings.
    pub fn kek(
        &self,
        slot: &Slot,
        composition: Composition,
        ui: &dyn SourceInteraction,
    ) -> Result<SecretBytes, SlotFailure> {
        let specs = self.sources_for(slot, composition)?;
        self.kek_from(slot, &specs, ui)
    }

    fn kek_from(
        &self,
        slot: &Slot,
        specs: &[SourceSpec],
        ui: &dyn SourceInteraction,
    ) -> Result<SecretBytes, SlotFailure> {
        if let Err(why) = self.limits.check(&slot.kdf) {
            tracing::warn!(
                "skipping master-key slot {} ({}): {why}",
                slot.id,
                slot.label
            );
            return Err(SlotFailure::Unavailable(format!(
                "{why}; if you made this slot, raise the ceiling in this node's configuration"
            )));
        }
        let source_error = |e: MasterKeyError| SlotFailure::Source(e.into());
        let components =
            masterkey::derive_components(self.registry, specs, slot.kdf.seed(), ui, &self.location)
                .map_err(source_error)?;
        let composite = masterkey::composite_key(components).map_err(source_error)?;
        masterkey::transform_key_with(ui, &composite, &slot.kdf, slot.unlock_time)
            .map(|(kek, _)| kek)
            .map_err(source_error)
    }

    /// Opens W through the first slot of the current generation that this node's sources open
    /// (those that need no prompt first), with the rotation's re-wrapped secrets of that
    /// generation taken in.
    pub fn open(&self, parsed: &ParsedElements, ui: &dyn SourceInteraction) -> Result<Opened> {
        let live = slots::current(&slots::slots(parsed));
        if live.is_empty() {
            return Err(DataProtectionError::KeyRing(
                "the key ring has no readable master-key slot".into(),
            ));
        }
        let mut candidates = Vec::new();
        let mut tried = Vec::new();
        for slot in live {
            match self.sources_for(&slot, Composition::Exact) {
                Ok(specs) => candidates.push((self.may_prompt(&specs), slot, specs)),
                Err(why) => tried.push(format!(
                    "slot {} ({}): {}",
                    slot.id,
                    slot.label,
                    failure_text(&why)
                )),
            }
        }
        // No prompt first, then the cheapest KDF: a planted slot costs at most one KDF run of
        // the legitimate slot's price before the legitimate slot is tried.
        candidates.sort_by_key(|(prompts, slot, _)| (*prompts, slot.kdf.work_estimate()));
        if candidates.len() > MAX_SLOTS_TRIED {
            tracing::warn!(
                "the key ring has {} master-key slots for this node's sources; only the first \
                 {MAX_SLOTS_TRIED} are tried (remove slots nobody uses)",
                candidates.len()
            );
            candidates.truncate(MAX_SLOTS_TRIED);
        }
        let mut code = None;
        for (_, slot, specs) in candidates {
            let why = match self.kek_from(&slot, &specs, ui) {
                Ok(kek) => match slot.unwrap_with(&kek) {
                    Some(mut w) => {
                        if slot.version == 1 {
                            tracing::warn!(
                                "master-key slot {} predates authenticated slots; run `trousseau \
                                 master-key rotate` to rewrite the ring",
                                slot.id
                            );
                        }
                        w.adopt_rewrapped(
                            parsed
                                .other
                                .iter()
                                .map(|(_, e)| e)
                                .filter(|e| e.local_name() == REWRAPPED),
                        );
                        return Ok(Opened { w, slot, kek });
                    }
                    None => {
                        code = Some(ErrorCode::WrongKey);
                        "wrong key (its sources gave a key that does not open it, or the slot \
                         was altered)"
                            .to_string()
                    }
                },
                Err(e) => {
                    if let SlotFailure::Source(e) = &e {
                        if e.code() == ErrorCode::WrongKey || code.is_none() {
                            code = Some(e.code());
                        }
                    }
                    failure_text(&e)
                }
            };
            tried.push(format!("slot {} ({}): {why}", slot.id, slot.label));
        }
        Err(DataProtectionError::NoSlotOpens(
            trousseau_core::Error::new(
                code.unwrap_or(ErrorCode::NotFound),
                format!(
                    "no master-key slot opens with this node's key sources; tried: {}",
                    tried.join("; ")
                ),
            ),
        ))
    }
}

/// Why a slot did not open, for the error that lists every slot tried.
fn failure_text(why: &SlotFailure) -> String {
    match why {
        SlotFailure::Unavailable(why) => format!("not used: {why}"),
        SlotFailure::Source(e) if e.code() == ErrorCode::WrongKey => {
            format!("wrong key: {}", e.message())
        }
        SlotFailure::Source(e) => e.message().to_string(),
    }
}
