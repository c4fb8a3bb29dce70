//! The file backend against the real file system: creation modes, refusals (permissions,
//! owner, truncation, a different key), never creating a key on read, backup and restore.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction, SecretBytes};
use trousseau_user_account::{
    export, import, status, ImportOutcome, PublicParams, UserAccountConfig, UserAccountSource,
    USER_KEY_LEN,
};

fn config(path: &Path) -> UserAccountConfig {
    UserAccountConfig::parse(&serde_json::json!({"backend": "file", "path": path}).to_string())
        .unwrap()
}

fn setup() -> (tempfile::TempDir, PathBuf, UserAccountSource) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("user-account.key");
    let source = UserAccountSource::new(config(&path));
    (dir, path, source)
}

fn enroll(source: &UserAccountSource) -> (SecretBytes, String) {
    source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap()
        .into_parts()
}

fn derive(source: &UserAccountSource, params: &str) -> trousseau_core::Result<SecretBytes> {
    source.derive(&DeriveContext::new(b"seed", params, "test"), &NoInteraction)
}

#[test]
fn enroll_creates_a_private_key_and_derive_reads_it_back() {
    let (_dir, path, source) = setup();
    let (key, params) = enroll(&source);
    assert_eq!(key.len(), USER_KEY_LEN);
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    assert!(key.ct_eq(&fs::read(&path).unwrap()));
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.backend.as_str(), "file");
    assert_eq!(p.location, path.display().to_string());
    let again = derive(&source, &params).unwrap();
    assert!(again.ct_eq(key.expose()));
    // A second enrollment binds to the same per-user key; it never replaces it.
    let (second, _) = enroll(&source);
    assert!(second.ct_eq(key.expose()));
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn derive_without_a_key_says_where_it_looked_and_creates_nothing() {
    let (_dir, path, source) = setup();
    let err = derive(&source, "").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.message().contains(&path.display().to_string()), "{err}");
    assert!(!path.exists());
}

#[test]
fn group_readable_key_file_is_refused_and_left_alone() {
    let (_dir, path, source) = setup();
    let (key, params) = enroll(&source);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let err = derive(&source, &params).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
    assert!(err.message().contains("chmod 600"), "{err}");
    assert!(key.ct_eq(&fs::read(&path).unwrap()));
    // Enrollment refuses too: it must not paper over the problem with a new key.
    let err = source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
}

#[test]
fn world_writable_directory_is_refused() {
    let (_dir, path, source) = setup();
    let (_, params) = enroll(&source);
    fs::set_permissions(path.parent().unwrap(), fs::Permissions::from_mode(0o777)).unwrap();
    let err = derive(&source, &params).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
    assert!(err.message().contains("chmod 700"), "{err}");
}

#[test]
fn key_file_of_another_owner_is_refused() {
    let (_dir, path, source) = setup();
    let (_, params) = enroll(&source);
    // We run as root in CI; give the file to `nobody`.
    let nobody = 65534;
    std::os::unix::fs::chown(&path, Some(nobody), Some(nobody)).unwrap();
    let err = derive(&source, &params).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
    assert!(err.message().contains("owned by uid 65534"), "{err}");
}

#[test]
fn truncated_key_file_is_corrupt_and_not_overwritten() {
    let (_dir, path, source) = setup();
    let (key, params) = enroll(&source);
    fs::write(&path, &key.expose()[..40]).unwrap();
    let err = derive(&source, &params).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CorruptData);
    assert!(err.message().contains("40 bytes"), "{err}");
    let err = source
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::CorruptData);
    assert_eq!(fs::read(&path).unwrap(), &key.expose()[..40]);
}

#[test]
fn a_different_user_key_is_a_wrong_key() {
    let (dir, path, source) = setup();
    let (_, params) = enroll(&source);
    // Another user's key in the same place (restored from the wrong backup).
    let other = dir.path().join("other.key");
    let other_source = UserAccountSource::new(config(&other));
    let (other_key, _) = enroll(&other_source);
    fs::copy(&other, &path).unwrap();
    let err = derive(&source, &params).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongKey);
    assert!(!other_key.is_empty());
}

#[test]
fn export_import_and_status() {
    let (dir, path, source) = setup();
    let cfg = config(&path);
    let st = status(&cfg).unwrap();
    assert_eq!(st.check, None);
    let (key, params) = enroll(&source);
    let st = status(&cfg).unwrap();
    assert_eq!(
        st.check.as_deref(),
        Some(
            PublicParams::parse(&params)
                .unwrap()
                .unwrap()
                .check
                .as_str()
        )
    );
    assert!(st.modified.is_some());

    let (backup, location) = export(&cfg).unwrap();
    assert_eq!(location, path.display().to_string());

    // Restore on a "new machine": no key yet.
    let restored = dir.path().join("restored").join("user-account.key");
    let rcfg = config(&restored);
    let (outcome, _) = import(&rcfg, backup.expose(), "backup", false).unwrap();
    assert_eq!(outcome, ImportOutcome::Created);
    assert!(key.ct_eq(&fs::read(&restored).unwrap()));
    let (outcome, _) = import(&rcfg, backup.expose(), "backup", false).unwrap();
    assert_eq!(outcome, ImportOutcome::Unchanged);

    // A different key is not overwritten without force.
    let other = dir.path().join("o.key");
    enroll(&UserAccountSource::new(config(&other)));
    let (other_backup, _) = export(&config(&other)).unwrap();
    let err = import(&rcfg, other_backup.expose(), "backup", false).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    assert!(key.ct_eq(&fs::read(&restored).unwrap()));
    let (outcome, _) = import(&rcfg, other_backup.expose(), "backup", true).unwrap();
    assert_eq!(outcome, ImportOutcome::Replaced);
    assert!(!key.ct_eq(&fs::read(&restored).unwrap()));
    assert_eq!(fs::metadata(&restored).unwrap().mode() & 0o777, 0o600);

    // Garbage is refused.
    let err = import(&rcfg, b"hello", "backup", true).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[test]
fn bad_configuration_is_reported() {
    let err = UserAccountConfig::parse(r#"{"backend": "floppy"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.message().contains("floppy"), "{err}");
    let err = UserAccountConfig::parse(r#"{"bakend": "file"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
}
