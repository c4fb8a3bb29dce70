//! The TOML configuration file.
//!
//! Location ([`Config::load`]): the path the host names (the command-line tool's `--config`),
//! else `$TROUSSEAU_CONFIG`, else `$XDG_CONFIG_HOME/trousseau/config.toml`
//! (`~/.config/trousseau/config.toml`). A missing default file means built-in defaults; a
//! missing file named explicitly is an error. An embedder can also read a file of its own
//! choosing with [`crate::Trousseau::from_config_file`], or parse text with [`Config::parse`].
//!
//! ```toml
//! [plugins]
//! dirs = ["/opt/trousseau/plugins"]     # searched after the host's own directories
//! pins = ["sha256:9f86d0…"]             # when set, only plugin files with these digests load
//!                                       # (applied by the host: see Builder::from_config)
//!
//! [repository]                          # where the key ring lives
//! provider = "filesystem"
//! directory = "/var/lib/app/keys"       # every other key is the provider's configuration
//!
//! [data_protection]
//! application_name = "my-app"           # first purpose (ASP.NET SetApplicationName)
//! key_lifetime_days = 90                # minimum 7
//! auto_generate_keys = true
//! interop = false                       # true: keys unencrypted, readable by ASP.NET Core
//! max_payload_size = 16777216
//!
//! [[master_key.sources]]                # the key sources of new master-key slots, in order
//! provider = "password"                 # any key-source provider id, plugins included
//! [[master_key.sources]]
//! provider = "keyfile"
//! path = "/home/a/app.keyx"             # every other key is the provider's configuration
//!
//! [key_protection]                      # ASP.NET Core's ProtectKeysWithCertificate (interop)
//! certificate = "/etc/app/dp-2026.pfx"  # PEM (certificate + PRIVATE KEY) or PKCS#12
//! password_env = "DP_CERT_PASSWORD"     # the PKCS#12 password comes from this variable
//! unprotect_certificates = ["/etc/app/dp-2025.pem"]  # older ones still decrypt old keys
//! # or, on Windows, ASP.NET Core's ProtectKeysWithDpapi instead of a certificate:
//! # dpapi = "current-user"              # or "local-machine" (protectToLocalMachine: true)
//!
//! [policy]                              # master-key policy, see `crate::policy`
//! minimum_length = 12
//! key_creation_flags = 263168
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("invalid configuration file {path}, line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Plugin search and pinning.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// The key-ring repository (default: the built-in filesystem repository).
    #[serde(default)]
    pub repository: Option<ProviderConfig>,
    /// The administrator's master-key policy (see [`crate::policy`]).
    #[serde(default)]
    pub policy: crate::policy::PolicyConfig,
    /// Data-protection settings.
    #[serde(default)]
    pub data_protection: DataProtectionConfig,
    /// The master key of new slots.
    #[serde(default)]
    pub master_key: MasterKeyConfig,
    /// How key secrets are encrypted at rest in a ring shared with ASP.NET Core.
    #[serde(default)]
    pub key_protection: KeyProtectionConfig,
}

/// The `[key_protection]` table: key secrets encrypted under an X.509 certificate, as ASP.NET
/// Core's `ProtectKeysWithCertificate` does (feature `certificate-keys`), or protected with
/// Windows DPAPI, as its `ProtectKeysWithDpapi` does (Windows only). Naming a certificate or a
/// DPAPI scope makes the ring an ASP.NET Core ring (interop mode) whose new keys are protected
/// that way.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyProtectionConfig {
    /// The certificate new keys are encrypted for, with its private key: a PEM file (the
    /// certificate and its `PRIVATE KEY` block) or a PKCS#12 file (`.pfx`, `.p12`).
    pub certificate: Option<PathBuf>,
    /// The PEM file of the certificate's private key, when it is not in the certificate file.
    pub private_key: Option<PathBuf>,
    /// The environment variable holding the PKCS#12 password (none: an empty password).
    pub password_env: Option<String>,
    /// The certificate's private key on a PKCS#11 token instead of in a file (features
    /// `certificate-keys` and `pkcs11`); `certificate` then holds only the certificate.
    pub private_key_pkcs11: Option<Pkcs11PrivateKey>,
    /// Older certificates that still decrypt existing keys (ASP.NET Core's
    /// `UnprotectKeysWithAnyCertificate`): paths, or tables with `path`, `private_key`,
    /// `password_env` and `private_key_pkcs11`.
    #[serde(default)]
    pub unprotect_certificates: Vec<CertificateFile>,
    /// New keys protected with Windows DPAPI instead of a certificate: `"current-user"` (only
    /// this Windows user can read them) or `"local-machine"` (any process on this machine).
    /// Windows only; refused elsewhere.
    #[serde(default, deserialize_with = "dpapi_scope")]
    pub dpapi: Option<crate::dataprotection::dpapi::DpapiScope>,
}

fn dpapi_scope<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::dataprotection::dpapi::DpapiScope>, D::Error> {
    use crate::dataprotection::dpapi::DpapiScope;
    let name = String::deserialize(d)?;
    DpapiScope::from_name(&name).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "dpapi = {name:?}: use \"current-user\" or \"local-machine\""
        ))
    })
}

/// A certificate file in `unprotect_certificates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CertificateFile {
    /// A PEM file with the private key, or a PKCS#12 file opened with the table's
    /// `password_env`.
    Path(PathBuf),
    /// A file with its own settings.
    File {
        /// The PEM or PKCS#12 file.
        path: PathBuf,
        /// The PEM file of the private key, when it is not in `path`.
        #[serde(default)]
        private_key: Option<PathBuf>,
        /// The environment variable holding this file's PKCS#12 password.
        #[serde(default)]
        password_env: Option<String>,
        /// This certificate's private key on a PKCS#11 token (boxed: the variant stays small).
        #[serde(default)]
        private_key_pkcs11: Option<Box<Pkcs11PrivateKey>>,
    },
}

/// A certificate's RSA private key on a PKCS#11 token (`private_key_pkcs11`): `module`,
/// `token_label` or `token_serial`, `key_label` or `key_id` (hex), `pin_env`, as the `pkcs11`
/// key source names its key. The token decrypts; the key never leaves it.
#[cfg(feature = "pkcs11")]
pub type Pkcs11PrivateKey = trousseau_pkcs11::RsaKeyLocation;

/// A certificate's RSA private key on a PKCS#11 token (`private_key_pkcs11`): without the
/// `pkcs11` feature any table is read, and certificate protection refuses it, naming the
/// feature.
#[cfg(not(feature = "pkcs11"))]
pub type Pkcs11PrivateKey = toml::Table;

/// The `[master_key]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKeyConfig {
    /// The key sources new slots are made of (`[[master_key.sources]]`), in order. Empty: the
    /// `user-account` source when it is installed, else a password.
    #[serde(default)]
    pub sources: Vec<ProviderConfig>,
    /// Ceilings on the KDF parameters of slots read from the key ring
    /// (`[master_key.kdf_limits]`: `max_memory_kib`, `max_iterations`, `max_parallelism`,
    /// `max_aes_rounds`).
    #[serde(default)]
    pub kdf_limits: crate::masterkey::KdfLimits,
    /// How long opening a new slot should take on the machine that makes it, in seconds:
    /// its Argon2id is calibrated to it within the ceilings (`unlock_time = 1.0`). Unset: the
    /// library's fixed defaults; the command-line tool calibrates to one second.
    #[serde(default)]
    pub unlock_time: Option<f64>,
}

/// The `[data_protection]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProtectionConfig {
    /// The application name: the first purpose of every protector (ASP.NET
    /// `SetApplicationName`). Default `trousseau`; an empty string means no implicit purpose.
    pub application_name: Option<String>,
    /// Lifetime of new keys in days (default 90, minimum 7).
    pub key_lifetime_days: Option<i64>,
    /// Generate keys automatically when needed (default true).
    pub auto_generate_keys: Option<bool>,
    /// Write keys unencrypted exactly as ASP.NET Core on Linux does, so .NET apps can share the
    /// ring (default false: keys are encrypted under the master key).
    pub interop: Option<bool>,
    /// Largest payload accepted, in bytes (default 16 MiB).
    pub max_payload_size: Option<usize>,
}

/// The `[plugins]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Extra plugin directories.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// SHA-256 digests (hex, optionally prefixed `sha256:`) of the only plugin files allowed.
    #[serde(default)]
    pub pins: Option<Vec<String>>,
}

/// A provider and its configuration: `provider = "id"`, every other key is passed to the
/// provider as a JSON object.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderConfig {
    /// Provider id.
    pub provider: String,
    /// The provider's own settings.
    #[serde(flatten)]
    pub settings: toml::Table,
}

impl ProviderConfig {
    /// The settings as the JSON document the provider's factory receives.
    pub fn settings_json(&self) -> String {
        serde_json::to_string(&self.settings).unwrap_or_else(|_| "{}".to_string())
    }
}

impl Config {
    /// Parses configuration text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_string(),
            }
        })
    }

    /// Loads the file named explicitly (`explicit`, e.g. a host's `--config` option), else the
    /// one `$TROUSSEAU_CONFIG` names, else the default file if it exists; returns the
    /// configuration and the file it came from (`None`: built-in defaults).
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match std::env::var_os("TROUSSEAU_CONFIG") {
                Some(p) => (PathBuf::from(p), true),
                None => match default_config_path() {
                    Some(p) => (p, false),
                    None => return Ok((Config::default(), None)),
                },
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Config::parse(&text, &path)?, Some(path))),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok((Config::default(), None))
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }
}

/// `$XDG_CONFIG_HOME/trousseau/config.toml`, or `~/.config/trousseau/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("trousseau").join("config.toml"))
}

/// `$XDG_DATA_HOME/trousseau`, or `~/.local/share/trousseau`: per-user data (plugins, rings).
pub fn default_data_dir() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("trousseau"))
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if Path::new(&v).is_absolute() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback)),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_line_and_column() {
        let text = "[plugins]\ndirs = [\"/a\"]\npins = 12\n";
        let err = Config::parse(text, Path::new("c.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("c.toml, line 3, column 8"), "{msg}");
    }

    #[test]
    fn unknown_section_is_refused() {
        let err = Config::parse("[plugin]\ndirs=[]\n", Path::new("c.toml")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(err.to_string().contains("unknown field `plugin`"), "{err}");
    }

    #[test]
    fn policy_section_is_read() {
        let c = Config::parse(
            "[policy]\nminimum_length = 12\nforbid = [\"user-account\"]\n",
            Path::new("c"),
        )
        .unwrap();
        assert_eq!(c.policy.minimum_length, Some(12));
        assert_eq!(c.policy.forbid, vec!["user-account".to_string()]);
        let err = Config::parse("[policy]\nminimum_lenght = 12\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn master_key_sources_are_read_in_order() {
        let c = Config::parse(
            "[[master_key.sources]]\nprovider = \"password\"\n[[master_key.sources]]\nprovider = \"keyfile\"\npath = \"/k.keyx\"\n",
            Path::new("c"),
        )
        .unwrap();
        let s = &c.master_key.sources;
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].provider.as_str(), s[0].settings_json().as_str()),
            ("password", "{}")
        );
        assert_eq!(s[1].provider, "keyfile");
        assert_eq!(s[1].settings_json(), r#"{"path":"/k.keyx"}"#);
        let err = Config::parse("[master_key]\nsource = []\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("unknown field `source`"), "{err}");
    }

    #[test]
    fn repository_settings_become_json() {
        let c = Config::parse(
            "[repository]\nprovider = \"redis\"\nurl = \"redis://h/\"\n",
            Path::new("c"),
        )
        .unwrap();
        let repo = c.repository.unwrap();
        assert_eq!(repo.provider, "redis");
        assert_eq!(repo.settings_json(), r#"{"url":"redis://h/"}"#);
    }
}
