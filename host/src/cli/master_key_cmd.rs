//! `trousseau master-key`: the slots that wrap the ring-wrapping key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Subcommand;
use uuid::Uuid;

use super::{init_cmd::PasswordArgs, password::SecretAnswers, ring, CliError, Context};
use crate::dataprotection::slots::{self, Slot};

/// `trousseau master-key …`.
#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Show the slots and the mode.
    Status,
    /// Add a slot with a new password (the current one is needed to open the ring).
    AddSlot {
        #[command(flatten)]
        password: PasswordArgs,
        /// Read the new password from this file instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
        /// Label of the new slot.
        #[arg(long, default_value = "password")]
        label: String,
    },
    /// Replace the slot the current password opens with a slot for a new password.
    Change {
        #[command(flatten)]
        password: PasswordArgs,
        /// Read the new password from this file instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
    },
    /// Remove a slot (never the last one; the current password is needed).
    RemoveSlot {
        /// The slot id.
        id: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

fn add_slot(
    ctx: &Context,
    password: &PasswordArgs,
    new_file: Option<&std::path::Path>,
    label: &str,
) -> Result<(Slot, Slot), CliError> {
    let repo = ring::repository(ctx)?;
    let (all, _) = ring::inspect(&repo)?;
    if all.is_empty() {
        return Err(CliError::failed(anyhow!(
            "the key ring has no master-key slot; run `trousseau init` first"
        )));
    }
    let (w, opened) = ring::open_w(ctx, &repo, &all, &password.answers()?)?;
    let new_answers = SecretAnswers::new(new_file, false)?;
    let slot = ring::new_slot(ctx, &repo, &w, label, &new_answers)?;
    slots::add_slot(&repo, &slot)?;
    eprintln!("added master-key slot {} ({label})", slot.id);
    Ok((opened, slot))
}

/// Runs a `master-key` command.
pub fn run(ctx: &Context, cmd: MasterKeyCommand) -> Result<(), CliError> {
    match cmd {
        MasterKeyCommand::Status => {
            let repo = ring::repository(ctx)?;
            let (all, keys) = ring::inspect(&repo)?;
            let location = repo
                .describe()
                .map(|d| d.location().to_string())
                .unwrap_or_default();
            println!("repository: {location}");
            println!("keys: {keys}");
            println!(
                "mode: {}",
                if ring::interop(ctx) || all.is_empty() {
                    "interop (keys unencrypted, ASP.NET-readable)"
                } else {
                    "encrypted at rest"
                }
            );
            for s in all {
                let kdf: serde_json::Value = serde_json::from_str(&s.kdf).unwrap_or_default();
                println!(
                    "slot {}  label {:?}  created {}  kdf {}  sources {}",
                    s.id,
                    s.label,
                    s.creation,
                    kdf["kdf"].as_str().unwrap_or("?"),
                    s.sources
                );
            }
            Ok(())
        }
        MasterKeyCommand::AddSlot {
            password,
            new_password_file,
            label,
        } => add_slot(ctx, &password, new_password_file.as_deref(), &label).map(|_| ()),
        MasterKeyCommand::Change {
            password,
            new_password_file,
        } => {
            let (old, new) = add_slot(ctx, &password, new_password_file.as_deref(), "password")?;
            slots::remove_slot(&ring::repository(ctx)?, old.id)?;
            eprintln!(
                "removed master-key slot {}; the new slot {} replaces it",
                old.id, new.id
            );
            Ok(())
        }
        MasterKeyCommand::RemoveSlot { id, password } => {
            let id = Uuid::parse_str(&id)
                .map_err(|e| CliError::usage(anyhow!("invalid slot id {id:?}: {e}")))?;
            let repo = ring::repository(ctx)?;
            let (all, _) = ring::inspect(&repo)?;
            ring::open_w(ctx, &repo, &all, &password.answers()?)?;
            slots::remove_slot(&repo, id)?;
            eprintln!("removed master-key slot {id}");
            Ok(())
        }
    }
}
