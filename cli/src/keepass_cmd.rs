//! `trousseau keepass verify DB.kdbx`: does this composition of sources open a KeePass
//! database? The check is the engine's [`trousseau::kdbx::verify_database`] (header, the
//! database's own KDF, header HMAC or stream start bytes; entries are never decrypted); this
//! command turns its options into key sources, shows progress while the KDF runs and prints
//! the verdict.
//!
//! A KeePassXC challenge-response key (YubiKey HMAC-SHA1) is reproduced in software from the
//! slot's secret, read from a file or an environment variable (never from the command line).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Subcommand;

use super::{progress::with_progress, report, CliError, Context, TerminalInteraction};
use trousseau::{
    kdbx::{
        keepass_sources, verify_database, ChallengeResponseSecret, KdbxError, KdfRunner, Verdict,
    },
    masterkey::{EverySource, KdfParams},
};

/// `trousseau keepass …`
#[derive(Debug, Subcommand)]
pub enum KeepassCommand {
    /// Check that a password, key file and/or KeePassXC challenge-response key open a KeePass
    /// database (KDBX 3.1 or 4).
    Verify {
        /// The database.
        database: PathBuf,
        /// Read the password from the first line of standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
        /// A key file (any format KeePass reads).
        #[arg(long, value_name = "FILE")]
        keyfile: Option<PathBuf>,
        /// The database has no password component (KeePassXC's "empty password" means none;
        /// KeePass's empty password box means SHA-256 of "").
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
        /// The database also needs a KeePassXC challenge-response key (YubiKey HMAC-SHA1):
        /// reproduce it from the slot's 20-byte secret (40 hex digits or 32 base32
        /// characters) on the first line of this file. KDBX 4 only.
        #[arg(long, value_name = "FILE")]
        challenge_response_secret_file: Option<PathBuf>,
        /// Like --challenge-response-secret-file, with the secret in this environment variable.
        #[arg(
            long,
            value_name = "VAR",
            conflicts_with = "challenge_response_secret_file"
        )]
        challenge_response_secret_env: Option<String>,
        /// Print the verdict as a JSON object (schema: docs/cli-json.md); the exit code is
        /// still 1 when the composition does not open the database.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the KDF with a spinner on stderr when it takes a while.
struct Spinner;

impl KdfRunner for Spinner {
    fn run(&self, params: &KdfParams, kdf: &mut (dyn FnMut() + Send)) {
        with_progress(&format!("running {}", params.summary()), None, kdf);
    }
}

/// Runs a `keepass` subcommand.
pub fn run(ctx: &Context, cmd: KeepassCommand) -> Result<(), CliError> {
    let KeepassCommand::Verify {
        database,
        password_stdin,
        keyfile,
        no_password,
        challenge_response_secret_file,
        challenge_response_secret_env,
        json,
    } = cmd;
    let secret = match (
        challenge_response_secret_file,
        challenge_response_secret_env,
    ) {
        (Some(file), _) => Some(ChallengeResponseSecret::File(file)),
        (None, Some(var)) => Some(ChallengeResponseSecret::Env(var)),
        (None, None) => None,
    };
    let specs = keepass_sources(!no_password, keyfile.as_deref(), secret.as_ref());
    if specs.is_empty() {
        return Err(CliError::usage(anyhow!(
            "--no-password needs another source, e.g. --keyfile FILE"
        )));
    }
    let ui = TerminalInteraction::new(password_stdin);
    let in_database = |e| anyhow!("{}: {e}", database.display());
    let checked = match verify_database(
        &database,
        &specs,
        &ctx.registry,
        &EverySource(&ui),
        &Spinner,
    ) {
        Ok(checked) => checked,
        Err(KdbxError::Read(e)) => return Err(CliError::failed(e)),
        Err(KdbxError::Key(e)) => return Err(CliError::failed(e)),
        Err(e) => return Err(CliError::failed(in_database(e))),
    };
    let format = format!("KDBX {}.{}", checked.major, checked.minor);
    let kdf_label = checked.kdf.summary();
    if json {
        report::print_json(&serde_json::json!({
            "database": database.display().to_string(),
            "format": format,
            "kdf": report::kdf_json(&checked.kdf),
            "opens": matches!(checked.verdict, Verdict::Opens),
        }))?;
    }
    match checked.verdict {
        Verdict::Opens if json => Ok(()),
        Verdict::Opens => {
            println!("OK: this composition opens {} ({format}, {kdf_label})", database.display());
            Ok(())
        }
        Verdict::DoesNotOpen => Err(CliError::failed(anyhow!(
            "this composition does NOT open {} ({format}, {kdf_label}): wrong password, wrong key file, wrong challenge-response secret, or a missing or extra component",
            database.display()
        ))),
    }
}
