#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `trousseau keepass verify` with a KeePassXC challenge-response key (YubiKey HMAC-SHA1)
//! reproduced by the software `yubikey-recovery` source (KDBX 4: the challenge is the KDF seed,
//! the response is appended before the KDF, as in KeePassXC's `CompositeKey.cpp`): against KDBX 4
//! databases written at test time by pykeepass patched with an independent Python
//! implementation (`support/kdbx_challenge_response.py`: Argon2d, Argon2id, AES-KDF, and a
//! seed ending in the pad byte), and against keepass-rs's own fixture (known answer).
//! Install pykeepass with `.ci/install.d/keepass.sh`; these tests fail when it is missing.

#[path = "support/cli.rs"]
mod cli;

use std::path::Path;
use std::process::Command;

use cli::Home;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/kdbx_challenge_response.py"
);
const UPSTREAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/keepass-rs-challenge-response.kdbx"
);

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

/// Writes `db` with pykeepass + the Python challenge-response patch; returns the KDF seed.
fn create(home: &Home, db: &Path, kdf: &str, seed: Option<&str>) -> String {
    let mut cmd = Command::new(trousseau_tests::venv_python(".ci/install.d/keepass.sh"));
    cmd.arg(SCRIPT)
        .arg(db)
        .arg(home.path("pw"))
        .arg(home.path("secret"))
        .arg(kdf);
    if let Some(s) = seed {
        cmd.arg(s);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the fixture script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A home with a random password in `pw`, a random secret (hex) in `secret` and a wrong one
/// in `wrong-secret`.
fn home() -> Home {
    let h = Home::new();
    std::fs::write(h.path("pw"), format!("pw-{}\n", random_hex(8))).unwrap();
    std::fs::write(h.path("secret"), format!("{}\n", random_hex(20))).unwrap();
    std::fs::write(h.path("wrong-secret"), format!("{}\n", random_hex(20))).unwrap();
    h
}

fn verify(h: &Home, db: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "keepass",
        "verify",
        db.to_str().unwrap(),
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    let pw = std::fs::read_to_string(h.path("pw")).unwrap();
    h.run(&args, Some(&pw))
}

fn opens(h: &Home, db: &Path, extra: &[&str], kdf_label: &str) {
    let o = verify(h, db, extra);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{extra:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("OK:") && out.contains(kdf_label), "{out}");
}

/// The right secret opens `db`, a wrong one or none does not.
fn only_the_right_secret_opens(h: &Home, db: &Path, kdf_label: &str) {
    let good = h.path("secret");
    let wrong = h.path("wrong-secret");
    opens(
        h,
        db,
        &["--challenge-response-secret-file", good.to_str().unwrap()],
        kdf_label,
    );
    does_not_open(
        h,
        db,
        &["--challenge-response-secret-file", wrong.to_str().unwrap()],
    );
    // Without the component: the password alone does not open it.
    does_not_open(h, db, &[]);
}

fn does_not_open(h: &Home, db: &Path, extra: &[&str]) {
    let o = verify(h, db, extra);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
    assert!(err.contains("does NOT open"), "{extra:?}: {err}");
}

#[test]
fn pykeepass_databases_with_a_challenge_response_key() {
    for (kdf, label) in [
        ("argon2d", "Argon2d"),
        ("argon2id", "Argon2id"),
        ("aes", "AES-KDF"),
    ] {
        let h = home();
        let db = h.path("cr.kdbx");
        let seed = create(&h, &db, kdf, None);
        assert_eq!(seed.len(), 64, "{seed}");
        only_the_right_secret_opens(&h, &db, label);
    }
}

#[test]
fn secret_from_an_environment_variable_and_in_base32() {
    let mut h = home();
    let db = h.path("cr.kdbx");
    create(&h, &db, "argon2id", None);
    let hex_secret = std::fs::read_to_string(h.path("secret")).unwrap();
    let base32 = base32(&hex::decode(hex_secret.trim()).unwrap());
    h.env.push(("TROUSSEAU_TEST_YK".into(), base32));
    opens(
        &h,
        &db,
        &["--challenge-response-secret-env", "TROUSSEAU_TEST_YK"],
        "Argon2id",
    );
    // A variable that is not set: a clear error naming it, not a wrong-key verdict.
    let o = verify(
        &h,
        &db,
        &["--challenge-response-secret-env", "TROUSSEAU_TEST_UNSET"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("TROUSSEAU_TEST_UNSET"), "{err}");
    // A secret of the wrong length: says what a secret looks like.
    std::fs::write(h.path("short"), "0102\n").unwrap();
    let short = h.path("short");
    let o = verify(
        &h,
        &db,
        &["--challenge-response-secret-file", short.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("40 hex digits"), "{err}");
}

/// RFC 4648 base32 without padding (an independent encoder for the test).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for b in bytes {
        buf = (buf << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[test]
fn a_seed_ending_in_the_pad_byte_is_shortened_as_the_token_does() {
    // KeePassXC pads the 32-byte seed with 0x20; the token strips every trailing 0x20, so the
    // seed's own trailing 0x20 bytes are not MACed either (KeePassXC's
    // `ChallengeResponseKey.cpp`: the YubiKey takes the last byte and every equal byte before it
    // for padding).
    let h = home();
    let db = h.path("cr.kdbx");
    let forced = format!("{}2020", random_hex(30));
    let seed = create(&h, &db, "argon2id", Some(&forced));
    assert_eq!(seed, forced);
    let good = h.path("secret");
    opens(
        &h,
        &db,
        &["--challenge-response-secret-file", good.to_str().unwrap()],
        "Argon2id",
    );
}

#[test]
fn keepass_rs_fixture_known_answer() {
    let h = Home::new();
    std::fs::write(h.path("pw"), "demopass\n").unwrap();
    std::fs::write(
        h.path("secret"),
        "0102030405060708090a0b0c0d0e0f1011121314\n",
    )
    .unwrap();
    std::fs::write(
        h.path("wrong-secret"),
        "0102030405060708090a0b0c0d0e0f1011121315\n",
    )
    .unwrap();
    only_the_right_secret_opens(&h, Path::new(UPSTREAM), "Argon2d");
}

#[test]
fn kdbx3_databases_refuse_a_challenge_response_key() {
    let h = home();
    let db = h.path("v3.kdbx");
    let pw = std::fs::read_to_string(h.path("pw")).unwrap();
    let pw = pw.trim();
    let mut cmd = Command::new("keepassxc-cli");
    cmd.args(["db-create", "-q", "-p"]).arg(&db);
    let o = cli::run_with_stdin(cmd, Some(&format!("{pw}\n{pw}\n")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let good = h.path("secret");
    let o = verify(
        &h,
        &db,
        &["--challenge-response-secret-file", good.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("only KDBX 4"), "{err}");
}
