//! The plugin against a private PostgreSQL server: EF Core's schema, rows written by others
//! (a .NET node, or anyone with access to the table), configuration mistakes a server
//! reveals, and a server restart.
#![cfg(unix)]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{key, pg_config, plugin, repository};
use trousseau_core::{Element, ErrorCode};
use trousseau_tests::Postgres;

#[test]
fn the_table_has_ef_cores_schema_and_rows_from_others_are_checked() {
    let server = Postgres::start();
    server.create_database("shared");
    let repo = repository(&pg_config(&server, "shared", ""));
    repo.store(&key(1)).unwrap();

    // What `dotnet ef migrations` makes with Npgsql for DataProtectionKey.
    let columns = server.psql(
        "shared",
        "SELECT column_name, data_type, is_nullable, coalesce(identity_generation, '') \
         FROM information_schema.columns WHERE table_name = 'DataProtectionKeys' \
         ORDER BY ordinal_position",
    );
    assert_eq!(
        columns,
        "Id|integer|NO|BY DEFAULT\nFriendlyName|text|YES|\nXml|text|YES|"
    );
    let key_constraint = server.psql(
        "shared",
        "SELECT conname FROM pg_constraint WHERE contype = 'p' \
         AND conrelid = '\"DataProtectionKeys\"'::regclass",
    );
    assert_eq!(key_constraint, "PK_DataProtectionKeys");

    // A .NET node's row (EntityFrameworkCoreXmlRepository: friendly name, XML without
    // formatting), a row without XML (ASP.NET skips it) and one without a friendly name.
    let dotnet = key(2);
    server.psql(
        "shared",
        &format!(
            "INSERT INTO \"DataProtectionKeys\" (\"FriendlyName\", \"Xml\") VALUES \
             ('{}', '{}'), ('key-empty', NULL), (NULL, '<key id=\"x\" />')",
            dotnet.name(),
            dotnet.xml()
        ),
    );
    let snapshot = repo.load().unwrap();
    let names: Vec<&str> = snapshot.elements().iter().map(Element::name).collect();
    assert_eq!(names, [key(1).name(), dotnet.name(), "row-4"]);
    assert_eq!(snapshot.elements()[1], dotnet);
    repo.delete(&["row-4".to_string()]).unwrap();
    assert_eq!(repo.load().unwrap().elements().len(), 2);

    // Anyone who can write the table can write a huge row: refused before it is fetched.
    server.psql(
        "shared",
        "INSERT INTO \"DataProtectionKeys\" (\"FriendlyName\", \"Xml\") \
         VALUES ('key-huge', repeat('x', 2000000))",
    );
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData, "{}", e.message());
    assert!(e.message().contains("the row with Id 5"), "{}", e.message());
    assert!(e.message().contains("max_element_bytes"), "{}", e.message());
    repo.delete(&["key-huge".to_string()]).unwrap();
    let small = repository(&pg_config(
        &server,
        "shared",
        r#""max_ring_bytes": 2000, "max_element_bytes": 1500"#,
    ));
    let e = small.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData, "{}", e.message());
    assert!(e.message().contains("max_ring_bytes"), "{}", e.message());

    // And a node never writes what it would refuse to read.
    let e = repo
        .store(&Element::new("key-big", "x".repeat(1 << 20)))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{}", e.message());
    assert_eq!(repo.load().unwrap().elements().len(), 2);

    // A schema and table of its own, named as deployments name them.
    server.psql("shared", "CREATE SCHEMA \"keys-prod\"");
    let scoped = repository(&pg_config(
        &server,
        "shared",
        r#""schema": "keys-prod", "table": "Ring-1""#,
    ));
    scoped.store(&key(3)).unwrap();
    assert_eq!(scoped.load().unwrap().elements(), [key(3)]);
    let rows = server.psql("shared", "SELECT count(*) FROM \"keys-prod\".\"Ring-1\"");
    assert_eq!(rows, "1");
}

#[test]
fn mistakes_a_server_reveals_are_named() {
    let server = Postgres::start();
    let plugin = plugin();
    let fails = |config: String, code: ErrorCode, needles: &[&str]| {
        let e = match plugin.create_repository("sql", &config) {
            Err(e) => e,
            Ok(repo) => repo.load().unwrap_err(),
        };
        assert_eq!(e.code(), code, "{config}: {}", e.message());
        for needle in needles {
            assert!(e.message().contains(needle), "{config}: {}", e.message());
        }
        assert!(!e.message().contains(Postgres::PASSWORD), "{}", e.message());
    };
    std::env::set_var("TROUSSEAU_SQL_TEST_WRONG_PASSWORD", "not-the-password");
    let wrong = pg_config(&server, "postgres", "")
        .replace(common::PASSWORD_VAR, "TROUSSEAU_SQL_TEST_WRONG_PASSWORD");
    fails(
        wrong,
        ErrorCode::InvalidConfig,
        &["password_env", "connecting"],
    );
    fails(
        pg_config(&server, "no_such_db", ""),
        ErrorCode::InvalidConfig,
        &["no_such_db", "`database`"],
    );
    fails(
        pg_config(&server, "postgres", r#""create_table": false"#),
        ErrorCode::InvalidConfig,
        &["\"DataProtectionKeys\"", "create_table"],
    );
    fails(
        pg_config(&server, "postgres", r#""schema": "no_such_schema""#),
        ErrorCode::InvalidConfig,
        &["no_such_schema", "schema"],
    );
}

#[test]
fn a_server_restart_is_reported_then_recovered_from() {
    let mut server = Postgres::start();
    let repo = repository(&pg_config(&server, "postgres", ""));
    repo.store(&key(1)).unwrap();
    server.stop();
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable, "{}", e.message());
    let host = server.socket_dir().display().to_string();
    for needle in [&host, "/postgres", "\"DataProtectionKeys\"", "failed"] {
        assert!(e.message().contains(needle), "{needle}: {}", e.message());
    }
    // While the server is down, every call says so (the connection is made again each time).
    let e = repo.store(&key(2)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable, "{}", e.message());
    assert!(e.message().contains("connecting"), "{}", e.message());

    server.start_again();
    let snapshot = repo.load().unwrap();
    assert_eq!(snapshot.elements(), [key(1)]);
    repo.store_conditional(snapshot.version(), &[key(3)])
        .unwrap();
    assert_eq!(repo.load().unwrap().elements(), [key(1), key(3)]);
}
