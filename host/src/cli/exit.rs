//! [`CliError`]: an error with the exit code it maps to.

use std::fmt;

/// A failed command: the error to print and the exit code (1 operation, 2 usage/config).
pub struct CliError {
    code: u8,
    error: anyhow::Error,
}

impl CliError {
    /// The operation failed (exit 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            code: 1,
            error: error.into(),
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
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CliError({}: {:#})", self.code, self.error)
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::failed(e)
    }
}
