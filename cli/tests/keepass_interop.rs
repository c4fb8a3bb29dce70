//! Interop with the real KeePass peers: databases made by `keepassxc-cli db-create` (KDBX 3.1,
//! AES-KDF) and pykeepass `create_database` (KDBX 4, Argon2d), with fresh random passwords
//! and key files of every format, checked with the real `trousseau keepass verify` binary.
//! Install the peers with `.ci/install.d/keepass.sh`; these tests fail when they are missing.
// Unix only: Unix file modes; the KeePass peers run on Linux (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use base64::Engine;

fn venv_python() -> PathBuf {
    trousseau_tests::venv_python(".ci/install.d/keepass.sh")
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b
}

fn random_password() -> String {
    let alphabet = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.,;:!";
    random_bytes(20)
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e} (run .ci/install.d/keepass.sh)"));
    // A child that refuses its input before reading it closes the pipe: not a test error.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn keepassxc_create(db: &Path, password: Option<&str>, keyfile: Option<&Path>) {
    let mut cmd = Command::new("keepassxc-cli");
    cmd.args(["db-create", "-q"]);
    if let Some(kf) = keyfile {
        cmd.arg("--set-key-file").arg(kf);
    }
    let stdin = match password {
        Some(pw) => {
            cmd.arg("-p");
            format!("{pw}\n{pw}\n")
        }
        None => String::new(),
    };
    cmd.arg(db);
    let out = run_with_stdin(cmd, &stdin);
    assert!(
        out.status.success() && db.exists(),
        "keepassxc-cli db-create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keepassxc_opens(db: &Path, password: Option<&str>, keyfile: &Path) -> bool {
    let mut cmd = Command::new("keepassxc-cli");
    cmd.args(["db-info", "-q", "-k"]).arg(keyfile);
    if password.is_none() {
        cmd.arg("--no-password");
    }
    cmd.arg(db);
    run_with_stdin(cmd, &format!("{}\n", password.unwrap_or("")))
        .status
        .success()
}

fn pykeepass_create(db: &Path, password: Option<&str>, keyfile: Option<&Path>) {
    let script = "import sys, json\nfrom pykeepass import create_database\na = json.loads(sys.argv[1])\ncreate_database(a['db'], password=a['pw'], keyfile=a['kf'])\n";
    let args = serde_json::json!({"db": db, "pw": password, "kf": keyfile}).to_string();
    let out = Command::new(venv_python())
        .args(["-c", script, &args])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pykeepass create_database failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `trousseau keepass verify` with an isolated configuration.
fn verify(db: &Path, password: Option<&str>, keyfile: Option<&Path>) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.env("XDG_CONFIG_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env_remove("TROUSSEAU_CONFIG");
    cmd.args(["keepass", "verify"]).arg(db);
    match password {
        Some(_) => cmd.arg("--password-stdin"),
        None => cmd.arg("--no-password"),
    };
    if let Some(kf) = keyfile {
        cmd.arg("--keyfile").arg(kf);
    }
    run_with_stdin(cmd, &format!("{}\n", password.unwrap_or("")))
}

fn assert_opens(db: &Path, password: Option<&str>, keyfile: Option<&Path>, what: &str) {
    let out = verify(db, password, keyfile);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK: this composition opens"),
        "{what}: expected OK, got {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_refused(db: &Path, password: Option<&str>, keyfile: Option<&Path>, what: &str) {
    let out = verify(db, password, keyfile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1\n{stderr}"
    );
    assert!(stderr.contains("does NOT open"), "{what}: {stderr}");
}

/// Checks the KDBX file version bytes (minor, major as little-endian u16s).
fn assert_file_version(db: &Path, version: [u8; 4], what: &str) {
    assert_eq!(std::fs::read(db).unwrap()[8..12], version, "{what}");
}

/// Key files of every format KeePass reads, written independently of our writer.
fn key_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut files = Vec::new();
    let mut put = |name: &'static str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push((name, p));
    };
    put("binary.key", random_bytes(32));
    put("hex.key", hex::encode_upper(random_bytes(32)).into_bytes());
    put("hashed.bin", random_bytes(777));
    put(
        "v1.key",
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<KeyFile>\r\n\t<Meta>\r\n\t\t<Version>1.00</Version>\r\n\t</Meta>\r\n\t<Key>\r\n\t\t<Data>{}</Data>\r\n\t</Key>\r\n</KeyFile>\r\n",
            b64.encode(random_bytes(32))
        )
        .into_bytes(),
    );
    files
}

#[test]
fn keepassxc_kdbx3_databases_with_every_key_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = key_files(dir.path());
    // keepassxc-cli generates an XML v2.0 key file itself when the path does not exist.
    let xc_keyx = dir.path().join("xc-generated.keyx");
    let other_db = dir.path().join("gen.kdbx");
    keepassxc_create(&other_db, Some("x"), Some(&xc_keyx));
    files.push(("xc-generated.keyx", xc_keyx));
    let wrong_kf = dir.path().join("wrong.key");
    std::fs::write(&wrong_kf, random_bytes(32)).unwrap();
    for (name, kf) in &files {
        let pw = random_password();
        let db = dir.path().join(format!("{name}.kdbx"));
        keepassxc_create(&db, Some(&pw), Some(kf));
        assert_file_version(&db, [1, 0, 3, 0], "keepassxc-cli writes KDBX 3.1");
        assert_opens(&db, Some(&pw), Some(kf), name);
        assert_refused(
            &db,
            Some(&format!("{pw}x")),
            Some(kf),
            &format!("{name}: wrong password"),
        );
        assert_refused(
            &db,
            Some(&pw),
            Some(&wrong_kf),
            &format!("{name}: wrong key file"),
        );
        assert_refused(&db, Some(&pw), None, &format!("{name}: missing key file"));
        assert_refused(&db, None, Some(kf), &format!("{name}: missing password"));
    }
    // Key file only.
    let (_, kf) = &files[0];
    let db = dir.path().join("kf-only.kdbx");
    keepassxc_create(&db, None, Some(kf));
    assert_opens(&db, None, Some(kf), "key file only");
    assert_refused(
        &db,
        Some(""),
        Some(kf),
        "empty password is a component, not no password",
    );
}

#[test]
fn pykeepass_kdbx4_argon2d_databases() {
    let dir = tempfile::tempdir().unwrap();
    let files = key_files(dir.path());
    // Non-ASCII password: SHA-256 of the UTF-8 bytes on both sides.
    let pw = format!("{}-Δöض", random_password());
    for (i, (name, kf)) in files.iter().enumerate() {
        let db = dir.path().join(format!("{name}.kdbx"));
        pykeepass_create(&db, Some(&pw), Some(kf));
        assert_file_version(&db, [0, 0, 4, 0], "pykeepass writes KDBX 4.0");
        assert_opens(&db, Some(&pw), Some(kf), name);
        // Argon2 at 64 MiB is slow-ish: the negative cases on the first database only.
        if i == 0 {
            assert_refused(&db, Some("wrong"), Some(kf), "wrong password");
            assert_refused(&db, Some(&pw), Some(&files[1].1), "wrong key file");
            assert_refused(&db, Some(&pw), None, "missing key file");
        }
    }
    let db = dir.path().join("pw-only.kdbx");
    pykeepass_create(&db, Some(&pw), None);
    assert_opens(&db, Some(&pw), None, "password only");
    assert_refused(&db, None, Some(&files[0].1), "key file instead of password");
}

#[test]
fn our_key_files_are_accepted_by_keepassxc() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["xml2", "xml1", "hex", "binary"] {
        let kf = dir.path().join(format!("ours.{format}"));
        let out = Command::new(env!("CARGO_BIN_EXE_trousseau"))
            .env("XDG_CONFIG_HOME", dir.path())
            .args(["keyfile", "create", "--format", format])
            .arg(&kf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let before = std::fs::read(&kf).unwrap();
        let pw = random_password();
        let db = dir.path().join(format!("{format}.kdbx"));
        keepassxc_create(&db, Some(&pw), Some(&kf));
        assert_eq!(
            std::fs::read(&kf).unwrap(),
            before,
            "keepassxc-cli replaced our key file"
        );
        assert!(
            keepassxc_opens(&db, Some(&pw), &kf),
            "keepassxc-cli cannot reopen with our {format} key file"
        );
        assert_opens(&db, Some(&pw), Some(&kf), format);
        // Inspect reports the format and agreement, never the key.
        let out = Command::new(env!("CARGO_BIN_EXE_trousseau"))
            .env("XDG_CONFIG_HOME", dir.path())
            .args(["keyfile", "inspect"])
            .arg(&kf)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("format:      {format}")) && text.contains("agree"),
            "{text}"
        );
    }
}

#[test]
fn bad_databases_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pw = random_password();
    let db = dir.path().join("p.kdbx");
    pykeepass_create(&db, Some(&pw), None);
    let bytes = std::fs::read(&db).unwrap();
    // The Argon2d UUID ef636ddf… inside the KDF parameters, replaced by garbage.
    let argon2d = hex::decode("ef636ddf8c29444b91f7a9a403e30a0c").unwrap();
    let at = bytes
        .windows(16)
        .position(|w| w == argon2d)
        .expect("Argon2d UUID in header");
    let mut unknown_kdf = bytes.clone();
    unknown_kdf[at] ^= 0xFF;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("unknown-kdf", unknown_kdf, "unknown KDF"),
        ("truncated", bytes[..60].to_vec(), "truncated"),
        (
            "not-kdbx",
            b"hello, this is not a database".to_vec(),
            "not a KeePass database",
        ),
        ("empty", Vec::new(), "not a KeePass database"),
    ];
    for (name, content, expected) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let out = verify(&p, Some(&pw), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    // A damaged header byte after parsing: the header hash catches it.
    let comment_at = bytes
        .windows(3)
        .position(|w| w == [3, 4, 0])
        .expect("compression field");
    let mut damaged = bytes.clone();
    damaged[comment_at + 5] ^= 1; // compression flags value
    let p = dir.path().join("damaged");
    std::fs::write(&p, damaged).unwrap();
    let stderr = String::from_utf8_lossy(&verify(&p, Some(&pw), None).stderr).into_owned();
    assert!(stderr.contains("damaged"), "{stderr}");
    let out = verify(&dir.path().join("missing.kdbx"), Some(&pw), None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn no_terminal_and_no_password_stdin_needs_pin() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.kdbx");
    keepassxc_create(&db, Some("pw"), None);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.env("XDG_CONFIG_HOME", dir.path())
        .args(["keepass", "verify"])
        .arg(&db)
        .stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe; it detaches the child from any controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");
}
