//! The key-source contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! key-file source as a host sees it, for each format it creates.
#![allow(clippy::unwrap_used)]

use trousseau_core::testkit::{key_source::KeySourceContract, Plugin, TempDir};
use trousseau_core::ErrorCode;

fn contract() -> KeySourceContract {
    KeySourceContract::new(Plugin::builtin(&trousseau_keyfile::PLUGIN), "keyfile")
        .bad_config("{}", ErrorCode::InvalidConfig)
        .bad_config(r#"{"path": 5}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"path": "/k", "no_such_option": 1}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"path": "/k", "create": "xml9"}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"path": "/nonexistent/trousseau-contract/key.keyx"}"#,
            ErrorCode::NotFound,
        )
}

#[test]
fn created_key_files_meet_the_key_source_contract() {
    for format in ["xml2", "xml1", "hex", "binary"] {
        let dir = TempDir::new("keyfile");
        let path = dir.path().join("key.keyx");
        contract().check(&serde_json::json!({ "path": path, "create": format }).to_string());
    }
}

#[test]
fn a_hashed_file_meets_the_key_source_contract() {
    let dir = TempDir::new("keyfile-hashed");
    let path = dir.path().join("photo.jpg");
    std::fs::write(
        &path,
        b"any file at all is a key file: its SHA-256 is the key",
    )
    .unwrap();
    contract().check(&serde_json::json!({ "path": path }).to_string());
}
