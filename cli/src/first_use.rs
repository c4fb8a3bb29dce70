//! What the tool says when a command's first use creates the key ring: one message saying
//! where the ring is, what opens it and what to back up — with, for a ring opened by the user
//! key, which backend keeps that key (the Secret Service, DPAPI, the Keychain, or a plain
//! file, and why a plain file) — instead of the user-account source's own "created a new
//! user key" warning followed by the same backup advice again.
//!
//! [`HoldUserKeyMessages`] holds back what the user-account source says while the ring is
//! opened; [`notice`] then says it all once, or [`HoldUserKeyMessages::release`] passes the
//! messages on when no ring was created.

use std::cell::RefCell;

use trousseau::{
    masterkey::{KdfParams, SourceInteraction, SourceSpec},
    ring::{CreatedRing, PASSWORD, USER_ACCOUNT},
};
use trousseau_core::{ComponentKind, Error, Interaction, MessageLevel, SecretBytes};
use trousseau_user_account::{self as ua, PublicParams, UserAccountConfig};

/// A [`SourceInteraction`] that holds back the user-account source's messages (it says
/// something only when it makes the user key) and passes everything else through.
pub struct HoldUserKeyMessages<'a> {
    inner: &'a dyn SourceInteraction,
    user: Holding<'a>,
}

impl std::fmt::Debug for HoldUserKeyMessages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HoldUserKeyMessages")
    }
}

/// The user-account source's interaction, its messages held.
struct Holding<'a> {
    inner: &'a dyn Interaction,
    held: RefCell<Vec<(MessageLevel, String)>>,
}

impl<'a> HoldUserKeyMessages<'a> {
    /// Holds back the user-account source's messages to `inner`.
    pub fn new(inner: &'a dyn SourceInteraction) -> Self {
        HoldUserKeyMessages {
            inner,
            user: Holding {
                inner: inner.for_source(ComponentKind::UserAccount),
                held: RefCell::new(Vec::new()),
            },
        }
    }

    /// Says the held messages after all (no ring was created, so no [`notice`] says it).
    pub fn release(self) {
        for (level, text) in self.user.held.into_inner() {
            self.user.inner.message(level, &text);
        }
    }
}

impl SourceInteraction for HoldUserKeyMessages<'_> {
    fn for_source(&self, kind: ComponentKind) -> &dyn Interaction {
        if kind == ComponentKind::UserAccount {
            &self.user
        } else {
            self.inner.for_source(kind)
        }
    }

    fn key_derivation(
        &self,
        params: &KdfParams,
        expected: Option<std::time::Duration>,
        derive: &mut dyn FnMut(),
    ) {
        self.inner.key_derivation(params, expected, derive);
    }
}

impl Interaction for Holding<'_> {
    fn message(&self, level: MessageLevel, text: &str) {
        self.held.borrow_mut().push((level, text.to_string()));
    }

    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        self.inner.request_secret(prompt, confirm)
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.inner.request_value(prompt)
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error> {
        self.inner.confirm(question, default)
    }
}

/// The lines said when the first use created the ring at `place` (`key ring /…`): what opens
/// it — where the user key is kept, and why there, when the user key does — and, once, what
/// to back up.
pub fn notice(place: &str, created: &CreatedRing) -> Vec<String> {
    // The slot's sources as enrolled carry the user key's backend and location.
    let specs = created
        .slot
        .as_ref()
        .map_or(&created.sources, |slot| &slot.sources);
    let by = trousseau::dataprotection::slots::describe(specs);
    let user_key = specs.iter().find(|s| s.provider == USER_ACCOUNT);
    let mut first = format!("created a new {place}, opened by {by}");
    if let Some(kept) = user_key.and_then(user_key_place) {
        first.push_str(&format!("; the user key is kept in {kept}"));
    }
    let advice = if user_key.is_some() {
        "back up the user key with `trousseau user-account export FILE` (passphrase-protected) \
         and keep the copy somewhere safe: without it the ring cannot be opened"
    } else if specs.iter().any(|s| s.provider == PASSWORD) {
        "without the password the keys are lost; `trousseau master-key add-slot` adds another \
         way in"
    } else {
        return vec![first];
    };
    vec![first, advice.to_string()]
}

/// Where the user key of the enrolled source `spec` is kept and why there: `a plain file,
/// /home/u/…/user-account.key (no Secret Service answers on the session bus)`.
fn user_key_place(spec: &SourceSpec) -> Option<String> {
    let params = PublicParams::parse(&spec.public_params).ok()??;
    let config = UserAccountConfig::parse(if spec.config.trim().is_empty() {
        "{}"
    } else {
        &spec.config
    })
    .ok()?;
    Some(format!(
        "{} ({})",
        ua::describe(params.backend, &params.location),
        ua::reason(params.backend, &config)
    ))
}
