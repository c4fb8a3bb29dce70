//! The key-source contract of the plugin-author kit (`trousseau_core::testkit`), run on this
//! plugin exactly as a host sees it: its `cdylib` built, loaded and ABI-checked, every call
//! through the plugin boundary. This is how a third party tests a plugin.
#![cfg(unix)]
#![allow(clippy::panic)]

use trousseau_core::testkit::{self, key_source::KeySourceContract, Plugin};
use trousseau_core::ErrorCode;

/// The plugin library, built with the test's own profile and loaded once per test.
fn plugin() -> Plugin {
    let path = testkit::cargo_build_plugin(
        &["-p", "trousseau-command-source", "--lib"],
        "trousseau_command_source",
    );
    Plugin::load(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}

fn contract() -> KeySourceContract {
    KeySourceContract::new(plugin(), "command")
        .bad_config("{}", ErrorCode::InvalidConfig)
        .bad_config(r#"{"argv": []}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"argv": "/bin/true"}"#, ErrorCode::InvalidConfig)
        .bad_config(
            r#"{"argv": ["/bin/true"], "no_such_option": 1}"#,
            ErrorCode::InvalidConfig,
        )
        .bad_config(
            r#"{"argv": ["/bin/true"], "encoding": "rot13"}"#,
            ErrorCode::InvalidConfig,
        )
}

fn sh(script: &str, extra: serde_json::Value) -> String {
    let mut config = serde_json::json!({"argv": ["/bin/sh", "-c", script], "timeout_ms": 5000});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    config.to_string()
}

#[test]
fn raw_output_meets_the_key_source_contract() {
    contract().check(&sh(
        "printf 'a key fetched from a vault\\n'",
        serde_json::json!({}),
    ));
}

#[test]
fn direct_hex_key_meets_the_key_source_contract() {
    contract().check(&sh(
        // Computed, so that the key is not in argv (the label shows the program).
        "printf '%064d\\n' 1234",
        serde_json::json!({"encoding": "hex", "direct_key": true}),
    ));
}
