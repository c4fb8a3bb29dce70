//! `trousseau master-key`: the slots that wrap the ring-wrapping key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use uuid::Uuid;

use super::{
    init_cmd::PasswordArgs,
    password::SecretAnswers,
    ring,
    slot_policy::Expired,
    slot_sources::{self, SourceArgs},
    CliError, Context,
};
use crate::dataprotection::slots::{self, Slot};

/// Options of the new slot in `add-slot` and `change`.
#[derive(Debug, Args)]
pub struct NewSlotArgs {
    /// Read the new password (for a password source) from the first line of this file.
    #[arg(long, value_name = "FILE")]
    new_password_file: Option<PathBuf>,
    /// Read the new password from standard input (the line after the current password when
    /// --password-stdin is given too).
    #[arg(long)]
    new_password_stdin: bool,
    #[command(flatten)]
    sources: SourceArgs,
}

impl NewSlotArgs {
    fn answers(&self) -> anyhow::Result<SecretAnswers> {
        if self.new_password_stdin && self.new_password_file.is_some() {
            anyhow::bail!("use either --new-password-stdin or --new-password-file, not both");
        }
        SecretAnswers::new(self.new_password_file.as_deref(), self.new_password_stdin)
    }
}

/// `trousseau master-key …`.
#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Show the slots and the mode.
    Status,
    /// Add a slot made of the configured key sources (or --source); the current master key
    /// is needed to open the ring.
    AddSlot {
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        new: NewSlotArgs,
        /// Label of the new slot (default: its sources).
        #[arg(long)]
        label: Option<String>,
    },
    /// Replace the slot the current master key opens with a new slot made of the configured
    /// key sources (or --source). Allowed when the policy forces a change.
    Change {
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        new: NewSlotArgs,
    },
    /// Remove a slot (never the last one; the current master key is needed).
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
    new: &NewSlotArgs,
    label: Option<String>,
    expired: Expired,
) -> Result<(Slot, Slot), CliError> {
    let specs = slot_sources::resolve(ctx, &new.sources)?;
    let repo = ring::repository(ctx)?;
    let (all, _) = ring::inspect(&repo)?;
    if all.is_empty() {
        return Err(CliError::failed(anyhow!(
            "the key ring has no master-key slot; run `trousseau init` first"
        )));
    }
    let (w, opened) = ring::open_w(ctx, &repo, &all, &password.answers()?, expired)?;
    let label = label.unwrap_or_else(|| slot_sources::describe(&specs));
    let slot = ring::new_slot(ctx, &repo, &w, &label, &specs, &new.answers()?)?;
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
            new,
            label,
        } => add_slot(ctx, &password, &new, label, Expired::Refuse).map(|_| ()),
        MasterKeyCommand::Change { password, new } => {
            let (old, new) = add_slot(ctx, &password, &new, None, Expired::Allow)?;
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
            ring::open_w(ctx, &repo, &all, &password.answers()?, Expired::Refuse)?;
            slots::remove_slot(&repo, id)?;
            eprintln!("removed master-key slot {id}");
            Ok(())
        }
    }
}
