//! `trousseau keys`: list, create, revoke and delete keys.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use trousseau::ring::IfMissing;
use uuid::Uuid;

use super::{init_cmd::PasswordArgs, report, ring, CliError, Context};
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
        /// Print a JSON array, one object per key (schema: docs/cli-json.md).
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
                    eprintln!("revoked every key created before {}", report::human_date(d));
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
                eprintln!("no key expired before {}", report::human_date(before));
                return Ok(());
            }
            if !yes && !confirm(&format!(
                "Delete {} key(s) expired before {}? Data they protected becomes unreadable forever.",
                ids.len(),
                report::human_date(before)
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
    let rows: Vec<Row<'_>> = keys
        .iter()
        .map(|k| {
            let usable = trusted(k);
            Row {
                key: k,
                default: Some(k.key.id) == default,
                encrypted: matches!(k.key.descriptor, Ok(ref d) if matches!(d.secret, MasterKeySecret::Encrypted { .. })),
                usable,
                untrusted: closed && !usable,
            }
        })
        .collect();
    if json {
        return report::print_json(&serde_json::Value::Array(
            rows.iter().map(Row::json).collect(),
        ));
    }
    println!(
        "{:<36}  {:<23}  {:<23}  {:<23}  flags",
        "id", "created", "activation", "expiration"
    );
    for r in rows {
        let k = &r.key.key;
        println!(
            "{:<36}  {:<23}  {:<23}  {:<23}  {}",
            k.id,
            report::human_date(k.creation),
            report::human_date(k.activation),
            report::human_date(k.expiration),
            r.flags().join(",")
        );
    }
    Ok(())
}

/// A key of `keys list`, with what the listing says about it.
struct Row<'a> {
    key: &'a RingKey,
    default: bool,
    encrypted: bool,
    usable: bool,
    untrusted: bool,
}

impl Row<'_> {
    /// The key as an element of the `keys list --json` array (docs/cli-json.md).
    fn json(&self) -> serde_json::Value {
        let k = &self.key.key;
        serde_json::json!({
            "id": k.id.to_string(),
            "created": report::json_date(k.creation),
            "activation": report::json_date(k.activation),
            "expiration": report::json_date(k.expiration),
            "default": self.default,
            "revoked": self.key.revoked,
            "encrypted": self.encrypted,
            "usable": self.usable,
            "untrusted": self.untrusted,
        })
    }

    /// The flags column: default, revoked, encrypted, then untrusted or unusable.
    fn flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        for (set, name) in [
            (self.default, "default"),
            (self.key.revoked, "revoked"),
            (self.encrypted, "encrypted"),
        ] {
            if set {
                flags.push(name);
            }
        }
        if self.untrusted {
            flags.push("untrusted");
        } else if !self.usable {
            flags.push("unusable");
        }
        flags
    }
}
