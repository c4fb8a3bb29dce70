// Unix only: process groups detach the binary from the terminal.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `--repository filesystem:aspnet_default=true` puts the ring where ASP.NET Core itself would
//! keep it in the environment the command runs in, and `master-key status` says which of
//! ASP.NET Core's rules applied: Azure App Service (`WEBSITE_INSTANCE_ID` and `HOME`) or the
//! user profile (`HOME` on Unix).

#[path = "support/cli.rs"]
mod cli;

use std::path::Path;

use cli::Home;

const REPOSITORY: &str = "--repository=filesystem:aspnet_default=true";

/// Creates a password ring in ASP.NET Core's default location; returns `master-key status`.
fn init_and_status(h: &Home) -> String {
    let pw = h.path("pw");
    std::fs::write(&pw, "a password for the default location\n").unwrap();
    let pw = pw.to_str().unwrap();
    h.ok(&[
        REPOSITORY,
        "init",
        "--source",
        "password",
        "--password-file",
        pw,
    ]);
    h.ok(&[REPOSITORY, "master-key", "status"])
}

fn has_key_file(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("key-"))
}

#[test]
fn azure_app_service_keeps_the_ring_under_home_asp_net() {
    let mut h = Home::new();
    h.env
        .push(("WEBSITE_INSTANCE_ID".into(), "0123abcd".into()));
    let status = init_and_status(&h);
    let dir = h.dir.path().join("ASP.NET/DataProtection-Keys");
    assert!(has_key_file(&dir), "no key in {}", dir.display());
    assert!(!h.dir.path().join(".aspnet").exists());
    assert!(
        status.contains("Azure App Service"),
        "status does not name the rule:\n{status}"
    );
}

#[test]
fn a_user_profile_on_unix_keeps_the_ring_under_dot_aspnet() {
    let h = Home::new();
    let status = init_and_status(&h);
    let dir = h.dir.path().join(".aspnet/DataProtection-Keys");
    assert!(has_key_file(&dir), "no key in {}", dir.display());
    assert!(
        status.contains("user profile: HOME"),
        "status does not name the rule:\n{status}"
    );
}
