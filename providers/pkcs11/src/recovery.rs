//! [`YubikeyRecoverySource`]: KeePassXC's YubiKey HMAC-SHA1 challenge-response computed in
//! software from the token's typed-in 20-byte secret, so that a composition enrolled with such
//! a token can be opened without it. The challenge and its padding are KeePassXC's
//! (`src/keys/ChallengeResponseKey.cpp`): see [`effective_challenge`].

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha1::Sha1;
use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Interaction, KeySource, Result,
    SecretBytes, SourceDescription, SourceFlags,
};
use zeroize::Zeroizing;

use crate::secret_input::SecretInput;

/// The provider id.
pub const RECOVERY_PROVIDER_ID: &str = "yubikey-recovery";

/// Length of a YubiKey HMAC-SHA1 slot secret.
pub const SECRET_LEN: usize = 20;

/// The size KeePassXC pads the challenge to.
const PADDED_LEN: usize = 64;

/// Configuration: where the secret comes from (default: asked through the host).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    /// `{"env": "VAR"}` or `{"file": "path"}`; hex (40 digits) or base32 (32 characters).
    #[serde(default)]
    pub secret: SecretInput,
}

/// The software token.
#[derive(Debug)]
pub struct YubikeyRecoverySource {
    config: RecoveryConfig,
}

impl YubikeyRecoverySource {
    /// A source with this configuration.
    pub fn new(config: RecoveryConfig) -> Self {
        YubikeyRecoverySource { config }
    }

    /// Parses the JSON configuration.
    pub fn from_json(json: &str) -> Result<Self> {
        if json.trim().is_empty() {
            return Ok(Self::new(RecoveryConfig::default()));
        }
        // serde would read the struct from a JSON array too (`[]` as "ask"): only an object is
        // a configuration.
        if !json.trim_start().starts_with('{') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "invalid yubikey-recovery configuration: not a JSON object; expected e.g. \
                 {\"secret\": {\"env\": \"YK_SECRET\"}}",
            ));
        }
        serde_json::from_str(json).map(Self::new).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("invalid yubikey-recovery configuration: {e}; expected e.g. {{\"secret\": {{\"env\": \"YK_SECRET\"}}}}"),
            )
        })
    }

    fn respond(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes> {
        let typed = self
            .config
            .secret
            .read(ui, "YubiKey HMAC-SHA1 secret (40 hex digits or base32)")?;
        let secret = parse_secret(typed.expose())?;
        yubikey_response(&secret, ctx.challenge())
    }
}

/// Decodes the typed secret: 40 hex digits or 32 base32 characters (spaces ignored).
pub fn parse_secret(text: &[u8]) -> Result<SecretBytes> {
    let compact: Zeroizing<Vec<u8>> = Zeroizing::new(
        text.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    );
    let bad = || {
        Error::new(
            ErrorCode::InvalidInput,
            format!(
                "the YubiKey secret must be {SECRET_LEN} bytes: 40 hex digits or 32 base32 \
                 characters (as shown when the slot was programmed)"
            ),
        )
    };
    let decoded = if compact.len() == 2 * SECRET_LEN && compact.iter().all(u8::is_ascii_hexdigit) {
        Zeroizing::new(hex::decode(compact.as_slice()).map_err(|_| bad())?)
    } else {
        let upper: Zeroizing<Vec<u8>> = Zeroizing::new(
            compact
                .iter()
                .filter(|b| **b != b'=')
                .map(u8::to_ascii_uppercase)
                .collect(),
        );
        Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(&upper)
                .map_err(|_| bad())?,
        )
    };
    if decoded.len() != SECRET_LEN {
        return Err(bad());
    }
    Ok(SecretBytes::copy_from(&decoded))
}

/// The bytes a YubiKey in variable-length HMAC-SHA1 mode MACs for `challenge`, as KeePassXC
/// sends it: padded to 64 bytes PKCS#7-style, then every trailing byte equal to the last one
/// is taken for padding by the token and dropped (so a seed ending in the pad value loses
/// those bytes too).
pub fn effective_challenge(challenge: &[u8]) -> Result<Vec<u8>> {
    if challenge.len() > PADDED_LEN {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "a YubiKey challenge is at most {PADDED_LEN} bytes, this one has {}",
                challenge.len()
            ),
        ));
    }
    let mut padded = challenge.to_vec();
    let pad = (PADDED_LEN - challenge.len()) as u8;
    padded.resize(PADDED_LEN, pad);
    let last = padded[PADDED_LEN - 1];
    while padded.last() == Some(&last) {
        padded.pop();
    }
    Ok(padded)
}

/// The 20-byte HMAC-SHA1 response of a YubiKey programmed with `secret` to `challenge`.
pub fn yubikey_response(secret: &SecretBytes, challenge: &[u8]) -> Result<SecretBytes> {
    let msg = effective_challenge(challenge)?;
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.expose())
        .map_err(|_| Error::new(ErrorCode::Internal, "HMAC-SHA1 refused the key"))?;
    mac.update(&msg);
    Ok(SecretBytes::copy_from(&mac.finalize().into_bytes()))
}

impl KeySource for YubikeyRecoverySource {
    fn describe(&self) -> SourceDescription {
        SourceDescription::new(
            RECOVERY_PROVIDER_ID,
            ComponentKind::ChallengeResponse,
            SourceFlags::MIGHT_PROMPT,
            "YubiKey HMAC-SHA1 challenge-response (software recovery)",
        )
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment> {
        Ok(Enrollment::new(self.respond(ctx, ui)?, "{}"))
    }

    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes> {
        self.respond(ctx, ui)
    }
}
