//! The provider's configuration (a JSON object) and its public parameters.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trousseau_core::{Error, ErrorCode, Result};

use crate::backend::BackendKind;

/// Configuration of the `user-account` source. Every member is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAccountConfig {
    /// Force a backend instead of choosing one automatically.
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// File of the `file` and `dpapi` backends (defaults: `$XDG_DATA_HOME/trousseau/user-account.key`,
    /// `%APPDATA%\Trousseau\ProtectedUserKey.bin`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `dpapi` only: use KeePass's own `%APPDATA%\KeePass\ProtectedUserKey.bin`, so that a
    /// KeePass "Windows user account" composition is reproduced.
    #[serde(default)]
    pub keepass: bool,
    /// `secret-service` and `keychain`: the service name of the item (default `trousseau`).
    #[serde(default)]
    pub service: Option<String>,
    /// `secret-service` and `keychain`: the account name of the item (default `user-account`).
    #[serde(default)]
    pub account: Option<String>,
}

impl UserAccountConfig {
    /// Parses the JSON configuration (an empty string means defaults).
    pub fn parse(json: &str) -> Result<Self> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        // serde would read the struct from a JSON array too (`[]` as all defaults, i.e. the
        // automatic backend): only an object is a configuration.
        if !json.trim_start().starts_with('{') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "invalid user-account configuration: not a JSON object; expected e.g. \
                 {\"backend\": \"file\", \"path\": \"/home/me/.local/share/trousseau/user-account.key\"}",
            ));
        }
        serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "invalid user-account configuration: {e}; expected e.g. \
                     {{\"backend\": \"file\", \"path\": \"/home/me/.local/share/trousseau/user-account.key\"}}"
                ),
            )
        })
    }
}

/// What enrollment stores (public): the backend, where the key is, and its check value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicParams {
    /// The backend that holds the key.
    pub backend: BackendKind,
    /// Where the key is (a path or an item description).
    pub location: String,
    /// [`crate::key::check_value`] of the key.
    pub check: String,
}

impl PublicParams {
    /// Parses stored public parameters; `None` when empty.
    pub fn parse(json: &str) -> Result<Option<Self>> {
        if json.trim().is_empty() || json.trim() == "{}" {
            return Ok(None);
        }
        serde_json::from_str(json).map(Some).map_err(|e| {
            Error::new(
                ErrorCode::CorruptData,
                format!("the stored user-account parameters are damaged: {e}"),
            )
        })
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
