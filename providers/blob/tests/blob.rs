//! The blob repository against real emulators: Azurite (Azure Blob) and moto (S3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Backend;
use trousseau_blob::{BlobConfig, BlobRepository};
use trousseau_core::{Element, ErrorCode, Repository};
use trousseau_tests::fixtures::{
    key_element, key_id, key_xml, key_xml_indented, mass_revocation_xml, revocation_xml,
    store_and_read_back,
};
use trousseau_tests::free_port;

/// The bytes ASP.NET Core's AzureBlobXmlRepository uploads for these elements.
fn asp_net_document(elements: &[String]) -> Vec<u8> {
    let mut doc = String::from("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><repository>");
    for e in elements {
        doc.push_str(e);
    }
    doc.push_str("</repository>");
    doc.into_bytes()
}

fn round_trip(b: Backend) {
    let repo = b.repo();
    let snapshot = store_and_read_back(&repo);
    assert!(
        snapshot.version().starts_with('"'),
        "an ETag: {}",
        snapshot.version()
    );
    // A second repository (another node) sees the same ring and version.
    assert_eq!(b.repo().load().unwrap(), snapshot);
    assert!(repo.describe().location().contains("ring/keys.xml"));
}

fn asp_net_layout_both_ways(b: Backend) {
    // Read what ASP.NET writes (its serialisation, and a hand-indented variant).
    b.put_raw(&asp_net_document(&[
        key_xml(&key_id(7)),
        mass_revocation_xml(),
    ]));
    let loaded = b.repo().load().unwrap();
    assert_eq!(loaded.elements()[0], key_element(7));
    assert_eq!(loaded.elements()[1].xml(), mass_revocation_xml());
    let indented = format!(
        "<repository>\n  {}\n</repository>\n",
        key_xml_indented(&key_id(8))
    );
    b.put_raw(indented.as_bytes());
    assert_eq!(b.repo().load().unwrap().elements(), &[key_element(8)][..]);

    // Write exactly what ASP.NET reads: the same bytes it would have uploaded itself.
    b.put_raw(&asp_net_document(&[key_xml(&key_id(8))]));
    let repo = b.repo();
    repo.store(&Element::new("rev", revocation_xml(&key_id(8))))
        .unwrap();
    assert_eq!(
        b.get_raw(),
        asp_net_document(&[key_xml(&key_id(8)), revocation_xml(&key_id(8))])
    );
}

fn conditional_store(b: Backend) {
    let repo = b.repo();
    let v0 = repo.load().unwrap().version().to_string();
    assert_eq!(v0, trousseau_blob::ABSENT);
    let v1 = repo.store_conditional(&v0, &[key_element(1)]).unwrap();
    assert_eq!(repo.load().unwrap().version(), v1);
    // A node that also read "absent" loses.
    let other = b.repo();
    let err = other.store_conditional(&v0, &[key_element(2)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
    // An ASP.NET node's plain upload moves the ETag.
    b.put_raw(&asp_net_document(&[
        key_xml(&key_id(1)),
        key_xml(&key_id(9)),
    ]));
    assert_eq!(
        repo.store_conditional(&v1, &[key_element(2)])
            .unwrap_err()
            .code(),
        ErrorCode::Conflict
    );
    let now = other.load().unwrap();
    let v3 = other
        .store_conditional(now.version(), &[key_element(2)])
        .unwrap();
    let last = repo.load().unwrap();
    assert_eq!(last.version(), v3);
    assert_eq!(
        last.elements(),
        &[key_element(1), key_element(9), key_element(2)][..]
    );
}

fn deletion(b: Backend) {
    let repo = b.repo();
    for e in [
        key_element(1),
        key_element(2),
        Element::new("r", revocation_xml(&key_id(1))),
    ] {
        repo.store(&e).unwrap();
    }
    let before = repo.load().unwrap();
    repo.delete(&[
        format!("key-{}", key_id(1)),
        format!("revocation-{}", key_id(1)),
    ])
    .unwrap();
    let after = b.repo().load().unwrap();
    assert_eq!(after.elements(), &[key_element(2)][..]);
    assert_ne!(after.version(), before.version());
    assert_eq!(b.get_raw(), asp_net_document(&[key_xml(&key_id(2))]));
}

fn racing_writers_all_land_or_are_reported(b: Backend) {
    let results: Vec<(usize, Result<(), trousseau_core::Error>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let repo = b.repo();
                s.spawn(move || {
                    (0..3)
                        .map(|i| (t * 10 + i, repo.store(&key_element(t * 10 + i))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut stored: Vec<String> = Vec::new();
    for (n, result) in &results {
        match result {
            Ok(()) => stored.push(key_element(*n).name().to_string()),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Conflict, "{e:?}");
                assert!(e.message().contains("5 attempts"), "{}", e.message());
            }
        }
    }
    let mut names: Vec<String> = b
        .repo()
        .load()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    names.sort();
    stored.sort();
    assert_eq!(
        names, stored,
        "every reported success is stored, nothing else"
    );
    assert!(
        stored.len() >= 6,
        "retries let most writers through: {}",
        stored.len()
    );
}

fn server_killed_then_restarted(mut b: Backend) {
    let repo = b.repo();
    repo.store(&key_element(1)).unwrap();
    b.kill();
    for err in [
        repo.load().unwrap_err(),
        repo.store(&key_element(2)).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::Unavailable, "{err:?}");
        assert!(
            err.message().contains("ring/keys.xml") && err.message().contains("127.0.0.1"),
            "{}",
            err.message()
        );
    }
    b.restart();
    repo.store(&key_element(3)).unwrap();
    assert_eq!(repo.load().unwrap().elements(), &[key_element(3)][..]);
}

fn foreign_blobs_are_clear_errors(b: Backend) {
    let repo = b.repo();
    for (bytes, needle) in [
        (&b"this is not xml"[..], "not a key-ring document"),
        (
            b"<keys><key id=\"1\"/></keys>",
            "the root element is <keys>",
        ),
    ] {
        b.put_raw(bytes);
        let err = repo.load().unwrap_err();
        assert_eq!(err.code(), ErrorCode::CorruptData);
        assert!(
            err.message().contains(needle) && err.message().contains("ring/keys.xml"),
            "{}",
            err.message()
        );
        // A store never overwrites what it cannot read.
        assert_eq!(
            repo.store(&key_element(1)).unwrap_err().code(),
            ErrorCode::CorruptData
        );
        assert_eq!(b.get_raw(), bytes);
    }
    let err = repo.store(&Element::new("key-bad", "<key>")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod azurite {
            $(#[test] fn $name() { super::$name(super::Backend::azurite()) })*
        }
        mod moto {
            $(#[test] fn $name() { super::$name(super::Backend::moto()) })*
        }
    };
}

on_both!(
    round_trip,
    asp_net_layout_both_ways,
    conditional_store,
    deletion,
    racing_writers_all_land_or_are_reported,
    server_killed_then_restarted,
    foreign_blobs_are_clear_errors,
    a_blob_over_the_ceiling_is_refused_unread
);

#[test]
fn unreachable_endpoint_names_it() {
    let port = free_port();
    let config = format!(
        r#"{{"service":"s3","container":"b","blob":"k.xml","region":"us-east-1","anonymous":true,"endpoint":"http://127.0.0.1:{port}","connect_timeout_ms":300,"timeout_ms":2000}}"#
    );
    let err = BlobRepository::new(BlobConfig::from_json(&config).unwrap())
        .unwrap()
        .load()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    assert!(
        err.message().contains(&format!("127.0.0.1:{port}")),
        "{}",
        err.message()
    );
}

#[test]
fn wrong_account_key_is_a_credentials_error_that_never_shows_the_key() {
    let server = trousseau_tests::Azurite::start();
    server.create_container("keys");
    // A well-formed key (base64) that is not the account's.
    let wrong = "d3JvbmcgYWNjb3VudCBrZXkgZm9yIGF6dXJpdGUgdGVzdHMgMDEyMzQ1Njc4OQ==";
    std::env::set_var("TROUSSEAU_BLOB_TEST_WRONG_KEY", wrong);
    let config = format!(
        r#"{{"service":"azure","container":"keys","blob":"ring.xml","endpoint":"{}","account":"{}","access_key_env":"TROUSSEAU_BLOB_TEST_WRONG_KEY"}}"#,
        server.endpoint(),
        trousseau_tests::azurite::ACCOUNT
    );
    let repo = BlobRepository::new(BlobConfig::from_json(&config).unwrap()).unwrap();
    let err = repo.load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidConfig, "{}", err.message());
    assert!(err.message().contains("credentials"), "{}", err.message());
    assert!(!err.message().contains(wrong), "{}", err.message());
    // Nothing was written either.
    assert_eq!(
        repo.store(&key_element(1)).unwrap_err().code(),
        ErrorCode::InvalidConfig
    );
}

/// A repository like `b.repo()` with `max_ring_bytes` set.
fn repo_with_ceiling(b: &Backend, max_ring_bytes: u64) -> BlobRepository {
    let config = b
        .config
        .replacen('{', &format!("{{\"max_ring_bytes\":{max_ring_bytes},"), 1);
    BlobRepository::new(BlobConfig::from_json(&config).unwrap()).unwrap()
}

fn a_blob_over_the_ceiling_is_refused_unread(b: Backend) {
    let elements: Vec<String> = (0..8).map(|i| key_xml(&key_id(i))).collect();
    let document = asp_net_document(&elements);
    b.put_raw(&document);
    let size = document.len() as u64;
    let small = repo_with_ceiling(&b, size - 1);
    let err = small.load().unwrap_err();
    assert_eq!(err.code(), ErrorCode::CorruptData, "{err:?}");
    let m = err.message();
    assert!(
        m.contains(&format!(
            "the blob is {size} bytes, more than the {}",
            size - 1
        )) && m.contains("max_ring_bytes")
            && m.contains("ring/keys.xml"),
        "{m}"
    );
    // Writes read first, so they are refused too and change nothing.
    assert_eq!(
        small.store(&key_element(1)).unwrap_err().code(),
        ErrorCode::CorruptData
    );
    assert_eq!(b.get_raw(), document);
    // At the ceiling it reads.
    assert_eq!(
        repo_with_ceiling(&b, size).load().unwrap().elements().len(),
        8
    );
}

#[test]
fn the_default_ceiling_is_64_mib() {
    let b = Backend::azurite();
    let mut document = asp_net_document(&[key_xml(&key_id(1))]);
    // Padding inside the document (whitespace between elements) past 64 MiB.
    document.splice(
        document.len() - 13..document.len() - 13,
        vec![b' '; 64 << 20],
    );
    b.put_raw(&document);
    let err = b.repo().load().unwrap_err();
    assert!(
        err.message().contains(&format!(
            "the blob is {} bytes, more than the 67108864",
            document.len()
        )),
        "{}",
        err.message()
    );
}
