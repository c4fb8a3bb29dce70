//! The PostgreSQL backend: the synchronous `postgres` client, without TLS (a unix socket or a
//! trusted network).

use postgres::{Client, IsolationLevel, NoTls, Transaction};
use trousseau_core::{Error, Result};
use zeroize::Zeroizing;

use crate::config::{Common, PostgresTarget};
use crate::errors;
use crate::repository::{Backend, Mode};
use crate::ring::{count, Measure, Row, Tx};
use crate::sql::{Dialect, Statements};

/// A table on a PostgreSQL server.
pub(crate) struct Postgres {
    /// Everything but the password, which is added for each connection only.
    config: postgres::Config,
    password: Option<Zeroizing<String>>,
    statements: Statements,
    create_table: bool,
    location: String,
}

impl Postgres {
    /// The backend for `target`; does not connect.
    pub(crate) fn new(target: PostgresTarget, common: &Common) -> Postgres {
        let statements = Statements::new(Dialect::Postgres, target.schema.as_ref(), &common.table);
        let location = format!(
            "postgres://{}@{}:{}/{} table {}",
            target.user, target.host, target.port, target.database, statements.table
        );
        let timeout = common.command_timeout.as_millis();
        let mut config = postgres::Config::new();
        config
            // An absolute path is a unix-socket directory.
            .host(&target.host)
            .port(target.port)
            .user(&target.user)
            .dbname(&target.database)
            .application_name("trousseau-sql")
            .connect_timeout(common.connect_timeout)
            .options(&format!(
                "-c statement_timeout={timeout} -c lock_timeout={timeout}"
            ));
        Postgres {
            config,
            password: target.password,
            statements,
            create_table: common.create_table,
            location,
        }
    }

    /// Creates the table when it is missing and `create_table` allows it; one creator at a time
    /// (an advisory lock), so that nodes starting together do not collide.
    fn ensure_table(&self, client: &mut Client) -> Result<()> {
        let failed = |doing: &'static str| {
            move |e: postgres::Error| errors::postgres(&e, &self.location, doing)
        };
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&self.statements.table],
            )
            .and_then(|row| row.try_get(0))
            .map_err(failed("looking for the table"))?;
        if exists {
            return Ok(());
        }
        if !self.create_table {
            return Err(errors::missing_table(&self.location));
        }
        let mut tx = client.transaction().map_err(failed("creating the table"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&self.statements.table],
        )
        .map_err(failed("creating the table"))?;
        tx.batch_execute(&self.statements.create)
            .map_err(failed("creating the table"))?;
        tx.commit().map_err(failed("creating the table"))
    }
}

impl Backend for Postgres {
    type Connection = Client;

    fn connect(&self) -> Result<Client> {
        let mut config = self.config.clone();
        if let Some(password) = &self.password {
            config.password(password.as_bytes());
        }
        let mut client = config
            .connect(NoTls)
            .map_err(|e| errors::postgres(&e, &self.location, "connecting"))?;
        drop(config);
        self.ensure_table(&mut client)?;
        Ok(client)
    }

    fn transact<T>(
        &self,
        client: &mut Client,
        mode: Mode,
        f: impl FnOnce(&mut dyn Tx) -> Result<T>,
    ) -> Result<T> {
        let failed = |doing: &'static str| {
            move |e: postgres::Error| errors::postgres(&e, &self.location, doing)
        };
        let mut tx = match mode {
            Mode::Read => client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start(),
            Mode::Write | Mode::Exclusive => client.transaction(),
        }
        .map_err(failed("starting a transaction"))?;
        if mode == Mode::Exclusive {
            // Excludes every other writer (and itself), not readers, until the commit.
            tx.batch_execute(&format!(
                "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                self.statements.table
            ))
            .map_err(failed("locking the table"))?;
        }
        let out = f(&mut PgTx {
            tx: &mut tx,
            statements: &self.statements,
            location: &self.location,
        })?;
        tx.commit().map_err(failed("committing"))?;
        Ok(out)
    }

    fn is_broken(client: &Client) -> bool {
        client.is_closed()
    }

    fn location(&self) -> &str {
        &self.location
    }
}

/// One transaction.
struct PgTx<'a, 'c> {
    tx: &'a mut Transaction<'c>,
    statements: &'a Statements,
    location: &'a str,
}

impl<'a> PgTx<'a, '_> {
    fn failed(&self, doing: &'static str) -> impl Fn(postgres::Error) -> Error + 'a {
        let location = self.location;
        move |e| errors::postgres(&e, location, doing)
    }
}

impl Tx for PgTx<'_, '_> {
    fn measure(&mut self, max_element: u64) -> Result<Measure> {
        let max = i64::try_from(max_element).unwrap_or(i64::MAX);
        let row = self
            .tx
            .query_one(&self.statements.measure, &[&max])
            .map_err(self.failed("measuring the table"))?;
        let get = |i| row.try_get::<_, Option<i64>>(i);
        let m = (|| {
            Ok::<_, postgres::Error>(Measure {
                rows: count(get(0)?.unwrap_or(0)),
                bytes: count(get(1)?.unwrap_or(0)),
                oversized: get(2)?,
                largest: count(get(3)?.unwrap_or(0)),
            })
        })();
        m.map_err(self.failed("measuring the table"))
    }

    fn rows(&mut self) -> Result<Vec<Row>> {
        let rows = self
            .tx
            .query(&self.statements.rows, &[])
            .map_err(self.failed("reading the rows"))?;
        rows.iter()
            .map(|r| {
                Ok(Row {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    xml: r.try_get(2)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(self.failed("reading the rows"))
    }

    fn insert(&mut self, name: &str, xml: &str) -> Result<i64> {
        self.tx
            .query_one(&self.statements.insert, &[&name, &xml])
            .and_then(|row| row.try_get(0))
            .map_err(self.failed("storing an element"))
    }

    fn delete_named(&mut self, name: &str) -> Result<()> {
        self.tx
            .execute(&self.statements.delete_named, &[&name])
            .map(drop)
            .map_err(self.failed("deleting elements"))
    }

    fn delete_unnamed(&mut self, id: i64) -> Result<()> {
        self.tx
            .execute(&self.statements.delete_unnamed, &[&id])
            .map(drop)
            .map_err(self.failed("deleting elements"))
    }
}
