//! Configuration and public parameters of the `pkcs11` source.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trousseau_core::{Error, ErrorCode, Result};

use crate::secret_input::SecretInput;

/// Which MAC the token computes over the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MacMechanism {
    /// CKM_SHA256_HMAC with a generic-secret key (32-byte component).
    #[default]
    HmacSha256,
    /// CKM_AES_CMAC with an AES key, for tokens without HMAC (16-byte component).
    AesCmac,
}

impl MacMechanism {
    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            MacMechanism::HmacSha256 => "hmac-sha256",
            MacMechanism::AesCmac => "aes-cmac",
        }
    }
}

/// Configuration of the `pkcs11` source (JSON).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library). Required to enroll and to derive: the path recorded
    /// at enrollment ([`PublicParams::module`]) is never loaded, since it comes from the key ring.
    #[serde(default)]
    pub module: Option<PathBuf>,
    /// The token, by label.
    #[serde(default)]
    pub token_label: Option<String>,
    /// The token, by serial number (wins over the label).
    #[serde(default)]
    pub token_serial: Option<String>,
    /// The key's label (default `trousseau`).
    #[serde(default)]
    pub key_label: Option<String>,
    /// The key's CKA_ID in hex (wins over the label when set).
    #[serde(default)]
    pub key_id: Option<String>,
    /// The MAC mechanism (default `hmac-sha256`).
    #[serde(default)]
    pub mechanism: Option<MacMechanism>,
    /// Length in bytes of a key created at enrollment (default 32, at least 32 for HMAC;
    /// 16, 24 or 32 for AES).
    #[serde(default)]
    pub key_length: Option<u64>,
    /// Where the user PIN comes from (`{"env": "VAR"}` or `{"file": "path"}`); default: ask.
    #[serde(default)]
    pub pin: SecretInput,
}

impl Pkcs11Config {
    /// Parses the JSON configuration.
    pub fn parse(json: &str) -> Result<Self> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        // serde would read the struct from a JSON array too: only an object is a configuration.
        if !json.trim_start().starts_with('{') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "invalid pkcs11 configuration: not a JSON object; expected e.g. {\"module\": \
                 \"/usr/lib/softhsm/libsofthsm2.so\", \"token_label\": \"mytoken\"}",
            ));
        }
        serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "invalid pkcs11 configuration: {e}; expected e.g. {{\"module\": \
                     \"/usr/lib/softhsm/libsofthsm2.so\", \"token_label\": \"mytoken\", \
                     \"key_label\": \"trousseau\", \"pin\": {{\"env\": \"TOKEN_PIN\"}}}}"
                ),
            )
        })
    }
}

/// What enrollment stores: where the key is. Nothing here is secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicParams {
    /// The module path used at enrollment: for display and as a hint in errors only, never
    /// loaded (the module always comes from the node's configuration).
    pub module: PathBuf,
    /// The token's label.
    pub token_label: String,
    /// The token's serial number.
    pub token_serial: String,
    /// The key's label.
    pub key_label: String,
    /// The key's CKA_ID, hex.
    pub key_id: String,
    /// The mechanism.
    pub mechanism: MacMechanism,
}

impl PublicParams {
    /// Parses stored parameters; `None` when empty.
    pub fn parse(json: &str) -> Result<Option<Self>> {
        if json.trim().is_empty() || json.trim() == "{}" {
            return Ok(None);
        }
        serde_json::from_str(json).map(Some).map_err(|e| {
            Error::new(
                ErrorCode::CorruptData,
                format!("the stored pkcs11 parameters are damaged: {e}"),
            )
        })
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
