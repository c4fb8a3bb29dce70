//! A multi-element conditional store killed at every step (the debug-build failpoint) leaves the
//! ring with none or all of its elements after the next load, never a subset, and no stray
//! files once a locked operation has cleaned up. Each crash happens in a child process: this
//! test binary run again with [`CHILD_DIR`] set, selecting only [`crash_child`].
// The failpoint kills the child with SIGKILL, which this test checks for: Unix only.
#![cfg(all(debug_assertions, unix))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    fs,
    os::unix::process::ExitStatusExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, SystemTime},
};

use trousseau_core::{Element, Repository};
use trousseau_filesystem::{FileSystemRepository, FAILPOINT_ENV, JOURNAL};

/// Set for the child: the ring directory it stores into.
const CHILD_DIR: &str = "TROUSSEAU_TEST_CRASH_CHILD_DIR";
const STORED: usize = 4;

fn element(name: &str) -> Element {
    Element::new(name, format!("<key id=\"{name}\" />"))
}

fn batch() -> Vec<Element> {
    (1..=STORED)
        .map(|n| element(&format!("key-new{n}")))
        .collect()
}

fn names(repo: &FileSystemRepository) -> Vec<String> {
    repo.load()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.name().to_string())
        .collect()
}

/// Every file in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn xml_count(dir: &Path) -> usize {
    files(dir).iter().filter(|f| f.ends_with(".xml")).count()
}

/// The child: stores [`batch`] conditionally into `$CHILD_DIR`; the failpoint kills it.
#[test]
#[ignore = "the child process of the crash tests; they run it with its environment"]
fn crash_child() {
    // Run by hand (no environment), there is nothing to do.
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let repo = FileSystemRepository::new(dir.into());
    let version = repo.load().unwrap().version().to_string();
    repo.store_conditional(&version, &batch()).unwrap();
}

/// A ring holding `key-old`, and a child killed by the failpoint at `step` while storing
/// [`batch`] into it.
fn crashed_at(step: i64) -> (tempfile::TempDir, FileSystemRepository) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = FileSystemRepository::new(tmp.path().to_path_buf());
    repo.store(&element("key-old")).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--test-threads=1"])
        .env(CHILD_DIR, tmp.path())
        .env(FAILPOINT_ENV, step.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "step {step}: the child was not killed by the failpoint ({status})"
    );
    (tmp, repo)
}

#[test]
fn a_store_killed_after_its_journal_is_completed_by_the_next_load() {
    for renamed in 0..=STORED {
        let (tmp, repo) = crashed_at(renamed as i64);
        assert!(tmp.path().join(JOURNAL).exists(), "step {renamed}");
        assert_eq!(
            xml_count(tmp.path()),
            1 + renamed,
            "step {renamed}: on disk, the renames done before the kill"
        );
        let mut expected = vec!["key-old".to_string()];
        expected.extend(batch().iter().map(|e| e.name().to_string()));
        expected.sort(); // the repository's order: by file name
        assert_eq!(
            names(&repo),
            expected,
            "step {renamed}: all, never a subset"
        );
        let mut on_disk: Vec<String> = expected.iter().map(|n| format!("{n}.xml")).collect();
        on_disk.sort();
        assert_eq!(
            files(tmp.path()),
            on_disk,
            "step {renamed}: no journal, no temp files"
        );
    }
}

#[test]
fn a_store_killed_before_its_journal_stores_nothing_and_its_temp_files_are_swept() {
    let (tmp, repo) = crashed_at(-1);
    assert_eq!(names(&repo), ["key-old"]);
    let temps: Vec<String> = files(tmp.path())
        .into_iter()
        .filter(|f| f.ends_with(".tmp"))
        .collect();
    assert_eq!(temps.len(), 1, "the first element's temp file: {temps:?}");

    // A locked operation leaves a young temp file alone (it may be a writer's that takes no lock).
    let version = repo.load().unwrap().version().to_string();
    repo.store_conditional(&version, &[]).unwrap();
    assert!(tmp.path().join(&temps[0]).exists());

    let old = SystemTime::now() - Duration::from_secs(11 * 60);
    fs::File::options()
        .write(true)
        .open(tmp.path().join(&temps[0]))
        .unwrap()
        .set_modified(old)
        .unwrap();
    repo.store_conditional(&version, &[]).unwrap();
    assert_eq!(files(tmp.path()), ["key-old.xml"]);
}

#[test]
fn a_store_or_delete_completes_an_interrupted_store_first() {
    let (tmp, repo) = crashed_at(2);
    repo.delete(&["key-old".to_string()]).unwrap();
    assert_eq!(
        files(tmp.path()),
        [
            "key-new1.xml",
            "key-new2.xml",
            "key-new3.xml",
            "key-new4.xml"
        ]
    );

    let (tmp, repo) = crashed_at(3);
    repo.store(&element("key-extra")).unwrap();
    assert_eq!(xml_count(tmp.path()), 1 + STORED + 1);
    assert!(!tmp.path().join(JOURNAL).exists());
}
