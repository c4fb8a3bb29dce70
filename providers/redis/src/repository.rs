//! The Redis repository: a list in the ASP.NET Core layout, with deletion and conditional store.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Commands, Connection, RedisError, TlsCertificates};
use sha2::{Digest, Sha256};
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};
use trousseau_repository_xml::element::{compact, friendly_name};

use crate::config::{RedisConfig, Target};
use crate::errors;

/// A key ring kept in one Redis list.
///
/// One connection is kept and reused; when it breaks (server restarted, network), the failing
/// call reports [`ErrorCode::Unavailable`] and the next call connects again.
pub struct RedisRepository {
    client: Client,
    key: String,
    location: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    connection: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for RedisRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRepository")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl RedisRepository {
    /// A repository for `config`. Does not connect yet: the first call does.
    pub fn new(config: RedisConfig) -> Result<Self> {
        let Target {
            info,
            location,
            connect_timeout,
            command_timeout,
            ca_pem,
        } = config.target()?;
        if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
            // rustls needs a process-wide crypto provider; another crate may have installed one.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = match ca_pem {
            None => Client::open(info),
            Some(root_cert) => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            ),
        }
        .map_err(|e| errors::map(&e, &location))?;
        Ok(RedisRepository {
            client,
            key: config.key,
            location,
            connect_timeout,
            command_timeout,
            connection: Mutex::new(None),
        })
    }

    /// Runs `f` on the (re)connected connection; drops the connection when `f` breaks it.
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> std::result::Result<T, RedisError>,
    ) -> Result<T> {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(self.connect()?);
        }
        let Some(connection) = slot.as_mut() else {
            return Err(Error::new(
                ErrorCode::Internal,
                "redis connection slot empty",
            ));
        };
        f(connection).map_err(|e| {
            if errors::breaks_connection(&e) {
                tracing::debug!(location = %self.location, "dropping broken redis connection");
                *slot = None;
            }
            errors::map(&e, &self.location)
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic while holding the lock leaves at worst a connection mid-command: drop it.
        self.connection.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }

    fn connect(&self) -> Result<Connection> {
        tracing::debug!(location = %self.location, "connecting to redis");
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)
            .map_err(|e| errors::map(&e, &self.location))?;
        connection
            .set_read_timeout(Some(self.command_timeout))
            .and_then(|()| connection.set_write_timeout(Some(self.command_timeout)))
            .map_err(|e| errors::map(&e, &self.location))?;
        Ok(connection)
    }

    fn corrupt_entry(&self, index: usize, e: &Error) -> Error {
        Error::new(
            ErrorCode::CorruptData,
            format!(
                "the redis repository at {}: entry {index} of the list is not an XML element ({}); remove it with LREM or LSET",
                self.location,
                e.message()
            ),
        )
    }
}

/// The version token: SHA-256 over every entry, each preceded by its length.
fn digest<'a>(entries: impl IntoIterator<Item = &'a String>) -> String {
    let mut hash = Sha256::new();
    for entry in entries {
        hash.update((entry.len() as u64).to_be_bytes());
        hash.update(entry.as_bytes());
    }
    hex::encode(hash.finalize())
}

impl Repository for RedisRepository {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            "redis",
            self.location.clone(),
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot> {
        let entries: Vec<String> = self.with_connection(|c| c.lrange(&self.key, 0, -1))?;
        let version = digest(&entries);
        let elements = entries
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let text = compact(text).map_err(|e| self.corrupt_entry(i, &e))?;
                Ok(Element::new(friendly_name(&text), text))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Snapshot::new(elements, version))
    }

    fn store(&self, element: &Element) -> Result<()> {
        let text = compact(element.xml()).map_err(|e| e.context(element.name()))?;
        let _: i64 = self.with_connection(|c| c.rpush(&self.key, &text))?;
        Ok(())
    }

    fn delete(&self, names: &[String]) -> Result<()> {
        self.with_connection(|c| {
            let entries: Vec<String> = c.lrange(&self.key, 0, -1)?;
            // In the caller's order (ASP.NET deletion order): keys before their revocations.
            let mut pipe = redis::pipe();
            pipe.atomic();
            for name in names {
                for entry in &entries {
                    if compact(entry).is_ok_and(|t| friendly_name(&t) == *name) {
                        pipe.lrem(&self.key, 0, entry).ignore();
                    }
                }
            }
            pipe.query::<()>(c)
        })
    }

    fn store_conditional(&self, expected_version: &str, elements: &[Element]) -> Result<String> {
        let texts = elements
            .iter()
            .map(|e| compact(e.xml()).map_err(|err| err.context(e.name())))
            .collect::<Result<Vec<_>>>()?;
        let outcome = self.with_connection(|c| {
            redis::cmd("WATCH").arg(&self.key).exec(c)?;
            let mut entries: Vec<String> = match c.lrange(&self.key, 0, -1) {
                Ok(entries) => entries,
                Err(e) => {
                    let _ = redis::cmd("UNWATCH").exec(c);
                    return Err(e);
                }
            };
            if digest(&entries) != expected_version {
                redis::cmd("UNWATCH").exec(c)?;
                return Ok(None);
            }
            if texts.is_empty() {
                redis::cmd("UNWATCH").exec(c)?;
                return Ok(Some(digest(&entries)));
            }
            let applied: Option<(i64,)> =
                redis::pipe().atomic().rpush(&self.key, &texts).query(c)?;
            Ok(applied.map(|_| {
                entries.extend(texts.iter().cloned());
                digest(&entries)
            }))
        })?;
        outcome.ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                format!(
                    "the redis repository at {} changed since it was read; read it again and retry",
                    self.location
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_separates_entries() {
        let a = digest(&["ab".to_string(), "c".to_string()]);
        let b = digest(&["a".to_string(), "bc".to_string()]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
