//! Load time of a 1,000-element key ring: the SQL plugin on a private PostgreSQL server (unix
//! socket) and on a SQLite file, beside the Redis repository on a private redis-server (unix
//! socket). Every repository is reached through the plugin ABI, as a host reaches it.
//!
//! `cargo bench -p trousseau-sql --bench load`
// Private servers on unix sockets: Unix only (an empty program elsewhere).
#![cfg_attr(not(unix), allow(unused_imports, dead_code, unused_macros))]
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use trousseau_core::abi::RepositoryBox;
use trousseau_core::testkit::{self, Plugin};
use trousseau_core::Element;
use trousseau_tests::fixtures::{key_id, key_xml};
#[cfg(unix)]
use trousseau_tests::{Postgres, Redis};

const ELEMENTS: usize = 1000;
const PASSWORD_VAR: &str = "TROUSSEAU_SQL_BENCH_PGPASSWORD";

/// Fills `repo` with [`ELEMENTS`] keys in one conditional store.
fn fill(repo: &RepositoryBox) {
    let keys: Vec<Element> = (0..ELEMENTS)
        .map(|i| {
            let id = key_id(i);
            Element::new(format!("key-{id}"), key_xml(&id))
        })
        .collect();
    let version = repo.load().unwrap().version().to_string();
    repo.store_conditional(&version, &keys).unwrap();
    assert_eq!(repo.load().unwrap().elements().len(), ELEMENTS);
}

fn bench_load(c: &mut Criterion, name: &str, repo: &RepositoryBox) {
    fill(repo);
    c.bench_function(&format!("{name} load {ELEMENTS}-element ring"), |b| {
        b.iter(|| repo.load().unwrap())
    });
}

#[cfg(unix)]
fn load_1000(c: &mut Criterion) {
    std::env::set_var(PASSWORD_VAR, Postgres::PASSWORD);
    let path = testkit::cargo_build_plugin(&["-p", "trousseau-sql", "--lib"], "trousseau_sql");
    let sql = Plugin::load(&path).unwrap();

    let postgres = Postgres::start();
    let config = format!(
        r#"{{"backend": "postgres", "host": "{}", "port": {}, "user": "{}", "database": "postgres", "password_env": "{PASSWORD_VAR}"}}"#,
        postgres.socket_dir().display(),
        postgres.port(),
        Postgres::USER
    );
    bench_load(
        c,
        "sql (PostgreSQL)",
        &sql.create_repository("sql", &config).unwrap(),
    );

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{{"backend": "sqlite", "path": "{}"}}"#,
        dir.path().join("keys.db").display()
    );
    bench_load(
        c,
        "sql (SQLite)",
        &sql.create_repository("sql", &config).unwrap(),
    );

    let redis = Redis::start();
    let config = format!(r#"{{"url": "{}"}}"#, redis.url());
    let repo = Plugin::builtin(&trousseau_redis::PLUGIN)
        .create_repository("redis", &config)
        .unwrap();
    bench_load(c, "redis", &repo);
}

#[cfg(unix)]
criterion_group!(benches, load_1000);
#[cfg(not(unix))]
fn main() {}

#[cfg(unix)]
criterion_main!(benches);
