//! [`RingOpener`]: opening a node's key ring (repository, master-key slots, composite key, KDF,
//! unwrapping W, key manager), creating it once when processes race to make it, and making new
//! slots under the policy.

use std::{sync::Arc, time::Duration};

use trousseau_core::{abi::RepositoryBox, ErrorCode, SecretBytes};
use uuid::Uuid;

use super::{enrollment, sources, RingError, WeakPasswords};
use crate::{
    dataprotection::{
        at_rest::{KeyEncryption, PlainKeys},
        keyxml::ParsedElements,
        manager::{KeyManagementOptions, KeyManager},
        rotation::{self, Rotated},
        slots::{self, Slot},
        timestamp::Timestamp,
        unlock::{Composition, Opened, SlotFailure, Unlocker},
        wrapping::RingWrappingKey,
        DataProtectionError,
    },
    masterkey::{self, Argon2Variant, KdfLimits, KdfParams, SourceInteraction, SourceSpec},
    plugins::Registry,
    policy::{ExpiryStatus, Policy},
};

/// How a node opens, creates and changes its key ring.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RingSettings {
    /// Key lifetime, automatic generation, algorithm of new keys.
    pub options: KeyManagementOptions,
    /// Interop mode: keys are written unencrypted, exactly as ASP.NET Core on Linux does, and
    /// a ring without master-key slots is trusted.
    pub interop: bool,
    /// How key secrets are protected in interop mode. `None`: in clear
    /// ([`PlainKeys`], ASP.NET Core's default on Linux); else, for instance, encrypted under a
    /// certificate as ASP.NET Core's `ProtectKeysWithCertificate` does (see
    /// [`super::key_protection`]). Ignored outside interop mode.
    pub interop_keys: Option<Arc<dyn KeyEncryption>>,
    /// The key sources this node opens encrypted rings with (where key files, tokens and
    /// programs are is taken only from here, never from the ring). Empty: only slots made of
    /// settings-free sources (`password`, `user-account`) are tried.
    pub unlock_sources: Vec<SourceSpec>,
    /// The key sources a ring created by this node is protected with. Empty: the unlock
    /// sources, else [`sources::default_sources`].
    pub new_ring_sources: Vec<SourceSpec>,
    /// Ceilings on the KDF parameters of slots read from the ring; new slots stay under them.
    pub kdf_limits: KdfLimits,
    /// The administrator's master-key policy (new slots, expiry).
    pub policy: Policy,
    /// How long opening a new slot should take on this machine: its Argon2id is calibrated
    /// to it ([`KdfParams::calibrate`]), between the floor and [`RingSettings::kdf_limits`].
    /// `None`: the fixed defaults (Argon2id 64 MiB, 2 passes, 2 lanes), lowered to the
    /// ceilings where they are lower.
    pub unlock_time: Option<Duration>,
    /// What to do with a new password whose estimated strength is under the floor (with the
    /// `password-quality` feature); a `[policy]` refuses what it does not allow either way.
    pub weak_passwords: WeakPasswords,
}

/// What the secret of a new slot is, which decides its KDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotSecret {
    /// Chosen or kept by people (passwords, key files, tokens): the KDF follows
    /// [`RingSettings::unlock_time`] and a new password's strength is estimated.
    Chosen,
    /// A generated random key of at least 128 bits given as the password
    /// ([`super::RecoveryKey`]): the cheap [`KdfParams::high_entropy`], no estimate.
    Generated,
}

/// What [`RingOpener::open`] does when there is no ring yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IfMissing {
    /// Create it with [`RingSettings::new_ring_sources`], as ASP.NET Core makes its first key
    /// on first use.
    Create,
    /// Fail with [`RingError::NoRing`].
    Fail,
}

/// Whether an operation is allowed on a ring opened through a slot whose change the policy
/// forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expired {
    /// Refuse with [`RingError::SlotExpired`] (every operation but replacing that slot).
    Refuse,
    /// Allow: the operation replaces the slot.
    Allow,
}

/// A ring this process created.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedRing {
    /// Its master-key slot (none in interop mode).
    pub slot: Option<Slot>,
    /// Its first key.
    pub key: Uuid,
    /// The key sources the slot is made of.
    pub sources: Vec<SourceSpec>,
}

/// An opened ring.
#[derive(Debug)]
#[non_exhaustive]
pub struct OpenedRing {
    /// The key manager over it.
    pub manager: Arc<KeyManager>,
    /// Set when this call created the ring.
    pub created: Option<CreatedRing>,
}

/// Opens and creates key rings for this node: the provider registry that makes sources and
/// repositories, and the node's [`RingSettings`]. What [`crate::Builder::build`] uses; a host
/// that manages the repository and the key manager itself uses it directly.
///
/// ```
/// use std::sync::Arc;
/// use trousseau::{
///     masterkey::EverySource,
///     providers::Password,
///     ring::{IfMissing, RingOpener, RingSettings},
///     DataProtector, MemoryRepository, NoInteraction, Registry,
/// };
/// use trousseau_core::abi::RepositoryBox;
///
/// # std::env::set_var("RING_PASSWORD", "a long passphrase");
/// let registry = Registry::with_builtins(None)?;
/// let mut settings = RingSettings::default();
/// settings.unlock_sources.push(Password::from_env("RING_PASSWORD"));
/// let opener = RingOpener::new(&registry, settings)?;
///
/// let repository = RepositoryBox::in_process("memory", Box::new(MemoryRepository::new()));
/// let opened = opener.open(repository, &EverySource(&NoInteraction), IfMissing::Create)?;
/// assert!(opened.created.is_some()); // the repository was empty: a ring with one slot
///
/// let p = DataProtector::new(opened.manager.clone(), vec!["app".into(), "cookies".into()]);
/// assert_eq!(p.unprotect(&p.protect(b"x")?)?, b"x");
/// # let _: Arc<_> = opened.manager;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RingOpener<'a> {
    registry: &'a Registry,
    settings: RingSettings,
}

impl<'a> RingOpener<'a> {
    /// An opener; checks that the unlock and new-ring sources name installed key sources.
    pub fn new(registry: &'a Registry, settings: RingSettings) -> Result<Self, RingError> {
        sources::check_key_sources(registry, &settings.unlock_sources, "unlock sources:")?;
        sources::check_key_sources(registry, &settings.new_ring_sources, "new-ring sources:")?;
        Ok(RingOpener { registry, settings })
    }

    /// The settings.
    pub fn settings(&self) -> &RingSettings {
        &self.settings
    }

    /// The sources a ring created now is protected with: [`RingSettings::new_ring_sources`],
    /// else the unlock sources, else the zero-configuration default.
    pub fn new_ring_sources(&self) -> Vec<SourceSpec> {
        if !self.settings.new_ring_sources.is_empty() {
            self.settings.new_ring_sources.clone()
        } else if !self.settings.unlock_sources.is_empty() {
            self.settings.unlock_sources.clone()
        } else {
            sources::default_sources(self.registry)
        }
    }

    /// Whether the policy allows a slot of `specs` (its required and forbidden sources),
    /// without enrolling or asking anything: for a caller that shows a plan and asks for
    /// confirmation before [`RingOpener::new_slot`], which checks it again with the password.
    pub fn check_new_slot_sources(&self, specs: &[SourceSpec]) -> Result<(), RingError> {
        enrollment::check_kinds(self.registry, &self.settings.policy, specs).map(|_| ())
    }

    /// Makes a slot wrapping `w` from `specs`: enrolls each source (asking through `ui`, with
    /// a fresh KDF's seed as the challenge), checks the result against the policy and the
    /// password's strength, composes and runs the KDF. The slot records the specs with their
    /// public parameters, the KDF and how long it took here; its key-encryption key comes
    /// with it (to re-wrap the slot in a rotation). The same as [`RingOpener::new_slot_for`]
    /// with [`SlotSecret::Chosen`].
    pub fn new_slot(
        &self,
        repo: &RepositoryBox,
        w: &RingWrappingKey,
        label: &str,
        specs: &[SourceSpec],
        ui: &dyn SourceInteraction,
    ) -> Result<(Slot, SecretBytes), RingError> {
        self.new_slot_for(repo, w, label, specs, ui, SlotSecret::Chosen)
    }

    /// [`RingOpener::new_slot`] for a slot whose secret is `secret`: a generated key gets
    /// the cheap KDF and no strength estimate.
    pub fn new_slot_for(
        &self,
        repo: &RepositoryBox,
        w: &RingWrappingKey,
        label: &str,
        specs: &[SourceSpec],
        ui: &dyn SourceInteraction,
        secret: SlotSecret,
    ) -> Result<(Slot, SecretBytes), RingError> {
        sources::check_key_sources(self.registry, specs, "slot sources:")?;
        let (kdf, expected, weak) = self.new_kdf(secret)?;
        let (components, stored) = enrollment::enroll_checked(
            self.registry,
            &self.settings.policy,
            specs,
            kdf.seed(),
            ui,
            &location(repo),
            weak,
        )?;
        let composite = masterkey::composite_key(components)?;
        let (kek, took) = masterkey::transform_key_with(ui, &composite, &kdf, expected)?;
        let slot = Slot::wrap_timed(&kek, w, label, stored, kdf, Timestamp::now(), Some(took))?;
        Ok((slot, kek))
    }

    /// The KDF of a new slot for `secret`, how long it should take, and how a weak password
    /// is treated (`None`: not estimated).
    fn new_kdf(
        &self,
        secret: SlotSecret,
    ) -> Result<(KdfParams, Option<Duration>, Option<WeakPasswords>), RingError> {
        let limits = &self.settings.kdf_limits;
        let weak = Some(self.settings.weak_passwords);
        let (kdf, expected, weak) = match (secret, self.settings.unlock_time) {
            (SlotSecret::Generated, _) => (KdfParams::high_entropy(), None, None),
            (SlotSecret::Chosen, Some(target)) => (
                KdfParams::calibrate(Argon2Variant::Id, target, limits)?,
                Some(target),
                weak,
            ),
            (SlotSecret::Chosen, None) => (KdfParams::default_within(limits)?, None, weak),
        };
        if let Err(why) = limits.check(&kdf) {
            return Err(masterkey::MasterKeyError::KdfSettings(format!(
                "a new slot's KDF would not open on this node: {why}"
            ))
            .into());
        }
        Ok((kdf, expected, weak))
    }

    /// Opens W through a slot of the current generation that this node's unlock sources open
    /// (see [`Unlocker`]), then applies the policy's expiry to that slot: a recommended change
    /// is logged as a warning, a forced one refused unless `expired` allows it.
    pub fn open_w(
        &self,
        repo: &RepositoryBox,
        parsed: &ParsedElements,
        ui: &dyn SourceInteraction,
        expired: Expired,
    ) -> Result<Opened, RingError> {
        let local = &self.settings.unlock_sources;
        let unlocker = Unlocker::new(
            self.registry,
            local,
            self.settings.kdf_limits,
            location(repo),
        );
        let opened = unlocker.open(parsed, ui).map_err(|e| match e {
            DataProtectionError::NoSlotOpens(error) => RingError::NoSlotOpens {
                error,
                no_unlock_sources: local.is_empty(),
            },
            e => e.into(),
        })?;
        check_expiry(&self.settings.policy, &opened.slot, expired)?;
        Ok(opened)
    }

    /// Rotates W after `opened` opened it: the opened slot and every other slot of the current
    /// generation that this node's sources open are re-wrapped under a new W, in one
    /// conditional store; the slots that cannot be opened here make it fail with
    /// [`RingError::UnopenedSlots`], unless `drop_unopened` (then they are left out, and listed
    /// in the result).
    pub fn rotate(
        &self,
        repo: &RepositoryBox,
        opened: &Opened,
        ui: &dyn SourceInteraction,
        drop_unopened: bool,
    ) -> Result<RotationReport, RingError> {
        let parsed = inspect(repo)?;
        let unlocker = Unlocker::new(
            self.registry,
            &self.settings.unlock_sources,
            self.settings.kdf_limits,
            location(repo),
        );
        let mut keep = vec![(opened.slot.clone(), opened.kek.clone())];
        let mut dropped = Vec::new();
        for slot in slots::current(&slots::slots(&parsed)) {
            if slot.id == opened.slot.id {
                continue;
            }
            let why = match unlocker.kek(&slot, Composition::ByProvider, ui) {
                Ok(kek) if slot.unwrap_with(&kek).is_some_and(|w| opened.w.same_as(&w)) => {
                    keep.push((slot, kek));
                    continue;
                }
                Ok(_) => "wrong key".to_string(),
                Err(SlotFailure::Unavailable(why)) => why,
                Err(SlotFailure::Source(e)) => e.message().to_string(),
            };
            dropped.push(format!("slot {} ({}): {why}", slot.id, slot.label));
        }
        if !dropped.is_empty() && !drop_unopened {
            return Err(RingError::UnopenedSlots { slots: dropped });
        }
        Ok(RotationReport {
            rotated: rotation::rotate(repo, &opened.w, &keep)?,
            dropped,
        })
    }

    /// How this node protects key secrets in interop mode.
    fn interop_encryption(&self) -> Arc<dyn KeyEncryption> {
        self.settings
            .interop_keys
            .clone()
            .unwrap_or_else(|| Arc::new(PlainKeys))
    }

    /// Creates a ring in an empty repository: one slot of `specs` wrapping a fresh W (none in
    /// interop mode), then the first key, stored together conditionally where the repository
    /// can, so that processes creating the ring at once make exactly one. When another process
    /// created the ring first, gives the repository back (then open that ring).
    pub fn create(
        &self,
        repo: RepositoryBox,
        label: &str,
        specs: &[SourceSpec],
        ui: &dyn SourceInteraction,
    ) -> Result<Creation, RingError> {
        let (encryption, slot): (Arc<dyn KeyEncryption>, Option<Slot>) = if self.settings.interop {
            (self.interop_encryption(), None)
        } else {
            let w = RingWrappingKey::generate(0)?;
            let (slot, _) = self.new_slot(&repo, &w, label, specs, ui)?;
            (Arc::new(w), Some(slot))
        };
        // The version the conditional store expects: read after the (slow) slot KDF, and only
        // while the ring is still empty.
        let snap = repo.load().map_err(DataProtectionError::Repository)?;
        let parsed = ParsedElements::read(snap.elements())?;
        if !slots::slots(&parsed).is_empty() || !parsed.keys.is_empty() {
            return Ok(Creation::LostRace(repo));
        }
        let version = snap.version().to_string();
        let manager = KeyManager::new(repo, self.settings.options, encryption)?;
        let with = slot
            .iter()
            .map(Slot::to_element)
            .collect::<Result<Vec<_>, _>>()?;
        let key = match manager.create_ring(&version, &with) {
            Ok(id) => id,
            Err(DataProtectionError::Repository(e)) if e.code() == ErrorCode::Conflict => {
                tracing::debug!("another process created the key ring first: {e}");
                return Ok(Creation::LostRace(manager.into_repository()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Creation::Created(OpenedRing {
            manager: Arc::new(manager),
            created: Some(CreatedRing {
                slot,
                key,
                sources: specs.to_vec(),
            }),
        }))
    }

    /// Opens the ring in `repo`: encrypted rings ask for the master key through `ui`; rings
    /// without slots (ASP.NET rings) are used only in interop mode. A missing ring is created
    /// or refused per `missing`.
    pub fn open(
        &self,
        repo: RepositoryBox,
        ui: &dyn SourceInteraction,
        missing: IfMissing,
    ) -> Result<OpenedRing, RingError> {
        let parsed = inspect(&repo)?;
        let has_slots = !slots::slots(&parsed).is_empty();
        let interop = self.settings.interop;
        if !has_slots && parsed.keys.is_empty() && !interop {
            if missing == IfMissing::Fail {
                return Err(RingError::NoRing {
                    location: location(&repo),
                });
            }
            let specs = self.new_ring_sources();
            return match self.create(repo, &slots::describe(&specs), &specs, ui)? {
                Creation::Created(ring) => Ok(ring),
                // Another process made the ring meanwhile: open it (its slot takes the same
                // sources).
                Creation::LostRace(repo) => self.open(repo, ui, IfMissing::Fail),
            };
        }
        let encryption: Arc<dyn KeyEncryption> = if interop {
            self.interop_encryption()
        } else if !has_slots {
            // Trusting it would let whoever deleted the slots plant keys.
            return Err(RingError::KeysWithoutSlots {
                location: location(&repo),
            });
        } else {
            Arc::new(self.open_w(&repo, &parsed, ui, Expired::Refuse)?.w)
        };
        Ok(OpenedRing {
            manager: Arc::new(KeyManager::new(repo, self.settings.options, encryption)?),
            created: None,
        })
    }
}

/// What [`RingOpener::rotate`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct RotationReport {
    /// The new generation, and what was re-wrapped.
    pub rotated: Rotated,
    /// The slots left out because they cannot be opened here, each with why.
    pub dropped: Vec<String>,
}

/// The outcome of [`RingOpener::create`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Creation {
    /// This process created the ring.
    Created(OpenedRing),
    /// Another process created a ring first; the repository is given back to open it.
    LostRace(RepositoryBox),
}

/// The ring's elements, parsed (nothing is authenticated yet).
pub fn inspect(repo: &RepositoryBox) -> Result<ParsedElements, RingError> {
    let snap = repo.load().map_err(DataProtectionError::Repository)?;
    Ok(ParsedElements::read(snap.into_elements())?)
}

/// Where the ring is, for prompts and messages (`key ring /var/keys`).
pub fn location(repo: &RepositoryBox) -> String {
    repo.describe()
        .map(|d| format!("key ring {}", d.location()))
        .unwrap_or_else(|_| "key ring".into())
}

/// Applies the expiry rules to the slot that opened the ring.
fn check_expiry(policy: &Policy, slot: &Slot, expired: Expired) -> Result<(), RingError> {
    let (Some(created), Some(now)) = (
        slot.creation.to_offset_date_time(),
        Timestamp::now().to_offset_date_time(),
    ) else {
        return Ok(());
    };
    match policy.expiry(created, now) {
        ExpiryStatus::Current => Ok(()),
        ExpiryStatus::Recommended(why) => {
            tracing::warn!(
                "{why}: master-key slot {} ({}) was created {}; change the master key",
                slot.id,
                slot.label,
                slot.creation
            );
            Ok(())
        }
        ExpiryStatus::Forced(why) if expired == Expired::Refuse => Err(RingError::SlotExpired {
            why,
            slot: slot.id,
            label: slot.label.clone(),
            created: slot.creation,
        }),
        ExpiryStatus::Forced(_) => Ok(()),
    }
}
