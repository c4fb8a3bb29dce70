//! `trousseau master-key`: the slots that wrap the ring-wrapping key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use uuid::Uuid;

use super::{
    init_cmd::PasswordArgs,
    password::SecretAnswers,
    report, ring,
    slot_options::SlotArgs,
    slot_sources::{self, SourceArgs},
    CliError, Context, TerminalInteraction,
};
use trousseau::{
    dataprotection::{
        slots::{self, Slot},
        unlock::Opened,
    },
    masterkey::SourceInteraction,
    masterkey::SourceSpec,
    ring::{Expired, RecoveryKey, SlotSecret},
};
use trousseau_core::{ErrorCode, Interaction, SecretBytes};

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
    #[command(flatten)]
    slot: SlotArgs,
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
    Status {
        /// Print a JSON object: repository, mode, keys and slots (schema: docs/cli-json.md).
        #[arg(long)]
        json: bool,
    },
    /// Add a slot made of the configured key sources (or --source); the current master key
    /// is needed to open the ring.
    AddSlot {
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        new: NewSlotArgs,
        /// Label of the new slot (default: its sources; "recovery key" with --recovery-key).
        #[arg(long)]
        label: Option<String>,
        /// Make a recovery-key slot: a random 256-bit key is generated and printed once on
        /// standard output, in 9 groups of 8 letters (the last a checksum), to write down
        /// and keep apart from the ring; `--use-recovery-key` unlocks with it.
        #[arg(
            long,
            conflicts_with_all = ["sources", "new_password_file", "new_password_stdin"]
        )]
        recovery_key: bool,
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
    /// Replace the slot the current master key opens with a new slot of the same key source
    /// kinds (with this node's settings for them), or of --source. Shows the plan and asks
    /// for confirmation (--yes: without asking). Allowed when the policy forces a change.
    Change {
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        new: NewSlotArgs,
        #[command(flatten)]
        rotation: RotationArgs,
        #[command(flatten)]
        confirm: ConfirmArgs,
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

/// `--yes` and `--dry-run` of the commands that change slots.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (needed where there is no terminal to ask on).
    #[arg(long)]
    yes: bool,
    /// Print what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// How a slot's sources read in a plan: `password + keyfile`.
fn kinds(specs: &[SourceSpec]) -> String {
    slots::describe(specs)
}

/// The plan of `change`: which slot goes, what replaces it, whether it is weaker, whether a
/// rotation follows.
fn change_plan(old: &Slot, new: &[SourceSpec], rotate: bool) -> Vec<String> {
    let mut plan = vec![
        format!(
            "plan: replace master-key slot {} ({}) with a new slot",
            old.id, old.label
        ),
        format!("  sources: {} → {}", kinds(&old.sources), kinds(new)),
    ];
    if slot_sources::weaker(&old.sources, new) {
        plan.push(format!(
            "  weaker: {} → {} (the new slot has fewer or different key sources)",
            kinds(&old.sources),
            kinds(new)
        ));
    }
    plan.push(if rotate {
        "  then: rotate the ring-wrapping key (restart the nodes that use the ring)".to_string()
    } else {
        "  then: no rotation (a copy of the ring taken before still opens with the old \
         slot's secret; --rotate prevents that)"
            .to_string()
    });
    plan
}

/// Prints `plan`, then says whether to go on: not with `--dry-run`; yes with `--yes`; else
/// the terminal is asked, and without one the command is refused, naming `--yes`.
fn confirm(plan: &[String], args: ConfirmArgs) -> Result<bool, CliError> {
    for line in plan {
        eprintln!("{line}");
    }
    if args.dry_run {
        eprintln!("dry run: nothing was changed");
        return Ok(false);
    }
    if args.yes {
        return Ok(true);
    }
    match TerminalInteraction::new(false).confirm("Proceed?", false) {
        Ok(true) => Ok(true),
        Ok(false) => Err(CliError::failed(anyhow!("cancelled; nothing was changed"))),
        Err(e) if e.code() == ErrorCode::Cancelled => Err(CliError::failed(anyhow!(
            "there is no terminal to confirm this on; nothing was changed (pass --yes to \
             go ahead without asking, or --dry-run to see the plan only)"
        ))),
        Err(e) => Err(CliError::failed(e)),
    }
}

/// Opens W for a slot change (the ring must have slots).
fn open_for_change(
    ctx: &Context,
    ui: &SecretAnswers,
    expired: Expired,
) -> Result<Opened, CliError> {
    let repo = ring::repository(ctx)?;
    let parsed = ring::inspect(&repo)?;
    if slots::slots(&parsed).is_empty() {
        return Err(CliError::failed(anyhow!(
            "the key ring has no master-key slot; run `trousseau init` first"
        )));
    }
    Ok(ring::opener(ctx, Vec::new())?.open_w(&repo, &parsed, ui, expired)?)
}

/// Makes and stores a slot of `specs` wrapping the opened W, its secrets answered by `ui`;
/// returns it with its key-encryption key.
fn store_slot(
    ctx: &Context,
    opened: &Opened,
    specs: &[SourceSpec],
    label: &str,
    ui: &SecretAnswers,
    secret: SlotSecret,
) -> Result<(Slot, SecretBytes), CliError> {
    let repo = ring::repository(ctx)?;
    let opener = ring::opener(ctx, specs.to_vec())?;
    let (slot, kek) = opener.new_slot_for(&repo, &opened.w, label, specs, ui, secret)?;
    slots::add_slot(&repo, &slot)?;
    eprintln!("added master-key slot {} ({label})", slot.id);
    Ok((slot, kek))
}

/// Adds a recovery-key slot to the opened ring and prints the key, once, on standard output.
fn add_recovery_slot(ctx: &Context, opened: &Opened, label: &str) -> Result<(), CliError> {
    let key = RecoveryKey::generate().map_err(CliError::failed)?;
    let specs = [SourceSpec::new(trousseau::ring::PASSWORD)];
    let ui = SecretAnswers::with_password(Some(key.password()), false);
    store_slot(ctx, opened, &specs, label, &ui, SlotSecret::Generated)?;
    eprintln!(
        "the recovery key below opens the key ring (`--use-recovery-key`); it is shown only \
         this once: write it down and keep it apart from the ring"
    );
    println!("{}", key.to_text().as_str());
    Ok(())
}

/// `add-slot`: a slot weaker than the one that opened the ring (fewer or different key
/// sources) is confirmed first.
fn add_slot(
    ctx: &Context,
    password: &PasswordArgs,
    new: &NewSlotArgs,
    label: Option<String>,
    recovery_key: bool,
    args: ConfirmArgs,
) -> Result<(), CliError> {
    let specs = if recovery_key {
        vec![SourceSpec::new(trousseau::ring::PASSWORD)]
    } else {
        slot_sources::resolve(ctx, &new.sources)?
    };
    let opened = open_for_change(
        ctx,
        &password.answers()?.for_role("Current"),
        Expired::Refuse,
    )?;
    let label = label.unwrap_or_else(|| {
        if recovery_key {
            "recovery key".to_string()
        } else {
            slots::describe(&specs)
        }
    });
    // A slot the policy refuses is refused before any plan or question.
    ring::opener(ctx, specs.clone())?.check_new_slot_sources(&specs)?;
    let mut plan = vec![format!("plan: add a master-key slot of {}", kinds(&specs))];
    let weaker = slot_sources::weaker(&opened.slot.sources, &specs);
    if weaker {
        plan.push(format!(
            "  weaker: {} → {} (the new slot opens the ring with fewer or different key \
             sources than slot {} ({}))",
            kinds(&opened.slot.sources),
            kinds(&specs),
            opened.slot.id,
            opened.slot.label
        ));
    }
    if (weaker || args.dry_run) && !confirm(&plan, args)? {
        return Ok(());
    }
    if recovery_key {
        return add_recovery_slot(ctx, &opened, &label);
    }
    let ui = new.answers()?.for_role("New");
    store_slot(ctx, &opened, &specs, &label, &ui, SlotSecret::Chosen).map(|_| ())
}

/// `change`: the new slot keeps the replaced slot's source kinds unless `--source` is given;
/// the plan is shown and confirmed before anything changes.
fn change(
    ctx: &Context,
    password: &PasswordArgs,
    new: &NewSlotArgs,
    rotation: &RotationArgs,
    args: ConfirmArgs,
) -> Result<(), CliError> {
    let old = open_for_change(
        ctx,
        &password.answers()?.for_role("Current"),
        Expired::Allow,
    )?;
    let specs = if new.sources.sources.is_empty() {
        let kept = slot_sources::keep(&old.slot.sources, &ring::unlock_sources(ctx))
            .map_err(CliError::usage)?;
        slot_sources::check_key_sources(ctx, &kept, "the replaced slot's sources:")?;
        kept
    } else {
        slot_sources::resolve(ctx, &new.sources)?
    };
    ring::opener(ctx, specs.clone())?.check_new_slot_sources(&specs)?;
    if !confirm(&change_plan(&old.slot, &specs, rotation.rotate), args)? {
        return Ok(());
    }
    let ui = new.answers()?.for_role("New");
    let (new_slot, kek) = store_slot(
        ctx,
        &old,
        &specs,
        &slots::describe(&specs),
        &ui,
        SlotSecret::Chosen,
    )?;
    slots::remove_slot(&ring::repository(ctx)?, old.slot.id)?;
    eprintln!(
        "removed master-key slot {}; the new slot {} replaces it",
        old.slot.id, new_slot.id
    );
    if rotation.rotate {
        // The new slot is the one kept and re-wrapped (the old one is gone); the ring's other
        // slots are tried with the current answers.
        let replaced = Opened {
            w: old.w,
            slot: new_slot,
            kek,
        };
        rotate(ctx, &replaced, &password.answers()?, rotation.drop_unopened)?;
    }
    Ok(())
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
        MasterKeyCommand::Status { json } => status(ctx, json),
        MasterKeyCommand::AddSlot {
            password,
            new,
            label,
            recovery_key,
            confirm,
        } => add_slot(ctx, &password, &new, label, recovery_key, confirm),
        MasterKeyCommand::Change {
            password,
            new,
            rotation,
            confirm,
        } => change(ctx, &password, &new, &rotation, confirm),
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

/// A slot's recorded unlock time for people: `0.95 s (measured when the slot was made)`.
fn unlock_time(slot: &Slot) -> String {
    match slot.unlock_time {
        Some(t) => format!("{:.2} s (measured when the slot was made)", t.as_secs_f64()),
        None => "not recorded".to_string(),
    }
}

fn status(ctx: &Context, json: bool) -> Result<(), CliError> {
    let repo = ring::repository(ctx)?;
    let parsed = ring::inspect(&repo)?;
    let all = slots::slots(&parsed);
    let location = repo
        .describe()
        .map(|d| d.location().to_string())
        .unwrap_or_default();
    let (mode, says) = if all.is_empty() && parsed.keys.is_empty() {
        if ring::interop(ctx) {
            (
                "none",
                if ctx.config.key_protection.certificate.is_some() {
                    "no key ring yet (interop is configured: its keys will be encrypted for the \
                     [key_protection] certificate, as ASP.NET Core's ProtectKeysWithCertificate)"
                } else {
                    "no key ring yet (interop is configured: it will be made unencrypted, \
                     ASP.NET-readable)"
                },
            )
        } else {
            (
                "none",
                "no key ring yet (made encrypted at rest by `trousseau init` or the first \
                 `trousseau protect`)",
            )
        }
    } else if ring::interop(ctx) || all.is_empty() {
        (
            "interop",
            if ctx.config.key_protection.certificate.is_some() {
                "interop (new keys encrypted for the [key_protection] certificate, readable by \
                 ASP.NET Core with its private key; the repository is trusted)"
            } else {
                "interop (keys unencrypted, ASP.NET-readable; the repository is trusted)"
            },
        )
    } else {
        (
            "encrypted",
            "encrypted at rest (only elements authenticated under the master key are used)",
        )
    };
    let current = all.iter().map(|(_, s)| s.generation).max();
    if json {
        let slots: Vec<serde_json::Value> = all
            .iter()
            .map(|(_, s)| {
                serde_json::json!({
                    "id": s.id.to_string(),
                    "label": s.label,
                    "created": report::json_date(s.creation),
                    "generation": s.generation,
                    "current": Some(s.generation) == current,
                    "kdf": report::kdf_json(&s.kdf),
                    "unlock_time_ms": s
                        .unlock_time
                        .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                    "sources": s.sources.iter().map(report::source_json).collect::<Vec<_>>(),
                })
            })
            .collect();
        return report::print_json(&serde_json::json!({
            "repository": location,
            "mode": mode,
            "interop_configured": ring::interop(ctx),
            "keys": parsed.keys.len(),
            "slots": slots,
        }));
    }
    println!("repository: {location}");
    println!("keys: {}", parsed.keys.len());
    println!("mode: {says}");
    for (_, s) in &all {
        println!(
            "slot {}  label {:?}  created {}  generation {}{}  kdf {}  unlock time {}  sources {}",
            s.id,
            s.label,
            report::human_date(s.creation),
            s.generation,
            if Some(s.generation) == current {
                ""
            } else {
                " (superseded, never used)"
            },
            s.kdf.summary(),
            unlock_time(s),
            s.sources
                .iter()
                .map(slot_sources::format_source)
                .collect::<Vec<_>>()
                .join(" + ")
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use trousseau::{
        dataprotection::{timestamp::Timestamp, wrapping::RingWrappingKey},
        masterkey::KdfParams,
    };

    #[test]
    fn status_says_when_a_slot_has_no_recorded_unlock_time() {
        let w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[1u8; 32]);
        let specs = vec![SourceSpec::new("password")];
        let kdf = KdfParams::new_default();
        let old = Slot::wrap(
            &kek,
            &w,
            "old",
            specs.clone(),
            kdf.clone(),
            Timestamp::now(),
        );
        assert_eq!(unlock_time(&old.unwrap()), "not recorded");
        let timed = Slot::wrap_timed(
            &kek,
            &w,
            "new",
            specs,
            kdf,
            Timestamp::now(),
            Some(std::time::Duration::from_millis(950)),
        )
        .unwrap();
        assert_eq!(
            unlock_time(&timed),
            "0.95 s (measured when the slot was made)"
        );
    }
}
