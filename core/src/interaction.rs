//! [`Interaction`]: how a provider asks the user something. The host implements it.

use abi_stable::StableAbi;

use crate::{Error, SecretBytes};

/// How important a message is.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageLevel {
    /// Progress or information ("touch your token").
    Info = 1,
    /// Something the user should act on but that does not stop the operation.
    Warning = 2,
}

/// The host's side of a conversation with the user. Sources never read the terminal or open
/// windows themselves; a host without a user (a service) answers requests with
/// [`crate::ErrorCode::NeedsPin`] or [`crate::ErrorCode::Cancelled`].
pub trait Interaction {
    /// Shows a message.
    fn message(&self, level: MessageLevel, text: &str);

    /// Asks for a secret (password, PIN). With `confirm`, the host asks twice and checks that
    /// both answers match.
    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error>;

    /// Asks for a value that is not secret (a label, a slot name).
    fn request_value(&self, prompt: &str) -> Result<String, Error>;

    /// Asks a yes/no question; `default` is the answer when the user just presses enter.
    fn confirm(&self, question: &str, default: bool) -> Result<bool, Error>;
}

/// An [`Interaction`] for hosts that have no user: messages go to the `tracing`-free void and
/// every request fails with [`crate::ErrorCode::NeedsPin`] (secrets) or
/// [`crate::ErrorCode::Cancelled`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInteraction;

impl Interaction for NoInteraction {
    fn message(&self, _level: MessageLevel, _text: &str) {}

    fn request_secret(&self, prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
        Err(Error::new(
            crate::ErrorCode::NeedsPin,
            format!("a secret is needed ({prompt}) but this host cannot ask for one"),
        ))
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        Err(Error::new(
            crate::ErrorCode::Cancelled,
            format!("a value is needed ({prompt}) but this host cannot ask for one"),
        ))
    }

    fn confirm(&self, question: &str, _default: bool) -> Result<bool, Error> {
        Err(Error::new(
            crate::ErrorCode::Cancelled,
            format!("a confirmation is needed ({question}) but this host cannot ask"),
        ))
    }
}
