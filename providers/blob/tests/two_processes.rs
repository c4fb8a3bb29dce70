//! A ring written by one process is read by another, over S3 (moto): this test re-runs its own
//! binary as the writer, both take their credentials from environment variables named in the
//! configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use trousseau_blob::{BlobConfig, BlobRepository};
use trousseau_core::{Element, Repository};
use trousseau_tests::fixtures::{key_id, key_xml, revocation_xml};
use trousseau_tests::Moto;

const ROLE: &str = "TROUSSEAU_TEST_WRITER_ENDPOINT";

fn config(endpoint: &str) -> String {
    format!(
        r#"{{"service":"s3","container":"ring","blob":"keys.xml","region":"us-east-1","endpoint":"{endpoint}","access_key_id_env":"TROUSSEAU_TEST_S3_ID","secret_access_key_env":"TROUSSEAU_TEST_S3_SECRET"}}"#
    )
}

fn elements() -> Vec<Element> {
    vec![
        Element::new(format!("key-{}", key_id(1)), key_xml(&key_id(1))),
        Element::new(
            format!("revocation-{}", key_id(1)),
            revocation_xml(&key_id(1)),
        ),
    ]
}

fn main() {
    if let Ok(endpoint) = std::env::var(ROLE) {
        let repo = BlobRepository::new(BlobConfig::from_json(&config(&endpoint)).unwrap()).unwrap();
        for e in elements() {
            repo.store(&e).unwrap();
        }
        return;
    }
    // Still single-threaded: the variables are set before anything reads them; the writer
    // process inherits them.
    std::env::set_var("TROUSSEAU_TEST_S3_ID", "AKIDEXAMPLE");
    std::env::set_var(
        "TROUSSEAU_TEST_S3_SECRET",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    );
    let moto = Moto::start();
    moto.create_bucket("ring");
    let status = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, moto.endpoint())
        .status()
        .unwrap();
    assert!(status.success(), "the writer process failed: {status}");
    let reader =
        BlobRepository::new(BlobConfig::from_json(&config(&moto.endpoint())).unwrap()).unwrap();
    assert_eq!(reader.load().unwrap().into_elements(), elements());
    println!("test ring_written_by_one_process_read_by_another ... ok");
    println!("1 passed, 0 failed");
}
