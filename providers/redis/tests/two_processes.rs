//! A ring written by one process is read by another (real processes: this test re-runs its own
//! binary as the writer). The writer takes its password from an environment variable named in
//! the configuration; the reader from the URL.
// Unix only: a private redis-server on a unix socket (an empty program elsewhere: harness = false).
#![cfg_attr(not(unix), allow(unused_imports, dead_code))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use trousseau_core::{Element, Repository};
use trousseau_redis::{RedisConfig, RedisRepository};
use trousseau_tests::fixtures::{key_id, key_xml, revocation_xml};
#[cfg(unix)]
use trousseau_tests::Redis;

const ROLE: &str = "TROUSSEAU_TEST_WRITER_URL";
const PASSWORD_VAR: &str = "TROUSSEAU_TEST_REDIS_PASSWORD";

fn elements() -> Vec<Element> {
    vec![
        Element::new(format!("key-{}", key_id(1)), key_xml(&key_id(1))),
        Element::new(format!("key-{}", key_id(2)), key_xml(&key_id(2))),
        Element::new(
            format!("revocation-{}", key_id(1)),
            revocation_xml(&key_id(1)),
        ),
    ]
}

#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
fn main() {
    if let Ok(url) = std::env::var(ROLE) {
        let config = format!(r#"{{"url":"{url}","password_env":"{PASSWORD_VAR}"}}"#);
        let repo = RedisRepository::new(RedisConfig::from_json(&config).unwrap()).unwrap();
        for e in elements() {
            repo.store(&e).unwrap();
        }
        return;
    }
    let redis = Redis::start_with_password("s3cret-pw");
    let status = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, redis.url())
        .env(PASSWORD_VAR, "s3cret-pw")
        .status()
        .unwrap();
    assert!(status.success(), "the writer process failed: {status}");
    let url = format!("{}?pass=s3cret-pw", redis.url());
    let reader =
        RedisRepository::new(RedisConfig::from_json(&format!(r#"{{"url":"{url}"}}"#)).unwrap())
            .unwrap();
    assert_eq!(reader.load().unwrap().into_elements(), elements());
    println!("test ring_written_by_one_process_read_by_another ... ok");
    println!("1 passed, 0 failed");
}
