//! Opening the configured key ring for a command: repository, master-key slots (composite key
//! from the slot's key sources, KDF, unwrap W), key manager.

use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use trousseau_core::{abi::RepositoryBox, ErrorCode};

use super::{
    slot_policy::{self, Expired},
    slot_sources::{self, SourceArgs},
    CliError, Context,
};
use trousseau::{
    dataprotection::{
        at_rest::{KeyEncryption, PlainKeys},
        keyxml::ParsedElements,
        manager::{KeyManagementOptions, KeyManager},
        protector::{DataProtector, DEFAULT_MAX_PAYLOAD},
        slots::{self, Slot},
        timestamp::Timestamp,
        unlock::{Opened, Unlocker},
        wrapping::RingWrappingKey,
        DataProtectionError,
    },
    masterkey::{self, KdfParams, SourceInteraction, SourceSpec},
};

/// The repository named by `[repository]`, or the default filesystem repository.
pub fn repository(ctx: &Context) -> anyhow::Result<RepositoryBox> {
    let (id, json) = match &ctx.config.repository {
        Some(r) => (r.provider.clone(), r.settings_json()),
        None => ("filesystem".to_string(), "{}".to_string()),
    };
    ctx.registry
        .repository(&id, &json)
        .with_context(|| format!("cannot open the {id} repository"))
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

/// The ring's elements, parsed.
pub fn inspect(repo: &RepositoryBox) -> anyhow::Result<ParsedElements> {
    let snap = repo.load().context("cannot read the key ring")?;
    Ok(ParsedElements::read(snap.into_elements())?)
}

/// Where the ring is, for prompts and messages.
pub fn location(repo: &RepositoryBox) -> String {
    repo.describe()
        .map(|d| format!("key ring {}", d.location()))
        .unwrap_or_else(|_| "key ring".into())
}

/// The key sources this node opens encrypted rings with: `--unlock`, else
/// `[[master_key.sources]]` (empty: none configured).
pub fn unlock_sources(ctx: &Context) -> Vec<SourceSpec> {
    if ctx.unlock_sources.is_empty() {
        slot_sources::configured(ctx)
    } else {
        ctx.unlock_sources.clone()
    }
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
    Ok(Slot::wrap(&kek, w, label, stored, kdf, Timestamp::now())?)
}

/// Opens W through a slot of the current generation that this node's unlock sources open
/// (see [`Unlocker`]), then applies the policy's expiry to that slot (`expired` says whether a
/// forced change blocks the command).
pub fn open_w(
    ctx: &Context,
    repo: &RepositoryBox,
    parsed: &ParsedElements,
    ui: &dyn SourceInteraction,
    expired: Expired,
) -> Result<Opened, CliError> {
    let policy = slot_policy::load(ctx)?;
    let local = unlock_sources(ctx);
    if ctx.unlock_sources.is_empty() {
        // --unlock was checked when the command line was read.
        slot_sources::check_key_sources(ctx, &local, "[[master_key.sources]]")?;
    }
    let unlocker = Unlocker::new(
        &ctx.registry,
        &local,
        ctx.config.master_key.kdf_limits,
        location(repo),
    );
    let opened = unlocker.open(parsed, ui).map_err(|e| match e {
        DataProtectionError::NoSlotOpens(e)
            if e.code() != ErrorCode::WrongKey && local.is_empty() =>
        {
            CliError::failed(anyhow!(
                "{}\nhint: this node takes its key sources from --unlock or \
                 [[master_key.sources]], never from the key ring",
                e.message()
            ))
        }
        e => e.into(),
    })?;
    slot_policy::check_expiry(&policy, &opened.slot, expired)?;
    Ok(opened)
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
        let w = RingWrappingKey::generate(0)?;
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
    let with = slot
        .iter()
        .map(Slot::to_element)
        .collect::<Result<Vec<_>, _>>()?;
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
            slots::describe(specs)
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
    let parsed = inspect(&repo)?;
    let has_slots = !slots::slots(&parsed).is_empty();
    if !has_slots && parsed.keys.is_empty() && !interop(ctx) {
        if missing == IfMissing::Fail {
            return Err(CliError::failed(anyhow!(
                "there is no key ring yet; create one with `trousseau init` or `trousseau protect`"
            )));
        }
        let specs = slot_sources::resolve(ctx, &SourceArgs::default())?;
        let place = location(&repo);
        return match create(ctx, repo, &slots::describe(&specs), &specs, ui)? {
            Some(manager) => {
                first_use_notice(&place, &specs);
                Ok(manager)
            }
            // Another process made the ring meanwhile: open it (its slot takes the same
            // sources).
            None => open(ctx, ui, IfMissing::Fail),
        };
    }
    let encryption: Arc<dyn KeyEncryption> = if interop(ctx) {
        Arc::new(PlainKeys)
    } else if !has_slots {
        // Trusting it would let whoever deleted the slots plant keys: a ring without slots is
        // used only when the configuration says it is an ASP.NET (interop) ring.
        return Err(CliError::failed(anyhow!(
            "the {} holds keys but no master-key slot: it is an ASP.NET Core ring, or its \
             slots were deleted. Keys without a master key are trusted only in interop mode: \
             set `interop = true` in [data_protection] if every writer of this repository is \
             trusted; otherwise restore the slot elements from a backup",
            location(&repo)
        )));
    } else {
        Arc::new(open_w(ctx, &repo, &parsed, ui, Expired::Refuse)?.w)
    };
    Ok(Arc::new(KeyManager::new(repo, options(ctx), encryption)?))
}

/// Said once, when the first use created the ring: where it lives and what to back up.
fn first_use_notice(place: &str, specs: &[SourceSpec]) {
    eprintln!(
        "note: created a new {place} protected by {}",
        slots::describe(specs)
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
    DataProtector::new(manager.clone(), chain).with_max_payload(max_payload(ctx))
}

/// The largest plaintext protected or payload unprotected: `[data_protection]
/// max_payload_size`, default [`DEFAULT_MAX_PAYLOAD`].
pub fn max_payload(ctx: &Context) -> usize {
    ctx.config
        .data_protection
        .max_payload_size
        .unwrap_or(DEFAULT_MAX_PAYLOAD)
}
