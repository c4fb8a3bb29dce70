//! Does this composition of key sources open a KeePass database? [`verify_database`] is the
//! whole check, for the command-line tool and any embedder alike: read the header, derive the
//! components (prompting through the host's interaction), compose them in KeePass order, run
//! the database's own KDF and check the result with [`super::verify_key`]. Entries are never
//! decrypted.
//!
//! A KeePassXC challenge-response key (YubiKey HMAC-SHA1) is a challenge-response source whose
//! response to the KDF seed is appended last, before the KDF, as KeePassXC does for KDBX 4.
//! KDBX 3.1 applies it after the KDF, to the master seed, which this check
//! does not do: such a database is refused as unsupported before any source is asked.

use std::{io::Read, path::Path};

use trousseau_core::ComponentKind;

use super::{parse_header, verify_key, KdbxError, KdbxHeader, Verdict};
use crate::{
    masterkey::{
        composite_key, derive_components, transform_key, KdfParams, MasterKeyError,
        SourceInteraction, SourceSpec,
    },
    plugins::Registry,
};

/// The key source that reproduces a KeePassXC challenge-response key (YubiKey HMAC-SHA1) in
/// software from the slot's 20-byte secret (built in with the `pkcs11` feature). Its settings:
/// `{"secret": {"file": PATH}}` or `{"secret": {"env": VAR}}`, see [`keepass_sources`].
pub const CHALLENGE_RESPONSE_RECOVERY: &str = "yubikey-recovery";

/// How much of a database file is read: the header is far smaller.
const MAX_HEADER_READ: u64 = 1 << 20;

/// Where the secret of a KeePassXC challenge-response key is read from (never given inline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeResponseSecret {
    /// The first line of this file: 40 hex digits or 32 base32 characters.
    File(std::path::PathBuf),
    /// This environment variable, in the same forms.
    Env(String),
}

/// The key sources of a KeePass composite key, in KeePass order: the master password (asked
/// through the interaction) when `password`, a key file, a KeePassXC challenge-response key
/// reproduced from its secret.
pub fn keepass_sources(
    password: bool,
    key_file: Option<&Path>,
    challenge_response: Option<&ChallengeResponseSecret>,
) -> Vec<SourceSpec> {
    let spec = |provider: &str, config: serde_json::Value| SourceSpec {
        provider: provider.to_string(),
        config: config.to_string(),
        public_params: String::new(),
    };
    let mut specs = Vec::new();
    if password {
        specs.push(spec("password", serde_json::json!({})));
    }
    if let Some(path) = key_file {
        specs.push(spec("keyfile", serde_json::json!({ "path": path })));
    }
    if let Some(secret) = challenge_response {
        let secret = match secret {
            ChallengeResponseSecret::File(path) => serde_json::json!({ "file": path }),
            ChallengeResponseSecret::Env(var) => serde_json::json!({ "env": var }),
        };
        specs.push(spec(
            CHALLENGE_RESPONSE_RECOVERY,
            serde_json::json!({ "secret": secret }),
        ));
    }
    specs
}

/// How a host runs the database's KDF, which takes seconds by design: [`NoProgress`] just runs
/// it; a command-line tool may show a spinner around it.
pub trait KdfRunner {
    /// Runs `kdf` (the key transformation with `params`) once and returns when it is done.
    fn run(&self, params: &KdfParams, kdf: &mut (dyn FnMut() + Send));
}

/// Runs the KDF with no progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl KdfRunner for NoProgress {
    fn run(&self, _params: &KdfParams, kdf: &mut (dyn FnMut() + Send)) {
        kdf();
    }
}

/// What [`verify_database`] found: the verdict and what it was reached with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verification {
    /// Whether the composition opens the database.
    pub verdict: Verdict,
    /// The database's major format version (3 for KDBX 3.1, 4 for KDBX 4.x).
    pub major: u16,
    /// Its minor format version.
    pub minor: u16,
    /// The database's KDF and its parameters, as run.
    pub kdf: KdfParams,
}

impl Verification {
    /// Whether the composition opens the database.
    pub fn opens(&self) -> bool {
        self.verdict == Verdict::Opens
    }
}

/// Checks whether `sources` open the KeePass database at `path` (KDBX 3.1 or 4). Only a
/// regular file is opened (a FIFO named like a database must not block) and only its first
/// MiB, which holds the header, is read. `ui` answers the sources' prompts; `runner` runs the
/// KDF. Errors: [`KdbxError::Read`] the file, [`KdbxError::Corrupt`] or
/// [`KdbxError::Unsupported`] its header, [`KdbxError::Key`] a source or the KDF.
pub fn verify_database(
    path: &Path,
    sources: &[SourceSpec],
    registry: &Registry,
    ui: &dyn SourceInteraction,
    runner: &dyn KdfRunner,
) -> Result<Verification, KdbxError> {
    let read_error = |e: &std::io::Error| {
        KdbxError::Read(trousseau_core::Error::from_io(
            e,
            format_args!("cannot read the KeePass database {}", path.display()),
        ))
    };
    let (file, _) = trousseau_core::open_regular_file(
        path,
        format_args!("cannot read the KeePass database {}", path.display()),
    )
    .map_err(KdbxError::Read)?;
    let mut head = Vec::new();
    file.take(MAX_HEADER_READ)
        .read_to_end(&mut head)
        .map_err(|e| read_error(&e))?;
    let header = parse_header(&head)?;
    verify_header(
        &header,
        &path.display().to_string(),
        sources,
        registry,
        ui,
        runner,
    )
}

/// [`verify_database`] for a header already parsed (from bytes the host read itself);
/// `location` names the database in prompts.
pub fn verify_header(
    header: &KdbxHeader,
    location: &str,
    sources: &[SourceSpec],
    registry: &Registry,
    ui: &dyn SourceInteraction,
    runner: &dyn KdfRunner,
) -> Result<Verification, KdbxError> {
    if header.major < 4 {
        refuse_challenge_response(header, sources, registry)?;
    }
    let components = derive_components(registry, sources, header.kdf.seed(), ui, location)
        .map_err(KdbxError::Key)?;
    let composite = composite_key(components).map_err(KdbxError::Key)?;
    let mut transformed = None;
    runner.run(&header.kdf, &mut || {
        transformed = Some(transform_key(&composite, &header.kdf));
    });
    // A runner that did not run the KDF does not change the answer.
    let transformed = transformed
        .unwrap_or_else(|| transform_key(&composite, &header.kdf))
        .map_err(KdbxError::Key)?;
    Ok(Verification {
        verdict: verify_key(header, &transformed)?,
        major: header.major,
        minor: header.minor,
        kdf: header.kdf.clone(),
    })
}

/// KDBX 3.x applies a challenge-response key after the KDF: refuses such a source before any
/// source is asked for its component (a source describes itself without prompting).
fn refuse_challenge_response(
    header: &KdbxHeader,
    sources: &[SourceSpec],
    registry: &Registry,
) -> Result<(), KdbxError> {
    for spec in sources {
        let fail = |error| {
            KdbxError::Key(MasterKeyError::Source {
                label: format!("{} source", spec.provider),
                error,
            })
        };
        let description = registry
            .key_source(&spec.provider, &spec.config)
            .and_then(|source| source.describe())
            .map_err(fail)?;
        if description.kind() == ComponentKind::ChallengeResponse {
            return Err(KdbxError::Unsupported(format!(
                "challenge-response keys of KDBX {}.{} databases are applied after the KDF to \
                 the master seed, which this check does not do; only KDBX 4 is supported",
                header.major, header.minor
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepass_sources_are_in_keepass_order_with_provider_settings() {
        let specs = keepass_sources(
            true,
            Some(Path::new("/k.keyx")),
            Some(&ChallengeResponseSecret::Env("CR".into())),
        );
        let got: Vec<(&str, &str)> = specs
            .iter()
            .map(|s| (s.provider.as_str(), s.config.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("password", "{}"),
                ("keyfile", r#"{"path":"/k.keyx"}"#),
                ("yubikey-recovery", r#"{"secret":{"env":"CR"}}"#),
            ]
        );
        assert!(keepass_sources(false, None, None).is_empty());
    }

    #[cfg(feature = "pkcs11")]
    #[test]
    fn the_recovery_source_id_is_the_pkcs11_providers() {
        assert_eq!(
            CHALLENGE_RESPONSE_RECOVERY,
            trousseau_pkcs11::RECOVERY_PROVIDER_ID
        );
    }

    #[test]
    fn a_missing_database_is_a_read_error_naming_it() {
        let registry = Registry::with_builtins(None).unwrap();
        let e = verify_database(
            Path::new("/nonexistent/db.kdbx"),
            &keepass_sources(true, None, None),
            &registry,
            &crate::masterkey::EverySource(&trousseau_core::NoInteraction),
            &NoProgress,
        )
        .unwrap_err();
        assert!(matches!(e, KdbxError::Read(_)), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("cannot read the KeePass database /nonexistent/db.kdbx"),
            "{e}"
        );
    }
}
