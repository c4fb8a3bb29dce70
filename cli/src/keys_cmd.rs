//! `trousseau keys`: list, create, revoke and delete keys.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use trousseau::ring::IfMissing;
use uuid::Uuid;

use super::{init_cmd::PasswordArgs, ring, CliError, Context};
use trousseau::dataprotection::{
    keyring::{self, MasterKeySecret, RingKey},
    timestamp::Timestamp,
    DataProtectionError,
};

/// `trousseau keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys: id, dates, default, revoked, encrypted.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Create a key.
    New {
        /// Activation date (default now), e.g. 2026-07-01T00:00:00Z.
        #[arg(long, value_name = "DATE")]
        activate_at: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Revoke one key, or every key created before a date.
    Revoke(RevokeArgs),
    /// Delete keys that expired before a date (protected data becomes unreadable).
    Delete {
        /// Delete keys whose expiration is before this date.
        #[arg(long, value_name = "DATE")]
        expired_before: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `keys revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key id.
    #[arg(
        required_unless_present = "all_created_before",
        conflicts_with = "all_created_before"
    )]
    id: Option<String>,
    /// Revoke every key created before this date.
    #[arg(long, value_name = "DATE")]
    all_created_before: Option<String>,
    /// A reason recorded in the revocation.
    #[arg(long, default_value = "revoked with trousseau")]
    reason: String,
    #[command(flatten)]
    password: PasswordArgs,
}

/// A date given on the command line; anything that is not one is a usage error (exit 2).
fn date(text: &str) -> Result<Timestamp, CliError> {
    Timestamp::parse(text).map_err(CliError::usage)
}

/// Runs a `keys` command.
pub fn run(ctx: &Context, cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::List { json, password } => list(ctx, json, &password),
        KeysCommand::New {
            activate_at,
            password,
        } => {
            let activation = activate_at.as_deref().map(date).transpose()?;
            let manager = ring::open(ctx, &password.answers()?, IfMissing::Fail, Vec::new())?;
            let now = manager.now();
            let activation = activation.unwrap_or(now);
            let expiration = manager
                .expiration_from(activation.max(now))
                .map_err(CliError::usage)?;
            let id = manager.create_key(activation, expiration)?;
            println!("{id}");
            Ok(())
        }
        KeysCommand::Revoke(a) => {
            let before = a.all_created_before.as_deref().map(date).transpose()?;
            let manager = ring::open(ctx, &a.password.answers()?, IfMissing::Fail, Vec::new())?;
            match (a.id, before) {
                (Some(id), None) => {
                    let id = Uuid::parse_str(&id)
                        .map_err(|e| CliError::usage(anyhow!("invalid key id {id:?}: {e}")))?;
                    manager.revoke_key(id, &a.reason).map_err(|e| match e {
                        DataProtectionError::UnknownKey(id) => CliError::failed(anyhow!(
                            "the key {id} is not in the key ring; nothing was revoked \
                             (`trousseau keys list` shows the key ids)"
                        )),
                        e => CliError::failed(e),
                    })?;
                    eprintln!("revoked key {id}");
                }
                (None, Some(d)) => {
                    manager.revoke_all_created_before(d, &a.reason)?;
                    eprintln!("revoked every key created before {d}");
                }
                _ => {
                    return Err(CliError::usage(anyhow!(
                        "give a key id or --all-created-before"
                    )))
                }
            }
            Ok(())
        }
        KeysCommand::Delete {
            expired_before,
            yes,
        } => {
            let before = date(&expired_before)?;
            let manager = plain_manager(ctx)?;
            let choose =
                |k: &trousseau::dataprotection::keyring::RingKey| k.key.expiration < before;
            let (ids, _) = manager.deletion_plan(&choose)?;
            if ids.is_empty() {
                eprintln!("no key expired before {before}");
                return Ok(());
            }
            if !yes && !confirm(&format!(
                "Delete {} key(s) expired before {before}? Data they protected becomes unreadable forever.",
                ids.len()
            )) {
                return Err(CliError::failed(anyhow!("nothing deleted")));
            }
            let deleted = manager.delete_keys(&choose)?;
            for id in deleted {
                println!("{id}");
            }
            Ok(())
        }
    }
}

/// A manager that does not open the master key (deletion needs no secret: it removes
/// elements by name).
fn plain_manager(
    ctx: &Context,
) -> anyhow::Result<std::sync::Arc<trousseau::dataprotection::manager::KeyManager>> {
    let repo = ring::repository(ctx)?;
    Ok(std::sync::Arc::new(
        trousseau::dataprotection::manager::KeyManager::new(
            repo,
            ring::options(ctx),
            std::sync::Arc::new(trousseau::dataprotection::at_rest::PlainKeys),
        )?,
    ))
}

fn confirm(question: &str) -> bool {
    use trousseau_core::Interaction;
    match super::terminal::TerminalInteraction::new(false).confirm(question, false) {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("{e}; pass --yes to delete without a terminal");
            false
        }
    }
}

fn list(ctx: &Context, json: bool, password: &PasswordArgs) -> Result<(), CliError> {
    let manager = ring::open(ctx, &password.answers()?, IfMissing::Fail, Vec::new())?;
    let keys = manager.keys()?;
    // Listing never generates a key: resolve the default key as ASP.NET Core's
    // `DefaultKeyResolver` does, without the key-ring provider's auto-generation step.
    let refs: Vec<&RingKey> = keys.iter().collect();
    let trusted = |k: &RingKey| k.encryptor(manager.protection()).is_ok();
    let closed = manager.protection().is_closed();
    let default = keyring::resolve(&refs, manager.now(), &trusted, closed).default;
    let rows: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let encrypted = matches!(k.key.descriptor, Ok(ref d) if matches!(d.secret, MasterKeySecret::Encrypted { .. }));
            let usable = trusted(k);
            serde_json::json!({
                "id": k.key.id.to_string(),
                "created": k.key.creation.to_string(),
                "activation": k.key.activation.to_string(),
                "expiration": k.key.expiration.to_string(),
                "default": Some(k.key.id) == default,
                "revoked": k.revoked,
                "encrypted": encrypted,
                "usable": usable,
                "untrusted": closed && !usable,
            })
        })
        .collect();
    if json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:<36}  {:<28}  {:<28}  {:<28}  flags",
        "id", "created", "activation", "expiration"
    );
    for r in rows {
        let mut flags = Vec::new();
        for f in ["default", "revoked", "encrypted"] {
            if r[f].as_bool() == Some(true) {
                flags.push(f);
            }
        }
        if r["untrusted"].as_bool() == Some(true) {
            flags.push("untrusted");
        } else if r["usable"].as_bool() != Some(true) {
            flags.push("unusable");
        }
        println!(
            "{:<36}  {:<28}  {:<28}  {:<28}  {}",
            r["id"].as_str().unwrap_or(""),
            r["created"].as_str().unwrap_or(""),
            r["activation"].as_str().unwrap_or(""),
            r["expiration"].as_str().unwrap_or(""),
            flags.join(",")
        );
    }
    Ok(())
}
