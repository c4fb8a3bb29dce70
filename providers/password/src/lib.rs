//! Key source: a password (KeePass component: SHA-256 of the UTF-8 bytes).
//!
//! The component is `SHA-256(UTF-8(password))` exactly as KeePass 2.x and KeePassXC compute it:
//! no Unicode normalisation, no trimming of what the user typed.
//!
//! **Empty versus absent.** A `password` source always yields a component, also for the empty
//! password (then the component is `SHA-256("")`, as KeePass does when the password box is
//! checked). A master key *without* a password simply has no `password` source. The two give
//! different composite keys; KeePassXC only adds a password when it is non-empty, so a KeePassXC
//! database made with an "empty password" has **no** password component.
//!
//! Where the secret comes from (configuration JSON, never a command-line argument):
//! - `{}`: ask through the host's [`Interaction`] (asked twice when enrolling);
//! - `{"env": "NAME"}`: the environment variable `NAME`, taken as is;
//! - `{"file": "PATH"}`: the file's contents (also `/dev/fd/N` open on a regular file), with
//!   **one** trailing line ending (`\n` or `\r\n`) removed; bytes that are not UTF-8 are
//!   refused. Only a regular file of at most 1 MiB is read: a FIFO, pipe or device is refused
//!   without being read (use `env` or the prompt to pass a password through a pipe).

#![forbid(unsafe_code)]

mod secret_input;

use sha2::{Digest, Sha256};
use trousseau_core::{
    ComponentKind, DeriveContext, Enrollment, Error, ErrorCode, Factory, Interaction, KeySource,
    PluginDef, ProviderDef, SecretBytes, SourceDescription, SourceFlags,
};

pub use secret_input::{PasswordConfig, PasswordInput, MAX_PASSWORD_FILE_SIZE};

/// The providers of this crate.
pub static PLUGIN: PluginDef = PluginDef {
    name: "trousseau-password",
    version: env!("CARGO_PKG_VERSION"),
    providers: &[ProviderDef {
        id: "password",
        summary: "a password (KeePass component: SHA-256 of its UTF-8 bytes)",
        config_help: "{} prompts through the host; {\"env\": \"NAME\"} reads environment variable \
                      NAME; {\"file\": \"PATH\"} reads a regular file, or /dev/fd/N open on one (one \
                      trailing newline removed; FIFOs and devices are refused). Never from a \
                      command-line argument.",
        factory: Factory::KeySource(make),
    }],
};

trousseau_core::register_builtin!(PLUGIN);

fn make(config: &str) -> Result<Box<dyn KeySource>, Error> {
    Ok(Box::new(PasswordSource::from_config(config)?))
}

/// The password key source.
#[derive(Debug, Clone)]
pub struct PasswordSource {
    input: PasswordInput,
}

impl PasswordSource {
    /// A source reading its password from `input`.
    pub fn new(input: PasswordInput) -> Self {
        PasswordSource { input }
    }

    /// A source from its JSON configuration (see the crate documentation).
    pub fn from_config(config: &str) -> Result<Self, Error> {
        Ok(PasswordSource::new(
            PasswordConfig::parse(config)?.into_input(),
        ))
    }

    fn component(
        &self,
        ctx: &DeriveContext,
        ui: &dyn Interaction,
        enrolling: bool,
    ) -> Result<SecretBytes, Error> {
        let password = self.input.read(ctx.location(), ui, enrolling)?;
        if enrolling && password.is_empty() && matches!(self.input, PasswordInput::Prompt) {
            let ok = ui.confirm(
                "The password is empty. A master key with an empty password is weak; use it anyway?",
                false,
            )?;
            if !ok {
                return Err(Error::new(
                    ErrorCode::Cancelled,
                    "empty password refused; enter a password",
                ));
            }
        }
        Ok(password_component(password.expose()))
    }
}

/// The KeePass password component: `SHA-256(bytes)`, where `bytes` are the UTF-8 bytes of the
/// password exactly as typed (no normalisation).
pub fn password_component(utf8: &[u8]) -> SecretBytes {
    let digest = Sha256::digest(utf8);
    SecretBytes::copy_from(digest.as_slice())
}

impl KeySource for PasswordSource {
    fn describe(&self) -> SourceDescription {
        SourceDescription::new(
            "password",
            ComponentKind::Password,
            match self.input {
                PasswordInput::Prompt => SourceFlags::MIGHT_PROMPT,
                _ => SourceFlags::NONE,
            },
            self.input.label(),
        )
    }

    fn enroll(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<Enrollment, Error> {
        Ok(Enrollment::new(self.component(ctx, ui, true)?, "{}"))
    }

    fn derive(&self, ctx: &DeriveContext, ui: &dyn Interaction) -> Result<SecretBytes, Error> {
        self.component(ctx, ui, false)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
