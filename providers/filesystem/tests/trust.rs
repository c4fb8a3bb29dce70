//! The filesystem repository against a party who can write the ring directory but holds no
//! master key: untrusted directories are refused with the fix, untrusted, linked, special and
//! oversize element files are skipped with one warning (never followed, never blocking), a
//! shared group is honoured only when configured, and a planted journal is never obeyed.
// Modes, owners, groups, FIFOs: the Unix trust model (on Windows the ACL decides; see src/trust.rs).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    fmt,
    fs::{self, Permissions},
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    sync::{mpsc, Arc, Mutex},
    time::Duration,
};

use trousseau_core::{Element, ErrorCode, Factory, Repository};
use trousseau_filesystem::{FileSystemRepository, JOURNAL, MAX_ELEMENT_BYTES, PLUGIN};

const NOBODY: u32 = 65534;

fn element(n: u32) -> Element {
    Element::new(format!("key-{n}"), format!("<key id=\"{n}\" />"))
}

fn names(repo: &dyn Repository) -> Vec<String> {
    repo.load()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.name().to_string())
        .collect()
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) {
    std::os::unix::fs::lchown(path, uid, gid).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The name of the current user's primary group.
fn my_group() -> String {
    let out = std::process::Command::new("id")
        .arg("-gn")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn my_gid() -> u32 {
    // SAFETY: getegid has no preconditions.
    unsafe { libc::getegid() }
}

/// A ring directory with one genuine element, `key-1`.
fn ring() -> (tempfile::TempDir, FileSystemRepository) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = FileSystemRepository::new(tmp.path().to_path_buf());
    repo.store(&element(1)).unwrap();
    (tmp, repo)
}

/// A valid-looking element file.
fn plant(path: &Path) {
    fs::write(path, "<key id=\"planted\" />").unwrap();
}

/// The warnings logged while `f` runs on this thread.
fn warnings<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = tracing::subscriber::with_default(Capture(seen.clone()), f);
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

/// Loads `repo`, asserting exactly one warning that names `file` and contains `why`; returns
/// the element names.
fn load_skipping(repo: &FileSystemRepository, file: &Path, why: &str) -> Vec<String> {
    let (names, warned) = warnings(|| names(repo));
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains(&file.display().to_string()) && warned[0].contains(why),
        "{warned:?}"
    );
    names
}

struct Capture(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push(m.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_world_writable_directory_is_refused_with_the_fix() {
    for mode in [0o777, 0o1777] {
        let (tmp, repo) = ring();
        chmod(tmp.path(), mode);
        let load = repo.load().unwrap_err();
        assert_eq!(load.code(), ErrorCode::InvalidConfig);
        for part in [
            &tmp.path().display().to_string(),
            &format!("is writable by group and others (mode {mode:04o})"),
            &format!("chmod go-w {}", tmp.path().display()),
        ] {
            assert!(load.message().contains(part.as_str()), "{load}");
        }
        let store = repo.store(&element(2)).unwrap_err();
        assert_eq!(store.message(), load.message());
        chmod(tmp.path(), 0o700);
        assert_eq!(names(&repo), ["key-1"], "nothing was written");
    }
}

#[test]
fn a_group_writable_directory_needs_shared_group() {
    let (tmp, repo) = ring();
    chmod(tmp.path(), 0o770);
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert!(e.message().contains("is writable by its group"), "{e}");
    assert!(e.message().contains("set shared_group"), "{e}");

    chown(tmp.path(), None, Some(my_gid()));
    let shared = FileSystemRepository::with_shared_group(tmp.path().into(), &my_group()).unwrap();
    shared.store(&element(2)).unwrap();
    assert_eq!(names(&shared), ["key-1", "key-2"]);
    let written = fs::metadata(tmp.path().join("key-2.xml")).unwrap();
    assert_eq!(written.mode() & 0o777, 0o640, "readable by the group");
    assert_eq!(written.gid(), my_gid());

    chmod(tmp.path(), 0o777);
    let e = shared.load().unwrap_err();
    assert!(e.message().contains("writable by group and others"), "{e}");
}

#[test]
fn a_directory_of_another_user_is_refused() {
    if !is_root() {
        // chown needs root; the decision itself is unit-tested in trust.rs for any user.
        return;
    }
    let (tmp, repo) = ring();
    chown(tmp.path(), Some(NOBODY), Some(NOBODY));
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert!(
        e.message()
            .contains("is owned by uid 65534, not by you (uid 0) or root"),
        "{e}"
    );
    assert!(e.message().contains("chown 0"), "{e}");
    assert!(repo.store(&element(2)).is_err());
}

#[test]
fn an_element_writable_by_others_is_skipped_with_one_warning() {
    let (tmp, repo) = ring();
    let planted = tmp.path().join("key-evil.xml");
    plant(&planted);
    chmod(&planted, 0o666);
    let names = load_skipping(
        &repo,
        &planted,
        "is writable by group and others (mode 0666)",
    );
    assert_eq!(names, ["key-1"]);
}

#[test]
fn an_element_of_another_user_is_skipped_unless_in_the_shared_group() {
    if !is_root() {
        // chown needs root; the decision itself is unit-tested in trust.rs for any user.
        return;
    }
    let (tmp, repo) = ring();
    let foreign = tmp.path().join("key-foreign.xml");
    plant(&foreign);
    chown(&foreign, Some(NOBODY), Some(NOBODY));
    let names = load_skipping(&repo, &foreign, "is owned by uid 65534");
    assert_eq!(names, ["key-1"]);

    chown(&foreign, None, Some(my_gid()));
    chmod(&foreign, 0o660);
    let shared = FileSystemRepository::with_shared_group(tmp.path().into(), &my_group()).unwrap();
    assert_eq!(crate::names(&shared), ["key-1", "key-foreign"]);
}

#[test]
fn a_symlinked_element_is_never_followed() {
    let (tmp, repo) = ring();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("key-outside.xml");
    plant(&target);
    let link = tmp.path().join("key-outside.xml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let names = load_skipping(&repo, &link, "is a symbolic link");
    assert_eq!(names, ["key-1"]);
}

#[test]
fn a_fifo_element_is_skipped_without_hanging() {
    let (tmp, repo) = ring();
    let fifo = tmp.path().join("key-x.xml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = mpsc::channel();
    let fifo_in_thread = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(load_skipping(&repo, &fifo_in_thread, "is a FIFO"));
    });
    let names = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("load hung on a FIFO (or failed: see the thread's panic above)");
    assert_eq!(names, ["key-1"]);
}

#[test]
fn an_oversize_element_is_skipped_and_the_limit_itself_is_read() {
    let (tmp, repo) = ring();
    let at_limit = tmp.path().join("key-big.xml");
    fs::write(&at_limit, " ".repeat(MAX_ELEMENT_BYTES as usize)).unwrap();
    let over = tmp.path().join("key-huge.xml");
    fs::write(&over, " ".repeat(MAX_ELEMENT_BYTES as usize + 1)).unwrap();
    let names = load_skipping(&repo, &over, "over the limit of 1048576 bytes");
    assert_eq!(names, ["key-1", "key-big"]);
}

#[test]
fn a_ring_over_the_total_limit_is_an_error() {
    let (tmp, repo) = ring();
    for n in 0..65 {
        let f = fs::File::create(tmp.path().join(format!("key-pad{n:02}.xml"))).unwrap();
        f.set_len(MAX_ELEMENT_BYTES).unwrap(); // sparse: no disk space used
    }
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData);
    assert!(
        e.message().contains("holds more than 67108864 bytes"),
        "{e}"
    );
    assert!(
        e.message().contains(&tmp.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn new_directories_and_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/ring");
    let repo = FileSystemRepository::new(dir.clone());
    repo.store(&element(1)).unwrap();
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(
        fs::metadata(dir.join("key-1.xml")).unwrap().mode() & 0o777,
        0o600
    );
}

#[test]
fn an_unknown_shared_group_is_a_configuration_error() {
    let Factory::Repository(make) = PLUGIN.providers[0].factory else {
        panic!("the filesystem provider makes repositories");
    };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({"directory": tmp.path(), "shared_group": "no-such-group-x9"});
    let Err(e) = make(&cfg.to_string()) else {
        panic!("an unknown group was accepted");
    };
    assert_eq!(e.code(), ErrorCode::InvalidConfig);
    assert!(
        e.message()
            .contains("\"no-such-group-x9\" is not a known group"),
        "{e}"
    );
    let cfg = serde_json::json!({"directory": tmp.path(), "shared_group": my_group()});
    assert!(make(&cfg.to_string()).is_ok());
}

#[test]
fn a_planted_journal_is_never_obeyed() {
    let temp = "0b7e1c2a-4f7e-4d7a-9a51-3f0c7d2e9b10.tmp";
    let outer = tempfile::tempdir().unwrap();
    let escaped = outer.path().join("escaped.xml");
    for target in [
        "../escaped.xml",
        &escaped.display().to_string(),
        "key-2.txt",
    ] {
        let dir = outer.path().join("ring");
        let repo = FileSystemRepository::new(dir.clone());
        repo.store(&element(1)).unwrap();
        plant(&dir.join(temp));
        let journal = dir.join(JOURNAL);
        fs::write(
            &journal,
            format!("trousseau-filesystem pending renames v1\n{temp} {target}\n"),
        )
        .unwrap();
        for e in [
            repo.load().unwrap_err(),
            repo.store(&element(2)).unwrap_err(),
        ] {
            assert_eq!(e.code(), ErrorCode::CorruptData);
            assert!(e.message().contains(&journal.display().to_string()), "{e}");
            assert!(e.message().contains("remove it"), "{e}");
        }
        assert!(dir.join(temp).exists(), "the temp file was not renamed");
        assert!(!escaped.exists() && !dir.join("key-2.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_symlinked_journal_is_refused() {
    let (tmp, repo) = ring();
    let outside = tempfile::tempdir().unwrap();
    let journal = outside.path().join("journal");
    fs::write(&journal, "trousseau-filesystem pending renames v1\n").unwrap();
    std::os::unix::fs::symlink(&journal, tmp.path().join(JOURNAL)).unwrap();
    let e = repo.load().unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData);
    assert!(e.message().contains("is a symbolic link"), "{e}");
}
