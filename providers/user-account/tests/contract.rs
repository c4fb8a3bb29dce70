//! The key-source contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! user-account source as a host sees it, with the file backend (a private temp directory:
//! the contract never touches the session's Secret Service or the user's real key).
#![cfg(unix)]

use trousseau_core::testkit::{key_source::KeySourceContract, Plugin, TempDir};
use trousseau_core::ErrorCode;

fn contract() -> KeySourceContract {
    KeySourceContract::new(
        Plugin::builtin(&trousseau_user_account::PLUGIN),
        "user-account",
    )
    .bad_config(r#"{"backend": "carrier-pigeon"}"#, ErrorCode::InvalidConfig)
    .bad_config(
        r#"{"backend": "file", "path": 5}"#,
        ErrorCode::InvalidConfig,
    )
    .bad_config(r#"{"no_such_option": true}"#, ErrorCode::InvalidConfig)
}

#[test]
fn file_backend_meets_the_key_source_contract() {
    let dir = TempDir::new("user-account");
    let path = dir.path().join("sub").join("user-account.key");
    contract().check(&serde_json::json!({"backend": "file", "path": path}).to_string());
}
