//! The administrator's master-key policy (`[policy]` in the configuration), modelled on
//! KeePass's `Security/MasterPassword/*`, `MasterKeyExpiryRec/Force` and
//! `UI/KeyCreationFlags`/`KeyPromptFlags`.
//!
//! ```toml
//! [policy]
//! minimum_length = 12                   # UTF-16 code units, as KeePass counts
//! minimum_quality = 60                  # estimated bits (zxcvbn guesses, as log2)
//! master_key_expiry_rec = "P90D"        # xs:duration (from the last change) or xs:date/xs:dateTime
//! master_key_expiry_force = "2027-01-01"
//! key_creation_flags = 263168           # KeePass AceKeyUIFlags, decimal (0x40000 | 0x400)
//! key_prompt_flags = 0
//! require = ["password"]                # readable form, for creation
//! forbid = ["user-account"]
//! ```
//!
//! **Quality differs from KeePass.** KeePass estimates bits with its own pattern-matching
//! estimator (`QualityEstimation.cs`, with a popular-password list and a 500 ms cut-off); we
//! use the `zxcvbn` crate's guess count, reported as log2(guesses) bits. The two disagree on
//! many passwords, so port a KeePass `MinimumQuality` with care.
//!
//! Checks run when a master key is created or changed ([`Policy::check_new_master_key`]),
//! when it is used ([`Policy::check_unlock`]) and for expiry ([`Policy::expiry`]).

mod expiry;
mod flags;
#[cfg(feature = "password-quality")]
mod strength;

use std::collections::BTreeMap;

use serde::Deserialize;
use trousseau_core::ComponentKind;

pub use expiry::{parse_expiry, ExpiryRule, ExpiryStatus};
pub use flags::{decode_flags, Requirement, SOURCE_FLAG_KINDS};
#[cfg(feature = "password-quality")]
pub use strength::{Strength, WEAK_BELOW_SCORE};

/// The `[policy]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Minimum password length in UTF-16 code units (KeePass `MinimumLength`).
    #[serde(default)]
    pub minimum_length: Option<u32>,
    /// Minimum estimated quality in bits (KeePass `MinimumQuality`; our estimate is zxcvbn's).
    #[serde(default)]
    pub minimum_quality: Option<u32>,
    /// Recommend a change after this duration or date (KeePass `MasterKeyExpiryRec`).
    #[serde(default)]
    pub master_key_expiry_rec: Option<String>,
    /// Force a change after this duration or date (KeePass `MasterKeyExpiryForce`).
    #[serde(default)]
    pub master_key_expiry_force: Option<String>,
    /// KeePass `KeyCreationFlags` (decimal bit values).
    #[serde(default)]
    pub key_creation_flags: Option<u64>,
    /// KeePass `KeyPromptFlags` (decimal bit values).
    #[serde(default)]
    pub key_prompt_flags: Option<u64>,
    /// Sources a new master key must have (`password`, `key-file`, `user-account`, …).
    #[serde(default)]
    pub require: Vec<String>,
    /// Sources a new master key must not have.
    #[serde(default)]
    pub forbid: Vec<String>,
}

/// Why a policy check failed: one sentence per broken rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the master key does not meet the policy: {}", .0.join("; "))]
pub struct PolicyViolation(pub Vec<String>);

/// The `[policy]` configuration is contradictory or names unknown sources.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid [policy]: {0}")]
pub struct PolicyConfigError(pub String);

/// A checked policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    minimum_length: Option<u32>,
    minimum_quality: Option<u32>,
    expiry_rec: Option<ExpiryRule>,
    expiry_force: Option<ExpiryRule>,
    creation: BTreeMap<ComponentKind, Requirement>,
    prompt: BTreeMap<ComponentKind, Requirement>,
    /// Things worth telling the administrator (unparsable expiry, unknown flag bits).
    pub warnings: Vec<String>,
}

fn kind_from_name(name: &str) -> Option<ComponentKind> {
    Some(match name {
        "password" => ComponentKind::Password,
        "key-file" | "keyfile" => ComponentKind::KeyFile,
        "user-account" => ComponentKind::UserAccount,
        "provider" => ComponentKind::Provider,
        "challenge-response" => ComponentKind::ChallengeResponse,
        _ => return None,
    })
}

/// Estimated strength in bits: log2 of zxcvbn's guess count (0 for the empty password).
/// Needs the `password-quality` cargo feature.
#[cfg(feature = "password-quality")]
pub fn estimated_bits(password: &str) -> f64 {
    if password.is_empty() {
        return 0.0;
    }
    zxcvbn::zxcvbn(password, &[]).guesses_log10() * std::f64::consts::LOG2_10
}

impl Policy {
    /// Checks and compiles the configuration. Unparsable expiry values and unknown flag bits
    /// become [`Policy::warnings`] (KeePass shows a warning and carries on); contradictions
    /// between `require`, `forbid` and `key_creation_flags` are errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use trousseau::{policy::PolicyConfig, Config, Policy};
    ///
    /// let text = r#"
    ///     [policy]
    ///     minimum_length = 12
    ///     master_key_expiry_rec = "P90D"
    ///     master_key_expiry_force = "not a date"
    ///     require = ["password"]
    /// "#;
    /// let config = Config::parse(text, Path::new("(inline)"))?;
    /// let policy = Policy::from_config(&config.policy)?;
    /// assert!(policy.has_password_rules());
    /// assert_eq!(policy.warnings.len(), 1); // the unparsable forced expiry is ignored
    ///
    /// // Contradictions are refused.
    /// let both = PolicyConfig {
    ///     require: vec!["password".into()],
    ///     forbid: vec!["password".into()],
    ///     ..PolicyConfig::default()
    /// };
    /// assert!(Policy::from_config(&both).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(config: &PolicyConfig) -> Result<Policy, PolicyConfigError> {
        let mut warnings = Vec::new();
        let mut expiry = |name: &str, value: &Option<String>| {
            value.as_deref().and_then(|v| match parse_expiry(v) {
                Ok(rule) => Some(rule),
                Err(e) => {
                    warnings.push(format!("{name} = {v:?} is not an xs:duration, xs:date or xs:dateTime ({e}); it is ignored"));
                    None
                }
            })
        };
        let expiry_rec = expiry("master_key_expiry_rec", &config.master_key_expiry_rec);
        let expiry_force = expiry("master_key_expiry_force", &config.master_key_expiry_force);
        let mut creation = BTreeMap::new();
        let mut prompt = BTreeMap::new();
        if let Some(bits) = config.key_creation_flags {
            let (map, w) = decode_flags(bits);
            creation = map;
            warnings.extend(w.into_iter().map(|w| format!("key_creation_flags: {w}")));
        }
        if let Some(bits) = config.key_prompt_flags {
            let (map, w) = decode_flags(bits);
            prompt = map;
            warnings.extend(w.into_iter().map(|w| format!("key_prompt_flags: {w}")));
        }
        for (list, wanted) in [
            (&config.require, Requirement::Required),
            (&config.forbid, Requirement::Forbidden),
        ] {
            for name in list {
                let kind = kind_from_name(name).ok_or_else(|| {
                    PolicyConfigError(format!(
                        "unknown source {name:?} in require/forbid; use password, key-file, user-account, provider or challenge-response"
                    ))
                })?;
                match creation.insert(kind, wanted) {
                    Some(previous) if previous != wanted && previous != Requirement::Free => {
                        return Err(PolicyConfigError(format!(
                            "{name} is both {} and {} (check require, forbid and key_creation_flags)",
                            previous.as_str(),
                            wanted.as_str()
                        )))
                    }
                    _ => {}
                }
            }
        }
        if config.minimum_quality.is_some() && !cfg!(feature = "password-quality") {
            // Refused rather than ignored: a policy the engine cannot check must not pass.
            return Err(PolicyConfigError(
                "minimum_quality is set but this build cannot estimate password quality: \
                 build trousseau with its `password-quality` feature, or remove minimum_quality"
                    .to_string(),
            ));
        }
        Ok(Policy {
            minimum_length: config.minimum_length,
            minimum_quality: config.minimum_quality,
            expiry_rec,
            expiry_force,
            creation,
            prompt,
            warnings,
        })
    }

    /// Whether the policy has rules about the password itself (minimum length or quality).
    pub fn has_password_rules(&self) -> bool {
        self.minimum_length.is_some() || self.minimum_quality.is_some()
    }

    /// What the policy says about `kind` when creating a master key.
    pub fn creation_requirement(&self, kind: ComponentKind) -> Requirement {
        self.creation
            .get(&kind)
            .copied()
            .unwrap_or(Requirement::Free)
    }

    /// What the policy says about `kind` when unlocking.
    pub fn prompt_requirement(&self, kind: ComponentKind) -> Requirement {
        self.prompt.get(&kind).copied().unwrap_or(Requirement::Free)
    }

    /// Checks a new master key made of `kinds`, with `password` when it has one (in the
    /// KeePass order: length, then quality). Every broken rule is reported, saying by how much.
    pub fn check_new_master_key(
        &self,
        kinds: &[ComponentKind],
        password: Option<&str>,
    ) -> Result<(), PolicyViolation> {
        let mut broken = sources_violations(&self.creation, kinds, "a new master key");
        if let Some(pw) = password {
            let length = pw.encode_utf16().count() as u32;
            if let Some(min) = self.minimum_length.filter(|&m| length < m) {
                broken.push(format!(
                    "the password has {length} characters, the minimum is {min} ({} more needed)",
                    min - length
                ));
            }
            #[cfg(feature = "password-quality")]
            if let Some(min) = self.minimum_quality {
                let bits = estimated_bits(pw);
                if bits < f64::from(min) {
                    broken.push(format!(
                        "the password's estimated quality is {bits:.0} bits, the minimum is {min} bits ({:.0} bits short)",
                        (f64::from(min) - bits).ceil()
                    ));
                }
            }
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(PolicyViolation(broken))
        }
    }

    /// Checks the sources used to unlock (`key_prompt_flags`).
    pub fn check_unlock(&self, kinds: &[ComponentKind]) -> Result<(), PolicyViolation> {
        let broken = sources_violations(&self.prompt, kinds, "unlocking");
        if broken.is_empty() {
            Ok(())
        } else {
            Err(PolicyViolation(broken))
        }
    }

    /// Whether a master key last changed at `changed` must or should be changed at `now`.
    /// Force wins over recommend.
    pub fn expiry(&self, changed: time::OffsetDateTime, now: time::OffsetDateTime) -> ExpiryStatus {
        if let Some(rule) = self
            .expiry_force
            .as_ref()
            .filter(|r| r.expired(changed, now))
        {
            return ExpiryStatus::Forced(format!(
                "the policy requires a new master key ({})",
                rule.describe()
            ));
        }
        if let Some(rule) = self.expiry_rec.as_ref().filter(|r| r.expired(changed, now)) {
            return ExpiryStatus::Recommended(format!(
                "the policy recommends a new master key ({})",
                rule.describe()
            ));
        }
        ExpiryStatus::Current
    }
}

fn sources_violations(
    rules: &BTreeMap<ComponentKind, Requirement>,
    kinds: &[ComponentKind],
    when: &str,
) -> Vec<String> {
    let mut broken = Vec::new();
    for (kind, req) in rules {
        let present = kinds.contains(kind);
        match req {
            Requirement::Required if !present => {
                broken.push(format!("{when} must include a {} source", kind.as_str()))
            }
            Requirement::Forbidden if present => broken.push(format!(
                "{when} must not include a {} source",
                kind.as_str()
            )),
            _ => {}
        }
    }
    broken
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
