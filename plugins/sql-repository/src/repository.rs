//! The repository: one kept connection to a backend, and each operation in one transaction.

use std::sync::{Mutex, MutexGuard};

use trousseau_core::{
    Capabilities, Element, Error, ErrorCode, Repository, RepositoryDescription, Result, Snapshot,
};

use crate::ring::{self, Limits, Tx};

/// How a transaction isolates itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Reads one consistent state of the table.
    Read,
    /// Writes without reading.
    Write,
    /// Reads then writes, excluding every other writer until it ends.
    Exclusive,
}

/// A database the repository can work in.
pub(crate) trait Backend: Send + Sync {
    /// An open connection.
    type Connection: Send;

    /// Connects, and makes sure the table exists (creating it when configured to).
    fn connect(&self) -> Result<Self::Connection>;

    /// Runs `f` in one transaction of `mode`, committed when `f` succeeds and rolled back
    /// otherwise.
    fn transact<T>(
        &self,
        connection: &mut Self::Connection,
        mode: Mode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T>;

    /// Whether the connection is unusable after an error (the next call connects again).
    fn is_broken(connection: &Self::Connection) -> bool;

    /// Where the table is, for messages (never a credential).
    fn location(&self) -> &str;
}

/// A key ring in one table of a backend.
pub(crate) struct SqlRepository<B: Backend> {
    backend: B,
    limits: Limits,
    connection: Mutex<Option<B::Connection>>,
}

impl<B: Backend> SqlRepository<B> {
    /// A repository over `backend`. Does not connect yet: the first call does.
    pub(crate) fn new(backend: B, limits: Limits) -> Self {
        SqlRepository {
            backend,
            limits,
            connection: Mutex::new(None),
        }
    }

    /// Runs `f` in a transaction on the (re)connected connection; drops the connection when
    /// the failure broke it.
    fn run<T>(&self, mode: Mode, f: impl FnOnce(&mut dyn Tx) -> Result<T>) -> Result<T> {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(self.backend.connect()?);
        }
        let Some(connection) = slot.as_mut() else {
            return Err(Error::new(ErrorCode::Internal, "sql connection slot empty"));
        };
        let outcome = self.backend.transact(connection, mode, f);
        if outcome.is_err() && B::is_broken(connection) {
            *slot = None;
        }
        outcome
    }

    fn lock(&self) -> MutexGuard<'_, Option<B::Connection>> {
        // A panic while holding the lock may leave a transaction open: drop the connection.
        self.connection.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        })
    }

    fn location(&self) -> &str {
        self.backend.location()
    }
}

impl<B: Backend> Repository for SqlRepository<B> {
    fn describe(&self) -> RepositoryDescription {
        RepositoryDescription::new(
            "sql",
            self.location(),
            Capabilities::DELETE | Capabilities::CONDITIONAL_STORE,
        )
    }

    fn load(&self) -> Result<Snapshot> {
        let rows = self.run(Mode::Read, |tx| {
            ring::read(tx, self.limits, self.location())
        })?;
        Ok(ring::snapshot(rows))
    }

    fn store(&self, element: &Element) -> Result<()> {
        ring::check_size(element, self.limits, self.location())?;
        self.run(Mode::Write, |tx| {
            ring::insert_all(tx, std::slice::from_ref(element)).map(drop)
        })
    }

    fn delete(&self, names: &[String]) -> Result<()> {
        self.run(Mode::Write, |tx| ring::delete(tx, names))
    }

    fn store_conditional(&self, expected_version: &str, elements: &[Element]) -> Result<String> {
        for element in elements {
            ring::check_size(element, self.limits, self.location())?;
        }
        self.run(Mode::Exclusive, |tx| {
            ring::store_if(tx, self.limits, self.location(), expected_version, elements)
        })
    }
}
