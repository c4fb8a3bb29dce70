//! Opening the configured key ring for a command: repository, master-key slots, key manager.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use trousseau_core::{abi::RepositoryBox, SecretBytes};

use super::{password::PasswordInput, Context};
use crate::dataprotection::{
    kek,
    keyxml::ParsedElements,
    manager::{KeyEncryption, KeyManagementOptions, KeyManager, PlainKeys},
    protector::{DataProtector, DEFAULT_MAX_PAYLOAD},
    slots::{self, RingWrappingKey, Slot},
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

/// The slots of the ring and whether it holds any key.
pub fn inspect(repo: &RepositoryBox) -> anyhow::Result<(Vec<Slot>, usize)> {
    let snap = repo.load().context("cannot read the key ring")?;
    let parsed = ParsedElements::read(snap.elements())?;
    Ok((slots::slots(&parsed), parsed.keys.len()))
}

/// Opens W through the first slot the password opens.
pub fn open_w(slots_: &[Slot], password: &SecretBytes) -> anyhow::Result<(RingWrappingKey, Slot)> {
    let (w, id) = slots::open_ring(slots_, &mut |slot| {
        if slot.sources != kek::PASSWORD_SOURCES {
            return Ok(None);
        }
        kek::password_kek(password, &slot.kdf).map(Some)
    })?;
    let slot = slots_
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .ok_or_else(|| anyhow!("slot vanished"))?;
    Ok((w, slot))
}

/// Opens the ring: encrypted rings ask for the password; rings without slots (ASP.NET rings,
/// interop mode) are used as they are.
pub fn open(ctx: &Context, pw: &PasswordInput) -> anyhow::Result<Arc<KeyManager>> {
    let repo = repository(ctx)?;
    let (slots_, keys) = inspect(&repo)?;
    let encryption: Arc<dyn KeyEncryption> = if slots_.is_empty() || interop(ctx) {
        if slots_.is_empty() && keys == 0 && !interop(ctx) {
            bail!("there is no key ring yet; create one with `trousseau init`");
        }
        if !interop(ctx) {
            tracing::warn!("the key ring has no master-key slot: keys are read and written unencrypted (ASP.NET layout)");
        }
        Arc::new(PlainKeys)
    } else {
        let password = pw.read("Master password: ")?;
        Arc::new(open_w(&slots_, &password)?.0)
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
