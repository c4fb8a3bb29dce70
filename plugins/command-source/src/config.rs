//! The provider's configuration (a JSON object).

use std::time::Duration;

use serde::Deserialize;
use trousseau_core::{Error, ErrorCode};

/// How the program's standard output encodes the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The bytes as printed, minus one trailing newline (`\n` or `\r\n`).
    #[default]
    Raw,
    /// Hexadecimal text (surrounding white space ignored).
    Hex,
    /// Standard or URL-safe base64, padded or not (surrounding white space ignored).
    Base64,
}

/// `{"argv": [...], "timeout_ms": 10000, "encoding": "raw", "direct_key": false, "env": {}}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Program and arguments; run directly, never through a shell.
    pub argv: Vec<String>,
    /// Time limit for the program, in milliseconds (default 10 s).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Output encoding.
    #[serde(default)]
    pub encoding: Encoding,
    /// Use the key as is instead of hashing it (KeePass `DirectKey`; the key must then be
    /// exactly 32 bytes).
    #[serde(default)]
    pub direct_key: bool,
    /// Extra environment variables for the program.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Help text shown by `trousseau plugins inspect`.
pub const HELP: &str = "\
argv        (required) program and arguments, run without a shell, e.g.
            [\"vault\", \"kv\", \"get\", \"-field=key\", \"secret/app\"]
timeout_ms  time limit in milliseconds (default 10000)
encoding    how stdout encodes the key: raw (default; one trailing newline removed),
            hex or base64
direct_key  use the key as is (must be 32 bytes) instead of hashing it (default false)
env         extra environment variables for the program (object of strings)
The program also receives TROUSSEAU_CHALLENGE (hex of the KDF seed) and TROUSSEAU_LOCATION.";

impl Config {
    /// Parses and validates the JSON configuration.
    pub fn parse(json: &str) -> Result<Config, Error> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let config: Config = serde_json::from_str(json).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("command key source: invalid configuration: {e}"),
            )
        })?;
        if config.argv.first().is_none_or(|p| p.is_empty()) {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "command key source: `argv` must name the program to run, e.g. \
                 {\"argv\": [\"/usr/bin/vault\", \"read\", \"-field=key\", \"secret/app\"]}",
            ));
        }
        if config.timeout_ms == 0 {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "command key source: `timeout_ms` must be greater than 0",
            ));
        }
        Ok(config)
    }

    /// The time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
