//! Where a secret (a PIN, a recovery secret) comes from: an environment variable or a file
//! named in the configuration, else the host's [`Interaction`].

use std::path::PathBuf;

use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, Interaction, Result, SecretBytes};
use zeroize::Zeroizing;

/// The configuration members naming a secret's source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretInput {
    /// Read the secret from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// Read the secret from this file (first line, surrounding whitespace removed).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretInput {
    /// The secret: from the variable, else the file, else asked with `prompt`.
    pub fn read(&self, ui: &dyn Interaction, prompt: &str) -> Result<SecretBytes> {
        if let Some(var) = &self.env {
            return match std::env::var_os(var) {
                Some(v) if !v.is_empty() => {
                    let v = Zeroizing::new(v.into_encoded_bytes());
                    Ok(SecretBytes::copy_from(trim(&v)))
                }
                _ => Err(Error::new(
                    ErrorCode::NeedsPin,
                    format!("{prompt}: the environment variable {var} named in the configuration is not set"),
                )),
            };
        }
        if let Some(path) = &self.file {
            let bytes = Zeroizing::new(
                std::fs::read(path)
                    .map_err(|e| Error::from_io(&e, path.display()).context(prompt))?,
            );
            let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
            return Ok(SecretBytes::copy_from(trim(first)));
        }
        let s = ui.request_secret(prompt, false)?;
        Ok(SecretBytes::copy_from(trim(s.expose())))
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}
