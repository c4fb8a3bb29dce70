//! Enrolling the sources of a new master-key slot under the `[policy]`: the rules a new slot
//! must meet (password length and quality, required and forbidden sources) are checked before
//! anything is created. Every password-like source passes the same check, built-in or plugin:
//! the password is seen where it is answered (through the host's [`Interaction`]), or read
//! back from the built-in password source's configured file or variable.
//!
//! With the `password-quality` feature, every new password's strength is estimated (zxcvbn)
//! and said through the interaction; under the floor ([`crate::policy::WEAK_BELOW_SCORE`]),
//! [`WeakPasswords`] says whether it is used, confirmed first, or refused, policy or not. A
//! configured `[policy]` refuses outright what it does not allow.

use std::cell::RefCell;

use trousseau_core::{ComponentKind, Error, Interaction, MessageLevel, SecretBytes};

use super::RingError;
use crate::{
    masterkey::{self, Component, EverySource, SourceInteraction, SourceSpec},
    plugins::Registry,
    policy::Policy,
};

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
#[cfg(feature = "password")]
fn configured_password(
    spec: &SourceSpec,
    location: &str,
    ui: &dyn Interaction,
) -> Option<SecretBytes> {
    use trousseau_password::{PasswordConfig, PasswordInput};
    if spec.provider != super::PASSWORD {
        return None;
    }
    match PasswordConfig::parse(&spec.config).ok()?.into_input() {
        PasswordInput::Prompt => None,
        input => input.read(location, ui, false).ok(),
    }
}

/// Without the built-in password source, no configured password can be read back.
#[cfg(not(feature = "password"))]
fn configured_password(_: &SourceSpec, _: &str, _: &dyn Interaction) -> Option<SecretBytes> {
    None
}

/// What to do with a new password whose estimated strength is under the floor
/// ([`crate::policy::WEAK_BELOW_SCORE`]) when no `[policy]` rule refuses it. Needs the
/// `password-quality` feature; without it passwords are not estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WeakPasswords {
    /// Use it; the estimate is said through the interaction as a warning.
    #[default]
    Allow,
    /// Ask through the interaction whether to use it; refused with
    /// [`RingError::WeakPassword`] when the answer is no or nobody can be asked.
    Confirm,
    /// Refuse it with [`RingError::WeakPassword`].
    Refuse,
}

/// Says `password`'s estimated strength through `ui` and applies `weak` when it is under the
/// floor.
#[cfg(feature = "password-quality")]
fn check_strength(
    password: &str,
    weak: WeakPasswords,
    ui: &dyn Interaction,
) -> Result<(), RingError> {
    let strength = crate::policy::Strength::estimate(password);
    if !strength.is_weak() {
        ui.message(
            MessageLevel::Info,
            &format!("new password strength: {}", strength.describe()),
        );
        return Ok(());
    }
    ui.message(
        MessageLevel::Warning,
        &format!("the new password is {}", strength.describe()),
    );
    let refused = |declined| RingError::WeakPassword {
        strength: strength.describe(),
        declined,
    };
    match weak {
        WeakPasswords::Allow => Ok(()),
        WeakPasswords::Refuse => Err(refused(false)),
        WeakPasswords::Confirm => match ui.confirm("Use this weak password anyway?", false) {
            Ok(true) => Ok(()),
            Ok(false) => Err(refused(true)),
            Err(_) => Err(refused(false)),
        },
    }
}

/// Without the `password-quality` feature no estimate is made.
#[cfg(not(feature = "password-quality"))]
fn check_strength(_: &str, _: WeakPasswords, _: &dyn Interaction) -> Result<(), RingError> {
    Ok(())
}

/// The kinds of the sources of `specs`, once the policy's required and forbidden sources allow
/// them for a new slot (nothing is enrolled or asked).
pub(crate) fn check_kinds(
    registry: &Registry,
    policy: &Policy,
    specs: &[SourceSpec],
) -> Result<Vec<ComponentKind>, RingError> {
    let kinds = specs
        .iter()
        .map(|s| {
            let fail = |error| masterkey::MasterKeyError::Source {
                label: format!("{} source", s.provider),
                error,
            };
            let source = registry.key_source(&s.provider, &s.config).map_err(fail)?;
            Ok(source.describe().map_err(fail)?.kind())
        })
        .collect::<Result<Vec<ComponentKind>, masterkey::MasterKeyError>>()?;
    policy.check_new_master_key(&kinds, None)?;
    Ok(kinds)
}

/// Enrolls `specs` for a new slot under the policy, so that nothing is created (a key file, a
/// token key) for a slot the policy refuses: the sources' kinds are checked first (required and
/// forbidden sources), then password sources are enrolled and their password checked (length,
/// quality, then the strength estimate under `weak`; `None`: the password is a generated
/// high-entropy key, not estimated), then the other sources are enrolled. Components and
/// stored specs come back in `specs` order. Messages name every broken rule and by how much.
pub(crate) fn enroll_checked(
    registry: &Registry,
    policy: &Policy,
    specs: &[SourceSpec],
    challenge: &[u8],
    ui: &dyn SourceInteraction,
    location: &str,
    weak: Option<WeakPasswords>,
) -> Result<(Vec<Component>, Vec<SourceSpec>), RingError> {
    let kinds = check_kinds(registry, policy, specs)?;
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| kinds[i] != ComponentKind::Password);
    let mut enrolled: Vec<Option<(Component, SourceSpec)>> = vec![None; specs.len()];
    for i in order {
        let source_ui = ui.for_source(kinds[i]);
        let recorder = Recorder::new(source_ui);
        let (c, s) = masterkey::enroll_components(
            registry,
            std::slice::from_ref(&specs[i]),
            challenge,
            &EverySource(&recorder),
            location,
        )?;
        if kinds[i] == ComponentKind::Password {
            let rules = policy.has_password_rules();
            let password = recorder
                .take()
                .or_else(|| configured_password(&specs[i], location, source_ui));
            let password = match password {
                Some(p) => p,
                None if rules => {
                    return Err(RingError::PasswordUnchecked {
                        provider: specs[i].provider.clone(),
                    })
                }
                // A plugin password source that does not ask through the interaction: there
                // is nothing to estimate.
                None => {
                    enrolled[i] = c.into_iter().zip(s).next();
                    continue;
                }
            };
            match std::str::from_utf8(password.expose()) {
                Ok(text) => {
                    if rules {
                        policy.check_new_master_key(&kinds, Some(text))?;
                    }
                    if let Some(weak) = weak {
                        check_strength(text, weak, source_ui)?;
                    }
                }
                Err(_) if rules => {
                    return Err(crate::policy::PolicyViolation(vec![
                        "the new password is not valid UTF-8".into(),
                    ])
                    .into())
                }
                Err(_) => {}
            }
        }
        enrolled[i] = c.into_iter().zip(s).next();
    }
    Ok(enrolled.into_iter().flatten().unzip())
}
