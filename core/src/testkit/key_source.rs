//! The key-source contract: what a host relies on from every [`crate::KeySource`].
//!
//! [`KeySourceContract::check`] runs, on the source one configuration makes:
//!
//! 1. **describe**: the provider id the contract names, a non-empty label, the same answer
//!    twice;
//! 2. **enroll then derive**: derive, given the public parameters enrollment returned and the
//!    same challenge, yields the enrolled component byte for byte; the component is not empty
//!    (32 bytes for [`ComponentKind::Password`] and [`ComponentKind::KeyFile`]); the public
//!    parameters are empty or a JSON object and, like the label and every error message, do
//!    not contain the component (hex or base64);
//! 3. **determinism**: deriving again with the same context yields the same bytes; the
//!    context's location (a label for prompts) never changes them;
//! 4. **challenge**: a [`ComponentKind::ChallengeResponse`] source answers another challenge
//!    with other bytes; any other kind ignores the challenge (KeePass semantics);
//! 5. **prompting**: a source without [`SourceFlags::MIGHT_PROMPT`] never asks the host
//!    anything; with it, a host that cannot ask gets a typed error, not an internal one;
//! 6. **untrusted public parameters**: derive with garbage public parameters (not JSON, the
//!    wrong shape, unknown members) either succeeds or fails with a typed error, never an
//!    internal one (a panic);
//! 7. **bad configurations**: `{` (not JSON), `[]` (not an object) and those the test adds are
//!    refused with a typed error (by the factory, or by the first enroll), never a panic.

use super::{assert_typed, report_opt_out, Plugin, ScriptedInteraction};
use crate::{
    abi::KeySourceBox, ComponentKind, DeriveContext, Error, ErrorCode, NoInteraction, SecretBytes,
    SourceFlags,
};

/// A promise of the key-source contract that a provider may opt out of, with a reason
/// (see [`KeySourceContract::without`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySourceCheck {
    /// The challenge changes the component exactly when the kind is
    /// [`ComponentKind::ChallengeResponse`].
    ChallengeBehaviour,
    /// The component has the length its kind implies (32 bytes for passwords and key files).
    ComponentLength,
}

/// The challenge the kit enrolls with (a 32-byte KDF seed).
const CHALLENGE: &[u8] = b"trousseau contract test seed 001";
/// Another challenge.
const OTHER_CHALLENGE: &[u8] = b"trousseau contract test seed 002";

/// The contract of one key-source provider. Build it with [`KeySourceContract::new`], adjust
/// it, then run [`KeySourceContract::check`].
#[derive(Debug)]
pub struct KeySourceContract {
    plugin: Plugin,
    provider_id: String,
    bad_configs: Vec<(String, ErrorCode)>,
    opt_outs: Vec<(KeySourceCheck, String)>,
    ui: ScriptedInteraction,
}

impl KeySourceContract {
    /// The contract of key-source provider `provider_id` of `plugin`.
    pub fn new(plugin: Plugin, provider_id: &str) -> Self {
        KeySourceContract {
            plugin,
            provider_id: provider_id.to_string(),
            bad_configs: vec![
                ("{".to_string(), ErrorCode::InvalidConfig),
                ("[]".to_string(), ErrorCode::InvalidConfig),
            ],
            opt_outs: Vec::new(),
            ui: ScriptedInteraction::new(),
        }
    }

    /// Adds a configuration that must be refused with `code`, by the factory or by the first
    /// enroll (a source may read its file or device lazily).
    #[must_use]
    pub fn bad_config(mut self, config: &str, code: ErrorCode) -> Self {
        self.bad_configs.push((config.to_string(), code));
        self
    }

    /// The host's answers when a source that declares [`SourceFlags::MIGHT_PROMPT`] asks (by
    /// default it cannot ask: secrets fail with [`ErrorCode::NeedsPin`]).
    #[must_use]
    pub fn interaction(mut self, ui: ScriptedInteraction) -> Self {
        self.ui = ui;
        self
    }

    /// Opts out of `check`, saying why; the kit prints the opt-out when it runs.
    #[must_use]
    pub fn without(mut self, check: KeySourceCheck, reason: &str) -> Self {
        self.opt_outs.push((check, reason.to_string()));
        self
    }

    fn checks(&self, check: KeySourceCheck) -> bool {
        match self.opt_outs.iter().find(|(c, _)| *c == check) {
            Some((c, reason)) => {
                report_opt_out(&self.provider_id, c, reason);
                false
            }
            None => true,
        }
    }

    fn ok<T>(&self, what: &str, result: Result<T, Error>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("contract: {}: {what} failed: {e:?}", self.provider_id),
        }
    }

    /// Runs every check on the source `config` makes. The source must be able to enroll with
    /// this configuration without a user (use a scripted [`KeySourceContract::interaction`]
    /// for sources that prompt). Panics on the first broken promise, naming it.
    pub fn check(&self, config: &str) {
        let id = self.provider_id.as_str();
        let source = self
            .plugin
            .create_key_source(id, config)
            .unwrap_or_else(|e| panic!("contract: {id}: creating the key source failed: {e:?}"));

        // 1. describe
        let d = self.ok("describe", source.describe());
        assert_eq!(
            d.provider_id(),
            id,
            "contract: describe() names another provider"
        );
        assert!(
            !d.label().trim().is_empty(),
            "contract: {id}: describe() gives an empty label; say what the source is"
        );
        assert_eq!(
            self.ok("describe", source.describe()),
            d,
            "contract: {id}: describe() changes between calls"
        );
        let prompts = d.flags().contains(SourceFlags::MIGHT_PROMPT);

        // 2. enroll then derive
        let ctx = DeriveContext::new(CHALLENGE, "", "contract test ring");
        self.ui.clear();
        let enrollment = self.ok("enroll", source.enroll(&ctx, &self.ui));
        self.assert_asked_only_if(prompts, "enroll");
        let (component, params) = enrollment.into_parts();
        assert!(
            !component.is_empty(),
            "contract: {id}: enroll returned an empty component"
        );
        if matches!(d.kind(), ComponentKind::Password | ComponentKind::KeyFile)
            && self.checks(KeySourceCheck::ComponentLength)
        {
            assert_eq!(
                component.len(),
                32,
                "contract: {id}: a {} component is 32 bytes",
                d.kind().as_str()
            );
        }
        let trimmed = params.trim();
        assert!(
            trimmed.is_empty() || (trimmed.starts_with('{') && trimmed.ends_with('}')),
            "contract: {id}: public parameters must be empty or a JSON object: {params:?}"
        );
        let leaks = Leaks::of(&component);
        leaks.assert_absent(&params, &format!("{id}: the public parameters"));
        leaks.assert_absent(d.label(), &format!("{id}: the label"));

        let at =
            |challenge: &[u8], location: &str| DeriveContext::new(challenge, &params, location);
        let derive = |ctx: &DeriveContext, what: &str| -> SecretBytes {
            self.ui.clear();
            let key = self.ok(what, source.derive(ctx, &self.ui));
            self.assert_asked_only_if(prompts, what);
            key
        };
        let first = derive(&at(CHALLENGE, "contract test ring"), "derive");
        assert!(
            first.ct_eq(component.expose()),
            "contract: {id}: derive with the enrollment's public parameters and challenge gave \
             other bytes than enroll"
        );

        // 3. determinism
        let again = derive(&at(CHALLENGE, "contract test ring"), "derive again");
        assert!(
            again.ct_eq(first.expose()),
            "contract: {id}: derive is not deterministic: same context, other bytes"
        );
        let elsewhere = derive(&at(CHALLENGE, "another label"), "derive, other location");
        assert!(
            elsewhere.ct_eq(first.expose()),
            "contract: {id}: the context's location (a label for prompts) changed the component"
        );

        // 4. challenge
        if self.checks(KeySourceCheck::ChallengeBehaviour) {
            let other = derive(
                &at(OTHER_CHALLENGE, "contract test ring"),
                "derive, other challenge",
            );
            if d.kind() == ComponentKind::ChallengeResponse {
                assert!(
                    !other.ct_eq(first.expose()),
                    "contract: {id}: a challenge-response source gave the same bytes for two \
                     challenges"
                );
            } else {
                assert!(
                    other.ct_eq(first.expose()),
                    "contract: {id}: a {} source must ignore the challenge, but another \
                     challenge gave other bytes (only challenge-response sources answer it)",
                    d.kind().as_str()
                );
            }
        }

        // 5. a host that cannot ask
        if prompts {
            if let Err(e) = source.derive(&at(CHALLENGE, "contract test ring"), &NoInteraction) {
                self.assert_error(&e, "derive without a user", &leaks);
            }
        }

        // 6. untrusted public parameters
        self.check_garbage_params(&source, &leaks);

        // 7. bad configurations
        self.check_bad_configs();
    }

    fn assert_asked_only_if(&self, prompts: bool, what: &str) {
        let asked = self.ui.requests();
        assert!(
            prompts || asked.is_empty(),
            "contract: {}: {what} asked the host {asked:?} but describe() does not declare \
             SourceFlags::MIGHT_PROMPT",
            self.provider_id
        );
    }

    fn assert_error(&self, err: &Error, what: &str, leaks: &Leaks) {
        assert_typed(err, &format!("{}: {what}", self.provider_id));
        leaks.assert_absent(
            err.message(),
            &format!("{}: the error of {what}", self.provider_id),
        );
    }

    fn check_garbage_params(&self, source: &KeySourceBox, leaks: &Leaks) {
        let long = "x".repeat(1 << 20);
        for params in [
            "not json",
            "{",
            "[]",
            "{\"unexpected\": true}",
            "{\"check\": 42, \"format\": [], \"key_id\": null}",
            "\u{0}\u{ffff}",
            long.as_str(),
        ] {
            let shown: String = params.chars().take(40).collect();
            let ctx = DeriveContext::new(CHALLENGE, params, "contract test ring");
            if let Err(e) = source.derive(&ctx, &self.ui) {
                self.assert_error(
                    &e,
                    &format!("derive with public parameters {shown:?}"),
                    leaks,
                );
            }
        }
    }

    fn check_bad_configs(&self) {
        let id = self.provider_id.as_str();
        for (config, code) in &self.bad_configs {
            let err = match self.plugin.create_key_source(id, config) {
                Err(e) => e,
                Ok(source) => {
                    let ctx = DeriveContext::new(CHALLENGE, "", "contract test ring");
                    match source.enroll(&ctx, &self.ui) {
                        Err(e) => e,
                        Ok(_) => panic!(
                            "contract: {id}: the bad configuration {config:?} was accepted \
                             (factory and enroll succeeded); expected {code}"
                        ),
                    }
                }
            };
            assert_typed(&err, &format!("{id}: the bad configuration {config:?}"));
            assert_eq!(
                err.code(),
                *code,
                "contract: {id}: the bad configuration {config:?} must be refused with {code}: \
                 {err:?}"
            );
        }
    }
}

/// Renderings of a component that must never appear in public text.
struct Leaks(Vec<String>);

impl Leaks {
    fn of(component: &SecretBytes) -> Leaks {
        let bytes = component.expose();
        if bytes.len() < 8 {
            return Leaks(Vec::new()); // Too short to tell from chance.
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Leaks(vec![hex.to_uppercase(), hex, base64(bytes)])
    }

    fn assert_absent(&self, text: &str, what: &str) {
        for l in &self.0 {
            assert!(
                !text.contains(l.as_str()),
                "contract: {what} contain the component (never put secrets in public text)"
            );
        }
    }
}

/// Standard base64 without padding (enough to spot a leaked component).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fooba"), "Zm9vYmE");
        assert_eq!(base64(b"\xff\xfe"), "//4");
    }
}
