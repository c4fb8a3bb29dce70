//! `yubikey-recovery`: KeePassXC's YubiKey HMAC-SHA1 challenge-response in software.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trousseau_core::{DeriveContext, ErrorCode, KeySource, NoInteraction, SecretBytes};
use trousseau_pkcs11::{
    effective_challenge, parse_secret, yubikey_response, YubikeyRecoverySource,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 2202 test cases 1 and 3 (the two with 20-byte keys, the size of a YubiKey secret).
/// Their messages do not end in the pad value, so the token MACs them unchanged.
#[test]
fn rfc2202_hmac_sha1_vectors() {
    let key1 = SecretBytes::copy_from(&[0x0b; 20]);
    let r = yubikey_response(&key1, b"Hi There").unwrap();
    assert_eq!(r.expose(), hex("b617318655057264e28bc0b6fb378c8ef146be00"));
    let key3 = SecretBytes::copy_from(&[0xaa; 20]);
    let r = yubikey_response(&key3, &[0xdd; 50]).unwrap();
    assert_eq!(r.expose(), hex("125d7342b9ac11cd91a39af48aa17b4f63f175d3"));
}

/// KeePassXC-style: a 32-byte KDF seed is padded with 32 bytes of 0x20, and the token strips
/// them, so the response is HMAC-SHA1(secret, seed) (KeePassXC `ChallengeResponseKey.cpp`;
/// keepass-rs `LocalChallenge`).
/// Expected values from Python's `hmac.new(secret, msg, hashlib.sha1)`.
#[test]
fn keepassxc_seed_vector() {
    let secret = parse_secret(b"3132333435363738393031323334353637383930").unwrap();
    let seed: Vec<u8> = (0u8..32).collect();
    assert_eq!(effective_challenge(&seed).unwrap(), seed);
    let r = yubikey_response(&secret, &seed).unwrap();
    assert_eq!(r.expose(), hex("15cffaa4124df7121727a79739053d9a7a070202"));
}

/// A seed ending in the pad byte 0x20 loses those bytes too (the token cannot tell them from
/// padding): HMAC over the first 30 bytes, not over all 32.
#[test]
fn seed_ending_in_pad_byte_is_stripped_like_the_token_does() {
    let secret = parse_secret(b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let mut seed: Vec<u8> = (0u8..30).collect();
    seed.extend_from_slice(&[0x20, 0x20]);
    assert_eq!(effective_challenge(&seed).unwrap().len(), 30);
    let r = yubikey_response(&secret, &seed).unwrap();
    assert_eq!(r.expose(), hex("24774560e56b1318099effaa906f67e85c733f60"));
    assert_ne!(r.expose(), hex("aed0046a778f9bfd47737b768bca5485e2b9dcc7"));
}

#[test]
fn secret_formats_and_bad_input() {
    let a = parse_secret(b"31323334 35363738 39303132 33343536 37383930\n").unwrap();
    let b = parse_secret(b"gezdgnbvgy3tqojqgezdgnbvgy3tqojq").unwrap();
    assert!(a.ct_eq(b.expose()));
    assert_eq!(a.expose(), b"12345678901234567890");
    for bad in [
        &b"1234"[..],
        b"zz32333435363738393031323334353637383930",
        b"!!!",
    ] {
        assert_eq!(
            parse_secret(bad).unwrap_err().code(),
            ErrorCode::InvalidInput
        );
    }
    let long = vec![0u8; 65];
    let key = SecretBytes::copy_from(&[1; 20]);
    assert_eq!(
        yubikey_response(&key, &long).unwrap_err().code(),
        ErrorCode::InvalidInput
    );
}

#[test]
fn source_reads_the_secret_from_a_file_and_answers_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("yk-secret");
    std::fs::write(&file, "3132333435363738393031323334353637383930\n").unwrap();
    let json = serde_json::json!({"secret": {"file": file}}).to_string();
    let src = YubikeyRecoverySource::from_json(&json).unwrap();
    let seed: Vec<u8> = (0u8..32).collect();
    let (component, params) = src
        .enroll(&DeriveContext::new(&seed, "", "t"), &NoInteraction)
        .unwrap()
        .into_parts();
    assert_eq!(
        component.expose(),
        hex("15cffaa4124df7121727a79739053d9a7a070202")
    );
    let again = src
        .derive(&DeriveContext::new(&seed, &params, "t"), &NoInteraction)
        .unwrap();
    assert!(again.ct_eq(component.expose()));
    // Without a configured source the host is asked; a host that cannot ask says so.
    let err = YubikeyRecoverySource::from_json("{}")
        .unwrap()
        .derive(&DeriveContext::new(&seed, "{}", "t"), &NoInteraction)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NeedsPin);
    let err = YubikeyRecoverySource::from_json(r#"{"secrte": 1}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
}
