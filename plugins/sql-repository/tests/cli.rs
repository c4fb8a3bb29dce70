//! The plugin as an operator uses it: the real `trousseau` tool loads the library from
//! `--plugin-dir`, keeps a ring in a SQLite table, and the rows are what ASP.NET Core's
//! `EntityFrameworkCoreXmlRepository` writes (friendly name `key-{guid}`, the key's XML).
#![cfg(unix)]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use trousseau_tests::workspace;

/// `trousseau --plugin-dir PLUGINS ARGS…` with `input` on standard input and a private HOME.
fn trousseau(plugins: &Path, home: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(workspace::trousseau_bin())
        .arg("--plugin-dir")
        .arg(plugins)
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("TROUSSEAU_CONFIG")
        .env_remove("TROUSSEAU_PLUGIN_PATH")
        .env_remove("TROUSSEAU_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "trousseau {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_tool_keeps_a_ring_in_a_table_through_the_plugin_directory() {
    workspace::cargo_build(&["-p", "trousseau-sql", "--lib"]);
    let name = workspace::dylib_name("trousseau_sql");
    let plugins = tempfile::tempdir().unwrap();
    workspace::install_plugin(&workspace::profile_dir().join(&name), plugins.path(), &name);
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("keys.db");
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[repository]\nprovider = \"sql\"\nbackend = \"sqlite\"\npath = \"{}\"\n\n\
             [data_protection]\ninterop = true\n",
            db.display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();

    let list = trousseau(plugins.path(), work.path(), &["plugins", "list"], "");
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("sql"), "{list}");

    let payload = trousseau(
        plugins.path(),
        work.path(),
        &["--config", &config, "protect"],
        "kept in a table",
    );
    let payload = String::from_utf8(payload.stdout).unwrap();
    let plain = trousseau(
        plugins.path(),
        work.path(),
        &["--config", &config, "unprotect"],
        payload.trim(),
    );
    assert_eq!(plain.stdout, b"kept in a table");

    let table = rusqlite::Connection::open(&db).unwrap();
    let (name, xml): (String, String) = table
        .query_row(
            "SELECT \"FriendlyName\", \"Xml\" FROM \"DataProtectionKeys\"",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let id = name.strip_prefix("key-").expect(&name);
    assert!(
        xml.starts_with(&format!("<key id=\"{id}\" version=\"1\">")),
        "{xml}"
    );
}
