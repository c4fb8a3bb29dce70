//! Where a password comes from: the host's prompt, an environment variable or a file.

use std::path::PathBuf;

use serde::Deserialize;
use trousseau_core::{read_regular_file, Error, ErrorCode, Interaction, SecretBytes};
use zeroize::Zeroize;

/// The JSON configuration of a `password` source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub env: Option<String>,
    /// A regular file (or `/dev/fd/N` open on one) holding the password; a FIFO or pipe is
    /// refused.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl PasswordConfig {
    /// Parses the JSON configuration; an empty string means `{}`.
    pub fn parse(config: &str) -> Result<Self, Error> {
        let config = if config.trim().is_empty() {
            "{}"
        } else {
            config
        };
        // serde would read the struct from a JSON array too (`[]` as "prompt"): only an object
        // is a configuration.
        if !config.trim_start().starts_with('{') {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "password source configuration is not a JSON object; expected {}, \
                 {\"env\": \"NAME\"} or {\"file\": \"PATH\"}",
            ));
        }
        let parsed: PasswordConfig = serde_json::from_str(config).map_err(|e| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!("password source configuration: {e}; expected {{}}, {{\"env\": \"NAME\"}} or {{\"file\": \"PATH\"}}"),
            )
        })?;
        if parsed.env.is_some() && parsed.file.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "password source configuration names both \"env\" and \"file\"; keep one",
            ));
        }
        Ok(parsed)
    }

    /// The input this configuration describes.
    pub fn into_input(self) -> PasswordInput {
        match (self.env, self.file) {
            (Some(name), _) => PasswordInput::Env(name),
            (None, Some(path)) => PasswordInput::File(path),
            (None, None) => PasswordInput::Prompt,
        }
    }
}

/// Where the password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordInput {
    /// Asked through the host's [`Interaction`].
    Prompt,
    /// An environment variable, taken as is.
    Env(String),
    /// A file, with one trailing line ending removed.
    File(PathBuf),
}

impl PasswordInput {
    /// A human label (never the password).
    pub fn label(&self) -> String {
        match self {
            PasswordInput::Prompt => "password".to_string(),
            PasswordInput::Env(name) => format!("password from environment variable {name}"),
            PasswordInput::File(path) => format!("password from file {}", path.display()),
        }
    }

    /// Reads the password's UTF-8 bytes. `enrolling` asks for a confirmation when prompting.
    pub fn read(
        &self,
        location: &str,
        ui: &dyn Interaction,
        enrolling: bool,
    ) -> Result<SecretBytes, Error> {
        let bytes = match self {
            PasswordInput::Prompt => {
                let prompt = if location.is_empty() {
                    "Password".to_string()
                } else {
                    format!("Password for {location}")
                };
                ui.request_secret(&prompt, enrolling)?
            }
            PasswordInput::Env(name) => match std::env::var_os(name) {
                Some(value) => {
                    let mut raw = value.into_encoded_bytes();
                    let secret = SecretBytes::copy_from(&raw);
                    raw.zeroize();
                    secret
                }
                None => {
                    return Err(Error::new(
                        ErrorCode::NotFound,
                        format!("environment variable {name} (the password source) is not set; set it or change the source's \"env\""),
                    ))
                }
            },
            PasswordInput::File(path) => read_password_file(path)?,
        };
        if std::str::from_utf8(bytes.expose()).is_err() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "the {} is not valid UTF-8; KeePass hashes the UTF-8 form of the password, so save it as UTF-8",
                    self.label()
                ),
            ));
        }
        Ok(bytes)
    }
}

/// The largest password file read (1 MiB): far above any password, small enough that a wrong
/// path cannot make the process read without end.
pub const MAX_PASSWORD_FILE_SIZE: u64 = 1 << 20;

/// Reads a password file: the whole contents minus one trailing `\n` or `\r\n`. Only a regular
/// file is opened (a FIFO or device is refused, never read; see
/// [`trousseau_core::read_regular_file`]), of at most [`MAX_PASSWORD_FILE_SIZE`] bytes.
fn read_password_file(path: &std::path::Path) -> Result<SecretBytes, Error> {
    let mut secret = read_regular_file(
        path,
        MAX_PASSWORD_FILE_SIZE,
        format!("password file {}", path.display()),
    )?;
    let text = secret.expose();
    let keep = if text.ends_with(b"\r\n") {
        text.len() - 2
    } else if text.ends_with(b"\n") {
        text.len() - 1
    } else {
        text.len()
    };
    if keep != text.len() {
        let trimmed = SecretBytes::copy_from(&text[..keep]);
        secret.wipe();
        secret = trimmed;
    }
    Ok(secret)
}
