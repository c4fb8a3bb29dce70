//! What the plugin's tests share: the plugin loaded from its library as a host loads it, and
//! configurations for a private PostgreSQL server and a SQLite file, and fixture keys.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use trousseau_core::abi::RepositoryBox;
use trousseau_core::testkit::{self, Plugin};
use trousseau_core::Element;
use trousseau_tests::fixtures::{key_id, key_xml};
use trousseau_tests::Postgres;

/// The variable the configurations name in `password_env`.
pub const PASSWORD_VAR: &str = "TROUSSEAU_SQL_TEST_PGPASSWORD";

/// The plugin library, built with the test's own profile and loaded (ABI checked).
pub fn plugin() -> Plugin {
    // Set before any thread or process of the test starts; children inherit it.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var(PASSWORD_VAR, Postgres::PASSWORD));
    let path = testkit::cargo_build_plugin(&["-p", "trousseau-sql", "--lib"], "trousseau_sql");
    Plugin::load(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

/// A configuration for `database` on `server`, with `extra` JSON members (`"key": value, …`).
pub fn pg_config(server: &Postgres, database: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { ", " };
    format!(
        r#"{{"backend": "postgres", "host": "{}", "port": {}, "user": "{}", "database": "{database}", "password_env": "{PASSWORD_VAR}"{sep}{extra}}}"#,
        server.socket_dir().display(),
        server.port(),
        Postgres::USER,
    )
}

/// A configuration for the SQLite file `path`, with `extra` JSON members.
pub fn sqlite_config(path: &Path, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { ", " };
    format!(
        r#"{{"backend": "sqlite", "path": "{}"{sep}{extra}}}"#,
        path.display()
    )
}

/// The repository for `config`, made by the plugin's factory through the ABI.
pub fn repository(config: &str) -> RepositoryBox {
    plugin()
        .create_repository("sql", config)
        .unwrap_or_else(|e| panic!("cannot make the repository: {e:?}"))
}

/// Key `n` of the fixtures as the element a host stores (`key-{id}`).
pub fn key(n: usize) -> Element {
    let id = key_id(n);
    Element::new(format!("key-{id}"), key_xml(&id))
}
