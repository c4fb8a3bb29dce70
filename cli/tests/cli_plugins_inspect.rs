// Unix only: .so plugins and Unix modes (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `trousseau plugins inspect`: a provider id (built-in) shows its kind, summary, origin and
//! configuration help; an existing path is still inspected as a plugin file; anything else is
//! a usage error naming both possibilities and the provider ids.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

#[test]
fn a_builtin_provider_id_shows_its_kind_origin_and_settings() {
    let h = Home::new();
    let out = h.ok(&["plugins", "inspect", "password"]);
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("password (key-source): "), "{out}");
    assert!(out.contains("\norigin: built-in\n"), "{out}");
    assert!(out.contains("\nconfiguration:\n"), "{out}");
    // The provider's own configuration help, indented.
    assert!(out.contains("    {} prompts through the host"), "{out}");

    let out = h.ok(&["plugins", "inspect", "redis"]);
    assert!(out.starts_with("redis (repository): "), "{out}");
    assert!(out.contains("password_env"), "{out}");

    let doc: serde_json::Value =
        serde_json::from_str(&h.ok(&["plugins", "inspect", "--json", "filesystem"])).unwrap();
    // The document of `inspect FILE`: the plugin, and the provider as its only one.
    assert_eq!(doc["path"], serde_json::Value::Null);
    let p = &doc["providers"][0];
    assert_eq!(p["id"], "filesystem");
    assert_eq!(p["kind"], "repository");
    assert_eq!(p["origin"], "built-in");
    assert_eq!(p["builtin"], true);
    assert!(
        p["config_help"].as_str().unwrap().contains("directory"),
        "{doc}"
    );
    assert!(!p["summary"].as_str().unwrap().is_empty(), "{doc}");
}

#[test]
fn an_existing_path_is_inspected_as_a_file_even_when_named_like_a_provider() {
    let h = Home::new();
    let file = h.path("password");
    std::fs::write(&file, b"not a library").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let o = h.run(&["plugins", "inspect", file.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn neither_a_file_nor_a_provider_is_a_usage_error_listing_the_ids() {
    let h = Home::new();
    let o = h.run(&["plugins", "inspect", "mongo"], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "\"mongo\" is neither a plugin file (there is no such file) nor a provider id"
        ),
        "{stderr}"
    );
    for id in ["password", "keyfile", "filesystem", "redis"] {
        assert!(stderr.contains(id), "{id}: {stderr}");
    }
    let o = h.run(&["plugins", "inspect", "/nonexistent/libx.so"], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"/nonexistent/libx.so\" is neither"),
        "{stderr}"
    );
}
