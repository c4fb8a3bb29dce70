//! The SQLite backend: `rusqlite` with SQLite compiled in (no system library).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{types::ValueRef, Connection, OpenFlags, Transaction, TransactionBehavior};
use trousseau_core::{Error, Result};

use crate::config::Common;
use crate::errors;
use crate::repository::{Backend, Mode};
use crate::ring::{count, Measure, Row, Tx};
use crate::sql::{Dialect, Statements};

/// A table in a SQLite database file.
pub(crate) struct Sqlite {
    path: PathBuf,
    statements: Statements,
    create_table: bool,
    busy_timeout: Duration,
    location: String,
}

impl Sqlite {
    /// The backend for the database file `path`; opens nothing yet.
    pub(crate) fn new(path: PathBuf, common: &Common) -> Sqlite {
        let statements = Statements::new(Dialect::Sqlite, None, &common.table);
        let location = format!("sqlite:{} table {}", path.display(), statements.table);
        Sqlite {
            path,
            statements,
            create_table: common.create_table,
            busy_timeout: common.command_timeout,
            location,
        }
    }

    fn failed(&self, doing: &'static str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| errors::sqlite(&e, &self.location, doing)
    }

    /// Makes sure the table exists, creating it (atomic in SQLite) when allowed.
    fn ensure_table(&self, connection: &Connection) -> Result<()> {
        if self.create_table {
            return connection
                .execute_batch(&self.statements.create)
                .map_err(self.failed("creating the table"));
        }
        let tables: i64 = connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
                [&self.statements.table_name],
                |row| row.get(0),
            )
            .map_err(self.failed("looking for the table"))?;
        if tables == 0 {
            return Err(errors::missing_table(&self.location));
        }
        Ok(())
    }
}

/// Creates an empty database file readable by its owner only (key rings in interop mode hold
/// keys in the clear); an existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

impl Backend for Sqlite {
    type Connection = Connection;

    fn connect(&self) -> Result<Connection> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if self.create_table {
            create_private(&self.path).map_err(|e| {
                Error::from_io(&e, self.path.display()).context("the sql repository's database")
            })?;
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let connection = Connection::open_with_flags(&self.path, flags)
            .map_err(self.failed("opening the database"))?;
        connection
            .busy_timeout(self.busy_timeout)
            .map_err(self.failed("opening the database"))?;
        self.ensure_table(&connection)?;
        Ok(connection)
    }

    fn transact<T>(
        &self,
        connection: &mut Connection,
        mode: Mode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        // A deferred transaction reads one state (it holds the shared lock from its first
        // read); an immediate one holds the write lock from the start, excluding other
        // writers until the commit.
        let behavior = match mode {
            Mode::Read => TransactionBehavior::Deferred,
            Mode::Write | Mode::Exclusive => TransactionBehavior::Immediate,
        };
        let tx = connection
            .transaction_with_behavior(behavior)
            .map_err(self.failed("starting a transaction"))?;
        let out = f(&mut SqliteTx {
            tx: &tx,
            statements: &self.statements,
            location: &self.location,
        })?;
        tx.commit().map_err(self.failed("committing"))?;
        Ok(out)
    }

    fn is_broken(_: &Connection) -> bool {
        false
    }

    fn location(&self) -> &str {
        &self.location
    }
}

/// One transaction.
struct SqliteTx<'a> {
    tx: &'a Transaction<'a>,
    statements: &'a Statements,
    location: &'a str,
}

impl<'a> SqliteTx<'a> {
    fn failed(&self, doing: &'static str) -> impl Fn(rusqlite::Error) -> Error + 'a {
        let location = self.location;
        move |e| errors::sqlite(&e, location, doing)
    }

    /// A text column of row `id` (NULL is `None`); anything but UTF-8 text is refused.
    fn text(&self, value: ValueRef<'_>, id: i64, column: &str) -> Result<Option<String>> {
        match value {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| errors::not_text(self.location, id, column)),
            _ => Err(errors::not_text(self.location, id, column)),
        }
    }
}

impl Tx for SqliteTx<'_> {
    fn measure(&mut self, max_element: u64) -> Result<Measure> {
        let max = i64::try_from(max_element).unwrap_or(i64::MAX);
        self.tx
            .query_row(&self.statements.measure, [max], |row| {
                Ok(Measure {
                    rows: count(row.get(0)?),
                    bytes: count(row.get(1)?),
                    oversized: row.get(2)?,
                    largest: count(row.get(3)?),
                })
            })
            .map_err(self.failed("measuring the table"))
    }

    fn rows(&mut self) -> Result<Vec<Row>> {
        let failed = self.failed("reading the rows");
        let mut statement = self.tx.prepare(&self.statements.rows).map_err(&failed)?;
        let mut rows = statement.query([]).map_err(&failed)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(&failed)? {
            let id: i64 = row.get(0).map_err(&failed)?;
            out.push(Row {
                id,
                name: self.text(row.get_ref(1).map_err(&failed)?, id, "FriendlyName")?,
                xml: self.text(row.get_ref(2).map_err(&failed)?, id, "Xml")?,
            });
        }
        Ok(out)
    }

    fn insert(&mut self, name: &str, xml: &str) -> Result<i64> {
        self.tx
            .query_row(&self.statements.insert, [name, xml], |row| row.get(0))
            .map_err(self.failed("storing an element"))
    }

    fn delete_named(&mut self, name: &str) -> Result<()> {
        self.tx
            .execute(&self.statements.delete_named, [name])
            .map(drop)
            .map_err(self.failed("deleting elements"))
    }

    fn delete_unnamed(&mut self, id: i64) -> Result<()> {
        self.tx
            .execute(&self.statements.delete_unnamed, [id])
            .map(drop)
            .map_err(self.failed("deleting elements"))
    }
}
