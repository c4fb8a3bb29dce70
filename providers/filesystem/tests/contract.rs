//! The repository contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! filesystem repository as a host sees it: linked in, and loaded from its plugin library.
#![cfg(unix)]
#![allow(clippy::panic)]

use trousseau_core::testkit::{self, repository::RepositoryContract, Plugin, TempDir};
use trousseau_core::ErrorCode;

fn contract(plugin: Plugin) -> RepositoryContract {
    RepositoryContract::new(plugin, "filesystem")
        .bad_config(r#"{"directory": 42}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"no_such_option": true}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"directory": "/tmp/x", "aspnet_default": true}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"directory": "/tmp/x", "shared_group": "no-such-group-trousseau"}"#,
            ErrorCode::InvalidConfig,
        )
        // A world-writable directory is never trusted.
        .bad_config(r#"{"directory": "/tmp"}"#, ErrorCode::InvalidConfig)
}

fn config(dir: &TempDir) -> String {
    serde_json::json!({ "directory": dir.path().join("ring") }).to_string()
}

fn library() -> Plugin {
    let path = testkit::cargo_build_plugin(
        &[
            "-p",
            "trousseau-filesystem",
            "--example",
            "trousseau_filesystem_plugin",
        ],
        "trousseau_filesystem_plugin",
    );
    Plugin::load(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

#[test]
fn builtin_meets_the_repository_contract() {
    let dir = TempDir::new("filesystem");
    contract(Plugin::builtin(&trousseau_filesystem::PLUGIN)).check(&config(&dir));
}

#[test]
fn plugin_library_meets_the_repository_contract() {
    let dir = TempDir::new("filesystem-so");
    contract(library()).check(&config(&dir));
}

#[test]
fn conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let dir = TempDir::new("filesystem-race");
    contract(Plugin::builtin(&trousseau_filesystem::PLUGIN)).check_two_processes(
        &config(&dir),
        "conditional_stores_race_between_two_processes",
    );
}

#[test]
fn plugin_library_conditional_stores_race_between_two_processes() {
    testkit::child_process_entry();
    let dir = TempDir::new("filesystem-so-race");
    contract(library()).check_two_processes(
        &config(&dir),
        "plugin_library_conditional_stores_race_between_two_processes",
    );
}
