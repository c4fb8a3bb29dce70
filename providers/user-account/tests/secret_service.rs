//! The Secret Service backend against a real gnome-keyring on a private D-Bus session.
//!
//! Each test re-executes this test binary (only itself) under `dbus-run-session` with a fresh
//! HOME, after starting and unlocking `gnome-keyring-daemon` there. The outer run asserts that
//! the inner run passed; the inner run (marked by `TROUSSEAU_SS_INNER`) does the checks. A
//! missing `dbus-run-session` or a daemon that cannot start fails the test.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction};
use trousseau_user_account::{PublicParams, UserAccountConfig, UserAccountSource, USER_KEY_LEN};

const INNER: &str = "TROUSSEAU_SS_INNER";

/// Runs test `name` of this binary inside a fresh D-Bus session with an unlocked
/// gnome-keyring (or, for `bus = false`, with an unreachable bus) and asserts it passed.
fn run_inner(name: &str, bus: bool) {
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if bus {
        let mut c = Command::new("dbus-run-session");
        c.args([
            "--",
            "sh",
            "-c",
            "echo test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
             || { echo 'gnome-keyring-daemon could not start' >&2; exit 97; }; \
             exec \"$0\" --exact \"$1\" --nocapture --test-threads=1",
        ]);
        c.arg(&exe).arg(name);
        c
    } else {
        let mut c = Command::new(&exe);
        c.args(["--exact", name, "--nocapture"]);
        c.env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-such-bus", runtime.display()),
        );
        c
    };
    cmd.env(INNER, "1")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env_remove("DISPLAY");
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run dbus-run-session (install dbus; see .ci/install.d/hwsources.sh): {e}")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "inner run of {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn inner() -> bool {
    std::env::var_os(INNER).is_some()
}

fn source(json: serde_json::Value) -> UserAccountSource {
    UserAccountSource::new(UserAccountConfig::parse(&json.to_string()).unwrap())
}

#[test]
fn secret_service_enroll_derive_and_refusals() {
    if !inner() {
        return run_inner("secret_service_enroll_derive_and_refusals", true);
    }
    let ss = source(
        serde_json::json!({"backend": "secret-service", "service": "trousseau-test", "account": "alice"}),
    );
    let ctx = DeriveContext::new(b"seed", "", "test");
    // Nothing stored yet: an error naming the item, and nothing is created.
    let err = ss.derive(&ctx, &NoInteraction).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    assert!(
        err.message()
            .contains("service=trousseau-test username=alice"),
        "{err}"
    );
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "trousseau-test", "username", "alice"])
        .output()
        .unwrap();
    assert!(!lookup.status.success(), "an item was created by a read");

    let (key, params) = ss.enroll(&ctx, &NoInteraction).unwrap().into_parts();
    assert_eq!(key.len(), USER_KEY_LEN);
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.backend.as_str(), "secret-service");
    let again = ss
        .derive(
            &DeriveContext::new(b"seed", &params, "test"),
            &NoInteraction,
        )
        .unwrap();
    assert!(again.ct_eq(key.expose()));
    // The real daemon holds the item (seen through libsecret's own tool).
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "trousseau-test", "username", "alice"])
        .output()
        .unwrap();
    assert!(lookup.status.success());
    assert_eq!(lookup.stdout.len(), USER_KEY_LEN);
    assert_eq!(lookup.stdout, key.expose());

    // A truncated item is corrupt, not replaced.
    let mut store = Command::new("secret-tool")
        .args([
            "store",
            "--label=short",
            "service",
            "trousseau-test",
            "username",
            "bob",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut store.stdin.take().unwrap(), b"0123456789").unwrap();
    assert!(store.wait().unwrap().success());
    let bob = source(
        serde_json::json!({"backend": "secret-service", "service": "trousseau-test", "account": "bob"}),
    );
    let err = bob.enroll(&ctx, &NoInteraction).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CorruptData, "{err}");

    // With no key file and a reachable service, the automatic choice is the Secret Service.
    let auto = source(serde_json::json!({}));
    let (_, params) = auto.enroll(&ctx, &NoInteraction).unwrap().into_parts();
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.backend.as_str(), "secret-service", "{params}");
    // The recorded backend is used on derive.
    auto.derive(
        &DeriveContext::new(b"seed", &params, "test"),
        &NoInteraction,
    )
    .unwrap();
}

#[test]
fn secret_service_absent_is_unavailable_and_suggests_the_file_backend() {
    if !inner() {
        return run_inner(
            "secret_service_absent_is_unavailable_and_suggests_the_file_backend",
            false,
        );
    }
    let ss = source(serde_json::json!({"backend": "secret-service"}));
    let err = ss
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
    assert!(err.message().contains("\"backend\": \"file\""), "{err}");
    // The automatic choice falls back to the file backend.
    let auto = source(serde_json::json!({}));
    let (_, params) = auto
        .enroll(&DeriveContext::default(), &NoInteraction)
        .unwrap()
        .into_parts();
    assert_eq!(
        PublicParams::parse(&params)
            .unwrap()
            .unwrap()
            .backend
            .as_str(),
        "file"
    );
}
