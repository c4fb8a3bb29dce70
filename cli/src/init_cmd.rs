//! `trousseau init`: creates the first master-key slot and the first key.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use trousseau::{masterkey::SourceSpec, ring::Creation};

use super::{
    first_use,
    password::{self, SecretAnswers},
    ring,
    slot_options::SlotArgs,
    slot_sources::{self, SourceArgs},
    CliError, Context,
};

/// Where the password source's answers come from, for commands that open the ring (and for
/// `init`, whose new password they give). Without any of these options the terminal is asked.
#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Read the master password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the master password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Read the master password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the master password from the first line of this open file descriptor (e.g. 3 with
    /// `3<file`), keeping standard input free for data.
    #[arg(long, value_name = "N")]
    pub password_fd: Option<u32>,
    /// Unlock with a recovery key (made by `master-key add-slot --recovery-key`) instead of
    /// the master password: asked on the terminal, or read from --password-file,
    /// --password-env, --password-fd or --password-stdin. Spaces, dashes and case do not
    /// matter; a typo is caught by its checksum before anything is tried.
    #[arg(long)]
    pub use_recovery_key: bool,
}

impl PasswordArgs {
    /// Whether a password answer was given on the command line (a file, a variable, a
    /// descriptor or standard input).
    pub fn given(&self) -> bool {
        self.password_stdin
            || self.password_file.is_some()
            || self.password_env.is_some()
            || self.password_fd.is_some()
    }

    /// The sources of a ring this command creates when nothing names them (no `--source`,
    /// `--unlock` or `[[master_key.sources]]`): a password slot when a password answer was
    /// given, since that is evidently what the user means, whatever the zero-configuration
    /// default (user-account) would be; else none (the engine's default).
    pub fn implied_sources(&self, ctx: &Context) -> Vec<SourceSpec> {
        if self.given() && ring::unlock_sources(ctx).is_empty() {
            vec![SourceSpec::new(trousseau::ring::PASSWORD)]
        } else {
            Vec::new()
        }
    }

    /// The interaction answering the key sources' questions.
    pub fn answers(&self) -> anyhow::Result<SecretAnswers> {
        let given = [
            self.password_stdin,
            self.password_file.is_some(),
            self.password_env.is_some(),
            self.password_fd.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            anyhow::bail!(
                "give the master password one way only: --password-stdin, --password-file, \
                 --password-env or --password-fd"
            );
        }
        let password = if let Some(f) = &self.password_file {
            Some(password::password_file(f)?)
        } else if let Some(var) = &self.password_env {
            Some(password::password_env(var)?)
        } else if let Some(fd) = self.password_fd {
            Some(password::password_fd(fd)?)
        } else {
            None
        };
        if self.use_recovery_key {
            let key = password::recovery_key(password, self.password_stdin)?;
            return Ok(SecretAnswers::with_password(Some(key.password()), false));
        }
        Ok(SecretAnswers::with_password(password, self.password_stdin))
    }
}

/// `trousseau init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    sources: SourceArgs,
    /// A label for the first slot (default: its sources, e.g. `password + keyfile`).
    #[arg(long)]
    label: Option<String>,
    #[command(flatten)]
    slot: SlotArgs,
}

/// Runs `init`: refuses when a ring exists.
pub fn run(ctx: &Context, args: InitArgs) -> Result<(), CliError> {
    if args.password.use_recovery_key {
        return Err(CliError::usage(anyhow!(
            "--use-recovery-key opens an existing ring; a new ring gets a recovery key with \
             `trousseau master-key add-slot --recovery-key` once it exists"
        )));
    }
    let repo = ring::repository(ctx)?;
    let parsed = ring::inspect(&repo)?;
    let (slots_, keys) = (
        trousseau::dataprotection::slots::slots(&parsed),
        parsed.keys.len(),
    );
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
    let implied = args.password.implied_sources(ctx);
    let specs = if args.sources.sources.is_empty() && !implied.is_empty() {
        let specs = implied;
        slot_sources::check_key_sources(ctx, &specs, "the master password given:")?;
        eprintln!(
            "note: a master password was given and no --source: the first slot is a \
             password slot (pass --source to choose other key sources)"
        );
        specs
    } else {
        slot_sources::resolve(ctx, &args.sources)?
    };
    let label = args
        .label
        .unwrap_or_else(|| trousseau::dataprotection::slots::describe(&specs));
    let place = ring::location(&repo);
    let answers = args.password.answers()?;
    // The user-account source's own "new user key" message is said once, in the notice.
    let held = first_use::HoldUserKeyMessages::new(&answers);
    let creation = match ring::opener(ctx, specs.clone())?.create(repo, &label, &specs, &held) {
        Ok(creation) => creation,
        Err(e) => {
            held.release();
            return Err(e.into());
        }
    };
    match creation {
        Creation::Created(opened) => {
            match &opened.created {
                Some(created) => {
                    for line in first_use::notice(&place, created) {
                        eprintln!("{line}");
                    }
                }
                None => held.release(),
            }
            if ring::unlock_sources(ctx).is_empty()
                && specs
                    .iter()
                    .any(|s| s.config.trim() != "{}" && !s.config.trim().is_empty())
            {
                eprintln!(
                    "note: this node opens the ring only with its key sources given again, \
                     never read from the ring: pass --unlock for each --source (e.g. --unlock \
                     {}) or put them in [[master_key.sources]]",
                    args.sources.sources.join(" --unlock ")
                );
            }
            Ok(())
        }
        _ => Err(CliError::failed(anyhow!(
            "another process created the {place} at the same time; nothing was changed"
        ))),
    }
}
