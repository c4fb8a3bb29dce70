//! How the commands that make a master-key slot (`init`, `protect` on first use,
//! `master-key add-slot` and `change`) choose its KDF and treat a weak password, and how
//! `--use-recovery-key` changes what unlocks the ring: read once from the parsed command line
//! into the [`Context`], where the engine's [`RingSettings`](trousseau::ring::RingSettings)
//! are made ([`super::ring::opener`]).

use std::time::Duration;

use anyhow::anyhow;
use clap::{ArgMatches, Args};
use trousseau::{masterkey::SourceSpec, ring::WeakPasswords};

use super::{CliError, Context};

/// The unlock time of new slots when neither `--unlock-time` nor `[master_key] unlock_time`
/// says: about one second on the machine that makes the slot, as KeePassXC.
pub const DEFAULT_UNLOCK_TIME: Duration = Duration::from_secs(1);

/// `--unlock-time` and `--allow-weak-password` of the commands that make a slot.
#[derive(Debug, Args, Clone, Default)]
pub struct SlotArgs {
    /// How long opening the new slot should take on this machine, in seconds: its Argon2id
    /// is calibrated to it, within [master_key.kdf_limits] and never under 19 MiB and 2
    /// passes (default: [master_key] unlock_time, else 1).
    #[arg(long, value_name = "SECONDS", env = "TROUSSEAU_UNLOCK_TIME")]
    pub unlock_time: Option<f64>,
    /// Use a new password even when its estimated strength is weak (zxcvbn score under 3 of
    /// 4), without asking.
    #[arg(
        long,
        env = "TROUSSEAU_ALLOW_WEAK_PASSWORD",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub allow_weak_password: bool,
}

/// What the command line says about new slots and unlocking.
#[derive(Debug, Clone, Default)]
pub struct SlotOptions {
    /// `--unlock-time`, checked.
    pub unlock_time: Option<Duration>,
    /// What to do with a weak new password.
    pub weak_passwords: WeakPasswords,
    /// `--use-recovery-key`: the answer to the password prompt is a recovery key.
    pub recovery_key: bool,
}

/// The value of the flag `id` in the (sub)command that runs, if that command has it.
fn flag(matches: &ArgMatches, id: &str) -> bool {
    leaf(matches)
        .try_get_one::<bool>(id)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

/// The matches of the innermost subcommand.
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m
}

/// Reads the options from the command line (parsed again: it was checked when it was first
/// read): a weak password is refused with `--yes`
/// (nobody is asked), used with `--allow-weak-password`, and otherwise confirmed on the
/// terminal. With `--use-recovery-key` the ring is unlocked by a `password` slot only (a
/// recovery slot), whatever `[[master_key.sources]]` say.
pub fn apply(ctx: &mut Context) -> Result<(), CliError> {
    let matches = <super::Cli as clap::CommandFactory>::command()
        .try_get_matches_from(std::env::args_os())
        .map_err(CliError::usage)?;
    let matches = &matches;
    let unlock_time = leaf(matches)
        .try_get_one::<f64>("unlock_time")
        .ok()
        .flatten()
        .map(|s| {
            trousseau::masterkey::unlock_time(*s)
                .map_err(|e| CliError::usage(anyhow!("--unlock-time: {e}")))
        })
        .transpose()?;
    let weak_passwords = if flag(matches, "allow_weak_password") {
        WeakPasswords::Allow
    } else if flag(matches, "yes") {
        WeakPasswords::Refuse
    } else {
        WeakPasswords::Confirm
    };
    let recovery_key = flag(matches, "use_recovery_key");
    if recovery_key {
        if !ctx.unlock_sources.is_empty() {
            return Err(CliError::usage(anyhow!(
                "--use-recovery-key opens the ring through its recovery slot, a password \
                 slot: leave out --unlock"
            )));
        }
        ctx.unlock_sources = vec![SourceSpec::new(trousseau::ring::PASSWORD)];
    }
    ctx.slot_options = SlotOptions {
        unlock_time,
        weak_passwords,
        recovery_key,
    };
    Ok(())
}

/// The unlock time of new slots: `--unlock-time`, else `[master_key] unlock_time`, else
/// [`DEFAULT_UNLOCK_TIME`].
pub fn unlock_time(ctx: &Context) -> Result<Duration, CliError> {
    if let Some(t) = ctx.slot_options.unlock_time {
        return Ok(t);
    }
    match ctx.config.master_key.unlock_time {
        Some(seconds) => trousseau::masterkey::unlock_time(seconds)
            .map_err(|e| CliError::usage(anyhow!("[master_key] unlock_time: {e}"))),
        None => Ok(DEFAULT_UNLOCK_TIME),
    }
}
