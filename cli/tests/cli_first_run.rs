// Unix only: the support module's process groups.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The first use of the tool: one message saying where the new key ring is, what opens it,
//! which backend keeps the user key (and why a plain file), and the backup advice once.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

/// The lines `protect` wrote on standard error.
fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn first_protect_says_once_where_the_user_key_is_why_a_plain_file_and_to_back_it_up() {
    let mut h = Home::new();
    // No session bus, so no Secret Service: the user key goes to a plain file.
    h.env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), String::new()));
    let out = h.run(&["protect"], Some("hello"));
    assert!(out.status.success(), "{out:?}");
    let lines = stderr_lines(&out);
    let key = h.path("data/trousseau/user-account.key");
    assert_eq!(
        lines,
        [
            format!(
                "created a new key ring {}, opened by user-account; the user key is kept in a \
                 plain file, {} (no Secret Service: DBUS_SESSION_BUS_ADDRESS is not set, so \
                 there is no D-Bus session bus)",
                h.ring().display(),
                key.display()
            ),
            "back up the user key with `trousseau user-account export FILE` \
             (passphrase-protected) and keep the copy somewhere safe: without it the ring \
             cannot be opened"
                .to_string(),
        ]
    );
    assert!(key.is_file());

    // Later uses say nothing.
    let out = h.run(&["protect"], Some("again"));
    assert!(out.status.success(), "{out:?}");
    assert!(stderr_lines(&out).is_empty(), "{out:?}");
}

#[test]
fn first_protect_with_a_password_says_what_opens_the_ring_once() {
    let mut h = Home::new();
    h.env
        .push(("RING_PW".into(), "a long enough ring password".into()));
    let out = h.run(&["protect", "--password-env", "RING_PW"], Some("hello"));
    assert!(out.status.success(), "{out:?}");
    let lines = stderr_lines(&out);
    let created: Vec<&String> = lines.iter().filter(|l| l.contains("created")).collect();
    assert_eq!(
        created,
        [&format!(
            "created a new key ring {}, opened by password",
            h.ring().display()
        )],
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("without the password"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("user key")), "{lines:?}");
}

#[test]
fn init_says_the_same_two_lines_as_a_first_protect() {
    let mut h = Home::new();
    h.env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), String::new()));
    let out = h.run(&["init"], None);
    assert!(out.status.success(), "{out:?}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "created a new key ring {}, opened by user-account; the user key is kept in a \
             plain file",
            h.ring().display()
        )),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("back up the user key"), "{lines:?}");
}
