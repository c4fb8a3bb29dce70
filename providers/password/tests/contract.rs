//! The key-source contract of the plugin-author kit (`trousseau_core::testkit`), run on the
//! password source as a host sees it: from a file, from the environment, and by prompting.
#![allow(clippy::unwrap_used)]

use trousseau_core::testkit::{
    key_source::KeySourceContract, Plugin, ScriptedInteraction, TempDir,
};
use trousseau_core::ErrorCode;

fn contract() -> KeySourceContract {
    KeySourceContract::new(Plugin::builtin(&trousseau_password::PLUGIN), "password")
        .bad_config(r#"{"env": 5}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"no_such_option": true}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"env": "A", "file": "/etc/hostname"}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"env": "TROUSSEAU_CONTRACT_NO_SUCH_VARIABLE"}"#,
            ErrorCode::NotFound,
        )
        .bad_config(
            r#"{"file": "/nonexistent/trousseau-contract/password"}"#,
            ErrorCode::NotFound,
        )
}

#[test]
fn from_a_file_meets_the_key_source_contract() {
    let dir = TempDir::new("password");
    let file = dir.path().join("password");
    std::fs::write(&file, "correct horse battery staple\n").unwrap();
    contract().check(&serde_json::json!({ "file": file }).to_string());
}

#[test]
fn from_the_environment_meets_the_key_source_contract() {
    // Set once, before anything reads it; no other test of this binary touches it.
    std::env::set_var("TROUSSEAU_CONTRACT_PASSWORD", "pässwörd");
    contract().check(r#"{"env": "TROUSSEAU_CONTRACT_PASSWORD"}"#);
}

#[test]
fn by_prompting_meets_the_key_source_contract() {
    contract()
        .interaction(ScriptedInteraction::new().with_secret(b"typed at the prompt"))
        .check("{}");
}
