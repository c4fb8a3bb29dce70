//! The error type that crosses the plugin boundary: a closed set of codes plus a message.

use std::fmt;

use abi_stable::{std_types::RString, StableAbi};

/// What went wrong, as a closed set that hosts branch on.
///
/// The set is part of the ABI: adding a code is an ABI change. Messages carry the detail.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The material is valid but does not open what it was asked to open (wrong password,
    /// wrong key file, wrong composition).
    WrongKey = 1,
    /// A PIN or passphrase is required and none was available (no interactive prompt).
    NeedsPin = 2,
    /// The PIN given was refused by the device.
    WrongPin = 3,
    /// The device refuses further PIN attempts.
    PinLocked = 4,
    /// The hardware token or device is not present.
    DeviceAbsent = 5,
    /// A named thing (file, key, element, provider) does not exist.
    NotFound = 6,
    /// A conditional write lost a race: the stored version changed since it was read.
    Conflict = 7,
    /// The provider does not support this operation (or not on this platform).
    Unsupported = 8,
    /// The provider's configuration is invalid.
    InvalidConfig = 9,
    /// An argument or user-supplied value is invalid.
    InvalidInput = 10,
    /// Stored data is malformed or fails an integrity check.
    CorruptData = 11,
    /// An operating-system I/O error (including permission denied).
    Io = 12,
    /// A service the provider needs (server, daemon, bus) cannot be reached now; retrying may help.
    Unavailable = 13,
    /// The user cancelled an interaction.
    Cancelled = 14,
    /// A bug or unexpected state inside the provider, including a caught panic.
    Internal = 15,
}

impl ErrorCode {
    /// A short stable name for the code, as used in logs and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::WrongKey => "wrong-key",
            ErrorCode::NeedsPin => "needs-pin",
            ErrorCode::WrongPin => "wrong-pin",
            ErrorCode::PinLocked => "pin-locked",
            ErrorCode::DeviceAbsent => "device-absent",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::InvalidConfig => "invalid-config",
            ErrorCode::InvalidInput => "invalid-input",
            ErrorCode::CorruptData => "corrupt-data",
            ErrorCode::Io => "io",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error returned by a provider: a code the host can branch on and a message for the user.
///
/// Messages say what was wrong and what to do. They never contain secret material.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: RString,
}

impl Error {
    /// Creates an error with `code` and a user-facing `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: RString::from(message.into()),
        }
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The user-facing message.
    pub fn message(&self) -> &str {
        self.message.as_str()
    }

    /// Returns the same error with `context: ` put in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error::new(self.code, format!("{context}: {}", self.message))
    }

    /// Maps an [`std::io::Error`] to [`ErrorCode::NotFound`], [`ErrorCode::Io`] or
    /// [`ErrorCode::Unavailable`], with `what` (e.g. a path) named in the message.
    pub fn from_io(err: &std::io::Error, what: impl fmt::Display) -> Self {
        use std::io::ErrorKind;
        let code = match err.kind() {
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::TimedOut => ErrorCode::Unavailable,
            _ => ErrorCode::Io,
        };
        Error::new(code, format!("{what}: {err}"))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_code_and_prefixes_message() {
        let e = Error::new(ErrorCode::NotFound, "no such file").context("/etc/x.key");
        assert_eq!(e.code(), ErrorCode::NotFound);
        assert_eq!(e.message(), "/etc/x.key: no such file");
        assert_eq!(
            format!("{e:?}"),
            "Error(not-found: /etc/x.key: no such file)"
        );
    }

    #[test]
    fn io_errors_map_to_codes() {
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(Error::from_io(&nf, "f").code(), ErrorCode::NotFound);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(Error::from_io(&refused, "h").code(), ErrorCode::Unavailable);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Error::from_io(&denied, "f").code(), ErrorCode::Io);
    }
}
