//! KeePass `AceKeyUIFlags` (`KeyCreationFlags`, `KeyPromptFlags`) mapped to per-source rules.
//!
//! Bits (decimal in KeePass's XML): Enable password 0x1, key file 0x2, user account 0x4,
//! hide password 0x8; Disable 0x100/0x200/0x400/0x800; Check 0x10000/0x20000/0x40000/0x80000;
//! Uncheck 0x1000000/0x2000000/0x4000000/0x8000000. KeePass applies them in the order
//! Enable → Check → Uncheck → Disable (`UIUtil.ApplyKeyUIFlags`).
//!
//! Mapping: a source whose checkbox ends up **disabled** cannot be changed by the user, so it is
//! [`Requirement::Required`] when checked and [`Requirement::Forbidden`] when unchecked (the
//! default state being KeePass's: password checked, key file and user account unchecked).
//! A source left enabled is [`Requirement::Free`] (Check/Uncheck only change the default).
//! The "hide password" bits concern display only and are ignored. Example: 263168 =
//! 0x40000 | 0x400 = check + disable user account = user account required.

use std::collections::BTreeMap;

use trousseau_core::ComponentKind;

/// What the policy says about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Must be part of the master key.
    Required,
    /// Must not be part of the master key.
    Forbidden,
    /// The user chooses.
    Free,
}

impl Requirement {
    /// `required`, `forbidden` or `free`.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Required => "required",
            Requirement::Forbidden => "forbidden",
            Requirement::Free => "free to choose",
        }
    }
}

/// The sources the KeePass flags cover, with their bit index (password 0, key file 1, user
/// account 2) and whether KeePass's checkbox is checked by default.
pub const SOURCE_FLAG_KINDS: [(ComponentKind, u32, bool); 3] = [
    (ComponentKind::Password, 0, true),
    (ComponentKind::KeyFile, 1, false),
    (ComponentKind::UserAccount, 2, false),
];

const ENABLE: u64 = 0x1;
const DISABLE: u64 = 0x100;
const CHECK: u64 = 0x10000;
const UNCHECK: u64 = 0x100_0000;
/// Every bit KeePass defines (4 sources × 4 actions).
const KNOWN: u64 = 0x0F0F_0F0F;

/// Decodes KeePass flag bits into per-source rules, plus warnings for unknown bits.
pub fn decode_flags(bits: u64) -> (BTreeMap<ComponentKind, Requirement>, Vec<String>) {
    let mut warnings = Vec::new();
    if bits & !KNOWN != 0 {
        warnings.push(format!("unknown bits {:#x} are ignored", bits & !KNOWN));
    }
    let mut rules = BTreeMap::new();
    for (kind, i, default_checked) in SOURCE_FLAG_KINDS {
        let has = |action: u64| bits & (action << i) != 0;
        // Enable → Check → Uncheck → Disable.
        let mut enabled = true;
        let mut checked = default_checked;
        if has(ENABLE) {
            enabled = true;
        }
        if has(CHECK) {
            checked = true;
        }
        if has(UNCHECK) {
            checked = false;
        }
        if has(DISABLE) {
            enabled = false;
        }
        let rule = match (enabled, checked) {
            (false, true) => Requirement::Required,
            (false, false) => Requirement::Forbidden,
            (true, _) => Requirement::Free,
        };
        if rule != Requirement::Free {
            rules.insert(kind, rule);
        }
    }
    (rules, warnings)
}
