//! `trousseau init`: creates the first master-key slot and the first key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{password::SecretAnswers, ring, CliError, Context};
use crate::dataprotection::{
    manager::{KeyEncryption, KeyManager, PlainKeys},
    slots::{self, RingWrappingKey},
    timestamp::Timestamp,
};

/// Options of the password (master key) for commands that open the ring.
#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Read the master password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the master password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl PasswordArgs {
    /// The interaction answering the key sources' questions.
    pub fn answers(&self) -> anyhow::Result<SecretAnswers> {
        if self.password_stdin && self.password_file.is_some() {
            anyhow::bail!("use either --password-stdin or --password-file, not both");
        }
        SecretAnswers::new(self.password_file.as_deref(), self.password_stdin)
    }
}

/// `trousseau init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    password: PasswordArgs,
    /// A label for the first slot.
    #[arg(long, default_value = "password")]
    label: String,
}

/// Runs `init`: refuses when a ring exists.
pub fn run(ctx: &Context, args: InitArgs) -> Result<(), CliError> {
    let repo = ring::repository(ctx)?;
    let (slots_, keys) = ring::inspect(&repo)?;
    if !slots_.is_empty() || keys > 0 {
        return Err(CliError::failed(anyhow!(
            "a key ring already exists in {} ({} keys, {} slots); nothing was changed",
            repo.describe()
                .map(|d| d.location().to_string())
                .unwrap_or_default(),
            keys,
            slots_.len()
        )));
    }
    let now = Timestamp::now();
    let encryption: std::sync::Arc<dyn KeyEncryption> = if ring::interop(ctx) {
        std::sync::Arc::new(PlainKeys)
    } else {
        let w = RingWrappingKey::generate()?;
        let slot = ring::new_slot(ctx, &repo, &w, &args.label, &args.password.answers()?)?;
        slots::add_slot(&repo, &slot)?;
        eprintln!("created master-key slot {} ({})", slot.id, slot.label);
        std::sync::Arc::new(w)
    };
    let manager = KeyManager::new(repo, ring::options(ctx), encryption)?;
    let id = manager.create_key(now, now.plus(manager.lifetime()))?;
    eprintln!("created key {id}");
    Ok(())
}
