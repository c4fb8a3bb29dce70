//! Cross-check against an independent implementation: a Python program using pyca
//! `cryptography`, written here from ASP.NET Core's documented payload format and subkey
//! derivation (not from our code), unprotects our payloads and
//! makes payloads we unprotect. Needs `.ci/install.d/dataprotection.sh`; fails if Python or
//! the package is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, process::Command, sync::Arc};

use trousseau::dataprotection::{
    algorithms::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm},
    keyring::MasterKeySecret,
    manager::{KeyManagementOptions, KeyManager, PlainKeys},
    payload, DataProtector, KeyRingSource,
};
use trousseau_core::abi::{create_repository, RepositoryBox};

fn python() -> PathBuf {
    trousseau_tests::venv_python(".ci/install.d/dataprotection.sh")
}

/// Our payload of `"bonjour de rust"` and the peer's of `"réponse de python"`, each text
/// `repeat` times, read by the other side.
fn cross_check(algorithm: Algorithm, repeat: usize) {
    let d = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({ "directory": d.path() }).to_string();
    let repo = RepositoryBox::new(
        create_repository(&trousseau_filesystem::PLUGIN, "filesystem", &cfg)
            .into_result()
            .unwrap(),
    );
    let opts = KeyManagementOptions {
        algorithm,
        ..Default::default()
    };
    let manager = Arc::new(KeyManager::new(repo, opts, Arc::new(PlainKeys)).unwrap());
    let ring = manager.key_ring().unwrap();
    let id = ring.default_key_id();
    let key = ring.get(&id).unwrap();
    let Ok(desc) = &key.key.descriptor else {
        panic!("descriptor")
    };
    let MasterKeySecret::Plain(master) = &desc.secret else {
        panic!("encrypted")
    };
    use base64::Engine;
    let master_b64 = base64::engine::general_purpose::STANDARD.encode(master.expose());
    // A long non-ASCII purpose exercises the 7-bit length prefix beyond one byte.
    let purposes = vec!["app".to_string(), "é".repeat(100), "cookies".to_string()];
    let protector = DataProtector::new(manager.clone(), purposes.clone());
    let ours = protector
        .protect_str(&"bonjour de rust".repeat(repeat))
        .unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(trousseau_tests::ASPNET_PEER)
        .arg(&master_b64)
        .arg(id.to_string())
        .arg(algorithm.encryption.key_size().to_string())
        .arg(algorithm.validation.name())
        .arg(&ours)
        .args(&purposes)
        .env("PEER_REPLY_REPEAT", repeat.to_string())
        .output()
        .expect("cannot run python");
    assert!(
        out.status.success(),
        "python peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("bonjour de rust".repeat(repeat).as_str()),
        "python could not read our payload"
    );
    let theirs = lines.next().unwrap();
    assert_eq!(
        protector.unprotect_str(theirs).unwrap(),
        "réponse de python".repeat(repeat)
    );
    let wrong = DataProtector::new(manager, vec!["app".into(), "cookies".into()]);
    assert!(wrong
        .unprotect(&payload::from_base64url(theirs).unwrap())
        .is_err());
}

#[test]
fn python_peer_default_algorithm() {
    cross_check(Algorithm::default(), 1);
}

/// About 60 KB each way, an odd number of blocks: the stitched AES-NI + SHA-NI loops of the
/// default pair run over most of it, then the tail and the padding.
#[test]
fn python_peer_default_algorithm_large_payloads() {
    cross_check(Algorithm::default(), 4099);
}

#[test]
fn python_peer_aes128_hmacsha512() {
    cross_check(
        Algorithm {
            encryption: EncryptionAlgorithm::Aes128Cbc,
            validation: ValidationAlgorithm::HmacSha512,
        },
        1,
    );
}

#[test]
fn python_peer_aes192_hmacsha256() {
    cross_check(
        Algorithm {
            encryption: EncryptionAlgorithm::Aes192Cbc,
            validation: ValidationAlgorithm::HmacSha256,
        },
        1,
    );
}
