// Unix only: process groups detach the binary from the terminal (the Windows legs are
// .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `master-key change` never weakens a ring by surprise: without `--source` the new slot keeps
//! the replaced slot's key source kinds; the plan is printed and confirmed (`--yes` without a
//! terminal), `--dry-run` changes nothing; a weaker `add-slot` is confirmed too.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

/// Runs and requires success; returns stderr.
fn ok_err(h: &Home, args: &[&str]) -> String {
    let o = h.run(args, None);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{args:?} failed: {stderr}");
    stderr
}

/// `args` as the `&str`s that [`Home::run`] takes.
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A password ring made with the password in file `pw-a`; returns that file and `pw-b`,
/// holding another password.
fn password_ring(h: &Home) -> (String, String) {
    let (a, b) = (h.path("pw-a"), h.path("pw-b"));
    std::fs::write(&a, "the first password\n").unwrap();
    std::fs::write(&b, "a second, longer password\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    h.ok(&["init", "--source", "password", "--password-file", a]);
    (a.to_string(), b.to_string())
}

#[test]
fn change_keeps_a_password_slot_and_asks_first() {
    let h = Home::new();
    let (a, b) = password_ring(&h);
    let (a, b) = (a.as_str(), b.as_str());
    assert_eq!(h.slot_sources(), ["password"]);
    let payload = h.ok(&["protect", "--password-file", a, "hello"]);
    let payload = payload.trim();
    let change = |extra: &[&'static str]| {
        let mut args = vec![
            "master-key".to_string(),
            "change".to_string(),
            "--password-file".to_string(),
            a.to_string(),
            "--new-password-file".to_string(),
            b.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // --dry-run: the plan, nothing changed.
    let before = h.ring_snapshot();
    let args = change(&["--dry-run"]);
    let err = ok_err(&h, &refs(&args));
    assert!(
        err.contains("plan: replace master-key slot")
            && err.contains("sources: password → password")
            && err.contains("no rotation")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!err.contains("weaker"), "{err}");
    assert_eq!(h.ring_snapshot(), before);

    // No terminal and no --yes: refused, naming --yes, nothing changed.
    let args = change(&[]);
    let err = h.fail(&refs(&args));
    assert!(err.contains("sources: password → password"), "{err}");
    assert!(
        err.contains("--yes") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(h.ring_snapshot(), before);

    // Another kind is said to be weaker, even with --rotate planned.
    let args = change(&["--source", "user-account", "--rotate", "--dry-run"]);
    let err = ok_err(&h, &refs(&args));
    assert!(
        err.contains("weaker: password → user-account") && err.contains("then: rotate"),
        "{err}"
    );
    assert_eq!(h.ring_snapshot(), before);

    // --yes: the new slot is a password slot again; only the new password opens the ring.
    let args = change(&["--yes"]);
    ok_err(&h, &refs(&args));
    assert_eq!(h.slot_sources(), ["password"]);
    let err = h.fail(&["unprotect", "--password-file", a, payload]);
    assert!(err.contains("wrong key"), "{err}");
    assert_eq!(h.ok(&["unprotect", "--password-file", b, payload]), "hello");
}

#[test]
fn a_weaker_added_slot_is_confirmed() {
    let h = Home::new();
    let a = h.path("pw-a");
    std::fs::write(&a, "the first password\n").unwrap();
    let a = a.to_str().unwrap();
    h.ok(&["init", "--source", "password", "--password-file", a]);
    let kf = format!("keyfile:path={},create=xml2", h.path("k.keyx").display());
    let before = h.ring_snapshot();
    let args = [
        "master-key",
        "add-slot",
        "--password-file",
        a,
        "--source",
        &kf,
    ];
    let err = h.fail(&args);
    assert!(
        err.contains("weaker: password → keyfile") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(h.ring_snapshot(), before);
    assert!(!h.path("k.keyx").exists());
    let mut yes = args.to_vec();
    yes.push("--yes");
    ok_err(&h, &yes);
    assert_eq!(h.slot_sources().len(), 2);
    // Not weaker: no question.
    let both = [
        "master-key",
        "add-slot",
        "--password-file",
        a,
        "--source",
        "password",
        "--source",
        &kf,
    ];
    let err = ok_err(&h, &[&both[..], &["--new-password-file", a]].concat());
    assert!(!err.contains("weaker"), "{err}");
    assert_eq!(h.slot_sources().len(), 3);
}

#[test]
fn change_with_rotate_rewraps_the_new_slot() {
    let h = Home::new();
    let (a, b) = password_ring(&h);
    let (a, b) = (a.as_str(), b.as_str());
    let payload = h.ok(&["protect", "--password-file", a, "kept across the rotation"]);
    let err = ok_err(
        &h,
        &[
            "master-key",
            "change",
            "--password-file",
            a,
            "--new-password-file",
            b,
            "--rotate",
            "--yes",
        ],
    );
    assert!(
        err.contains("rotated the ring-wrapping key to generation 1")
            && err.contains("1 slot(s) re-wrapped"),
        "{err}"
    );
    assert!(!err.contains("dropped"), "{err}");
    // One slot (the new password), in the new generation; old keys still open.
    assert_eq!(h.slot_sources(), ["password"]);
    assert_eq!(
        h.ok(&["unprotect", "--password-file", b, payload.trim()]),
        "kept across the rotation"
    );
    let err = h.fail(&["unprotect", "--password-file", a, payload.trim()]);
    assert!(err.contains("wrong key"), "{err}");
}

#[test]
fn status_before_any_ring_says_there_is_none() {
    let h = Home::new();
    let out = h.ok(&["master-key", "status"]);
    assert!(out.contains("mode: no key ring yet"), "{out}");
    assert!(!out.contains("interop"), "{out}");
}

#[test]
fn a_slot_the_policy_forbids_is_refused_before_the_plan_or_any_question() {
    let h = Home::new();
    let (a, _) = password_ring(&h);
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(
        h.path("cfg/trousseau/config.toml"),
        "[policy]\nforbid = [\"user-account\"]\n",
    )
    .unwrap();
    let before = h.ring_snapshot();
    for command in ["change", "add-slot"] {
        let o = h.run(
            &[
                "master-key",
                command,
                "--password-file",
                &a,
                "--source",
                "user-account",
                "--dry-run",
            ],
            None,
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("must not include a user-account source"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("plan:"), "{command}: {stderr}");
        assert_eq!(h.ring_snapshot(), before, "{command}");
    }
}
