//! `trousseau init`: creates the first master-key slot and the first key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::{password::PasswordInput, ring, CliError, Context};
use crate::dataprotection::{
    kek,
    manager::{KeyEncryption, KeyManager, PlainKeys},
    slots::{self, RingWrappingKey, Slot},
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
    /// As a [`PasswordInput`].
    pub fn input(&self) -> PasswordInput {
        PasswordInput {
            stdin: self.password_stdin,
            file: self.password_file.clone(),
        }
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
        let password = if args.password.password_stdin || args.password.password_file.is_some() {
            args.password.input().read("")?
        } else {
            PasswordInput::read_new(None)?
        };
        if password.len() < 8 {
            return Err(CliError::failed(anyhow!(
                "the master password must have at least 8 characters"
            )));
        }
        let w = RingWrappingKey::generate()?;
        let kdf = serde_json::to_string(&kek::KdfParams::new_default()?)?;
        let k = kek::password_kek(&password, &kdf)?;
        let slot = Slot::wrap(&k, &w, &args.label, kek::PASSWORD_SOURCES, &kdf, now)?;
        slots::add_slot(&repo, &slot)?;
        eprintln!("created master-key slot {} ({})", slot.id, slot.label);
        std::sync::Arc::new(w)
    };
    let manager = KeyManager::new(repo, ring::options(ctx), encryption)?;
    let id = manager.create_key(now, now.plus(manager.lifetime()))?;
    eprintln!("created key {id}");
    Ok(())
}
