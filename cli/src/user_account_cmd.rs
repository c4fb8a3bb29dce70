//! `trousseau user-account status | export FILE | import FILE`: the per-user key of the
//! `user-account` source outside enrollment (backup and restore).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use trousseau_core::{ErrorCode, SecretBytes};
use trousseau_user_account::{self as ua, ImportOutcome, UserAccountConfig};

use trousseau::dataprotection::timestamp::Timestamp;

use super::{report, CliError, Context};

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
    /// Write an UNENCRYPTED backup of the user key to FILE (created 0600; never overwritten).
    Export {
        /// The backup file to create.
        file: PathBuf,
    },
    /// Restore the user key from a backup made by `export`.
    Import {
        /// The backup file.
        file: PathBuf,
        /// Replace an existing, different user key (what it protects becomes unreadable).
        #[arg(long)]
        force: bool,
    },
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
        UserAccountCommand::Export { file } => export(&config, &file),
        UserAccountCommand::Import { file, force } => import(&config, &file, force),
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

fn export(config: &UserAccountConfig, file: &Path) -> Result<(), CliError> {
    let (backup, location) = ua::export(config).map_err(provider_error)?;
    write_new_private(file, &backup)?;
    eprintln!(
        "WARNING: {} now holds your user key UNENCRYPTED (read from {location}).\n\
         WARNING: anyone who reads it can unlock what your user account protects.\n\
         WARNING: move it to offline storage (a USB stick in a safe, a password manager) and \
         delete this copy.",
        file.display()
    );
    Ok(())
}

fn import(config: &UserAccountConfig, file: &Path, force: bool) -> Result<(), CliError> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let (outcome, location) =
        ua::import(config, &bytes, &file.display().to_string(), force).map_err(provider_error)?;
    match outcome {
        ImportOutcome::Created => eprintln!("imported the user key into {location}"),
        ImportOutcome::Unchanged => {
            eprintln!("{location} already holds this user key; nothing changed")
        }
        ImportOutcome::Replaced => eprintln!("replaced the user key in {location}"),
    }
    Ok(())
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
            CliError::failed(anyhow!(
                "{} already exists; choose a new file name (an existing file is never overwritten)",
                path.display()
            ))
        } else {
            CliError::failed(anyhow!("cannot write {}: {e}", path.display()))
        }
    })
}
