//! The `pkcs11` source against a real SoftHSM2 token (private configuration per test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::SoftHsm;
use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction, SecretBytes};
use trousseau_pkcs11::{Pkcs11Config, Pkcs11Source, PublicParams};

const SEED: &[u8] = b"0123456789abcdef0123456789abcdef";

fn source(json: &str) -> Pkcs11Source {
    Pkcs11Source::new(Pkcs11Config::parse(json).unwrap())
}

fn enroll(src: &Pkcs11Source) -> (SecretBytes, String) {
    src.enroll(&DeriveContext::new(SEED, "", "test"), &NoInteraction)
        .unwrap()
        .into_parts()
}

/// The error enrolling a source configured with `json` ends in.
fn enroll_error(json: &str) -> trousseau_core::Error {
    source(json)
        .enroll(&DeriveContext::new(SEED, "", "t"), &NoInteraction)
        .unwrap_err()
}

fn derive(src: &Pkcs11Source, params: &str, seed: &[u8]) -> trousseau_core::Result<SecretBytes> {
    src.derive(&DeriveContext::new(seed, params, "test"), &NoInteraction)
}

#[test]
fn enroll_creates_a_non_extractable_key_and_derive_matches() {
    let hsm = SoftHsm::new("trousseau-test");
    let src = source(&hsm.config(serde_json::json!({"key_label": "ring"})));
    let (component, params) = enroll(&src);
    assert_eq!(component.len(), 32);
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.token_label, "trousseau-test");
    assert!(!p.token_serial.is_empty());
    assert_eq!(p.key_label, "ring");
    assert_eq!(p.key_id.len(), 16);
    assert_eq!(p.mechanism.as_str(), "hmac-sha256");
    assert!(derive(&src, &params, SEED)
        .unwrap()
        .ct_eq(component.expose()));
    let other = derive(&src, &params, b"another seed").unwrap();
    assert!(!other.ct_eq(component.expose()));
    // OpenSC sees a sensitive, never-extractable secret key on the token.
    let listing = hsm.tool(&[
        "--token-label",
        "trousseau-test",
        "--login",
        "--pin",
        support::USER_PIN,
        "--list-objects",
    ]);
    assert!(listing.contains("ring"), "{listing}");
    assert!(listing.contains("never extractable"), "{listing}");
    assert!(listing.contains("sensitive"), "{listing}");
    // Enrolling again binds to the existing key: same component.
    let (again, _) = enroll(&src);
    assert!(again.ct_eq(component.expose()));
}

#[test]
fn aes_cmac_alternative_is_stable() {
    let hsm = SoftHsm::new("trousseau-test");
    let src =
        source(&hsm.config(serde_json::json!({"mechanism": "aes-cmac", "key_label": "cmac"})));
    let (component, params) = enroll(&src);
    assert_eq!(component.len(), 16);
    assert!(derive(&src, &params, SEED)
        .unwrap()
        .ct_eq(component.expose()));
}

#[test]
fn existing_key_is_used_by_label() {
    let hsm = SoftHsm::new("trousseau-test");
    // Created with OpenSC, not by us.
    hsm.tool(&[
        "--token-label",
        "trousseau-test",
        "--login",
        "--pin",
        support::USER_PIN,
        "--keygen",
        "--key-type",
        "GENERIC:32",
        "--label",
        "made-by-opensc",
        "--id",
        "a1b2",
        "--sensitive",
        "--usage-sign",
    ]);
    let src = source(&hsm.config(serde_json::json!({"key_label": "made-by-opensc"})));
    let (component, params) = enroll(&src);
    let p = PublicParams::parse(&params).unwrap().unwrap();
    assert_eq!(p.key_id, "a1b2");
    assert!(derive(&src, &params, SEED)
        .unwrap()
        .ct_eq(component.expose()));
}

#[test]
fn wrong_pin_and_missing_pin_have_their_own_codes() {
    let hsm = SoftHsm::new("trousseau-test");
    let (_, params) = enroll(&source(&hsm.config(serde_json::json!({}))));
    std::fs::write(&hsm.pin_file, "0000").unwrap();
    let err = derive(&source(&hsm.config(serde_json::json!({}))), &params, SEED).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongPin, "{err}");
    // No PIN source and a host that cannot ask.
    let no_pin = serde_json::json!({"module": support::module()}).to_string();
    let err = derive(&source(&no_pin), &params, SEED).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NeedsPin, "{err}");
    let err = derive(
        &source(&hsm.config(serde_json::json!({"pin": {"env": "TROUSSEAU_TEST_NO_SUCH_VAR"}}))),
        &params,
        SEED,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NeedsPin, "{err}");
}

#[test]
fn removed_token_is_device_absent() {
    let hsm = SoftHsm::new("trousseau-test");
    let src = source(&hsm.config(serde_json::json!({})));
    let (_, params) = enroll(&src);
    hsm.remove_tokens();
    let err = derive(&src, &params, SEED).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeviceAbsent, "{err}");
    assert!(err.message().contains("token absent"), "{err}");
    // A re-initialized token with the same label is another token (another serial).
    hsm.util(&[
        "--init-token",
        "--free",
        "--label",
        "trousseau-test",
        "--so-pin",
        "5678",
        "--pin",
        "1234",
    ]);
    let err = derive(&src, &params, SEED).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeviceAbsent, "{err}");
}

#[test]
fn deleted_key_is_not_found() {
    let hsm = SoftHsm::new("trousseau-test");
    let src = source(&hsm.config(serde_json::json!({"key_label": "gone"})));
    let (_, params) = enroll(&src);
    hsm.tool(&[
        "--token-label",
        "trousseau-test",
        "--login",
        "--pin",
        support::USER_PIN,
        "--delete-object",
        "--type",
        "secrkey",
        "--label",
        "gone",
    ]);
    let err = derive(&src, &params, SEED).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    assert!(err.message().contains("key not found"), "{err}");
}

#[test]
fn key_of_the_wrong_type_under_the_label_is_refused() {
    let hsm = SoftHsm::new("trousseau-test");
    enroll(&source(&hsm.config(
        serde_json::json!({"mechanism": "aes-cmac", "key_label": "k"}),
    )));
    let err = enroll_error(&hsm.config(serde_json::json!({"key_label": "k"})));
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err}");
    assert!(err.message().contains("needs a"), "{err}");
}

#[test]
fn short_hmac_key_length_is_refused_before_touching_the_token() {
    let hsm = SoftHsm::new("trousseau-test");
    let err = enroll_error(&hsm.config(serde_json::json!({"key_length": 16})));
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err}");
    assert!(err.message().contains("32 bytes"), "{err}");
}

#[test]
fn a_file_that_is_not_a_pkcs11_module_is_a_clear_error() {
    let hsm = SoftHsm::new("trousseau-test");
    let text = hsm.dir.path().join("not-a-module.so");
    std::fs::write(&text, "hello").unwrap();
    let mut candidates = vec![text];
    // A real shared library without C_GetFunctionList.
    for libz in [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
    ] {
        if std::path::Path::new(libz).exists() {
            candidates.push(libz.into());
            break;
        }
    }
    assert_eq!(candidates.len(), 2, "libz not found");
    for module in candidates {
        let json = serde_json::json!({"module": module}).to_string();
        let err = enroll_error(&json);
        assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err}");
        assert!(err.message().contains("is not a PKCS#11 module"), "{err}");
    }
    let json = serde_json::json!({"module": "/nonexistent/libp11.so"}).to_string();
    let err = enroll_error(&json);
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{err}");
}
