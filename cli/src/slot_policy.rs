//! The `[policy]` applied to master-key slots: the rules a new slot must meet (password length
//! and quality, required and forbidden sources), and expiry counted from a slot's creation.

use std::cell::RefCell;

use anyhow::anyhow;
use trousseau_core::{ComponentKind, Error, Interaction, MessageLevel, SecretBytes};

use super::{CliError, Context};
use trousseau::{
    dataprotection::{slots::Slot, timestamp::Timestamp},
    masterkey::{self, Component, EverySource, SourceInteraction, SourceSpec},
    policy::{ExpiryStatus, Policy},
};

/// The checked `[policy]`; its warnings are logged. A contradictory policy is a usage error.
pub fn load(ctx: &Context) -> Result<Policy, CliError> {
    let policy = Policy::from_config(&ctx.config.policy).map_err(CliError::usage)?;
    for w in &policy.warnings {
        tracing::warn!("[policy] {w}");
    }
    Ok(policy)
}

/// An [`Interaction`] that passes everything through and keeps the last secret it handed
/// out, so that a new password can be checked against the policy (the password source itself
/// only returns its hash).
struct Recorder<'a> {
    inner: &'a dyn Interaction,
    last: RefCell<Option<SecretBytes>>,
}

impl<'a> Recorder<'a> {
    /// Records the secrets `inner` answers.
    fn new(inner: &'a dyn Interaction) -> Self {
        Recorder {
            inner,
            last: RefCell::new(None),
        }
    }

    /// The last secret answered, if any.
    fn take(&self) -> Option<SecretBytes> {
        self.last.borrow_mut().take()
    }
}

impl Interaction for Recorder<'_> {
    fn message(&self, level: MessageLevel, text: &str) {
        self.inner.message(level, text);
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        let s = self.inner.request_secret(prompt, confirm)?;
        *self.last.borrow_mut() = Some(s.clone());
        Ok(s)
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.inner.request_value(prompt)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        self.inner.confirm(question, default)
    }
}

/// The password of a built-in `password` source configured with `env` or `file` (those never
/// ask the [`Interaction`], so the [`Recorder`] does not see them).
fn configured_password(
    spec: &SourceSpec,
    location: &str,
    ui: &dyn Interaction,
) -> Option<SecretBytes> {
    use trousseau_password::{PasswordConfig, PasswordInput};
    if spec.provider != super::slot_sources::PASSWORD {
        return None;
    }
    match PasswordConfig::parse(&spec.config).ok()?.into_input() {
        PasswordInput::Prompt => None,
        input => input.read(location, ui, false).ok(),
    }
}

/// Enrolls `specs` for a new slot under the policy, so that nothing is created (a key file, a
/// token key) for a slot the policy refuses: the sources' kinds are checked first (required and
/// forbidden sources), then password sources are enrolled and their password checked (length,
/// quality), then the other sources are enrolled. Components and stored specs come back in
/// `specs` order. Messages name every broken rule and by how much.
pub fn enroll_checked(
    ctx: &Context,
    policy: &Policy,
    specs: &[SourceSpec],
    challenge: &[u8],
    ui: &dyn SourceInteraction,
    location: &str,
) -> anyhow::Result<(Vec<Component>, Vec<SourceSpec>)> {
    let kinds = specs
        .iter()
        .map(|s| {
            let source = ctx.registry.key_source(&s.provider, &s.config)?;
            Ok(source.describe()?.kind())
        })
        .collect::<Result<Vec<ComponentKind>, Error>>()?;
    policy.check_new_master_key(&kinds, None)?;
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| kinds[i] != ComponentKind::Password);
    let mut enrolled: Vec<Option<(Component, SourceSpec)>> = vec![None; specs.len()];
    for i in order {
        let source_ui = ui.for_source(kinds[i]);
        let recorder = Recorder::new(source_ui);
        let (c, s) = masterkey::enroll_components(
            &ctx.registry,
            std::slice::from_ref(&specs[i]),
            challenge,
            &EverySource(&recorder),
            location,
        )?;
        if kinds[i] == ComponentKind::Password && policy.has_password_rules() {
            let password = recorder
                .take()
                .or_else(|| configured_password(&specs[i], location, source_ui))
                .ok_or_else(|| {
                    anyhow!(
                        "the policy sets a minimum password length or quality, but the \
                         password of the {} source cannot be read back to check it; use the \
                         built-in password source",
                        specs[i].provider
                    )
                })?;
            let text = std::str::from_utf8(password.expose())
                .map_err(|_| anyhow!("the new password is not valid UTF-8"))?;
            policy.check_new_master_key(&kinds, Some(text))?;
        }
        enrolled[i] = c.into_iter().zip(s).next();
    }
    Ok(enrolled.into_iter().flatten().unzip())
}

/// Whether a command is allowed on a ring opened through a slot whose change the policy
/// forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Refuse (every command but `master-key change`).
    Refuse,
    /// Allow: this command replaces the slot.
    Allow,
}

/// Applies the expiry rules to the slot that opened the ring: recommend → a warning on stderr;
/// force → an error saying to run `trousseau master-key change` (unless `expired` allows it).
pub fn check_expiry(policy: &Policy, slot: &Slot, expired: Expired) -> anyhow::Result<()> {
    let (Some(created), Some(now)) = (
        slot.creation.to_offset_date_time(),
        Timestamp::now().to_offset_date_time(),
    ) else {
        return Ok(());
    };
    match policy.expiry(created, now) {
        ExpiryStatus::Current => Ok(()),
        ExpiryStatus::Recommended(why) => {
            eprintln!(
                "warning: {why}: master-key slot {} ({}) was created {}; run `trousseau master-key change`",
                slot.id, slot.label, slot.creation
            );
            Ok(())
        }
        ExpiryStatus::Forced(why) if expired == Expired::Refuse => Err(anyhow!(
            "{why}: master-key slot {} ({}) was created {}; run `trousseau master-key change` \
             to replace it (nothing else is allowed until then)",
            slot.id,
            slot.label,
            slot.creation
        )),
        ExpiryStatus::Forced(_) => Ok(()),
    }
}
