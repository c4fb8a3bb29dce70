//! A process killed (SIGKILL) in the middle of a conditional store leaves the table with whole
//! batches only, and the table usable by the next writer: the database's transaction is the
//! unit, whatever moment the kill hits. The storing process is this test binary run again
//! with [`CHILD_CONFIG`] set, selecting only [`storing_child`], which stores batches until it
//! is killed while one of its transactions has written rows and not committed.
#![cfg(unix)]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{pg_config, repository, sqlite_config};
use trousseau_core::Element;
use trousseau_tests::Postgres;

/// Set for the child: the configuration it stores into.
const CHILD_CONFIG: &str = "TROUSSEAU_SQL_TEST_KILLED_CONFIG";
/// Elements per conditional store.
const BATCH: usize = 100;
/// Kills per backend.
const KILLS: usize = 2;

/// The child: conditional stores of [`BATCH`] elements, one after the other, until killed.
#[test]
#[ignore = "the child process of the SIGKILL tests; they run it with its environment"]
fn storing_child() {
    // Run by hand (no environment), there is nothing to do.
    let Ok(config) = std::env::var(CHILD_CONFIG) else {
        return;
    };
    let repo = repository(&config);
    let pid = std::process::id();
    for round in 0.. {
        let version = repo.load().unwrap().version().to_string();
        let batch: Vec<Element> = (0..BATCH)
            .map(|i| {
                Element::new(
                    format!("key-{pid}.{round}-{i}"),
                    format!("<key n=\"{i}\" />"),
                )
            })
            .collect();
        repo.store_conditional(&version, &batch).unwrap();
    }
}

/// Runs the child on `config` [`KILLS`] times, killing it once it has stored a batch and
/// `storing()` says a transaction of it has written rows; then checks that every batch in the
/// table is whole and that a conditional store still goes through.
fn killed_while_storing(config: &str, storing: impl Fn() -> bool) {
    let repo = repository(config);
    for kill in 1..=KILLS {
        let before = repo.load().unwrap().elements().len();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["storing_child", "--exact", "--ignored", "--test-threads=1"])
            .env(CHILD_CONFIG, config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while repo.load().unwrap().elements().len() == before || !storing() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "kill {kill}: the child exited on its own"
            );
            assert!(
                Instant::now() < deadline,
                "kill {kill}: the child was not seen storing within 60 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "kill {kill}: {status}");

        let snapshot = repo.load().unwrap();
        let mut batches: BTreeMap<&str, usize> = BTreeMap::new();
        for e in snapshot.elements() {
            let (batch, _) = e.name().rsplit_once('-').unwrap();
            *batches.entry(batch).or_default() += 1;
        }
        assert!(
            batches.values().all(|&n| n == BATCH),
            "kill {kill}: a batch stored in part: {batches:?}"
        );
        let next = Element::new(format!("key-after-kill-{kill}"), "<key />");
        repo.store_conditional(snapshot.version(), &[next]).unwrap();
        repo.delete(&[format!("key-after-kill-{kill}")]).unwrap();
    }
}

#[test]
fn postgres_store_killed_midway_leaves_whole_batches() {
    let server = Postgres::start();
    // A transaction of the child that holds a transaction id has written rows.
    let storing = || {
        server.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trousseau-sql' \
             AND backend_xid IS NOT NULL",
        ) != "0"
    };
    killed_while_storing(&pg_config(&server, "postgres", ""), storing);
}

#[test]
fn sqlite_store_killed_midway_leaves_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    // The rollback journal exists while a write transaction has written pages.
    let journal = dir.path().join("keys.db-journal");
    let storing = || Path::new(&journal).exists();
    killed_while_storing(&sqlite_config(&path, ""), storing);
}
