//! `trousseau master-key`: the slots that wrap the ring-wrapping key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use uuid::Uuid;

use super::{
    init_cmd::PasswordArgs,
    password::SecretAnswers,
    ring,
    slot_sources::{self, SourceArgs},
    CliError, Context,
};
use trousseau::{
    dataprotection::{
        slots::{self, Slot},
        unlock::Opened,
    },
    masterkey::SourceInteraction,
    ring::Expired,
};

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
        #[command(flatten)]
        rotation: RotationArgs,
    },
    /// Remove a slot (never the last one; the current master key is needed).
    RemoveSlot {
        /// The slot id.
        id: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        rotation: RotationArgs,
    },
    /// Replace the ring-wrapping key: every key secret and revocation is sealed again under a
    /// new one and every slot that still opens is re-wrapped, so that a removed slot put back
    /// by someone who kept a copy opens nothing. Restart running nodes afterwards.
    Rotate {
        #[command(flatten)]
        password: PasswordArgs,
        /// Drop the slots that cannot be opened here instead of refusing to rotate.
        #[arg(long)]
        drop_unopened: bool,
    },
}

/// `--rotate` of `change` and `remove-slot`.
#[derive(Debug, Args)]
pub struct RotationArgs {
    /// Then rotate the ring-wrapping key (see `master-key rotate`): needed when the removed
    /// slot's secret may have leaked.
    #[arg(long)]
    rotate: bool,
    /// With --rotate: drop the slots that cannot be opened here instead of refusing.
    #[arg(long, requires = "rotate")]
    drop_unopened: bool,
}

fn add_slot(
    ctx: &Context,
    password: &PasswordArgs,
    new: &NewSlotArgs,
    label: Option<String>,
    expired: Expired,
) -> Result<(Opened, Slot), CliError> {
    let specs = slot_sources::resolve(ctx, &new.sources)?;
    let opener = ring::opener(ctx, specs.clone())?;
    let repo = ring::repository(ctx)?;
    let parsed = ring::inspect(&repo)?;
    if slots::slots(&parsed).is_empty() {
        return Err(CliError::failed(anyhow!(
            "the key ring has no master-key slot; run `trousseau init` first"
        )));
    }
    let opened = opener.open_w(&repo, &parsed, &password.answers()?, expired)?;
    let label = label.unwrap_or_else(|| slots::describe(&specs));
    let slot = opener.new_slot(&repo, &opened.w, &label, &specs, &new.answers()?)?;
    slots::add_slot(&repo, &slot)?;
    eprintln!("added master-key slot {} ({label})", slot.id);
    Ok((opened, slot))
}

/// Rotates W after `opened` opened it (see [`trousseau::ring::RingOpener::rotate`]) and says
/// what changed.
fn rotate(
    ctx: &Context,
    opened: &Opened,
    ui: &dyn SourceInteraction,
    drop_unopened: bool,
) -> Result<(), CliError> {
    let repo = ring::repository(ctx)?;
    let report = ring::opener(ctx, Vec::new())?.rotate(&repo, opened, ui, drop_unopened)?;
    let (done, unopened) = (report.rotated, report.dropped);
    eprintln!(
        "rotated the ring-wrapping key to generation {}: {} key(s) and {} revocation(s) \
         re-wrapped, {} slot(s) re-wrapped",
        done.generation,
        done.keys,
        done.revocations,
        done.slots.len()
    );
    for (old, new) in &done.slots {
        eprintln!("slot {old} is now slot {} ({})", new.id, new.label);
    }
    for why in &unopened {
        eprintln!("dropped {why}");
    }
    if !done.untrusted_keys.is_empty() {
        eprintln!(
            "warning: {} key(s) did not authenticate and were left out (they were never \
             used): {}",
            done.untrusted_keys.len(),
            done.untrusted_keys
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(why) = &done.leftovers {
        eprintln!("note: {why}");
    }
    eprintln!("restart the nodes that use this key ring so that they open the new generation");
    Ok(())
}

/// Runs a `master-key` command.
pub fn run(ctx: &Context, cmd: MasterKeyCommand) -> Result<(), CliError> {
    match cmd {
        MasterKeyCommand::Status => status(ctx),
        MasterKeyCommand::AddSlot {
            password,
            new,
            label,
        } => add_slot(ctx, &password, &new, label, Expired::Refuse).map(|_| ()),
        MasterKeyCommand::Change {
            password,
            new,
            rotation,
        } => {
            let (old, new_slot) = add_slot(ctx, &password, &new, None, Expired::Allow)?;
            slots::remove_slot(&ring::repository(ctx)?, old.slot.id)?;
            eprintln!(
                "removed master-key slot {}; the new slot {} replaces it",
                old.slot.id, new_slot.id
            );
            if rotation.rotate {
                rotate(ctx, &old, &password.answers()?, rotation.drop_unopened)?;
            }
            Ok(())
        }
        MasterKeyCommand::RemoveSlot {
            id,
            password,
            rotation,
        } => {
            let id = Uuid::parse_str(&id)
                .map_err(|e| CliError::usage(anyhow!("invalid slot id {id:?}: {e}")))?;
            let opener = ring::opener(ctx, Vec::new())?;
            let repo = ring::repository(ctx)?;
            let parsed = ring::inspect(&repo)?;
            let ui = password.answers()?;
            let opened = opener.open_w(&repo, &parsed, &ui, Expired::Refuse)?;
            slots::remove_slot(&repo, id)?;
            eprintln!("removed master-key slot {id}");
            if rotation.rotate {
                rotate(ctx, &opened, &ui, rotation.drop_unopened)?;
            }
            Ok(())
        }
        MasterKeyCommand::Rotate {
            password,
            drop_unopened,
        } => {
            let repo = ring::repository(ctx)?;
            let parsed = ring::inspect(&repo)?;
            if slots::slots(&parsed).is_empty() {
                return Err(CliError::failed(anyhow!(
                    "the key ring has no master-key slot: only encrypted rings have a \
                     ring-wrapping key to rotate"
                )));
            }
            let ui = password.answers()?;
            let opened =
                ring::opener(ctx, Vec::new())?.open_w(&repo, &parsed, &ui, Expired::Refuse)?;
            rotate(ctx, &opened, &ui, drop_unopened)
        }
    }
}

fn status(ctx: &Context) -> Result<(), CliError> {
    let repo = ring::repository(ctx)?;
    let parsed = ring::inspect(&repo)?;
    let all = slots::slots(&parsed);
    let location = repo
        .describe()
        .map(|d| d.location().to_string())
        .unwrap_or_default();
    println!("repository: {location}");
    println!("keys: {}", parsed.keys.len());
    println!(
        "mode: {}",
        if ring::interop(ctx) || all.is_empty() {
            "interop (keys unencrypted, ASP.NET-readable; the repository is trusted)"
        } else {
            "encrypted at rest (only elements authenticated under the master key are used)"
        }
    );
    let current = all.iter().map(|(_, s)| s.generation).max();
    for (_, s) in &all {
        let kdf = serde_json::to_value(&s.kdf).unwrap_or_default();
        println!(
            "slot {}  label {:?}  created {}  generation {}{}  kdf {}  sources {}",
            s.id,
            s.label,
            s.creation,
            s.generation,
            if Some(s.generation) == current {
                ""
            } else {
                " (superseded, never used)"
            },
            kdf["kdf"].as_str().unwrap_or("?"),
            s.sources
                .iter()
                .map(slot_sources::format_source)
                .collect::<Vec<_>>()
                .join(" + ")
        );
    }
    Ok(())
}
