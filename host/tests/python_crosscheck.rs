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

const PEER: &str = r#"
import sys, base64, os, struct, uuid
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, Mode, CounterLocation

def b64u_dec(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def b64u_enc(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def kdf(kdk, label, context, length):
    return KBKDFHMAC(algorithm=hashes.SHA512(), mode=Mode.CounterMode, length=length, rlen=4, llen=4,
                     location=CounterLocation.BeforeFixed, label=label, context=context, fixed=None).derive(kdk)

def seven_bit(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80); n >>= 7
    out.append(n); return bytes(out)

def aad(key_guid_bytes, purposes):
    a = bytes([0x09, 0xF0, 0xC9, 0xF0]) + key_guid_bytes + struct.pack(">I", len(purposes))
    for p in purposes:
        u = p.encode("utf-8"); a += seven_bit(len(u)) + u
    return a

def context_header(ks, hash_alg, ds):
    k = kdf(b"", b"", b"", ks + ds)
    enc = Cipher(algorithms.AES(k[:ks]), modes.CBC(bytes(16))).encryptor()
    pad = padding.PKCS7(128).padder()
    block = enc.update(pad.update(b"") + pad.finalize()) + enc.finalize()
    h = hmac.HMAC(k[ks:], hash_alg); mac = h.finalize()
    return b"\x00\x00" + struct.pack(">IIII", ks, 16, ds, ds) + block + mac

def unprotect(master, ks, hash_alg, ds, purposes, text):
    p = b64u_dec(text)
    assert p[:4] == bytes([0x09, 0xF0, 0xC9, 0xF0]), "magic"
    guid = p[4:20]; body = p[20:]
    mod, iv, ct, mac = body[:16], body[16:32], body[32:-ds], body[-ds:]
    k = kdf(master, aad(guid, purposes), context_header(ks, hash_alg, ds) + mod, ks + ds)
    h = hmac.HMAC(k[ks:], hash_alg); h.update(iv + ct); h.verify(mac)
    dec = Cipher(algorithms.AES(k[:ks]), modes.CBC(iv)).decryptor()
    un = padding.PKCS7(128).unpadder()
    return un.update(dec.update(ct) + dec.finalize()) + un.finalize()

def protect(master, key_id, ks, hash_alg, ds, purposes, data):
    guid = uuid.UUID(key_id).bytes_le
    mod, iv = os.urandom(16), os.urandom(16)
    k = kdf(master, aad(guid, purposes), context_header(ks, hash_alg, ds) + mod, ks + ds)
    pad = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(k[:ks]), modes.CBC(iv)).encryptor()
    ct = enc.update(pad.update(data) + pad.finalize()) + enc.finalize()
    h = hmac.HMAC(k[ks:], hash_alg); h.update(iv + ct)
    return b64u_enc(bytes([0x09, 0xF0, 0xC9, 0xF0]) + guid + mod + iv + ct + h.finalize())

master = base64.b64decode(sys.argv[1]); key_id = sys.argv[2]; ks = int(sys.argv[3])
hash_alg, ds = (hashes.SHA256(), 32) if sys.argv[4] == "HMACSHA256" else (hashes.SHA512(), 64)
payload = sys.argv[5]; purposes = sys.argv[6:]
print(unprotect(master, ks, hash_alg, ds, purposes, payload).decode("utf-8"))
print(protect(master, key_id, ks, hash_alg, ds, purposes, "réponse de python".encode("utf-8")))
"#;

fn python() -> PathBuf {
    trousseau_tests::venv_python(".ci/install.d/dataprotection.sh")
}

fn cross_check(algorithm: Algorithm) {
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
    let ours = protector.protect_str("bonjour de rust").unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(PEER)
        .arg(&master_b64)
        .arg(id.to_string())
        .arg(algorithm.encryption.key_size().to_string())
        .arg(algorithm.validation.name())
        .arg(&ours)
        .args(&purposes)
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
        Some("bonjour de rust"),
        "python could not read our payload"
    );
    let theirs = lines.next().unwrap();
    assert_eq!(
        protector.unprotect_str(theirs).unwrap(),
        "réponse de python"
    );
    let wrong = DataProtector::new(manager, vec!["app".into(), "cookies".into()]);
    assert!(wrong
        .unprotect(&payload::from_base64url(theirs).unwrap())
        .is_err());
}

#[test]
fn python_peer_default_algorithm() {
    cross_check(Algorithm::default());
}

#[test]
fn python_peer_aes128_hmacsha512() {
    cross_check(Algorithm {
        encryption: EncryptionAlgorithm::Aes128Cbc,
        validation: ValidationAlgorithm::HmacSha512,
    });
}

#[test]
fn python_peer_aes192_hmacsha256() {
    cross_check(Algorithm {
        encryption: EncryptionAlgorithm::Aes192Cbc,
        validation: ValidationAlgorithm::HmacSha256,
    });
}
