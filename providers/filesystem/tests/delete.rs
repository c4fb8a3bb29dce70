//! Deleting elements by the names a load reports, whatever their files are called.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trousseau_core::{ErrorCode, Repository};
use trousseau_filesystem::FileSystemRepository;

/// The mode on Unix; on Windows the ACL inherited from the temp directory stands.
fn set_mode(path: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    #[cfg(not(unix))]
    let _ = (path, mode);
}

fn plant(dir: &std::path::Path, file: &str, xml: &str) {
    let path = dir.join(file);
    std::fs::write(&path, xml).unwrap();
    set_mode(&path, 0o600);
}

#[test]
fn elements_whose_file_names_are_not_friendly_are_deleted_by_their_real_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ring");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o700);
    let odd = ["key-a b", "key.old", "revocation-été", "key-(1)"];
    for name in odd {
        plant(
            &dir,
            &format!("{name}.xml"),
            &format!("<key id=\"{name}\" />"),
        );
    }
    plant(&dir, "key-kept.xml", "<key id=\"kept\" />");
    let repo = FileSystemRepository::new(dir.clone());
    let mut names: Vec<String> = repo
        .load()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    expected.push("key-kept".into());
    expected.sort();
    assert_eq!(names, expected);

    let doomed: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    repo.delete(&doomed).unwrap();
    let left: Vec<String> = repo
        .load()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(left, ["key-kept"]);
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["key-kept.xml"]);
}

#[test]
fn a_name_that_is_no_file_stem_is_refused_and_nothing_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ring");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o700);
    plant(&dir, "key-1.xml", "<key id=\"1\" />");
    plant(tmp.path(), "outside.xml", "<key />");
    let repo = FileSystemRepository::new(dir.clone());
    for bad in ["../outside", "", "a\0b"] {
        let err = repo
            .delete(&["key-1".to_string(), bad.to_string()])
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{bad:?}");
        assert!(
            err.message().contains("not the name of a file"),
            "{}",
            err.message()
        );
    }
    assert!(dir.join("key-1.xml").exists());
    assert!(tmp.path().join("outside.xml").exists());
}
