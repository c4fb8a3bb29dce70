//! The plugin on a SQLite file: EF Core's schema, a private new file, and rows written by
//! others (SQLite columns take any type, so a writer can put anything there).
#![cfg(unix)]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{key, repository, sqlite_config};
use trousseau_core::ErrorCode;

#[test]
fn a_new_file_is_private_with_ef_cores_table_and_odd_rows_are_refused_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let repo = repository(&sqlite_config(&path, ""));
    repo.store(&key(1)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    let db = rusqlite::Connection::open(&path).unwrap();
    let sql: String = db
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'DataProtectionKeys'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // What `dotnet ef migrations` makes with the SQLite provider for DataProtectionKey.
    assert_eq!(
        sql,
        "CREATE TABLE \"DataProtectionKeys\" (\"Id\" INTEGER NOT NULL CONSTRAINT \
         \"PK_DataProtectionKeys\" PRIMARY KEY AUTOINCREMENT, \"FriendlyName\" TEXT NULL, \
         \"Xml\" TEXT NULL)"
    );

    let insert = |xml: rusqlite::types::Value| {
        db.execute(
            "INSERT INTO \"DataProtectionKeys\" (\"FriendlyName\", \"Xml\") VALUES ('odd', ?1)",
            [xml],
        )
        .unwrap();
    };
    let refused = |needle: &str| {
        let e = repo.load().unwrap_err();
        assert_eq!(e.code(), ErrorCode::CorruptData, "{}", e.message());
        assert!(e.message().contains(needle), "{needle}: {}", e.message());
        repo.delete(&["odd".to_string()]).unwrap();
        assert_eq!(repo.load().unwrap().elements(), [key(1)]);
    };
    insert(rusqlite::types::Value::Blob(vec![0xff, 0xfe, b'<']));
    refused("\"Xml\" of the row with Id 2 is not UTF-8");
    insert(rusqlite::types::Value::Blob(vec![b'x'; 2 << 20]));
    refused("the row with Id 3 holds more than the 1048576 bytes");
    insert(rusqlite::types::Value::Text("é".repeat(600_000)));
    refused("the row with Id 4");
}
