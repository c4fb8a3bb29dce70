//! Certificate-protected keys read with the certificate's private key on a PKCS#11 token
//! (`private_key_pkcs11`), SoftHSM2 standing in for the token: keys written by the software
//! path and by xmlsec1 (PKCS#1 v1.5 and OAEP) decrypt on the token, configuration mistakes
//! are configuration errors, and a tampered key is refused like in software.

use super::softhsm::{module, SoftHsm, USER_PIN};
use super::*;

const TOKEN: &str = "trousseau-test";
const PIN_VAR: &str = "TROUSSEAU_TEST_DP_TOKEN_PIN";

/// A SoftHSM2 token holding the private key of `cert` (its `.key` file), labelled `label`.
fn import(hsm: &SoftHsm, cert: &Path, label: &str, id: &str) {
    let key = cert.with_extension("key");
    hsm.util(&[
        "--import",
        key.to_str().unwrap(),
        "--token",
        TOKEN,
        "--label",
        label,
        "--id",
        id,
        "--pin",
        USER_PIN,
    ]);
}

/// `[key_protection]` with `cert` and its private key on the token under `key_label`, the PIN
/// read from `pin_var`, for a filesystem ring in `ring`.
fn config(ring: &Path, cert: &Path, key_label: &str, pin_var: &str) -> Config {
    ring_config(
        ring,
        &format!(
            r#"
            certificate = "{}"
            private_key_pkcs11 = {{ module = "{}", token_label = "{TOKEN}", key_label = "{key_label}", pin_env = "{pin_var}" }}
            "#,
            cert.with_extension("crt").display(),
            module().display(),
        ),
    )
}

fn token_keys(cert: &Path, key_label: &str) -> CertificateKeys {
    std::env::set_var(PIN_VAR, USER_PIN);
    let d = tempfile::tempdir().unwrap();
    CertificateKeys::from_config(&config(d.path(), cert, key_label, PIN_VAR).key_protection)
        .unwrap()
        .unwrap()
}

/// A token holding the private key of a new certificate `a` (label `dp`), and a ring in `d`
/// with one key written for `a` in software, which protected `payload`.
struct Setup {
    a: PathBuf,
    d: tempfile::TempDir,
    payload: Vec<u8>,
    _certs: tempfile::TempDir,
    _hsm: SoftHsm,
}

fn software_key_and_token(plaintext: &[u8]) -> Setup {
    let hsm = SoftHsm::new(TOKEN);
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    import(&hsm, &a, "dp", "01");
    let d = tempfile::tempdir().unwrap();
    let payload = ring(d.path(), CertificateKeys::new(load(&a), vec![]))
        .protector("cookies")
        .protect(plaintext)
        .unwrap();
    Setup {
        a,
        d,
        payload,
        _certs: certs,
        _hsm: hsm,
    }
}

#[test]
fn a_key_written_in_software_is_read_with_the_token() {
    let setup = software_key_and_token(b"software to token");
    let (a, d, payload) = (&setup.a, &setup.d, &setup.payload);
    std::env::set_var(PIN_VAR, USER_PIN);
    let tr = trousseau::Builder::from_config(&config(d.path(), a, "dp", PIN_VAR))
        .unwrap()
        .build()
        .unwrap();
    let opened = master_keys(tr.key_manager());
    assert_eq!(opened.len(), 1);
    assert!(opened[0].1.is_ok(), "{opened:?}");
    let p = tr.protector("cookies");
    assert_eq!(p.unprotect(payload).unwrap(), b"software to token");
    let again = p.protect(b"token ring").unwrap();
    assert_eq!(p.unprotect(&again).unwrap(), b"token ring");
}

/// A key xmlsec1 encrypts with `transport` decrypts on the token (`CKM_RSA_PKCS` or
/// `CKM_RSA_PKCS_OAEP`): the certificate file holds no private key.
fn the_token_reads_xmlsec1(transport: &str) {
    let hsm = SoftHsm::new(TOKEN);
    let certs = tempfile::tempdir().unwrap();
    reads_xmlsec1(certs.path(), transport, &|a| {
        import(&hsm, a, "dp", "01");
        token_keys(a, "dp")
    });
}

#[test]
fn the_token_reads_what_xmlsec1_encrypts_pkcs1_v1_5() {
    the_token_reads_xmlsec1(RSA_1_5);
}

#[test]
fn the_token_reads_what_xmlsec1_encrypts_oaep() {
    the_token_reads_xmlsec1(RSA_OAEP);
}

#[test]
fn token_mistakes_are_configuration_errors() {
    let hsm = SoftHsm::new(TOKEN);
    let certs = tempfile::tempdir().unwrap();
    let a = make_certificate(certs.path(), "a");
    let b = make_certificate(certs.path(), "b");
    import(&hsm, &a, "dp", "01");
    import(&hsm, &b, "other", "02");
    let d = tempfile::tempdir().unwrap();
    std::env::set_var(PIN_VAR, USER_PIN);
    std::env::set_var("TROUSSEAU_TEST_DP_WRONG_PIN", "9999");
    let cases = [
        ("dp", "TROUSSEAU_TEST_DP_WRONG_PIN", "wrong PIN"),
        (
            "dp",
            "TROUSSEAU_TEST_DP_UNSET_PIN",
            "TROUSSEAU_TEST_DP_UNSET_PIN",
        ),
        (
            "missing",
            PIN_VAR,
            "there is no RSA private key with label \"missing\"",
        ),
        ("other", PIN_VAR, "is not the private key of certificate"),
    ];
    for (label, pin_var, expect) in cases {
        let err =
            trousseau::Builder::from_config(&config(d.path(), &a, label, pin_var)).unwrap_err();
        assert!(err.is_configuration(), "{label}: {err}");
        let text = err.to_string();
        assert!(text.contains(expect), "{label}: {text}");
        assert!(text.contains("a.crt"), "{label}: {text}");
        assert!(!text.contains(USER_PIN) && !text.contains("9999"), "{text}");
    }
}

#[test]
fn a_tampered_key_is_refused_by_the_token_like_in_software() {
    let setup = software_key_and_token(b"x");
    let (a, d) = (&setup.a, &setup.d);
    let file = key_files(d.path()).remove(0);
    let good = std::fs::read_to_string(&file).unwrap();
    // The encrypted AES key (the token's PKCS#1 v1.5 padding check fails), then the content.
    for nth in 0..2 {
        let (start, _) = good.match_indices("<CipherValue>").nth(nth).unwrap();
        let start = start + "<CipherValue>".len();
        let end = start + good[start..].find('<').unwrap();
        let mut bytes = unb64(&good[start..end]);
        bytes[40] ^= 1;
        let tampered = format!("{}{}{}", &good[..start], b64(&bytes), &good[end..]);
        std::fs::write(&file, tampered).unwrap();
        let tr = ring(d.path(), token_keys(a, "dp"));
        let opened = master_keys(tr.key_manager());
        let err = opened[0].1.as_ref().unwrap_err();
        assert!(err.contains("altered or damaged"), "{nth}: {err}");
    }
}
