//! Test certificates made with the `openssl` command (installed by
//! `.ci/install.d/dataprotection.sh`), shared by the certificate-key tests and benchmark of
//! the engine and by the CLI's tests.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// A self-signed RSA-2048 certificate `dir/name.crt` with its private key `dir/name.key`
/// (PEM, unencrypted); returns both paths.
pub fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    let subject = format!("/CN=trousseau test {name}");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", &subject, "-keyout", &key, "-out", &crt])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): run .ci/install.d/dataprotection.sh")
        });
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join(crt), dir.join(key))
}
