//! `trousseau user-account status | export FILE | import FILE`: the per-user key of the
//! `user-account` source outside enrollment (backup and restore).
//!
//! `export` seals the key under a passphrase by default (asked twice on the terminal, or
//! given with `--password-file`, `--password-env` or `--password-fd`): Argon2id and
//! AES-256-GCM, the format of [`trousseau_user_account::sealed_backup`], written down in
//! `docs/user-key-backup.md`. `--plain` writes the key in hex instead, with a warning.
//! `import` reads both forms, asking for the passphrase of a sealed one; a wrong passphrase
//! writes nothing. The backup file is created 0600 from a temporary file beside it, never
//! half-written and never over an existing file.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use trousseau_core::{ErrorCode, Interaction as _, SecretBytes};
use trousseau_user_account::{self as ua, ImportOutcome, UserAccountConfig};

use trousseau::dataprotection::timestamp::Timestamp;

use super::{password, report, CliError, Context, TerminalInteraction};

/// `trousseau user-account …`
#[derive(Debug, Args)]
pub struct UserAccountArgs {
    /// Backend (default: the automatic choice of the user-account source).
    #[arg(long, value_enum, global = true)]
    pub backend: Option<BackendArg>,
    /// Key file of the file/dpapi backends (default: the backend's standard location).
    #[arg(long, value_name = "PATH", global = true)]
    pub path: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: UserAccountCommand,
}

/// The backends, as named on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// A 0600 file.
    File,
    /// The freedesktop Secret Service.
    SecretService,
    /// Windows DPAPI.
    Dpapi,
    /// The macOS Keychain.
    Keychain,
}

/// The `user-account` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserAccountCommand {
    /// Show the backend (and why it is the one), the key's location, its check value and when
    /// it was written.
    Status {
        /// Print a JSON object (schema: docs/cli-json.md).
        #[arg(long)]
        json: bool,
    },
    /// Write a backup of the user key to FILE, sealed under a passphrase (asked twice on the
    /// terminal, or given with --password-file, --password-env or --password-fd); created
    /// 0600, never overwritten.
    Export {
        /// The backup file to create.
        file: PathBuf,
        /// Write the key UNENCRYPTED (hex) instead: whoever reads the file can unlock what the
        /// user key protects.
        #[arg(long, conflicts_with_all = ["password_file", "password_env", "password_fd"])]
        plain: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
    /// Restore the user key from a backup made by `export` (passphrase-protected or plain).
    Import {
        /// The backup file.
        file: PathBuf,
        /// Replace an existing, different user key (what it protects becomes unreadable).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        passphrase: PassphraseArgs,
    },
}

/// Where the backup's passphrase comes from; without any of these the terminal is asked.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the backup's passphrase from the first line of this file.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Read the backup's passphrase from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Read the backup's passphrase from the first line of this open file descriptor.
    #[arg(long, value_name = "N")]
    password_fd: Option<u32>,
}

impl PassphraseArgs {
    /// The passphrase for `file`: from the option given, else asked on the terminal (twice
    /// when `new`, for a backup being made). An empty passphrase is refused.
    fn passphrase(&self, file: &Path, new: bool) -> Result<SecretBytes, CliError> {
        let given = [
            self.password_file.is_some(),
            self.password_env.is_some(),
            self.password_fd.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(CliError::usage(anyhow!(
                "give the passphrase one way only: --password-file, --password-env or \
                 --password-fd"
            )));
        }
        let passphrase = if let Some(f) = &self.password_file {
            password::password_file(f).map_err(CliError::usage)?
        } else if let Some(var) = &self.password_env {
            password::password_env(var).map_err(CliError::usage)?
        } else if let Some(fd) = self.password_fd {
            password::password_fd(fd).map_err(CliError::usage)?
        } else {
            let prompt = format!("Passphrase for the backup {}", file.display());
            TerminalInteraction::new(false)
                .request_secret(&prompt, new)
                .map_err(|e| match e.code() {
                    // No terminal to ask on (`NeedsPin`: an answer is needed and none can be had).
                    ErrorCode::NeedsPin => CliError::usage(anyhow!(
                        "there is no terminal to ask the backup's passphrase on: give it with \
                         --password-file, --password-env or --password-fd{}",
                        if new {
                            " (or write the key unencrypted with --plain)"
                        } else {
                            ""
                        }
                    )),
                    _ => CliError::failed(anyhow!("{e}")),
                })?
        };
        if passphrase.is_empty() {
            return Err(CliError::usage(anyhow!(
                "the passphrase is empty; give one (an empty passphrase protects nothing)"
            )));
        }
        Ok(passphrase)
    }
}

/// Runs a `user-account` subcommand.
pub fn run(_ctx: &Context, args: UserAccountArgs) -> Result<(), CliError> {
    let mut json = serde_json::Map::new();
    if let Some(b) = args.backend {
        let name = match b {
            BackendArg::File => "file",
            BackendArg::SecretService => "secret-service",
            BackendArg::Dpapi => "dpapi",
            BackendArg::Keychain => "keychain",
        };
        json.insert("backend".into(), name.into());
    }
    if let Some(p) = &args.path {
        json.insert("path".into(), p.display().to_string().into());
    }
    let config = UserAccountConfig::parse(&serde_json::Value::Object(json).to_string())
        .map_err(|e| CliError::usage(anyhow!("{e}")))?;
    match args.command {
        UserAccountCommand::Status { json } => status(&config, json),
        UserAccountCommand::Export {
            file,
            plain,
            passphrase,
        } => export(&config, &file, plain, &passphrase),
        UserAccountCommand::Import {
            file,
            force,
            passphrase,
        } => import(&config, &file, force, &passphrase),
    }
}

fn provider_error(e: trousseau_core::Error) -> CliError {
    match e.code() {
        ErrorCode::InvalidConfig | ErrorCode::InvalidInput => CliError::usage(anyhow!("{e}")),
        _ => CliError::failed(anyhow!("{e}")),
    }
}

fn status(config: &UserAccountConfig, json: bool) -> Result<(), CliError> {
    let st = ua::status(config).map_err(provider_error)?;
    let reason = ua::reason(st.backend, config);
    let written = st.modified.and_then(Timestamp::from_system_time);
    if json {
        return report::print_json(&serde_json::json!({
            "backend": st.backend.as_str(),
            "reason": reason,
            "location": st.location,
            "present": st.check.is_some(),
            "check": st.check,
            "written": written.map(report::json_date),
        }));
    }
    println!("backend:  {} ({reason})", st.backend);
    println!("location: {}", st.location);
    match &st.check {
        Some(check) => println!("key:      present (check value {check})"),
        None => println!("key:      none yet (created on first enrollment)"),
    }
    if st.modified.is_some() {
        println!(
            "written:  {}",
            written.map_or_else(|| "unknown".to_string(), report::human_date)
        );
    }
    Ok(())
}

fn export(
    config: &UserAccountConfig,
    file: &Path,
    plain: bool,
    passphrase: &PassphraseArgs,
) -> Result<(), CliError> {
    if plain {
        let (backup, location) = ua::export(config).map_err(provider_error)?;
        write_new_private(file, &backup)?;
        eprintln!(
            "WARNING: {} now holds your user key UNENCRYPTED (read from {location}).\n\
             WARNING: anyone who reads it can unlock what your user account protects.\n\
             WARNING: move it to offline storage (a USB stick in a safe, a password manager) \
             and delete this copy.",
            file.display()
        );
        return Ok(());
    }
    if file.symlink_metadata().is_ok() {
        // Said before the passphrase is asked; write_new_private refuses it anyway.
        return Err(exists(file));
    }
    let secret = passphrase.passphrase(file, true)?;
    let (backup, location) = ua::export_sealed(config, secret.expose()).map_err(provider_error)?;
    write_new_private(file, &backup)?;
    eprintln!(
        "wrote the user key (read from {location}) to {}, sealed under the passphrase; keep the \
         file and the passphrase apart — `trousseau user-account import {}` restores it",
        file.display(),
        file.display()
    );
    Ok(())
}

fn import(
    config: &UserAccountConfig,
    file: &Path,
    force: bool,
    passphrase: &PassphraseArgs,
) -> Result<(), CliError> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let what = file.display().to_string();
    let (outcome, location) = if ua::is_sealed_backup(&bytes) {
        let secret = passphrase.passphrase(file, false)?;
        ua::import_sealed(config, &bytes, secret.expose(), &what, force)
    } else {
        ua::import(config, &bytes, &what, force)
    }
    .map_err(provider_error)?;
    match outcome {
        ImportOutcome::Created => eprintln!("imported the user key into {location}"),
        ImportOutcome::Unchanged => {
            eprintln!("{location} already holds this user key; nothing changed")
        }
        ImportOutcome::Replaced => eprintln!("replaced the user key in {location}"),
    }
    Ok(())
}

/// The error for a backup file that exists already.
fn exists(path: &Path) -> CliError {
    CliError::failed(anyhow!(
        "{} already exists; choose a new file name (an existing file is never overwritten)",
        path.display()
    ))
}

/// Writes `data` to a new file `path` (0600), whole or not at all; an existing file is kept.
fn write_new_private(path: &Path, data: &SecretBytes) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::usage(anyhow!("{} is not a file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = opts
        .open(&tmp)
        .and_then(|mut f| f.write_all(data.expose()).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            exists(path)
        } else {
            CliError::failed(anyhow!("cannot write {}: {e}", path.display()))
        }
    })
}
