//! Load time of a 1,000-element key ring from Azurite and from moto (S3). Each iteration loads
//! through a fresh repository (no ETag cache), then through a warm one (304 Not Modified).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_blob::{BlobConfig, BlobRepository};
use trousseau_core::{Element, Repository};
use trousseau_tests::fixtures::{key_id, key_xml};
use trousseau_tests::{Azurite, Moto};

fn fill(config: &str) -> BlobRepository {
    let repo = BlobRepository::new(BlobConfig::from_json(config).unwrap()).unwrap();
    let elements: Vec<Element> = (0..1000)
        .map(|i| Element::new(format!("key-{}", key_id(i)), key_xml(&key_id(i))))
        .collect();
    let v = repo.load().unwrap();
    repo.store_conditional(v.version(), &elements).unwrap();
    assert_eq!(repo.load().unwrap().elements().len(), 1000);
    repo
}

fn bench(c: &mut Criterion, name: &str, config: &str) {
    let warm = fill(config);
    c.bench_function(&format!("{name} load 1000-element ring (cold)"), |b| {
        b.iter(|| {
            BlobRepository::new(BlobConfig::from_json(config).unwrap())
                .unwrap()
                .load()
                .unwrap()
        })
    });
    c.bench_function(
        &format!("{name} load 1000-element ring (cached ETag)"),
        |b| b.iter(|| warm.load().unwrap()),
    );
}

fn load_1000(c: &mut Criterion) {
    // Dummy S3 credentials (moto checks no signature), set before any thread exists.
    std::env::set_var("TROUSSEAU_BENCH_S3_ID", "AKIDEXAMPLE");
    std::env::set_var(
        "TROUSSEAU_BENCH_S3_SECRET",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    );
    let azurite = Azurite::start();
    azurite.create_container("keys");
    let config = format!(
        r#"{{"service":"azure","container":"keys","blob":"keys.xml","emulator":true,"endpoint":"{}"}}"#,
        azurite.endpoint()
    );
    bench(c, "azurite", &config);
    let moto = Moto::start();
    moto.create_bucket("keys");
    let config = format!(
        r#"{{"service":"s3","container":"keys","blob":"keys.xml","region":"us-east-1","access_key_id_env":"TROUSSEAU_BENCH_S3_ID","secret_access_key_env":"TROUSSEAU_BENCH_S3_SECRET","endpoint":"{}"}}"#,
        moto.endpoint()
    );
    bench(c, "moto", &config);
}

criterion_group!(benches, load_1000);
criterion_main!(benches);
