use std::cell::RefCell;

use trousseau_core::{
    DeriveContext, Error, ErrorCode, Interaction, KeySource, MessageLevel, SecretBytes,
};

use super::*;

/// A scripted user: answers secrets from a list and records the prompts.
struct Scripted {
    answers: RefCell<Vec<&'static str>>,
    asked: RefCell<Vec<(String, bool)>>,
    confirm_answer: bool,
}

impl Scripted {
    fn new(answers: &[&'static str], confirm_answer: bool) -> Self {
        Scripted {
            answers: RefCell::new(answers.iter().rev().copied().collect()),
            asked: RefCell::new(Vec::new()),
            confirm_answer,
        }
    }
}

impl Interaction for Scripted {
    fn message(&self, _: MessageLevel, _: &str) {}
    fn request_secret(&self, prompt: &str, confirm: bool) -> Result<SecretBytes, Error> {
        self.asked.borrow_mut().push((prompt.to_string(), confirm));
        let a = self.answers.borrow_mut().pop().unwrap();
        Ok(SecretBytes::copy_from(a.as_bytes()))
    }
    fn request_value(&self, _: &str) -> Result<String, Error> {
        unreachable!()
    }
    fn confirm(&self, _: &str, _: bool) -> Result<bool, Error> {
        Ok(self.confirm_answer)
    }
}

fn ctx() -> DeriveContext {
    DeriveContext::new(&[], "", "test db")
}

#[test]
fn non_ascii_password_vector() {
    // KeePassXC's `tests/data/NonAscii.kdbx` (`TestKdbx3.cpp`): password "Δöض".
    let c = password_component("Δöض".as_bytes());
    assert_eq!(
        hex::encode(c.expose()),
        "87bd6649072e55427331d09d8109dc2cb97cdbd37403988ffbe407068ff93805"
    );
}

#[test]
fn no_normalisation() {
    // NFC and NFD "é" give different components: KeePass and KeePassXC hash the UTF-8 bytes
    // without normalising (the values are plain SHA-256 of each encoding).
    let nfc = hex::encode(password_component("\u{e9}".as_bytes()).expose());
    let nfd = hex::encode(password_component("e\u{301}".as_bytes()).expose());
    assert!(
        nfc.starts_with("4a99557e") && nfc.ends_with("2ba69c4c"),
        "{nfc}"
    );
    assert!(
        nfd.starts_with("bf12767b") && nfd.ends_with("ea48f9f6"),
        "{nfd}"
    );
}

#[test]
fn empty_password_is_a_component() {
    let ui = Scripted::new(&[""], false);
    let source = PasswordSource::from_config("{}").unwrap();
    let c = source.derive(&ctx(), &ui).unwrap();
    assert_eq!(
        hex::encode(c.expose()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn enroll_prompts_with_confirmation_and_refuses_unconfirmed_empty() {
    let ui = Scripted::new(&["secret"], true);
    let source = PasswordSource::from_config("").unwrap();
    let e = source.enroll(&ctx(), &ui).unwrap();
    assert_eq!(e.component(), &password_component(b"secret"));
    assert_eq!(
        ui.asked.borrow()[0],
        ("Password for test db".to_string(), true)
    );

    let ui = Scripted::new(&[""], false);
    let err = source.enroll(&ctx(), &ui).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
}

#[test]
fn from_env() {
    std::env::set_var("TROUSSEAU_TEST_PW_ENV", "hunter2\n");
    let source = PasswordSource::from_config(r#"{"env":"TROUSSEAU_TEST_PW_ENV"}"#).unwrap();
    let c = source
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap();
    // Taken as is: the newline is part of the password.
    assert_eq!(c, password_component(b"hunter2\n"));
    let missing = PasswordSource::from_config(r#"{"env":"TROUSSEAU_TEST_PW_UNSET_X"}"#).unwrap();
    let err = missing
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.message().contains("TROUSSEAU_TEST_PW_UNSET_X"));
}

#[test]
fn from_file_strips_one_line_ending() {
    let dir = tempfile::tempdir().unwrap();
    for (content, expected) in [
        (&b"pw\n"[..], &b"pw"[..]),
        (b"pw\r\n", b"pw"),
        (b"pw\n\n", b"pw\n"),
        (b"pw", b"pw"),
        (b"", b""),
    ] {
        let p = dir.path().join("pw");
        std::fs::write(&p, content).unwrap();
        let cfg = serde_json::json!({ "file": p }).to_string();
        let c = PasswordSource::from_config(&cfg)
            .unwrap()
            .derive(&ctx(), &trousseau_core::NoInteraction)
            .unwrap();
        assert_eq!(c, password_component(expected), "{content:?}");
    }
}

#[cfg(unix)]
#[test]
fn from_file_descriptor() {
    use std::os::fd::AsRawFd;
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, b"fd-secret\n").unwrap();
    std::io::Seek::rewind(&mut f).unwrap();
    let cfg = format!(r#"{{"file":"/dev/fd/{}"}}"#, f.as_raw_fd());
    let c = PasswordSource::from_config(&cfg)
        .unwrap()
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap();
    assert_eq!(c, password_component(b"fd-secret"));
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1");
    std::fs::write(&p, b"caf\xe9\n").unwrap();
    let cfg = serde_json::json!({ "file": p }).to_string();
    let err = PasswordSource::from_config(&cfg)
        .unwrap()
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.message().contains("not valid UTF-8"), "{err}");

    let missing = serde_json::json!({ "file": dir.path().join("nope") }).to_string();
    let err = PasswordSource::from_config(&missing)
        .unwrap()
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);

    let err = PasswordSource::from_config(r#"{"env":"A","file":"B"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    let err = PasswordSource::from_config(r#"{"password":"x"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.message().contains("unknown field"), "{err}");
}

#[test]
fn prompt_without_user_needs_pin() {
    let err = PasswordSource::from_config("{}")
        .unwrap()
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NeedsPin);
}

#[test]
fn fifos_devices_and_oversized_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pw");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for (path, expect) in [
        (fifo, "not a regular file but a FIFO (named pipe)"),
        (
            "/dev/zero".into(),
            "not a regular file but a character device",
        ),
    ] {
        let cfg = serde_json::json!({ "file": path }).to_string();
        let source = PasswordSource::from_config(&cfg).unwrap();
        // On another thread, so that a blocking open fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(source.derive(&ctx(), &trousseau_core::NoInteraction));
        });
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("reading the password file blocked")
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
        assert!(err.message().contains(expect), "{err}");
        assert!(err.message().contains("password file"), "{err}");
    }

    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; (MAX_PASSWORD_FILE_SIZE + 1) as usize]).unwrap();
    let cfg = serde_json::json!({ "file": big }).to_string();
    let err = PasswordSource::from_config(&cfg)
        .unwrap()
        .derive(&ctx(), &trousseau_core::NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
    assert!(err.message().contains("larger than 1048576 bytes"), "{err}");
}
