//! Opening the configured key ring for a command: repository, master-key slots (composite key
//! from the slot's key sources, KDF, unwrap W), key manager.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use trousseau_core::{abi::RepositoryBox, Interaction, SecretBytes};

use super::Context;
use crate::{
    dataprotection::{
        keyxml::ParsedElements,
        manager::{KeyEncryption, KeyManagementOptions, KeyManager, PlainKeys},
        protector::{DataProtector, DEFAULT_MAX_PAYLOAD},
        slots::{self, RingWrappingKey, Slot},
        timestamp::Timestamp,
    },
    masterkey::{self, KdfParams, SourceSpec},
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

fn location(repo: &RepositoryBox) -> String {
    repo.describe()
        .map(|d| format!("key ring {}", d.location()))
        .unwrap_or_else(|_| "key ring".into())
}

/// The sources new slots use: a password, until the configuration names others.
pub fn default_sources() -> Vec<SourceSpec> {
    vec![SourceSpec {
        provider: "password".into(),
        config: "{}".into(),
        public_params: String::new(),
    }]
}

/// Makes a slot wrapping `w`: enrolls the sources (asking through `ui`), composes, runs a
/// fresh default KDF.
pub fn new_slot(
    ctx: &Context,
    repo: &RepositoryBox,
    w: &RingWrappingKey,
    label: &str,
    ui: &dyn Interaction,
) -> anyhow::Result<Slot> {
    let kdf = KdfParams::new_default();
    let (components, specs) = masterkey::enroll_components(
        &ctx.registry,
        &default_sources(),
        kdf.seed(),
        ui,
        &location(repo),
    )?;
    let kek = masterkey::transform_key(&masterkey::composite_key(components)?, &kdf)?;
    Ok(Slot::wrap(
        &kek,
        w,
        label,
        &serde_json::to_string(&specs)?,
        &serde_json::to_string(&kdf)?,
        Timestamp::now(),
    )?)
}

fn slot_kek(
    ctx: &Context,
    repo: &RepositoryBox,
    slot: &Slot,
    ui: &dyn Interaction,
) -> anyhow::Result<SecretBytes> {
    let specs: Vec<SourceSpec> =
        serde_json::from_str(&slot.sources).context("the slot's sources are unreadable")?;
    let kdf: KdfParams =
        serde_json::from_str(&slot.kdf).context("the slot's KDF parameters are unreadable")?;
    let components =
        masterkey::derive_components(&ctx.registry, &specs, kdf.seed(), ui, &location(repo))?;
    Ok(masterkey::transform_key(
        &masterkey::composite_key(components)?,
        &kdf,
    )?)
}

/// Opens W through the first slot whose sources give the right key.
pub fn open_w(
    ctx: &Context,
    repo: &RepositoryBox,
    all: &[Slot],
    ui: &dyn Interaction,
) -> anyhow::Result<(RingWrappingKey, Slot)> {
    let (w, id) = slots::open_ring(all, &mut |slot| match slot_kek(ctx, repo, slot, ui) {
        Ok(k) => Ok(Some(k)),
        Err(e) => {
            tracing::info!("slot {}: {e:#}", slot.id);
            Ok(None)
        }
    })?;
    let slot = all
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .ok_or_else(|| anyhow!("slot {id} vanished"))?;
    Ok((w, slot))
}

/// Opens the ring: encrypted rings ask for the master key; rings without slots (ASP.NET rings,
/// interop mode) are used as they are.
pub fn open(ctx: &Context, ui: &dyn Interaction) -> anyhow::Result<Arc<KeyManager>> {
    let repo = repository(ctx)?;
    let (all, keys) = inspect(&repo)?;
    let encryption: Arc<dyn KeyEncryption> = if all.is_empty() || interop(ctx) {
        if all.is_empty() && keys == 0 && !interop(ctx) {
            bail!("there is no key ring yet; create one with `trousseau init`");
        }
        if !interop(ctx) {
            tracing::warn!("the key ring has no master-key slot: keys are read and written unencrypted (ASP.NET layout)");
        }
        Arc::new(PlainKeys)
    } else {
        Arc::new(open_w(ctx, &repo, &all, ui)?.0)
    };
    Ok(Arc::new(KeyManager::new(repo, options(ctx), encryption)?))
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
