//! The engine's ring opening ([`RingOpener`]) configured from the command line and the
//! configuration file, and what the tool says about a ring it created.

use std::sync::Arc;

use trousseau::{
    dataprotection::{
        manager::{KeyManagementOptions, KeyManager},
        protector::{DataProtector, DEFAULT_MAX_PAYLOAD},
    },
    masterkey::{SourceInteraction, SourceSpec},
    policy::Policy,
    ring::{self, IfMissing, RingError, RingOpener, RingSettings},
};
use trousseau_core::abi::RepositoryBox;

use super::{first_use, slot_options, slot_sources, CliError, Context};

/// The repository named by `[repository]`, or the default filesystem repository.
pub fn repository(ctx: &Context) -> Result<RepositoryBox, RingError> {
    let (id, json) = match &ctx.config.repository {
        Some(r) => (r.provider.clone(), r.settings_json()),
        None => ("filesystem".to_string(), "{}".to_string()),
    };
    ctx.registry
        .repository(&id, &json)
        .map_err(|error| RingError::Repository {
            provider: id,
            error,
        })
}

pub use trousseau::ring::{inspect, location};

/// Key-management options from `[data_protection]`.
pub fn options(ctx: &Context) -> KeyManagementOptions {
    let dp = &ctx.config.data_protection;
    KeyManagementOptions {
        new_key_lifetime_days: dp.key_lifetime_days.unwrap_or(90),
        auto_generate_keys: dp.auto_generate_keys.unwrap_or(true),
        ..Default::default()
    }
}

/// Whether interop mode (ASP.NET Core's model: keys unencrypted, or protected with the
/// `[key_protection]` certificate or DPAPI) is on.
pub fn interop(ctx: &Context) -> bool {
    ctx.config.data_protection.interop.unwrap_or(false)
        || ctx.config.key_protection.certificate.is_some()
        || ctx.config.key_protection.dpapi.is_some()
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

/// The engine's ring opener with this node's settings: `new_ring_sources` are the sources of a
/// ring or slot created by this command (empty: `--unlock`, `[[master_key.sources]]`, else the
/// default). The `[policy]`'s warnings are logged; a contradictory policy is a usage error.
pub fn opener(
    ctx: &Context,
    new_ring_sources: Vec<SourceSpec>,
) -> Result<RingOpener<'_>, CliError> {
    let policy = Policy::from_config(&ctx.config.policy).map_err(CliError::usage)?;
    for w in &policy.warnings {
        tracing::warn!("[policy] {w}");
    }
    let unlock = unlock_sources(ctx);
    if ctx.unlock_sources.is_empty() {
        // --unlock was checked when the command line was read.
        ring::check_key_sources(&ctx.registry, &unlock, "[[master_key.sources]]:")?;
    }
    let mut settings = RingSettings::default();
    settings.options = options(ctx);
    settings.interop = interop(ctx);
    settings.unlock_sources = unlock;
    settings.new_ring_sources = new_ring_sources;
    settings.kdf_limits = ctx.config.master_key.kdf_limits;
    settings.policy = policy;
    settings.unlock_time = Some(slot_options::unlock_time(ctx)?);
    settings.weak_passwords = ctx.slot_options.weak_passwords;
    settings.interop_keys = ring::configured_key_protection(&ctx.config)?;
    Ok(RingOpener::new(&ctx.registry, settings)?)
}

/// Opens the ring (see [`RingOpener::open`]); a ring created now is made of
/// `new_ring_sources` (empty: the configured or default sources). A ring created now is
/// announced in one message ([`first_use::notice`]): where it lives, what opens it, where the
/// user key is kept and what to back up.
pub fn open(
    ctx: &Context,
    ui: &dyn SourceInteraction,
    missing: IfMissing,
    new_ring_sources: Vec<SourceSpec>,
) -> Result<Arc<KeyManager>, CliError> {
    let opener = opener(ctx, new_ring_sources)?;
    let held = first_use::HoldUserKeyMessages::new(ui);
    let opened = match opener.open(repository(ctx)?, &held, missing) {
        Ok(opened) => opened,
        Err(e) => {
            held.release();
            return Err(e.into());
        }
    };
    match &opened.created {
        Some(created) => {
            let place = ring::location(opened.manager.repository());
            for line in first_use::notice(&place, created) {
                eprintln!("{line}");
            }
        }
        None => held.release(),
    }
    Ok(opened.manager)
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
