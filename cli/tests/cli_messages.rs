// Unix only: process groups detach the binary from the terminal (the Windows legs are
// .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Errors that say what to do (issue 14): a forgotten or extra `--time-limited`, a revoked key,
//! an unknown key id to revoke, a missing `--config` file; `init` with a password answer and
//! no sources makes a password slot.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

/// A home with a password ring; returns it and the password file's path.
fn password_ring() -> (Home, String) {
    let h = Home::new();
    let pw = h.path("pw");
    std::fs::write(&pw, "the first password\n").unwrap();
    let pw = pw.to_str().unwrap().to_string();
    h.ok(&["init", "--source", "password", "--password-file", &pw]);
    (h, pw)
}

#[test]
fn a_forgotten_or_extra_time_limited_flag_is_named() {
    let (h, pw) = password_ring();
    let timed = h.ok(&["protect", "--password-file", &pw, "--ttl", "1h", "timed"]);
    let plain = h.ok(&["protect", "--password-file", &pw, "plain"]);
    let err = h.fail(&["unprotect", "--password-file", &pw, timed.trim()]);
    assert!(
        err.contains("time-limited") && err.contains("pass --time-limited"),
        "{err}"
    );
    assert!(!err.contains("does not verify"), "{err}");
    let err = h.fail(&[
        "unprotect",
        "--time-limited",
        "--password-file",
        &pw,
        plain.trim(),
    ]);
    assert!(
        err.contains("not time-limited") && err.contains("without --time-limited"),
        "{err}"
    );
    // A payload for another purpose still gets the generic message.
    let err = h.fail(&[
        "unprotect",
        "--password-file",
        &pw,
        "--purpose",
        "other",
        plain.trim(),
    ]);
    assert!(err.contains("does not verify"), "{err}");
    assert_eq!(
        h.ok(&[
            "unprotect",
            "--time-limited",
            "--password-file",
            &pw,
            timed.trim()
        ]),
        "timed"
    );
}

#[test]
fn a_revoked_key_names_ignore_revocation_and_an_unknown_id_names_keys_list() {
    let (h, pw) = password_ring();
    let payload = h.ok(&["protect", "--password-file", &pw, "x"]);
    let id = h
        .ok(&["keys", "list", "--json", "--password-file", &pw])
        .split("\"id\":")
        .nth(1)
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    h.ok(&["keys", "revoke", &id, "--password-file", &pw]);
    let err = h.fail(&["unprotect", "--password-file", &pw, payload.trim()]);
    assert!(err.contains("--ignore-revocation"), "{err}");
    let unknown = "00000000-0000-4000-8000-000000000001";
    let err = h.fail(&["keys", "revoke", unknown, "--password-file", &pw]);
    assert!(!err.contains("payload"), "{err}");
    assert!(
        err.contains(unknown) && err.contains("not in the key ring") && err.contains("keys list"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_says_the_os_error_once() {
    let h = Home::new();
    let missing = h.path("nope.toml");
    let o = h.run(
        &["--config", missing.to_str().unwrap(), "keys", "list"],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

/// The sources column of each slot in `master-key status`.
fn slot_sources(h: &Home) -> Vec<String> {
    h.ok(&["master-key", "status"])
        .lines()
        .filter_map(|l| l.strip_prefix("slot "))
        .map(|l| l.split_once("sources ").unwrap().1.to_string())
        .collect()
}

#[test]
fn init_with_a_password_answer_and_no_source_makes_a_password_slot() {
    let h = Home::new();
    let pw = h.path("pw");
    std::fs::write(&pw, "the first password\n").unwrap();
    let pw = pw.to_str().unwrap();
    let o = h.run(&["init", "--password-file", pw], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("password slot"), "{err}");
    assert_eq!(slot_sources(&h), ["password"]);
    // The password file is what opens it.
    let payload = h.ok(&["protect", "--password-file", pw, "x"]);
    std::fs::write(h.path("bad"), "another password\n").unwrap();
    h.fail(&[
        "unprotect",
        "--password-file",
        h.path("bad").to_str().unwrap(),
        payload.trim(),
    ]);
    // --password-stdin too.
    let h = Home::new();
    let o = h.run(&["init", "--password-stdin"], Some("the first password\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(slot_sources(&h), ["password"]);
}
