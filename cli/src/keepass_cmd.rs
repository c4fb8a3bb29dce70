//! `trousseau keepass verify DB.kdbx`: does this composition of sources open a KeePass
//! database? Reads the KDBX 3.1/4 header, derives the components, composes them, runs the
//! database's own KDF and checks the header HMAC (KDBX 4) or the stream start bytes (KDBX 3.1).
//! Entries are never decrypted.
//!
//! A KeePassXC challenge-response key (YubiKey HMAC-SHA1) is reproduced in software by the
//! `yubikey-recovery` source from the slot's secret, read from a file or an environment
//! variable (never from the command line); its response to the KDF seed is appended last,
//! before the KDF, as KeePassXC does for KDBX 4 (`src/keys/CompositeKey.cpp`; for KDBX 3.1
//! KeePassXC challenges the master seed instead, which is not supported here).

use std::{io::Read, path::PathBuf};

use anyhow::{anyhow, Context as _};
use clap::Subcommand;

use super::{progress::with_progress, CliError, Context, TerminalInteraction};
use trousseau::{
    kdbx::{parse_header, verify_key, KdbxError, Verdict},
    masterkey::{
        composite_key, derive_components, transform_key, EverySource, KdfParams, SourceSpec,
    },
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
    },
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
    } = cmd;
    // Only a regular file is opened (a FIFO named like a database must not block), and only
    // its first MiB, which holds the header, is read.
    let (file, _) = trousseau_core::open_regular_file(
        &database,
        format_args!("cannot read the KeePass database {}", database.display()),
    )?;
    let mut head = Vec::new();
    file.take(1 << 20)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", database.display()))?;
    let header = parse_header(&head).map_err(|e| anyhow!("{}: {e}", database.display()))?;
    let mut specs = Vec::new();
    if !no_password {
        specs.push(SourceSpec {
            provider: "password".into(),
            config: "{}".into(),
            public_params: String::new(),
        });
    }
    if let Some(kf) = &keyfile {
        specs.push(SourceSpec {
            provider: "keyfile".into(),
            config: serde_json::json!({ "path": kf }).to_string(),
            public_params: String::new(),
        });
    }
    let secret = match (
        challenge_response_secret_file,
        challenge_response_secret_env,
    ) {
        (Some(file), _) => Some(serde_json::json!({ "file": file })),
        (None, Some(var)) => Some(serde_json::json!({ "env": var })),
        (None, None) => None,
    };
    if let Some(secret) = secret {
        if header.major < 4 {
            return Err(CliError::failed(anyhow!(
                "{}: challenge-response keys of KDBX {}.{} databases are applied after the KDF \
                 to the master seed, which this check does not do; only KDBX 4 is supported",
                database.display(),
                header.major,
                header.minor
            )));
        }
        specs.push(SourceSpec {
            provider: trousseau_pkcs11::RECOVERY_PROVIDER_ID.into(),
            config: serde_json::json!({ "secret": secret }).to_string(),
            public_params: String::new(),
        });
    }
    if specs.is_empty() {
        return Err(CliError::usage(anyhow!(
            "--no-password needs another source, e.g. --keyfile FILE"
        )));
    }
    let ui = TerminalInteraction::new(password_stdin);
    let location = database.display().to_string();
    let components = derive_components(
        &ctx.registry,
        &specs,
        header.kdf.seed(),
        &EverySource(&ui),
        &location,
    )?;
    let composite = composite_key(components)?;
    let kdf_label = describe_kdf(&header.kdf);
    let transformed = with_progress(&format!("running {kdf_label}"), || {
        transform_key(&composite, &header.kdf)
    })?;
    let format = format!("KDBX {}.{}", header.major, header.minor);
    match verify_key(&header, &transformed) {
        Ok(Verdict::Opens) => {
            println!("OK: this composition opens {} ({format}, {kdf_label})", database.display());
            Ok(())
        }
        Ok(Verdict::DoesNotOpen) => Err(CliError::failed(anyhow!(
            "this composition does NOT open {} ({format}, {kdf_label}): wrong password, wrong key file, wrong challenge-response secret, or a missing or extra component",
            database.display()
        ))),
        Err(e @ (KdbxError::Corrupt(_) | KdbxError::Unsupported(_) | KdbxError::MasterKey(_))) => {
            Err(CliError::failed(anyhow!("{}: {e}", database.display())))
        }
    }
}

fn describe_kdf(kdf: &KdfParams) -> String {
    match kdf {
        KdfParams::AesKdf { rounds, .. } => format!("AES-KDF, {rounds} rounds"),
        KdfParams::Argon2 {
            variant,
            memory_kib,
            iterations,
            parallelism,
            ..
        } => format!(
            "Argon2{}, {} KiB, {iterations} iterations, {parallelism} lanes",
            match variant {
                trousseau::masterkey::Argon2Variant::D => "d",
                trousseau::masterkey::Argon2Variant::Id => "id",
            },
            memory_kib
        ),
    }
}
