//! The registry repository on Windows.

use sha2::{Digest, Sha256};
use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};
use trousseau_repository_xml::element::{compact, friendly_name};
use windows_registry::{Key, Transaction, Type, CURRENT_USER, LOCAL_MACHINE};

use crate::config::{Hive, RegistryConfig};

/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;
/// `HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)`.
const ACCESS_DENIED: i32 = 0x8007_0005_u32 as i32;

/// A key ring kept as `REG_SZ` values under one registry key.
#[derive(Debug)]
pub struct RegistryRepository {
    hive: Hive,
    path: String,
    location: String,
    /// Whether the system has registry transactions (KTM); Wine, for one, has not.
    transactions: bool,
}

impl RegistryRepository {
    /// A repository for `config`, `{SID}` replaced by the SID of the process token's user;
    /// the key is created on the first write.
    pub fn new(config: &RegistryConfig) -> Result<Self> {
        let sid = if config.key.contains("{SID}") {
            Some(crate::sid::current_user()?)
        } else {
            None
        };
        let (hive, path) = config.resolve(sid.as_deref())?;
        let key = sid
            .as_deref()
            .map_or_else(|| config.key.clone(), |s| config.key.replace("{SID}", s));
        let location = match sid {
            Some(sid) if config.is_asp_net_default() => {
                format!("{key} (ASP.NET Core's IIS default key for the account {sid})")
            }
            _ => key,
        };
        Ok(RegistryRepository {
            hive,
            path,
            location,
            transactions: transactions_work(hive),
        })
    }

    fn root(&self) -> &'static Key {
        root(self.hive)
    }

    fn map(&self, e: &windows_registry::Result<()>) -> Option<Error> {
        e.as_ref().err().map(|e| self.error(e))
    }

    fn error(&self, e: &windows_result::Error) -> Error {
        match e.code().0 {
            ACCESS_DENIED => Error::new(
                ErrorCode::Io,
                format!(
                    "the registry repository {}: access denied; run as an account that may write this key, or set `key` to one it may (e.g. under HKEY_CURRENT_USER)",
                    self.location
                ),
            ),
            _ => Error::new(
                ErrorCode::Io,
                format!("the registry repository {} failed: {e}", self.location),
            ),
        }
    }

    /// Every `REG_SZ` value (name, text), skipping empty ones as ASP.NET does.
    fn values(&self, key: &Key) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (name, value) in key.values().map_err(|e| self.error(&e))? {
            if value.ty() != Type::String {
                continue;
            }
            let text = String::try_from(value).map_err(|e| self.error(&e))?;
            if !text.trim().is_empty() {
                out.push((name, text));
            }
        }
        Ok(out)
    }

    fn open_for_reading(&self) -> Result<Option<Key>> {
        match self.root().options().read().open(&self.path) {
            Ok(key) => Ok(Some(key)),
            Err(e) if e.code().0 == NOT_FOUND => Ok(None),
            Err(e) => Err(self.error(&e)),
        }
    }

    fn create(&self, transaction: Option<&Transaction>) -> Result<Key> {
        let mut options = self.root().options();
        options.read().write().create();
        if let Some(t) = transaction {
            options.transaction(t);
        }
        options.open(&self.path).map_err(|e| self.error(&e))
    }
}

fn root(hive: Hive) -> &'static Key {
    match hive {
        Hive::LocalMachine => LOCAL_MACHINE,
        Hive::CurrentUser => CURRENT_USER,
    }
}

/// Whether a transacted open works in `hive` (Wine, for one, creates transactions but cannot
/// open keys in them).
fn transactions_work(hive: Hive) -> bool {
    Transaction::new().is_ok_and(|t| {
        // With `create`, as store_conditional opens it (a transacted plain open aborts under Wine).
        root(hive)
            .options()
            .read()
            .create()
            .transaction(&t)
            .open("Software")
            .is_ok()
    })
}

/// The value name for an element: its friendly name when ASP.NET would keep it.
fn value_name(element: &Element, text: &str) -> String {
    let name = element.name();
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        friendly_name(text)
    }
}

/// The version token: SHA-256 over every (name, text) pair in name order.
fn digest(values: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = values.iter().collect();
    sorted.sort();
    let mut hash = Sha256::new();
    for (name, text) in sorted {
        for part in [name, text] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
    }
    hex::encode(hash.finalize())
}

impl Repository for RegistryRepository {
    fn describe(&self) -> RepositoryDescription {
        let capabilities = if self.transactions {
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE
        } else {
            Capabilities::DELETE
        };
        RepositoryDescription::new("registry", self.location.clone(), capabilities)
    }

    fn load(&self) -> Result<Snapshot> {
        let values = match self.open_for_reading()? {
            Some(key) => self.values(&key)?,
            None => Vec::new(),
        };
        let version = digest(&values);
        let elements = values
            .into_iter()
            .map(|(name, text)| {
                let text = compact(&text).map_err(|e| {
                    Error::new(
                        ErrorCode::CorruptData,
                        format!(
                            "the registry repository {}: value {name}: {}",
                            self.location,
                            e.message()
                        ),
                    )
                })?;
                Ok(Element::new(name, text))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Snapshot::new(elements, version))
    }

    fn store(&self, element: &Element) -> Result<()> {
        let text = compact(element.xml()).map_err(|e| e.context(element.name()))?;
        let key = self.create(None)?;
        key.set_string(value_name(element, &text), &text)
            .map_err(|e| self.error(&e))
    }

    fn delete(&self, names: &[String]) -> Result<()> {
        let Some(key) = self
            .open_for_reading()?
            .map(|_| self.create(None))
            .transpose()?
        else {
            return Ok(());
        };
        // In the caller's order, stopping at the first failure (ASP.NET's deletion contract).
        for name in names {
            match key.remove_value(name) {
                Ok(()) => {}
                Err(e) if e.code().0 == NOT_FOUND => {}
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok(())
    }

    fn store_conditional(&self, expected_version: &str, elements: &[Element]) -> Result<String> {
        let texts = elements
            .iter()
            .map(|e| {
                compact(e.xml())
                    .map(|t| (value_name(e, &t), t))
                    .map_err(|err| err.context(e.name()))
            })
            .collect::<Result<Vec<_>>>()?;
        let conflict = || {
            Error::new(
                ErrorCode::Conflict,
                format!(
                    "the registry repository {} changed since it was read; read it again and retry",
                    self.location
                ),
            )
        };
        if !self.transactions {
            return Err(Error::new(
                ErrorCode::Unsupported,
                format!(
                    "the registry repository {}: this system offers no registry transactions, so there is no conditional store",
                    self.location
                ),
            ));
        }
        let transaction = Transaction::new().map_err(|e| self.error(&e))?;
        let key = self.create(Some(&transaction))?;
        let mut values = self.values(&key)?;
        if digest(&values) != expected_version {
            return Err(conflict());
        }
        for (name, text) in &texts {
            if let Some(e) = self.map(&key.set_string(name, text)) {
                return Err(e);
            }
            values.retain(|(n, _)| n != name);
            values.push((name.clone(), text.clone()));
        }
        drop(key);
        transaction.commit().map_err(|_| conflict())?;
        Ok(digest(&values))
    }
}
