// Unix only: the support module's process groups, file modes.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `trousseau user-account export` seals the user key under a passphrase by default, and
//! `import` restores it: a key ring made on one account opens on another after the round
//! trip; a wrong passphrase writes nothing; the file never holds the key in hex; `--plain`
//! is the explicit way to write it in the clear.

#[path = "support/cli.rs"]
mod cli;

use std::os::unix::fs::MetadataExt;

use cli::Home;

/// A home whose user key is a plain file (no Secret Service), with `PASS` and `WRONG` set.
fn home() -> Home {
    let mut h = Home::new();
    h.env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), String::new()));
    h.env.push(("PASS".into(), "a backup passphrase".into()));
    h.env
        .push(("WRONG".into(), "not the backup passphrase".into()));
    h
}

fn user_key(h: &Home) -> Vec<u8> {
    std::fs::read(h.path("data/trousseau/user-account.key")).unwrap()
}

#[test]
fn a_sealed_backup_restores_a_working_user_key_on_another_account() {
    let a = home();
    let payload = a.ok(&["protect", "hello"]);
    let key = user_key(&a);
    let backup = a.path("user-key.backup");
    let backup_arg = backup.to_str().unwrap();
    let out = a.run(
        &[
            "user-account",
            "export",
            backup_arg,
            "--password-env",
            "PASS",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed under the passphrase"));
    assert_eq!(std::fs::metadata(&backup).unwrap().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(
        text.starts_with("trousseau user-account key v2 (passphrase)\nkdf: argon2id"),
        "{text}"
    );
    assert!(
        !text.to_lowercase().contains(&hex(&key)),
        "the key is in the backup in hex"
    );
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(a.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Another account: a wrong passphrase writes nothing.
    let b = home();
    let out = b.run(
        &[
            "user-account",
            "import",
            backup_arg,
            "--password-env",
            "WRONG",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the passphrase does not open"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(!b.path("data/trousseau/user-account.key").exists());

    // The right one restores the key, and the ring made on A opens with it.
    let out = b.run(
        &[
            "user-account",
            "import",
            backup_arg,
            "--password-env",
            "PASS",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(user_key(&b), key);
    let ring = format!("filesystem:directory={}", a.ring().display());
    assert_eq!(
        b.ok(&["unprotect", "--repository", &ring, payload.trim()]),
        "hello"
    );
}

#[test]
fn export_asks_for_a_passphrase_and_plain_is_explicit() {
    let h = home();
    h.ok(&["protect", "x"]);
    let key = user_key(&h);

    // No terminal and no passphrase: refused, naming the ways to give one, nothing written.
    let backup = h.path("b1");
    let out = h.run(&["user-account", "export", backup.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--password-file, --password-env or --password-fd"),
        "{err}"
    );
    assert!(err.contains("--plain"), "{err}");
    assert!(!backup.exists());

    // An empty passphrase protects nothing.
    let mut h2 = home();
    h2.env.push(("EMPTY".into(), String::new()));
    h2.ok(&["protect", "x"]);
    let out = h2.run(
        &[
            "user-account",
            "export",
            h2.path("b").to_str().unwrap(),
            "--password-env",
            "EMPTY",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // --plain writes the key in hex, with a warning; import reads that form too.
    let plain = h.path("plain");
    let out = h.run(
        &["user-account", "export", "--plain", plain.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNENCRYPTED"));
    assert!(std::fs::read_to_string(&plain)
        .unwrap()
        .contains(&hex(&key)));
    let out = h.run(
        &[
            "user-account",
            "export",
            "--plain",
            "--password-env",
            "PASS",
            "x",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--plain with a passphrase: {out:?}"
    );
    let b = home();
    b.ok(&["user-account", "import", plain.to_str().unwrap()]);
    assert_eq!(user_key(&b), key);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
