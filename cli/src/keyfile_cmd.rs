//! `trousseau keyfile create | inspect`.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Subcommand, ValueEnum};
use trousseau_core::Interaction;
use trousseau_keyfile::{create_key_file, key_check, load_key_file, CreateFormat};

use super::{report, CliError, TerminalInteraction};

/// Key-file formats for `keyfile create`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// KeePass XML 2.0 (`.keyx`), byte for byte as KeePass 2.47+ writes it.
    Xml2,
    /// KeePass XML 1.00 (`.key`), as KeePass ≤ 2.46 wrote it.
    Xml1,
    /// 64 hex characters.
    Hex,
    /// 32 raw bytes.
    Binary,
}

/// `trousseau keyfile …`
#[derive(Debug, Subcommand)]
pub enum KeyfileCommand {
    /// Create a new KeePass-compatible key file (mode 0600; never overwrites).
    Create {
        /// Where to write it.
        path: PathBuf,
        /// The format.
        #[arg(long, value_enum, default_value = "xml2")]
        format: FormatArg,
        /// Mix in extra entropy typed by the user, as KeePass does: key = SHA-256(entropy ‖ random).
        #[arg(long)]
        entropy: bool,
    },
    /// Show how KeePass and KeePassXC read a key file: format, key length, agreement, key
    /// check value (never the key).
    Inspect {
        /// The key file.
        path: PathBuf,
        /// Print a JSON object (schema: docs/cli-json.md).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `keyfile` subcommand.
pub fn run(cmd: KeyfileCommand) -> Result<(), CliError> {
    match cmd {
        KeyfileCommand::Create {
            path,
            format,
            entropy,
        } => {
            let format = match format {
                FormatArg::Xml2 => CreateFormat::XmlV2,
                FormatArg::Xml1 => CreateFormat::XmlV1,
                FormatArg::Hex => CreateFormat::Hex,
                FormatArg::Binary => CreateFormat::Binary,
            };
            let extra = if entropy {
                let ui = TerminalInteraction::new(false);
                Some(
                    ui.request_secret("Type random characters (extra entropy)", false)
                        .map_err(|e| anyhow!(e))?,
                )
            } else {
                None
            };
            let key = create_key_file(&path, format, extra.as_ref().map(|e| e.expose()))
                .map_err(|e| anyhow!(e))?;
            println!(
                "created {} (key check {})",
                path.display(),
                key_check(key.expose())
            );
            Ok(())
        }
        KeyfileCommand::Inspect { path, json } => {
            let loaded = load_key_file(&path).map_err(|e| anyhow!(e))?;
            if json {
                return report::print_json(&serde_json::json!({
                    "file": path.display().to_string(),
                    "format": loaded.format.as_str(),
                    "key_length": loaded.key.len(),
                    "key_check": key_check(loaded.key.expose()),
                    "keepass_and_keepassxc_agree": loaded.keepassxc_differences.is_empty(),
                    "differences": loaded.keepassxc_differences,
                    "notes": loaded.notes,
                }));
            }
            println!("file:        {}", path.display());
            println!("format:      {}", loaded.format);
            println!("key length:  {} bytes", loaded.key.len());
            println!("key check:   {}", key_check(loaded.key.expose()));
            if loaded.keepassxc_differences.is_empty() {
                println!("KeePass and KeePassXC: agree");
            } else {
                println!("KeePass and KeePassXC: DIFFER");
                for d in &loaded.keepassxc_differences {
                    println!("  - {d}");
                }
            }
            for n in &loaded.notes {
                println!("note: {n}");
            }
            Ok(())
        }
    }
}
