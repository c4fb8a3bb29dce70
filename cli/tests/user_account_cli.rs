//! `trousseau user-account status | export | import` end to end (file backend).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{os::unix::fs::MetadataExt, path::Path, process::Command};

use trousseau_core::{DeriveContext, KeySource, NoInteraction};
use trousseau_user_account::{UserAccountConfig, UserAccountSource};

/// `trousseau user-account --backend file ARGS…` with `home` as the whole environment.
fn file_backend(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trousseau"))
        .args(["user-account", "--backend", "file"])
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("TROUSSEAU_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn export_then_import_on_another_account_restores_the_same_key() {
    let a = tempfile::tempdir().unwrap();
    let key_path = a.path().join("data/trousseau/user-account.key");
    let out = file_backend(a.path(), &["status"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("none yet"));

    // Enroll through the provider, as `init` would.
    let source = UserAccountSource::new(
        UserAccountConfig::parse(
            &serde_json::json!({"backend": "file", "path": key_path}).to_string(),
        )
        .unwrap(),
    );
    let (key, _) = source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap()
        .into_parts();

    let out = file_backend(a.path(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("present (check value"), "{text}");
    assert!(text.contains(&key_path.display().to_string()), "{text}");
    // When it was written, as a date people read (not epoch seconds).
    let written = text
        .lines()
        .find_map(|l| l.strip_prefix("written:"))
        .unwrap()
        .trim();
    assert!(
        written.len() == 23 && written.starts_with("20") && written.ends_with(" UTC"),
        "{text}"
    );

    let backup = a.path().join("backup.txt");
    let out = file_backend(a.path(), &["export", "--plain", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNENCRYPTED"));
    assert_eq!(std::fs::metadata(&backup).unwrap().mode() & 0o777, 0o600);
    // Never overwrites an existing file.
    let out = file_backend(a.path(), &["export", "--plain", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // Another machine/account.
    let b = tempfile::tempdir().unwrap();
    let out = file_backend(b.path(), &["import", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let restored = std::fs::read(b.path().join("data/trousseau/user-account.key")).unwrap();
    assert!(key.ct_eq(&restored));

    // A different key on B is not replaced without --force.
    let other = b.path().join("other.txt");
    std::fs::write(
        &other,
        format!("trousseau user-account key v1\n{}\n", "ab".repeat(64)),
    )
    .unwrap();
    let out = file_backend(b.path(), &["import", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(key.ct_eq(&std::fs::read(b.path().join("data/trousseau/user-account.key")).unwrap()));
    let out = file_backend(b.path(), &["import", "--force", other.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read(b.path().join("data/trousseau/user-account.key")).unwrap(),
        vec![0xab; 64]
    );

    // A file that is not a backup is a usage error.
    std::fs::write(&other, "nonsense").unwrap();
    let out = file_backend(b.path(), &["import", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}
