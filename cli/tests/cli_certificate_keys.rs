//! `[key_protection]` in the configuration file: the tool writes keys encrypted for the
//! certificate (ASP.NET Core's `ProtectKeysWithCertificate` form), reads them back, keeps old
//! keys readable through `unprotect_certificates`, and refuses an unusable certificate as a
//! configuration error. Certificates are made with the `openssl` command
//! (`.ci/install.d/dataprotection.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../host/tests/support/certificates.rs"]
mod certificates;
#[path = "support/cli.rs"]
mod support;

use std::path::Path;

use support::Home;

fn certificate(dir: &Path, name: &str) -> String {
    certificates::self_signed(dir, name).0.display().to_string()
}

fn configure(home: &Home, current: &str, older: &[&str]) {
    let key = |c: &str| c.replace(".crt", ".key");
    let older: Vec<String> = older
        .iter()
        .map(|c| format!("{{ path = \"{c}\", private_key = \"{}\" }}", key(c)))
        .collect();
    std::fs::create_dir_all(home.path("cfg/trousseau")).unwrap();
    std::fs::write(
        home.path("cfg/trousseau/config.toml"),
        format!(
            "[key_protection]\ncertificate = \"{current}\"\nprivate_key = \"{}\"\nunprotect_certificates = [{}]\n",
            key(current),
            older.join(", ")
        ),
    )
    .unwrap();
}

fn key_files(home: &Home) -> Vec<String> {
    std::fs::read_dir(home.ring())
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn certificate_protected_ring_from_the_configuration_file() {
    let home = Home::new();
    let a = certificate(home.dir.path(), "a");
    let b = certificate(home.dir.path(), "b");
    configure(&home, &a, &[]);
    let payload = home.run(&["protect"], Some("secret")).stdout;
    let payload = String::from_utf8(payload).unwrap().trim().to_string();
    assert!(!payload.is_empty());
    let keys = key_files(&home);
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].contains("XmlEncryption.EncryptedXmlDecryptor"),
        "{}",
        keys[0]
    );
    assert!(!keys[0].contains("<value>"), "{}", keys[0]);
    assert_eq!(home.run(&["unprotect"], Some(&payload)).stdout, b"secret");
    let status = String::from_utf8(home.run(&["master-key", "status"], None).stdout).unwrap();
    assert!(
        status.contains("mode: interop (new keys encrypted for the [key_protection] certificate"),
        "{status}"
    );

    // B writes from now on; A still reads the old key.
    configure(&home, &b, &[&a]);
    assert_eq!(home.run(&["unprotect"], Some(&payload)).stdout, b"secret");
    // B alone cannot.
    configure(&home, &b, &[]);
    let o = home.run(&["unprotect"], Some(&payload));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unprotect_certificates"));

    // A certificate whose key does not match is a configuration error (exit 2).
    std::fs::copy(home.dir.path().join("a.key"), home.dir.path().join("b.key")).unwrap();
    let o = home.run(&["protect"], Some("x"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[key_protection]") && err.contains("does not belong"),
        "{err}"
    );
    // A certificate with interop switched off contradicts itself: refused, not overridden.
    configure(&home, &a, &[]);
    let config = home.path("cfg/trousseau/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[data_protection]\ninterop = false\n");
    std::fs::write(&config, text).unwrap();
    let o = home.run(&["unprotect"], Some(&payload));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("interop = false"), "{err}");
}
