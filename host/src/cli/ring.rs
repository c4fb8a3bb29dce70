//! Opening the configured key ring for a command: repository, master-key slots (composite key
//! from the slot's key sources, KDF, unwrap W), key manager.

use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use trousseau_core::{abi::RepositoryBox, ErrorCode, ProviderKind, SecretBytes, SourceFlags};

use super::{
    slot_policy::{self, Expired},
    slot_sources::{self, SourceArgs},
    CliError, Context,
};
use crate::{
    dataprotection::{
        keyxml::ParsedElements,
        manager::{KeyEncryption, KeyManagementOptions, KeyManager, PlainKeys},
        protector::{DataProtector, DEFAULT_MAX_PAYLOAD},
        slots::{self, RingWrappingKey, Slot, SlotFailure},
        timestamp::Timestamp,
        DataProtectionError,
    },
    masterkey::{self, KdfParams, MasterKeyError, SourceInteraction, SourceSpec},
};

/// The repository named by `[repository]`, or the default filesystem repository.
pub fn repository(ctx: &Context) -> anyhow::Result<RepositoryBox> {
    let (id, json) = match &ctx.config.repository {
        Some(r) => (r.provider.clone(), r.settings_json()),
        None => ("filesystem".to_string(), "{}".to_string()),
    };
    ctx.registry
        .repository(&id, &json)
        .map_err(|e| anyhow!("cannot open the {id} repository: {e}"))
}

/// Key-management options from `[data_protection]`.
pub fn options(ctx: &Context) -> KeyManagementOptions {
    let dp = &ctx.config.data_protection;
    KeyManagementOptions {
        new_key_lifetime_days: dp.key_lifetime_days.unwrap_or(90),
        auto_generate_keys: dp.auto_generate_keys.unwrap_or(true),
        ..Default::default()
    }
}

/// Whether interop mode (unencrypted keys) is on.
pub fn interop(ctx: &Context) -> bool {
    ctx.config.data_protection.interop.unwrap_or(false)
}

/// The slots of the ring and how many keys it holds.
pub fn inspect(repo: &RepositoryBox) -> anyhow::Result<(Vec<Slot>, usize)> {
    let snap = repo.load().context("cannot read the key ring")?;
    let parsed = ParsedElements::read(snap.elements())?;
    Ok((slots::slots(&parsed), parsed.keys.len()))
}

/// Where the ring lives, for prompts and messages.
pub fn location(repo: &RepositoryBox) -> String {
    repo.describe()
        .map(|d| format!("key ring {}", d.location()))
        .unwrap_or_else(|_| "key ring".into())
}

/// Makes a slot wrapping `w` from `specs`: enrolls each source (asking through `ui`, with a
/// fresh default KDF's seed as the challenge), checks the result against the policy, composes
/// and runs the KDF. The slot records the specs with their public parameters and the KDF.
pub fn new_slot(
    ctx: &Context,
    repo: &RepositoryBox,
    w: &RingWrappingKey,
    label: &str,
    specs: &[SourceSpec],
    ui: &dyn SourceInteraction,
) -> Result<Slot, CliError> {
    let policy = slot_policy::load(ctx)?;
    let kdf = KdfParams::new_default();
    let place = location(repo);
    let (components, stored) =
        slot_policy::enroll_checked(ctx, &policy, specs, kdf.seed(), ui, &place)?;
    let kek = masterkey::transform_key(&masterkey::composite_key(components)?, &kdf)?;
    Ok(Slot::wrap(
        &kek,
        w,
        label,
        &serde_json::to_string(&stored)?,
        &serde_json::to_string(&kdf)?,
        Timestamp::now(),
    )?)
}

/// A slot's sources, or why they are not available here (a provider that is not installed).
fn slot_sources(ctx: &Context, slot: &Slot) -> Result<Vec<SourceSpec>, SlotFailure> {
    let specs: Vec<SourceSpec> = serde_json::from_str(&slot.sources).map_err(|e| {
        SlotFailure::Source(trousseau_core::Error::new(
            ErrorCode::CorruptData,
            format!("its sources are unreadable ({e})"),
        ))
    })?;
    let missing: Vec<&str> = specs
        .iter()
        .filter(|s| {
            ctx.registry
                .provider(&s.provider)
                .is_none_or(|p| p.kind() != ProviderKind::KeySource)
        })
        .map(|s| s.provider.as_str())
        .collect();
    if missing.is_empty() {
        Ok(specs)
    } else {
        Err(SlotFailure::Unavailable(format!(
            "key source {} not installed (`trousseau plugins list` shows what is)",
            missing.join(", ")
        )))
    }
}

/// Whether any of the slot's sources may prompt (such slots are tried last).
fn may_prompt(ctx: &Context, slot: &Slot) -> bool {
    slot_sources(ctx, slot).is_ok_and(|specs| {
        specs.iter().any(|s| {
            ctx.registry
                .key_source(&s.provider, &s.config)
                .and_then(|k| k.describe())
                .is_ok_and(|d| d.flags().contains(SourceFlags::MIGHT_PROMPT))
        })
    })
}

fn slot_kek(
    ctx: &Context,
    place: &str,
    slot: &Slot,
    ui: &dyn SourceInteraction,
) -> Result<SecretBytes, SlotFailure> {
    let specs = slot_sources(ctx, slot)?;
    let source_error = |e: MasterKeyError| SlotFailure::Source(e.into());
    let kdf: KdfParams = serde_json::from_str(&slot.kdf).map_err(|e| {
        SlotFailure::Source(trousseau_core::Error::new(
            ErrorCode::CorruptData,
            format!("its KDF parameters are unreadable ({e})"),
        ))
    })?;
    let components = masterkey::derive_components(&ctx.registry, &specs, kdf.seed(), ui, place)
        .map_err(source_error)?;
    masterkey::transform_key(
        &masterkey::composite_key(components).map_err(source_error)?,
        &kdf,
    )
    .map_err(source_error)
}

/// Opens W through the first slot whose sources give the right key (slots whose sources are
/// all installed; those that need no prompt first), then applies the policy's expiry to that
/// slot (`expired` says whether a forced change blocks the command).
pub fn open_w(
    ctx: &Context,
    repo: &RepositoryBox,
    all: &[Slot],
    ui: &dyn SourceInteraction,
    expired: Expired,
) -> Result<(RingWrappingKey, Slot), CliError> {
    let policy = slot_policy::load(ctx)?;
    let mut order: Vec<Slot> = all.to_vec();
    order.sort_by_cached_key(|s| may_prompt(ctx, s));
    let place = location(repo);
    let (w, id) = slots::open_ring(&order, &mut |slot| slot_kek(ctx, &place, slot, ui))?;
    let slot = order
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| anyhow!("slot {id} vanished"))?;
    slot_policy::check_expiry(&policy, &slot, expired)?;
    Ok((w, slot))
}

/// Creates a ring in an empty repository: one slot of `specs` wrapping a fresh W (none in
/// interop mode), then the first key, stored together conditionally where the repository can,
/// so that processes creating the ring at once make exactly one. Returns the manager, or `None`
/// when another process created the ring first (then open that one).
pub fn create(
    ctx: &Context,
    repo: RepositoryBox,
    label: &str,
    specs: &[SourceSpec],
    ui: &dyn SourceInteraction,
) -> Result<Option<Arc<KeyManager>>, CliError> {
    let (encryption, slot): (Arc<dyn KeyEncryption>, Option<Slot>) = if interop(ctx) {
        (Arc::new(PlainKeys), None)
    } else {
        let w = RingWrappingKey::generate()?;
        let slot = new_slot(ctx, &repo, &w, label, specs, ui)?;
        (Arc::new(w), Some(slot))
    };
    // The version the conditional store expects: read after the (slow) slot KDF, and only
    // while the ring is still empty.
    let snap = repo.load().context("cannot read the key ring")?;
    let parsed = ParsedElements::read(snap.elements())?;
    if !slots::slots(&parsed).is_empty() || !parsed.keys.is_empty() {
        return Ok(None);
    }
    let version = snap.version().to_string();
    let manager = Arc::new(KeyManager::new(repo, options(ctx), encryption)?);
    let with: Vec<_> = slot.iter().map(Slot::to_element).collect();
    let id = match manager.create_ring(&version, &with) {
        Ok(id) => id,
        Err(DataProtectionError::Repository(e)) if e.code() == ErrorCode::Conflict => {
            tracing::debug!("another process created the key ring first: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(slot) = &slot {
        eprintln!(
            "created master-key slot {} ({}) from {}",
            slot.id,
            slot.label,
            slot_sources::describe(specs)
        );
    }
    eprintln!("created key {id}");
    Ok(Some(manager))
}

/// What [`open`] does when there is no ring yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// Create it with the configured (or default) sources, as ASP.NET Core makes its first
    /// key on first use.
    Create,
    /// Fail, saying how to make one.
    Fail,
}

/// Opens the ring: encrypted rings ask for the master key; rings without slots (ASP.NET rings,
/// interop mode) are used as they are. A missing ring is created or refused per `missing`.
pub fn open(
    ctx: &Context,
    ui: &dyn SourceInteraction,
    missing: IfMissing,
) -> Result<Arc<KeyManager>, CliError> {
    let repo = repository(ctx)?;
    let (all, keys) = inspect(&repo)?;
    if all.is_empty() && keys == 0 && !interop(ctx) {
        if missing == IfMissing::Fail {
            return Err(CliError::failed(anyhow!(
                "there is no key ring yet; create one with `trousseau init` or `trousseau protect`"
            )));
        }
        let specs = slot_sources::resolve(ctx, &SourceArgs::default())?;
        let place = location(&repo);
        return match create(ctx, repo, &slot_sources::describe(&specs), &specs, ui)? {
            Some(manager) => {
                first_use_notice(&place, &specs);
                Ok(manager)
            }
            // Another process made the ring meanwhile: open it (its slot takes the same
            // sources).
            None => open(ctx, ui, IfMissing::Fail),
        };
    }
    let encryption: Arc<dyn KeyEncryption> = if all.is_empty() || interop(ctx) {
        if !interop(ctx) {
            tracing::warn!("the key ring has no master-key slot: keys are read and written unencrypted (ASP.NET layout)");
        }
        Arc::new(PlainKeys)
    } else {
        Arc::new(open_w(ctx, &repo, &all, ui, Expired::Refuse)?.0)
    };
    Ok(Arc::new(KeyManager::new(repo, options(ctx), encryption)?))
}

/// Said once, when the first use created the ring: where it lives and what to back up.
fn first_use_notice(place: &str, specs: &[SourceSpec]) {
    eprintln!(
        "note: created a new {place} protected by {}",
        slot_sources::describe(specs)
    );
    if specs
        .iter()
        .any(|s| s.provider == slot_sources::USER_ACCOUNT)
    {
        eprintln!(
            "note: the ring opens only with this user account's key; back it up with \
             `trousseau user-account export FILE` and keep the copy somewhere safe"
        );
    }
    if specs.iter().any(|s| s.provider == slot_sources::PASSWORD) {
        eprintln!(
            "note: the ring opens only with this password; without it the keys are lost \
             (`trousseau master-key add-slot` adds another way in)"
        );
    }
}

/// A protector for the application name and purposes.
pub fn protector(
    ctx: &Context,
    manager: &Arc<KeyManager>,
    application: Option<&str>,
    purposes: &[String],
) -> DataProtector {
    let app = application
        .map(str::to_string)
        .or_else(|| ctx.config.data_protection.application_name.clone())
        .unwrap_or_else(|| "trousseau".to_string());
    let mut chain = Vec::new();
    if !app.is_empty() {
        chain.push(app);
    }
    chain.extend(purposes.iter().cloned());
    DataProtector::new(manager.clone(), chain).with_max_payload(
        ctx.config
            .data_protection
            .max_payload_size
            .unwrap_or(DEFAULT_MAX_PAYLOAD),
    )
}
