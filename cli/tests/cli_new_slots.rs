//! New master-key slots from the command line: the KDF calibrated to `--unlock-time` and
//! shown by `master-key status` with the time it took, the strength estimate of a new
//! password and the confirmation a weak one needs, and recovery keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

/// A password zxcvbn rates strong.
const STRONG: &str = "tulip Cobalt 93 orbit; wander-glass";

/// A home whose password file `pw` holds `password`; weak passwords are not allowed unless
/// `allow_weak`.
fn home(password: &str, allow_weak: bool) -> Home {
    let mut h = Home::new();
    std::fs::write(h.path("pw"), format!("{password}\n")).unwrap();
    h.env.push((
        "TROUSSEAU_ALLOW_WEAK_PASSWORD".into(),
        if allow_weak { "1" } else { "0" }.into(),
    ));
    h
}

fn arg(h: &Home, name: &str) -> String {
    h.path(name).to_str().unwrap().to_string()
}

/// The `slot …` lines of `master-key status`.
fn slot_lines(h: &Home) -> Vec<String> {
    h.ok(&["master-key", "status"])
        .lines()
        .filter(|l| l.starts_with("slot "))
        .map(str::to_string)
        .collect()
}

/// (memory MiB, passes) of a status line's `kdf Argon2id N MiB, t=T, p=P`.
fn argon2_cost(line: &str) -> (u32, u32) {
    let kdf = line.split_once("kdf Argon2id ").unwrap().1;
    let memory = kdf.split_once(" MiB, t=").unwrap();
    let passes = memory.1.split_once(',').unwrap().0;
    (memory.0.parse().unwrap(), passes.parse().unwrap())
}

#[test]
fn new_slots_are_calibrated_within_bounds_and_status_shows_the_kdf_and_its_time() {
    let h = home(STRONG, false);
    let pw = arg(&h, "pw");
    let out = h.run(
        &["init", "--password-file", &pw, "--unlock-time", "0.05"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("new password strength: strong"), "{err}");
    std::fs::write(h.path("pw2"), format!("{STRONG} two\n")).unwrap();
    h.ok(&[
        "master-key",
        "add-slot",
        "--source",
        "password",
        "--password-file",
        &pw,
        "--new-password-file",
        &arg(&h, "pw2"),
        "--unlock-time",
        "0.4",
    ]);
    let lines = slot_lines(&h);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        let (memory, passes) = argon2_cost(line);
        // The floor (19 MiB, 2 passes) and the default ceilings (256 MiB, 8 passes).
        assert!((19..=256).contains(&memory), "{line}");
        assert!((2..=8).contains(&passes), "{line}");
        assert!(
            line.contains("s (measured when the slot was made)"),
            "{line}"
        );
        assert!(line.contains("  sources password"), "{line}");
    }
    // Both slots open (the ring's password opens the first).
    let payload = h.ok(&["protect", "--password-file", &pw, "hello"]);
    assert_eq!(
        h.ok(&[
            "unprotect",
            "--password-file",
            &arg(&h, "pw2"),
            payload.trim()
        ]),
        "hello"
    );
    // Out of range: a usage error saying what to give.
    let o = h.run(
        &["init", "--password-file", &pw, "--unlock-time", "0"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--unlock-time") && err.contains("above 0"),
        "{err}"
    );
}

#[test]
fn a_weak_password_needs_a_confirmation_that_cannot_be_given_without_a_terminal() {
    let h = home("abc", false);
    let pw = arg(&h, "pw");
    let o = h.run(&["init", "--password-file", &pw], None);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the new password is very weak (zxcvbn score 0 of 4"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(err.contains("--allow-weak-password"), "{err}");
    assert!(h.ring_snapshot().is_empty(), "no ring was made");

    // --allow-weak-password: used, with the warning.
    let o = h.run(
        &["init", "--password-file", &pw, "--allow-weak-password"],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("very weak"));

    // --yes never asks, so it refuses a weak password too.
    let before = h.ring_snapshot();
    let o = h.run(
        &[
            "master-key",
            "add-slot",
            "--source",
            "password",
            "--password-file",
            &pw,
            "--new-password-file",
            &pw,
            "--yes",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("weak") && err.contains("--allow-weak-password"),
        "{err}"
    );
    assert_eq!(h.ring_snapshot(), before);
}

#[test]
fn a_policy_still_refuses_a_weak_password_that_is_allowed() {
    let h = home("abc", true);
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(
        h.path("cfg/trousseau/config.toml"),
        "[policy]\nminimum_length = 8\n",
    )
    .unwrap();
    let o = h.run(
        &[
            "init",
            "--password-file",
            &arg(&h, "pw"),
            "--allow-weak-password",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the minimum is 8"), "{err}");
}

#[test]
fn a_recovery_key_opens_the_ring_alone_and_a_typo_is_caught_before_any_kdf() {
    let h = home(STRONG, false);
    let pw = arg(&h, "pw");
    h.ok(&["init", "--password-file", &pw]);
    let payload = h.ok(&["protect", "--password-file", &pw, "kept safe"]);
    let payload = payload.trim();

    let o = h.run(
        &[
            "master-key",
            "add-slot",
            "--recovery-key",
            "--password-file",
            &pw,
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let key = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let groups: Vec<&str> = key.split('-').collect();
    assert_eq!(groups.len(), 9, "{key}");
    assert!(groups
        .iter()
        .all(|g| g.len() == 8 && g.chars().all(|c| "cbdefghijklnrtuv".contains(c))));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("shown only this once"), "{err}");
    let recovery = slot_lines(&h)
        .into_iter()
        .find(|l| l.contains("label \"recovery key\""))
        .unwrap();
    assert_eq!(argon2_cost(&recovery), (19, 2), "the cheap KDF: {recovery}");

    // Only the recovery key, typed in upper case with spaces: the payload opens.
    std::fs::write(h.path("key"), key.to_uppercase().replace('-', " ")).unwrap();
    assert_eq!(
        h.ok(&[
            "unprotect",
            "--use-recovery-key",
            "--password-file",
            &arg(&h, "key"),
            payload
        ]),
        "kept safe"
    );

    // One letter wrong: the checksum says so, and no slot is tried.
    let wrong = if key.starts_with('c') { 'b' } else { 'c' };
    std::fs::write(h.path("typo"), format!("{wrong}{}", &key[1..])).unwrap();
    let o = h.run(
        &[
            "unprotect",
            "--use-recovery-key",
            "--password-file",
            &arg(&h, "typo"),
            payload,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("typo") && err.contains("checksum"), "{err}");
    assert!(!err.contains("slot"), "nothing was tried: {err}");
}
