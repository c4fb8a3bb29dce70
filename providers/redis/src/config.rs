//! The Redis repository's configuration and the connection details derived from it.

use std::{path::PathBuf, time::Duration};

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use serde::Deserialize;
use trousseau_core::{Error, ErrorCode, Result};
use trousseau_repository_xml::config::{parse, secret_from_env};

/// The configuration (a JSON object; see [`crate::CONFIG_HELP`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Server URL; may carry a username and password.
    #[serde(default = "default_url")]
    pub url: String,
    /// The list key.
    #[serde(default = "default_key")]
    pub key: String,
    /// Environment variable holding the username.
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Connect timeout in milliseconds.
    #[serde(default = "default_timeout")]
    pub connect_timeout_ms: u64,
    /// Per-command timeout in milliseconds.
    #[serde(default = "default_timeout")]
    pub command_timeout_ms: u64,
    /// `rediss://` only: a PEM file with the CA certificate(s) that signed the server's
    /// certificate, trusted instead of the public web roots (a private CA).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// The most bytes one read of the list accepts: every entry's length plus
    /// [`ENTRY_OVERHEAD`] (default [`DEFAULT_MAX_RING_BYTES`], 64 MiB).
    #[serde(default = "default_max_ring_bytes")]
    pub max_ring_bytes: u64,
    /// The longest entry a read accepts (default [`DEFAULT_MAX_ELEMENT_BYTES`], 1 MiB).
    #[serde(default = "default_max_element_bytes")]
    pub max_element_bytes: u64,
}

/// Default of `max_ring_bytes`: 64 MiB, as the filesystem repository's ring ceiling.
pub const DEFAULT_MAX_RING_BYTES: u64 = 64 << 20;

/// Default of `max_element_bytes`: 1 MiB, as the filesystem repository's element ceiling
/// (elements are a few KB).
pub const DEFAULT_MAX_ELEMENT_BYTES: u64 = 1 << 20;

/// What each entry counts for towards `max_ring_bytes` beyond its length, so that millions of
/// tiny entries are refused as surely as a few huge ones (each costs memory to hold).
pub const ENTRY_OVERHEAD: u64 = 256;

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only where it points.
        f.debug_struct("RedisConfig")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn default_url() -> String {
    "redis://127.0.0.1:6379".into()
}

fn default_key() -> String {
    "DataProtection-Keys".into()
}

fn default_timeout() -> u64 {
    5000
}

fn default_max_ring_bytes() -> u64 {
    DEFAULT_MAX_RING_BYTES
}

fn default_max_element_bytes() -> u64 {
    DEFAULT_MAX_ELEMENT_BYTES
}

/// How much of the list a read accepts (see [`RedisConfig::max_ring_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Sum over the entries of their length plus [`ENTRY_OVERHEAD`].
    pub(crate) ring: u64,
    /// Length of one entry.
    pub(crate) element: u64,
}

/// What a repository needs to connect: parsed, credentials applied, timeouts checked.
pub(crate) struct Target {
    pub(crate) info: ConnectionInfo,
    /// The PEM bytes of `tls_ca_file`, when given.
    pub(crate) ca_pem: Option<Vec<u8>>,
    pub(crate) location: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) limits: Limits,
}

impl RedisConfig {
    /// Parses the JSON configuration.
    pub fn from_json(json: &str) -> Result<Self> {
        parse("redis", json)
    }

    pub(crate) fn target(&self) -> Result<Target> {
        let invalid = |m: String| Error::new(ErrorCode::InvalidConfig, m);
        if self.key.is_empty() {
            return Err(invalid(
                "the redis repository `key` is empty: name the list, e.g. \"DataProtection-Keys\""
                    .into(),
            ));
        }
        let scheme = self.url.split_once("://").map(|(s, _)| s).unwrap_or("");
        if !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(invalid(format!(
                "the redis repository `url` has scheme {:?}: use redis://host:port/db, rediss://host:port/db (TLS) or redis+unix:///path/to/socket",
                scheme
            )));
        }
        if scheme == "rediss" && !cfg!(feature = "tls") {
            return Err(invalid(
                "the redis repository `url` is rediss:// (TLS) but this build of trousseau-redis \
                 has no TLS: build it with its `tls` feature (the engine's `redis-tls`), or use \
                 redis:// or redis+unix://"
                    .into(),
            ));
        }
        let info = self.url.as_str().into_connection_info().map_err(|e| {
            invalid(format!(
                "the redis repository `url` cannot be parsed ({:?}): use redis://[user[:password]@]host[:port][/db]",
                e.kind()
            ))
        })?;
        let mut settings = info.redis_settings().clone();
        if let Some(var) = &self.username_env {
            settings = settings.set_username(secret_from_env("redis", "username_env", var)?);
        }
        if let Some(var) = &self.password_env {
            settings = settings.set_password(secret_from_env("redis", "password_env", var)?);
        }
        let db = settings.db();
        let info = info.set_redis_settings(settings);
        let address = match info.addr() {
            ConnectionAddr::Tcp(host, port) => format!("redis://{host}:{port}/{db}"),
            ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}/{db}"),
            ConnectionAddr::Unix(path) => format!("redis+unix://{}?db={db}", path.display()),
            other => format!("{other:?}"),
        };
        let ca_pem = match &self.tls_ca_file {
            None => None,
            Some(_) if !matches!(info.addr(), ConnectionAddr::TcpTls { .. }) => {
                return Err(invalid(format!(
                    "the redis repository has `tls_ca_file` but its url {address} is not TLS: \
                     use rediss://host:port/db, or remove `tls_ca_file`"
                )));
            }
            Some(path) => Some(read_ca(path)?),
        };
        let timeout = |ms: u64, key: &str| {
            if ms == 0 {
                Err(invalid(format!(
                    "the redis repository `{key}` is 0: give a positive number of milliseconds"
                )))
            } else {
                Ok(Duration::from_millis(ms))
            }
        };
        if self.max_element_bytes == 0 || self.max_ring_bytes < self.max_element_bytes {
            return Err(invalid(format!(
                "the redis repository's `max_element_bytes` ({}) must be positive and at most \
                 `max_ring_bytes` ({}); the defaults are {DEFAULT_MAX_ELEMENT_BYTES} and \
                 {DEFAULT_MAX_RING_BYTES}",
                self.max_element_bytes, self.max_ring_bytes
            )));
        }
        Ok(Target {
            limits: Limits {
                ring: self.max_ring_bytes,
                element: self.max_element_bytes,
            },
            location: format!("{address} list {}", self.key),
            connect_timeout: timeout(self.connect_timeout_ms, "connect_timeout_ms")?,
            command_timeout: timeout(self.command_timeout_ms, "command_timeout_ms")?,
            info,
            ca_pem,
        })
    }
}

/// Reads `tls_ca_file`, which must hold at least one PEM certificate.
fn read_ca(path: &std::path::Path) -> Result<Vec<u8>> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::from_io(&e, path.display()).context("the redis repository's `tls_ca_file`")
    })?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            format!(
                "the redis repository's `tls_ca_file` {} holds no PEM certificate \
                 (-----BEGIN CERTIFICATE-----): give the CA certificate in PEM form",
                path.display()
            ),
        ));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(json: &str) -> Result<Target> {
        RedisConfig::from_json(json)?.target()
    }

    #[test]
    fn location_never_shows_the_password() {
        let t = target(r#"{"url":"redis://alice:s3cret@db.example:6380/2"}"#).unwrap();
        assert_eq!(
            t.location,
            "redis://db.example:6380/2 list DataProtection-Keys"
        );
        assert_eq!(t.info.redis_settings().password(), Some("s3cret"));
        assert_eq!(t.info.redis_settings().username(), Some("alice"));
    }

    #[test]
    fn unix_and_tls_urls() {
        let t = target(r#"{"url":"redis+unix:///tmp/x/redis.sock","key":"k"}"#).unwrap();
        assert_eq!(t.location, "redis+unix:///tmp/x/redis.sock?db=0 list k");
        #[cfg(feature = "tls")]
        {
            let t = target(r#"{"url":"rediss://h:7000"}"#).unwrap();
            assert!(
                t.location.starts_with("rediss://h:7000/0"),
                "{}",
                t.location
            );
        }
        #[cfg(not(feature = "tls"))]
        {
            let Err(e) = target(r#"{"url":"rediss://h:7000"}"#) else {
                panic!("rediss:// accepted without TLS");
            };
            assert!(e.message().contains("`tls` feature"), "{}", e.message());
        }
    }

    #[test]
    fn bad_configuration_is_explained() {
        for (json, needle) in [
            (r#"{"url":"http://h:6379"}"#, "scheme \"http\""),
            (r#"{"url":"h:6379"}"#, "scheme"),
            (r#"{"key":""}"#, "`key` is empty"),
            (r#"{"command_timeout_ms":0}"#, "command_timeout_ms"),
            (
                r#"{"password_env":"TROUSSEAU_SURELY_UNSET_43"}"#,
                "TROUSSEAU_SURELY_UNSET_43",
            ),
            (r#"{"port":1}"#, "port"),
            (r#"{"max_element_bytes":0}"#, "max_element_bytes"),
            (
                r#"{"max_element_bytes":10,"max_ring_bytes":9}"#,
                "`max_ring_bytes` (9)",
            ),
        ] {
            let e = target(json).err().unwrap();
            assert_eq!(e.code(), ErrorCode::InvalidConfig, "{json}");
            assert!(e.message().contains(needle), "{json}: {}", e.message());
        }
    }
}
