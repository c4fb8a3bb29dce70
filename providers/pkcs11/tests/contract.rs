//! The key-source contract of the plugin-author kit (`trousseau_core::testkit`), run on both
//! providers of this crate as a host sees them: `pkcs11` against a private SoftHSM2 token
//! (HMAC-SHA256 and AES-CMAC), and `yubikey-recovery` in software.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::SoftHsm;
use trousseau_core::testkit::{key_source::KeySourceContract, Plugin, TempDir};
use trousseau_core::ErrorCode;

fn contract(id: &str) -> KeySourceContract {
    KeySourceContract::new(Plugin::builtin(&trousseau_pkcs11::PLUGIN), id)
}

#[test]
fn softhsm_token_meets_the_key_source_contract() {
    let hsm = SoftHsm::new("trousseau-test");
    for mechanism in ["hmac-sha256", "aes-cmac"] {
        let label = format!("contract-{mechanism}");
        contract("pkcs11")
            .bad_config("{}", ErrorCode::InvalidConfig)
            .bad_config(
                &hsm.config(serde_json::json!({"mechanism": "md5"})),
                ErrorCode::InvalidConfig,
            )
            .bad_config(
                &hsm.config(serde_json::json!({"no_such_option": 1})),
                ErrorCode::InvalidConfig,
            )
            .bad_config(
                &hsm.config(serde_json::json!({"token_label": "no-such-token"})),
                ErrorCode::DeviceAbsent,
            )
            .check(&hsm.config(serde_json::json!({"key_label": label, "mechanism": mechanism})));
    }
}

#[test]
fn yubikey_recovery_meets_the_key_source_contract() {
    let dir = TempDir::new("yubikey-recovery");
    let secret = dir.path().join("slot-secret");
    std::fs::write(&secret, "3132333435363738393031323334353637383930\n").unwrap();
    contract("yubikey-recovery")
        .bad_config(r#"{"secret": 42}"#, ErrorCode::InvalidConfig)
        .bad_config(r#"{"no_such_option": 1}"#, ErrorCode::InvalidConfig)
        .check(&serde_json::json!({"secret": {"file": secret}}).to_string());
}
