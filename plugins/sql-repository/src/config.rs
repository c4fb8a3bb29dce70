//! The configuration (a JSON object; keys in the crate documentation), checked as a whole
//! before anything connects.

use std::{path::PathBuf, time::Duration};

use serde::{de::IgnoredAny, Deserialize};
use trousseau_core::{Error, ErrorCode, Result};
use zeroize::Zeroizing;

use crate::ident::Ident;
use crate::ring::Limits;

/// Default of `max_ring_bytes`: 64 MiB, the other repositories' ring ceiling.
const DEFAULT_MAX_RING_BYTES: u64 = 64 << 20;
/// Default of `max_element_bytes`: 1 MiB (elements are a few KB).
const DEFAULT_MAX_ELEMENT_BYTES: u64 = 1 << 20;
/// Default of both timeouts, in milliseconds.
const DEFAULT_TIMEOUT_MS: u64 = 5000;

/// The JSON object as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    backend: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    database: Option<String>,
    password_env: Option<String>,
    schema: Option<String>,
    /// Only to refuse it with a useful message.
    password: Option<IgnoredAny>,
    path: Option<PathBuf>,
    table: Option<String>,
    create_table: Option<bool>,
    connect_timeout_ms: Option<u64>,
    command_timeout_ms: Option<u64>,
    max_ring_bytes: Option<u64>,
    max_element_bytes: Option<u64>,
}

/// A checked configuration.
#[derive(Debug)]
pub(crate) struct Config {
    /// Which database, and how to reach it.
    pub(crate) backend: Backend,
    /// What both backends share.
    pub(crate) common: Common,
}

/// What both backends share.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    /// The table's name.
    pub(crate) table: Ident,
    /// Create the table when it is missing.
    pub(crate) create_table: bool,
    /// Connection timeout.
    pub(crate) connect_timeout: Duration,
    /// Statement, lock and busy timeout.
    pub(crate) command_timeout: Duration,
    /// What a load accepts.
    pub(crate) limits: Limits,
}

/// The database.
#[derive(Debug)]
pub(crate) enum Backend {
    /// A PostgreSQL server.
    Postgres(PostgresTarget),
    /// A SQLite file.
    Sqlite(PathBuf),
}

/// Where a PostgreSQL server is and who logs in.
pub(crate) struct PostgresTarget {
    /// A host name or address, or a unix-socket directory (an absolute path).
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) database: String,
    /// From the variable named by `password_env`; wiped on drop.
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) schema: Option<Ident>,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field(
                "password",
                &self.password.as_ref().map(|_| "<from environment>"),
            )
            .field("schema", &self.schema)
            .finish()
    }
}

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!("the sql repository configuration: {message}; see `trousseau plugins inspect sql`"),
    )
}

impl Config {
    /// Parses and checks the JSON configuration.
    pub(crate) fn parse(json: &str) -> Result<Config> {
        let json = json.trim();
        // serde reads a struct from a JSON array too: refuse anything but an object.
        if !json.starts_with('{') {
            return Err(invalid("it is not a JSON object ({\"key\": value, …})"));
        }
        let raw: Raw = serde_json::from_str(json).map_err(|e| invalid(format!("{e}")))?;
        if raw.password.is_some() {
            return Err(invalid(
                "`password` is not accepted: a password written in a configuration file leaks \
                 through copies, backups and the process list; put it in an environment \
                 variable and name that variable in `password_env`, e.g. \
                 \"password_env\": \"PGPASSWORD\"",
            ));
        }
        let common = Common::from_raw(&raw)?;
        let backend = match raw.backend.as_deref() {
            Some("postgres" | "postgresql") => Backend::Postgres(postgres_target(raw)?),
            Some("sqlite") => Backend::Sqlite(sqlite_target(raw)?),
            Some(other) => {
                return Err(invalid(format!(
                    "`backend` is {other:?}: use \"postgres\" or \"sqlite\""
                )))
            }
            None => return Err(invalid("`backend` is missing: \"postgres\" or \"sqlite\"")),
        };
        Ok(Config { backend, common })
    }
}

impl Common {
    fn from_raw(raw: &Raw) -> Result<Common> {
        let table = raw.table.as_deref().unwrap_or("DataProtectionKeys");
        let table = Ident::new(table).map_err(|why| invalid(format!("`table` {why}")))?;
        let timeout = |value: Option<u64>, key: &str| match value.unwrap_or(DEFAULT_TIMEOUT_MS) {
            0 => Err(invalid(format!(
                "`{key}` is 0: give a positive number of milliseconds"
            ))),
            ms => Ok(Duration::from_millis(ms)),
        };
        let ring = raw.max_ring_bytes.unwrap_or(DEFAULT_MAX_RING_BYTES);
        let element = raw.max_element_bytes.unwrap_or(DEFAULT_MAX_ELEMENT_BYTES);
        if element == 0 || ring < element {
            return Err(invalid(format!(
                "`max_element_bytes` ({element}) must be positive and at most `max_ring_bytes` \
                 ({ring}); the defaults are {DEFAULT_MAX_ELEMENT_BYTES} and \
                 {DEFAULT_MAX_RING_BYTES}"
            )));
        }
        Ok(Common {
            table,
            create_table: raw.create_table.unwrap_or(true),
            connect_timeout: timeout(raw.connect_timeout_ms, "connect_timeout_ms")?,
            command_timeout: timeout(raw.command_timeout_ms, "command_timeout_ms")?,
            limits: Limits { ring, element },
        })
    }
}

/// Refuses the keys of the other backend, so that a mistaken configuration is never
/// silently half-read.
fn refuse_foreign(backend: &str, keys: &[(&str, bool)]) -> Result<()> {
    match keys.iter().find(|(_, present)| *present) {
        Some((key, _)) => Err(invalid(format!(
            "`{key}` is not a setting of the {backend} backend"
        ))),
        None => Ok(()),
    }
}

fn postgres_target(raw: Raw) -> Result<PostgresTarget> {
    refuse_foreign("postgres", &[("path", raw.path.is_some())])?;
    let required = |value: Option<String>, key: &str| match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid(format!(
            "`{key}` is required with the postgres backend"
        ))),
    };
    let host = raw.host.unwrap_or_else(|| "localhost".into());
    if host.is_empty() {
        return Err(invalid("`host` is empty"));
    }
    let password = match &raw.password_env {
        None => None,
        Some(var) => Some(Zeroizing::new(std::env::var(var).map_err(|_| {
            invalid(format!(
                "`password_env` names environment variable {var}, but it is not set (or not \
                 UTF-8); export it or remove `password_env`"
            ))
        })?)),
    };
    let schema = raw
        .schema
        .as_deref()
        .map(Ident::new)
        .transpose()
        .map_err(|why| invalid(format!("`schema` {why}")))?;
    Ok(PostgresTarget {
        host,
        port: raw.port.unwrap_or(5432),
        user: required(raw.user, "user")?,
        database: required(raw.database, "database")?,
        password,
        schema,
    })
}

fn sqlite_target(raw: Raw) -> Result<PathBuf> {
    refuse_foreign(
        "sqlite",
        &[
            ("host", raw.host.is_some()),
            ("port", raw.port.is_some()),
            ("user", raw.user.is_some()),
            ("database", raw.database.is_some()),
            ("password_env", raw.password_env.is_some()),
            ("schema", raw.schema.is_some()),
        ],
    )?;
    match raw.path {
        Some(path) if !path.as_os_str().is_empty() => Ok(path),
        _ => Err(invalid(
            "`path` (the database file) is required with the sqlite backend",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(json: &str) -> String {
        let e = Config::parse(json).expect_err(json);
        assert_eq!(e.code(), ErrorCode::InvalidConfig, "{json}");
        e.message().to_string()
    }

    #[test]
    fn a_literal_password_is_refused_and_points_at_password_env() {
        let m = refused(
            r#"{"backend":"postgres","user":"u","database":"d","password":"hunter2-secret"}"#,
        );
        assert!(m.contains("password_env"), "{m}");
        assert!(!m.contains("hunter2-secret"), "{m}");
    }

    #[test]
    fn mistakes_are_named() {
        for (json, needle) in [
            ("[]", "not a JSON object"),
            ("{}", "`backend` is missing"),
            (r#"{"backend":"mysql"}"#, "\"mysql\""),
            (r#"{"backend":"postgres","database":"d"}"#, "`user`"),
            (r#"{"backend":"postgres","user":"u"}"#, "`database`"),
            (r#"{"backend":"sqlite"}"#, "`path`"),
            (
                r#"{"backend":"sqlite","path":"/x","host":"h"}"#,
                "`host` is not a setting of the sqlite",
            ),
            (
                r#"{"backend":"postgres","user":"u","database":"d","path":"/x"}"#,
                "`path` is not a setting of the postgres",
            ),
            (
                r#"{"backend":"sqlite","path":"/x","table":"Keys; DROP TABLE x"}"#,
                "`table`",
            ),
            (
                r#"{"backend":"sqlite","path":"/x","command_timeout_ms":0}"#,
                "command_timeout_ms",
            ),
            (
                r#"{"backend":"sqlite","path":"/x","max_element_bytes":10,"max_ring_bytes":9}"#,
                "`max_ring_bytes` (9)",
            ),
            (
                r#"{"backend":"postgres","user":"u","database":"d","password_env":"TROUSSEAU_SQL_SURELY_UNSET"}"#,
                "TROUSSEAU_SQL_SURELY_UNSET",
            ),
            (r#"{"backend":"sqlite","path":"/x","tabel":"t"}"#, "tabel"),
        ] {
            let m = refused(json);
            assert!(m.contains(needle), "{json}: {m}");
        }
    }

    #[test]
    fn defaults() {
        let c = Config::parse(r#"{"backend":"postgres","user":"u","database":"d"}"#).unwrap();
        assert_eq!(c.common.table.as_str(), "DataProtectionKeys");
        assert!(c.common.create_table);
        assert_eq!(c.common.limits.element, DEFAULT_MAX_ELEMENT_BYTES);
        let Backend::Postgres(t) = c.backend else {
            panic!("not postgres")
        };
        assert_eq!((t.host.as_str(), t.port), ("localhost", 5432));
    }
}
