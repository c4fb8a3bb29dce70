//! The repository contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! plugin exactly as a host sees it (its `cdylib` built, loaded and ABI-checked), against a
//! private PostgreSQL server and a SQLite file; each with the kit's race of conditional stores
//! between two real processes.
// Unix only: a private PostgreSQL server on a unix socket.
#![cfg(unix)]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{pg_config, plugin, sqlite_config};
use trousseau_core::testkit::{self, repository::RepositoryContract};
use trousseau_core::ErrorCode;
use trousseau_tests::Postgres;

fn contract() -> RepositoryContract {
    let bad = |json: &str| (json.to_string(), ErrorCode::InvalidConfig);
    let mut contract = RepositoryContract::new(plugin(), "sql")
        .secret(Postgres::PASSWORD)
        .keeps_order();
    for (json, code) in [
        bad("{}"),
        bad(r#"{"backend": "oracle"}"#),
        bad(r#"{"backend": "sqlite"}"#),
        bad(r#"{"backend": "sqlite", "path": "/tmp/x.db", "table": "a\"; DROP TABLE b; --"}"#),
        bad(r#"{"backend": "sqlite", "path": "/tmp/x.db", "no_such_option": 1}"#),
        bad(r#"{"backend": "postgres", "user": "u", "database": "d", "password": "literal"}"#),
        bad(
            r#"{"backend": "postgres", "user": "u", "database": "d", "password_env": "TROUSSEAU_SQL_SURELY_UNSET"}"#,
        ),
    ] {
        contract = contract.bad_config(&json, code);
    }
    contract
}

#[test]
fn postgres_meets_the_repository_contract() {
    let server = Postgres::start();
    contract().check(&pg_config(&server, "postgres", ""));
}

#[test]
fn postgres_conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let server = Postgres::start();
    contract().check_two_processes(
        &pg_config(&server, "postgres", ""),
        "postgres_conditional_stores_race_between_two_processes",
    );
}

#[test]
fn sqlite_meets_the_repository_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract().check(&sqlite_config(&dir.path().join("keys.db"), ""));
}

#[test]
fn sqlite_conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let dir = tempfile::tempdir().unwrap();
    contract().check_two_processes(
        &sqlite_config(&dir.path().join("keys.db"), ""),
        "sqlite_conditional_stores_race_between_two_processes",
    );
}
