//! An embedder checks a KeePass database with the engine alone (no CLI):
//! `trousseau::kdbx::verify_database` with the sources of `keepass_sources`, a password given
//! by the host's own interaction, and a KDF runner, against the keepass-rs fixture (KDBX 4,
//! Argon2d, password + KeePassXC challenge-response key; see cli/tests/data/README.md).

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{cell::Cell, path::PathBuf, sync::atomic::AtomicUsize, sync::atomic::Ordering};

use trousseau::{
    kdbx::{
        keepass_sources, verify_database, ChallengeResponseSecret, KdbxError, KdfRunner,
        NoProgress, Verdict,
    },
    masterkey::{EverySource, KdfParams},
    plugins::Registry,
};
use trousseau_core::{Error, Interaction, MessageLevel, SecretBytes};
use trousseau_tests::workspace;

const SECRET: &str = "0102030405060708090a0b0c0d0e0f1011121314";

/// The host's answer to the password prompt.
struct Answers {
    password: &'static str,
    asked: Cell<usize>,
}

impl Interaction for Answers {
    fn message(&self, _level: MessageLevel, _text: &str) {}
    fn request_secret(&self, _prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
        self.asked.set(self.asked.get() + 1);
        Ok(SecretBytes::copy_from(self.password.as_bytes()))
    }
    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        panic!("unexpected value prompt {prompt:?}")
    }
    fn confirm(&self, _question: &str, default: bool) -> Result<bool, Error> {
        Ok(default)
    }
}

/// Counts the KDF runs.
#[derive(Default)]
struct Counting(AtomicUsize);

impl KdfRunner for Counting {
    fn run(&self, params: &KdfParams, kdf: &mut (dyn FnMut() + Send)) {
        assert!(matches!(params, KdfParams::Argon2 { .. }), "{params:?}");
        self.0.fetch_add(1, Ordering::SeqCst);
        kdf();
    }
}

fn fixture() -> PathBuf {
    workspace::root().join("cli/tests/data/keepass-rs-challenge-response.kdbx")
}

#[test]
fn an_embedder_verifies_a_keepass_database_with_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let registry = Registry::with_builtins(None).unwrap();
    let ui = Answers {
        password: "demopass",
        asked: Cell::new(0),
    };
    let runner = Counting::default();
    let sources = keepass_sources(true, None, Some(&ChallengeResponseSecret::File(secret)));
    let checked =
        verify_database(&fixture(), &sources, &registry, &EverySource(&ui), &runner).unwrap();
    assert_eq!(checked.verdict, Verdict::Opens);
    assert!(checked.opens());
    assert_eq!((checked.major, checked.minor), (4, 0));
    assert_eq!(ui.asked.get(), 1, "the password was asked once");
    assert_eq!(
        runner.0.load(Ordering::SeqCst),
        1,
        "the KDF ran once, through the runner"
    );

    // Without the challenge-response key: a verdict, not an error.
    let checked = verify_database(
        &fixture(),
        &keepass_sources(true, None, None),
        &registry,
        &EverySource(&ui),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(checked.verdict, Verdict::DoesNotOpen);

    // A source that cannot give its component is a key error, with the source's message.
    let e = verify_database(
        &fixture(),
        &keepass_sources(
            true,
            None,
            Some(&ChallengeResponseSecret::Env(
                "TROUSSEAU_TEST_UNSET_CR".into(),
            )),
        ),
        &registry,
        &EverySource(&ui),
        &NoProgress,
    )
    .unwrap_err();
    assert!(matches!(e, KdbxError::Key(_)), "{e:?}");
    assert!(e.to_string().contains("TROUSSEAU_TEST_UNSET_CR"), "{e}");
}
