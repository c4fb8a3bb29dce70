//! The engine as a library on Windows: a ring in a directory, opened through the builder with a
//! `user-account` slot whose user key DPAPI protects (run under Wine by
//! .ci/legs.d/windows-engine.sh).
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use trousseau::{
    providers::{Filesystem, SourceSpec},
    Trousseau,
};

/// The `user-account` source with the DPAPI backend, its protected key file at `key`.
fn dpapi(key: &Path) -> SourceSpec {
    SourceSpec::with_config(
        "user-account",
        &serde_json::json!({"backend": "dpapi", "path": key}).to_string(),
    )
}

fn engine(ring: &Path, key: &Path) -> Trousseau {
    Trousseau::builder()
        .application_name("windows-test")
        .repository(Filesystem::at(ring))
        .unlock_with(dpapi(key))
        .build()
        .unwrap()
}

/// Every `<key>` element of the ring directory, as text.
fn keys(ring: &Path) -> Vec<String> {
    std::fs::read_dir(ring)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|xml| xml.contains("<key "))
        .collect()
}

#[test]
fn a_dpapi_slot_protects_the_ring_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("key-ring");
    let key = dir.path().join("Trousseau").join("ProtectedUserKey.bin");

    let token = {
        let tr = engine(&ring, &key);
        let created = tr.created().expect("the first build creates the ring");
        assert!(created.slot.is_some(), "an encrypted ring has a slot");
        assert_eq!(created.sources.len(), 1, "{:?}", created.sources);
        tr.protector("cookies").protect(b"session 42").unwrap()
    };
    assert!(key.is_file(), "DPAPI-protected user key written");
    assert!(
        std::fs::metadata(&key).unwrap().len() > 32,
        "a DPAPI blob, not a bare key"
    );

    let keys = keys(&ring);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys.iter()
            .all(|xml| !xml.contains("<masterKey") && !xml.contains("unencrypted form")),
        "a key secret is in the clear: {keys:?}"
    );
    assert!(
        std::fs::read_dir(&ring)
            .unwrap()
            .filter_map(|e| e.unwrap().path().file_name()?.to_str().map(str::to_owned))
            .any(|name| name.starts_with("masterKeySlot")),
        "the ring holds its master-key slot"
    );

    // A second engine opens the existing ring through the DPAPI-protected user key.
    let tr = engine(&ring, &key);
    assert!(
        tr.created().is_none(),
        "the ring was opened, not made again"
    );
    assert_eq!(
        tr.protector("cookies").unprotect(&token).unwrap(),
        b"session 42"
    );
    assert!(
        tr.protector("other").unprotect(&token).is_err(),
        "another purpose does not open it"
    );
}

#[test]
fn without_its_dpapi_key_the_ring_stays_shut() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("key-ring");
    let key = dir.path().join("ProtectedUserKey.bin");
    drop(engine(&ring, &key));
    std::fs::remove_file(&key).unwrap();
    let err = Trousseau::builder()
        .repository(Filesystem::at(&ring))
        .unlock_with(dpapi(&key))
        .build()
        .unwrap_err();
    assert!(!err.to_string().is_empty());
}
