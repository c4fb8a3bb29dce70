//! The Redis repository: a list in the ASP.NET Core layout, with deletion and conditional store.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use redis::{Client, Commands, Connection, RedisError, Value};
use sha2::{Digest, Sha256};
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};
use trousseau_repository_xml::element::{compact, friendly_name};

use crate::config::{Limits, RedisConfig, Target, ENTRY_OVERHEAD};
use crate::errors;

/// Returns the list `KEYS[1]` when no entry is longer than `ARGV[1]` bytes and the entries'
/// lengths plus `ARGV[3]` each add up to at most `ARGV[2]`; otherwise `{-1, index, length}`
/// (an entry too long) or `{-2, index, total so far}` (too much in all). Entries are measured
/// 128 at a time, so the script never holds more than a chunk beyond the limits. Atomic: the
/// list cannot change between the measuring and the reading.
const BOUNDED_READ: &str = r"
local key = KEYS[1]
local max_element = tonumber(ARGV[1])
local max_total = tonumber(ARGV[2])
local overhead = tonumber(ARGV[3])
local n = redis.call('LLEN', key)
local total = 0
local i = 0
while i < n do
  local chunk = redis.call('LRANGE', key, i, i + 127)
  if #chunk == 0 then break end
  for j = 1, #chunk do
    local len = string.len(chunk[j])
    if len > max_element then return {-1, i + j - 1, len} end
    total = total + len + overhead
    if total > max_total then return {-2, i + j - 1, total} end
  end
  i = i + 128
end
return redis.call('LRANGE', key, 0, -1)
";

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
    limits: Limits,
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
            limits,
        } = config.target()?;
        let client = open_client(info, ca_pem).map_err(|e| errors::map(&e, &location))?;
        Ok(RedisRepository {
            client,
            key: config.key,
            location,
            connect_timeout,
            command_timeout,
            limits,
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
        self.bad_entry(
            index,
            &format!("is not an XML element ({})", e.message()),
            "remove it with LREM or LSET",
        )
    }

    /// Entry `index` of the list `is` something it must not be; `fix` says what to do.
    fn bad_entry(&self, index: usize, is: &str, fix: &str) -> Error {
        Error::new(
            ErrorCode::CorruptData,
            format!(
                "the redis repository at {}: entry {index} of the list {is}; {fix}",
                self.location
            ),
        )
    }

    /// Reads the whole list within the limits (see [`BOUNDED_READ`]). The outer error is the
    /// connection's; the inner one says the list is over a limit or holds something else than
    /// text.
    fn read_list(
        &self,
        c: &mut Connection,
    ) -> std::result::Result<Result<Vec<String>>, RedisError> {
        let reply: Value = redis::cmd("EVAL")
            .arg(BOUNDED_READ)
            .arg(1)
            .arg(&self.key)
            .arg(self.limits.element)
            .arg(self.limits.ring)
            .arg(ENTRY_OVERHEAD)
            .query(c)?;
        Ok(self.entries(reply))
    }

    /// The entries of [`BOUNDED_READ`]'s reply, or why there are none.
    fn entries(&self, reply: Value) -> Result<Vec<String>> {
        let Value::Array(items) = reply else {
            return Err(Error::new(
                ErrorCode::Internal,
                format!(
                    "the redis repository at {}: the list-reading script answered {reply:?}",
                    self.location
                ),
            ));
        };
        let too_large = "remove the entries that do not belong there (LREM, LTRIM), or raise";
        match items.as_slice() {
            [Value::Int(-1), Value::Int(index), Value::Int(len)] => {
                return Err(self.bad_entry(
                    usize::try_from(*index).unwrap_or(usize::MAX),
                    &format!(
                        "is {len} bytes long, more than the {} bytes an element may be \
                         (elements are a few KB)",
                        self.limits.element
                    ),
                    &format!("{too_large} `max_element_bytes` if it is a real element"),
                ));
            }
            [Value::Int(-2), Value::Int(index), Value::Int(_)] => {
                return Err(Error::new(
                    ErrorCode::CorruptData,
                    format!(
                        "the redis repository at {}: the list holds more than {} bytes by \
                         entry {index} (counting {ENTRY_OVERHEAD} bytes per entry besides its \
                         text); {too_large} `max_ring_bytes` if the ring is really that large",
                        self.location, self.limits.ring
                    ),
                ));
            }
            _ => {}
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::BulkString(bytes) => String::from_utf8(bytes).map_err(|_| {
                    self.bad_entry(i, "is not UTF-8 text", "remove it with LREM or LSET")
                }),
                other => Err(self.bad_entry(
                    i,
                    &format!("is not a string ({other:?})"),
                    "remove it with LREM or LSET",
                )),
            })
            .collect()
    }
}

/// The client for `info`, trusting `ca_pem` (the `tls_ca_file`) instead of the public roots
/// when given.
#[cfg(feature = "tls")]
fn open_client(
    info: redis::ConnectionInfo,
    ca_pem: Option<Vec<u8>>,
) -> std::result::Result<Client, RedisError> {
    if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        // rustls needs a process-wide crypto provider; another crate may have installed one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    match ca_pem {
        None => Client::open(info),
        Some(root_cert) => Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            },
        ),
    }
}

/// The client for `info`. Without the `tls` feature the configuration has already refused
/// rediss:// urls, and with them `tls_ca_file`, so `ca_pem` is always `None`.
#[cfg(not(feature = "tls"))]
fn open_client(
    info: redis::ConnectionInfo,
    ca_pem: Option<Vec<u8>>,
) -> std::result::Result<Client, RedisError> {
    debug_assert!(ca_pem.is_none());
    Client::open(info)
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
        let entries = self.with_connection(|c| self.read_list(c))??;
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
            let entries = match self.read_list(c)? {
                Ok(entries) => entries,
                Err(e) => return Ok(Err(e)),
            };
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
            pipe.query::<()>(c).map(Ok)
        })?
    }

    fn store_conditional(&self, expected_version: &str, elements: &[Element]) -> Result<String> {
        let texts = elements
            .iter()
            .map(|e| compact(e.xml()).map_err(|err| err.context(e.name())))
            .collect::<Result<Vec<_>>>()?;
        let outcome = self.with_connection(|c| {
            redis::cmd("WATCH").arg(&self.key).exec(c)?;
            let mut entries = match self.read_list(c) {
                Ok(Ok(entries)) => entries,
                Ok(Err(too_large)) => {
                    redis::cmd("UNWATCH").exec(c)?;
                    return Ok(Err(too_large));
                }
                Err(e) => {
                    let _ = redis::cmd("UNWATCH").exec(c);
                    return Err(e);
                }
            };
            if digest(&entries) != expected_version {
                redis::cmd("UNWATCH").exec(c)?;
                return Ok(Ok(None));
            }
            if texts.is_empty() {
                redis::cmd("UNWATCH").exec(c)?;
                return Ok(Ok(Some(digest(&entries))));
            }
            let applied: Option<(i64,)> =
                redis::pipe().atomic().rpush(&self.key, &texts).query(c)?;
            Ok(Ok(applied.map(|_| {
                entries.extend(texts.iter().cloned());
                digest(&entries)
            })))
        })??;
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
