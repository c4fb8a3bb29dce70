//! [`CliError`]: an error with the exit code it maps to, and how it is printed.

use std::fmt;

use trousseau_core::ErrorCode;

use trousseau::{
    config::ConfigError,
    dataprotection::DataProtectionError,
    masterkey::MasterKeyError,
    ring::{Hint, RingError},
};

/// A failed command: the error to print and the exit code (1 operation, 2 usage/config).
pub struct CliError {
    code: u8,
    error: anyhow::Error,
}

impl CliError {
    /// The operation failed (exit 1), unless the error is a configuration error (see
    /// [`is_configuration_error`]): then exit 2.
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        CliError {
            code: if is_configuration_error(&error) { 2 } else { 1 },
            error,
        }
    }

    /// Bad usage or configuration (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: 2,
            error: error.into(),
        }
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The error.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }

    /// The error as one paragraph: each cause after the first is appended as `: cause`,
    /// except a cause whose text the message already holds (many errors print their source
    /// themselves, which `{:#}` would repeat); and a `: `-separated part that repeats the one
    /// before it (`key file /k: key file /k: …`, a label added by two layers) is written once.
    pub fn message(&self) -> String {
        let mut text = String::new();
        for cause in self.error.chain() {
            let part = cause.to_string();
            if text.is_empty() {
                text = part;
            } else if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in text.split(": ") {
            if parts.last() != Some(&part) {
                parts.push(part);
            }
        }
        let mut message = parts.join(": ");
        let hint = self
            .error
            .chain()
            .find_map(|cause| cause.downcast_ref::<RingError>()?.hint());
        if let Some(hint) = hint {
            message.push_str(render(hint));
        }
        message
    }
}

/// The engine's hint as this tool's words: the command or setting that fixes it.
fn render(hint: Hint) -> &'static str {
    match hint {
        Hint::CreateRing => "; create one with `trousseau init` or `trousseau protect`",
        Hint::EnableInteropOrRestoreSlots => {
            ": set `interop = true` in [data_protection] if every writer of this repository is \
             trusted; otherwise restore the slot elements from a backup"
        }
        Hint::ChangeMasterKey => "\nhint: run `trousseau master-key change` to replace it",
        Hint::ConfigureUnlockSources => {
            "\nhint: this node takes its key sources from --unlock or [[master_key.sources]], \
             never from the key ring"
        }
        Hint::UnlockOrDropSlots => {
            "; give their sources with --unlock, or pass --drop-unopened to remove them"
        }
        Hint::ListProviders => " (plugins are listed by `trousseau plugins list`)",
        Hint::StrongerPassword => {
            "\nhint: choose a stronger password (several unrelated words are easy to remember), \
             or pass --allow-weak-password to use this one"
        }
        _ => "",
    }
}

/// Whether `error` says that the configuration (a file setting, a provider's settings, a
/// repository location that must be fixed by the operator) is wrong: anything in its chain
/// that is a [`ConfigError`], or carries [`ErrorCode::InvalidConfig`] (a provider refusing its
/// settings, a ring directory others may write, a master-key composition that cannot work).
pub fn is_configuration_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if cause.is::<ConfigError>() {
            return true;
        }
        if let Some(e) = cause.downcast_ref::<RingError>() {
            return e.is_configuration();
        }
        let code = if let Some(e) = cause.downcast_ref::<trousseau_core::Error>() {
            Some(e.code())
        } else if let Some(e) = cause.downcast_ref::<MasterKeyError>() {
            Some(e.code())
        } else if let Some(DataProtectionError::Repository(e)) =
            cause.downcast_ref::<DataProtectionError>()
        {
            Some(e.code())
        } else {
            None
        };
        code == Some(ErrorCode::InvalidConfig)
    })
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CliError({}: {})", self.code, self.message())
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::failed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8");
        let e = CliError::failed(
            anyhow::Error::new(ConfigError::Read {
                path: "/c.toml".into(),
                source: io,
            })
            .context("starting"),
        );
        assert_eq!(
            e.message(),
            "starting: cannot read configuration file /c.toml: not UTF-8"
        );
    }

    #[test]
    fn a_label_given_twice_is_written_once() {
        let e = CliError::failed(anyhow::anyhow!(
            "key file /k: key file /k: not a regular file but a FIFO"
        ));
        assert_eq!(e.message(), "key file /k: not a regular file but a FIFO");
    }

    #[test]
    fn invalid_configuration_anywhere_in_the_chain_exits_2() {
        let bad = trousseau_core::Error::new(ErrorCode::InvalidConfig, "bad url");
        assert_eq!(CliError::failed(anyhow::Error::new(bad)).code(), 2);
        let wrapped = Err::<(), _>(trousseau_core::Error::new(ErrorCode::InvalidConfig, "x"))
            .context("opening");
        assert_eq!(CliError::from(wrapped.unwrap_err()).code(), 2);
        let repo = DataProtectionError::Repository(trousseau_core::Error::new(
            ErrorCode::InvalidConfig,
            "directory writable by others",
        ));
        assert_eq!(CliError::from(repo).code(), 2);
        let down = trousseau_core::Error::new(ErrorCode::Unavailable, "server down");
        assert_eq!(CliError::failed(anyhow::Error::new(down)).code(), 1);
    }
}
