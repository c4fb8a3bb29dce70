// Unix only: a private redis-server on a unix socket and Unix processes (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Web-farm races with real processes: 16 `trousseau` processes share one key ring in
//! each repository (Redis, Azure Blob on Azurite, S3 on moto, a directory, and PostgreSQL
//! through the `trousseau-sql` plugin loaded from a plugin directory) and hit it in the same
//! instant.
//!
//! - Cold start: against an empty ring, every node protects a distinct plaintext; afterwards the
//!   repository holds exactly one key and every payload unprotects on every node.
//! - Roll: the only key expires within 72 h (ASP.NET Core's key-ring provider then makes a
//!   successor: 24 h refresh period + 48 h propagation); every node protects at once; afterwards
//!   there is exactly one successor, activated when the old key expires. Both when the old key
//!   expires in 60 h and in 1 h (inside the propagation window, where ASP.NET's resolver does
//!   not see a fresh successor).
//! - First use of an encrypted ring: exactly one master-key slot and one key, and every node
//!   opens the ring that won.
//!
//! Apart from the encrypted-ring case the nodes run in interop mode (keys unencrypted), so no
//! master-key KDF runs per process. Each process blocks on its standard input until all of them are waiting there (checked in
//! `/proc/PID/syscall`), then all are released together. The ring is checked by reading the
//! repository in this process, through the same provider and configuration.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use trousseau::{
    config::Config,
    dataprotection::{
        keyring::Key,
        keyxml::ParsedElements,
        timestamp::{days, hours, Timestamp},
    },
    plugins::{DirSource, Registry},
};
use trousseau_core::{abi::RepositoryBox, Element};
use trousseau_tests::{fixtures, workspace, Azurite, Moto, Postgres, Redis};

/// Processes per race.
const NODES: usize = 16;
/// Cold-start races per repository.
const COLD_ROUNDS: usize = 20;
/// Cold-start races per repository of nodes whose keys are encrypted under a password slot
/// (each node runs the slot's Argon2 KDF, 64 MiB).
const ENCRYPTED_ROUNDS: usize = 3;
/// Roll races per repository.
const ROLL_ROUNDS: usize = 5;
/// The bucket / container of the blob farms.
const CONTAINER: &str = "farm";
const S3_ID_VAR: &str = "TROUSSEAU_FARM_S3_ID";
const S3_SECRET_VAR: &str = "TROUSSEAU_FARM_S3_SECRET";
/// The variable the SQL farm's `password_env` names.
const PG_PASSWORD_VAR: &str = "TROUSSEAU_FARM_PG_PASSWORD";

/// Dummy S3 credentials for moto (it checks no signature, but answers an unsigned GET of a
/// missing object with 403). Set once, before any test spawns a process or a thread of its
/// own: every test calls this first.
fn s3_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var(S3_ID_VAR, "AKIDEXAMPLE");
        std::env::set_var(S3_SECRET_VAR, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        std::env::set_var(PG_PASSWORD_VAR, Postgres::PASSWORD);
    });
}

/// How the nodes store keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyStorage {
    /// Unencrypted, as ASP.NET Core on Linux (no KDF per process).
    Interop,
    /// Encrypted under a master key from a password slot (one Argon2 run per process).
    Password,
}

/// A running repository server (or a directory) and the `[repository]` table of one ring in it.
struct Farm {
    name: &'static str,
    dir: tempfile::TempDir,
    /// `[repository]` TOML for the ring named by the argument.
    table: Box<dyn Fn(&str) -> String>,
    /// A plugin directory the nodes load (`[plugins] dirs`), for a plugin's repository.
    plugin_dir: Option<PathBuf>,
    /// Keeps the server running while the farm lives.
    _server: Box<dyn std::any::Any>,
}

impl Farm {
    fn redis() -> Farm {
        let server = Redis::start();
        let url = server.url();
        Farm::new("redis", server, move |ring| {
            format!("provider = \"redis\"\nurl = \"{url}\"\nkey = \"farm-{ring}\"\n")
        })
    }

    /// A table per ring on a private PostgreSQL server, through the `trousseau-sql` plugin.
    fn postgres() -> Farm {
        let server = Postgres::start();
        let host = server.socket_dir();
        let port = server.port();
        let plugins = tempfile::tempdir().unwrap();
        workspace::cargo_build(&["-p", "trousseau-sql", "--lib"]);
        let lib = workspace::profile_dir().join(workspace::dylib_name("trousseau_sql"));
        workspace::install_plugin(
            &lib,
            plugins.path(),
            &workspace::dylib_name("trousseau_sql"),
        );
        let plugin_dir = plugins.path().to_path_buf();
        let mut farm = Farm::new("sql (PostgreSQL plugin)", (server, plugins), move |ring| {
            format!(
                "provider = \"sql\"\nbackend = \"postgres\"\nhost = \"{}\"\nport = {port}\nuser = \"{}\"\ndatabase = \"postgres\"\npassword_env = \"{PG_PASSWORD_VAR}\"\ntable = \"farm_{}\"\n",
                host.display(),
                Postgres::USER,
                ring.replace('-', "_")
            )
        });
        farm.plugin_dir = Some(plugin_dir);
        farm
    }

    fn azurite() -> Farm {
        let server = Azurite::start();
        server.create_container(CONTAINER);
        let endpoint = server.endpoint();
        let service = "service = \"azure\"\nemulator = true\n".to_string();
        Farm::blob("azure blob (Azurite)", server, endpoint, service)
    }

    fn moto() -> Farm {
        let server = Moto::start();
        server.create_bucket(CONTAINER);
        let endpoint = server.endpoint();
        let service = format!(
            "service = \"s3\"\nregion = \"us-east-1\"\naccess_key_id_env = \"{S3_ID_VAR}\"\nsecret_access_key_env = \"{S3_SECRET_VAR}\"\n"
        );
        Farm::blob("s3 blob (moto)", server, endpoint, service)
    }

    /// One blob per ring in [`CONTAINER`] at `endpoint`; `service` holds the service's keys.
    fn blob(
        name: &'static str,
        server: impl std::any::Any,
        endpoint: String,
        service: String,
    ) -> Farm {
        Farm::new(name, server, move |ring| {
            format!(
                "provider = \"blob\"\n{service}endpoint = \"{endpoint}\"\ncontainer = \"{CONTAINER}\"\nblob = \"{ring}.xml\"\n"
            )
        })
    }

    fn filesystem() -> Farm {
        let rings = tempfile::tempdir().unwrap();
        let base = rings.path().to_path_buf();
        Farm::new("filesystem", rings, move |ring| {
            format!(
                "provider = \"filesystem\"\ndirectory = \"{}\"\n",
                base.join(ring).display()
            )
        })
    }

    fn new(
        name: &'static str,
        server: impl std::any::Any,
        table: impl Fn(&str) -> String + 'static,
    ) -> Farm {
        Farm {
            name,
            dir: tempfile::tempdir().unwrap(),
            table: Box::new(table),
            plugin_dir: None,
            _server: Box::new(server),
        }
    }

    /// Writes the nodes' configuration for `ring` and returns its path.
    fn config(&self, ring: &str, keys: KeyStorage) -> PathBuf {
        let path = self.dir.path().join(format!("{ring}.toml"));
        let storage = match keys {
            KeyStorage::Interop => "[data_protection]\ninterop = true\n",
            KeyStorage::Password => "[[master_key.sources]]\nprovider = \"password\"\n",
        };
        let plugins = match &self.plugin_dir {
            Some(dir) => format!("[plugins]\ndirs = [\"{}\"]\n\n", dir.display()),
            None => String::new(),
        };
        let text = format!("{plugins}[repository]\n{}\n{storage}", (self.table)(ring));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The arguments that give a node the ring's master key.
    fn key_args(&self, keys: KeyStorage) -> Vec<String> {
        match keys {
            KeyStorage::Interop => Vec::new(),
            KeyStorage::Password => {
                let file = self.dir.path().join("password");
                std::fs::write(&file, "correct horse battery staple\n").unwrap();
                vec!["--password-file".into(), file.display().to_string()]
            }
        }
    }

    /// How many master-key slots the repository holds.
    fn slots(&self, config: &Path) -> usize {
        let snapshot = self.repository(config).load().unwrap();
        snapshot
            .elements()
            .iter()
            .filter(|e| e.xml().trim_start().starts_with("<masterKeySlot"))
            .count()
    }

    /// The ring's repository, opened in this process from the nodes' configuration.
    fn repository(&self, config: &Path) -> RepositoryBox {
        let text = std::fs::read_to_string(config).unwrap();
        let repo = Config::parse(&text, config).unwrap().repository.unwrap();
        let mut registry = Registry::with_builtins(None).unwrap();
        if let Some(dir) = &self.plugin_dir {
            registry.load_dir(dir, DirSource::ConfigFile).unwrap();
        }
        registry
            .repository(&repo.provider, &repo.settings_json())
            .unwrap_or_else(|e| panic!("{}: cannot open the repository: {e}", self.name))
    }

    /// Every `<key>` element in the repository, parsed.
    fn keys(&self, config: &Path) -> Vec<Key> {
        let snapshot = self.repository(config).load().unwrap();
        let elements = snapshot.elements();
        let raw = elements
            .iter()
            .filter(|e| e.xml().trim_start().starts_with("<key"))
            .count();
        let parsed = ParsedElements::read(elements).unwrap();
        assert_eq!(
            parsed.keys.len(),
            raw,
            "{}: unparsable <key> elements",
            self.name
        );
        parsed.keys.into_iter().map(|(_, k)| k).collect()
    }
}

/// One line per key: id and dates, for failure messages.
fn describe(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "\n  {} created {} activation {} expiration {}",
                k.id, k.creation, k.activation, k.expiration
            )
        })
        .collect()
}

/// The number `/proc/PID/syscall` shows for `read`.
#[cfg(target_arch = "x86_64")]
const SYS_READ: &str = "0";
#[cfg(target_arch = "aarch64")]
const SYS_READ: &str = "63";

/// Whether `child` is blocked reading its standard input (fd 0).
fn waits_on_stdin(child: &Child) -> bool {
    std::fs::read_to_string(format!("/proc/{}/syscall", child.id()))
        .is_ok_and(|s| s.split_whitespace().take(2).eq([SYS_READ, "0x0"]))
}

/// A node: `trousseau --config CONFIG ARGS…` with piped standard streams.
fn node(config: &Path, args: &[String]) -> Child {
    Command::new(workspace::trousseau_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TROUSSEAU_CONFIG")
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1")
        .env_remove("TROUSSEAU_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start trousseau")
}

/// Runs one process per input at once: all are started, each blocks reading its standard
/// input, and once every one of them waits there, all inputs are written in one go. Returns
/// each process's standard output; any failure panics with its standard error.
fn race(what: &str, config: &Path, args: &[String], inputs: &[String]) -> Vec<String> {
    let mut children: Vec<Child> = inputs.iter().map(|_| node(config, args)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for child in &mut children {
        while !waits_on_stdin(child) {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(e) = child.stderr.as_mut() {
                    let _ = std::io::Read::read_to_string(e, &mut err);
                }
                panic!("{what}: a node exited ({status}) before the start: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "{what}: a node did not reach its standard-input barrier within 60 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Release: every input written and closed back to back.
    for (child, input) in children.iter_mut().zip(inputs) {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    children
        .into_iter()
        .enumerate()
        .map(|(i, child)| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{what}: node {i} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

/// `rounds` cold starts: `NODES` nodes protect against an empty ring at once → exactly one
/// key (and with encrypted keys, exactly one master-key slot); then `NODES` nodes each
/// unprotect all `NODES` payloads.
fn cold_start(farm: &Farm, rounds: usize, keys: KeyStorage) {
    let started = Instant::now();
    let key_args = farm.key_args(keys);
    let with_keys = |a: &[&str]| -> Vec<String> {
        let mut all = args(a);
        all.extend(key_args.iter().cloned());
        all
    };
    for round in 1..=rounds {
        let config = farm.config(&format!("cold-{keys:?}-{round}"), keys);
        assert!(farm.keys(&config).is_empty(), "round {round}: not empty");
        let plaintexts: Vec<String> = (0..NODES)
            .map(|n| format!("round {round} node {n} of the {} farm", farm.name))
            .collect();
        let what = format!("{} ({keys:?} keys) round {round}, protect", farm.name);
        let payloads: Vec<String> = race(&what, &config, &with_keys(&["protect"]), &plaintexts)
            .into_iter()
            .map(|p| p.trim().to_string())
            .collect();
        let ring = farm.keys(&config);
        assert_eq!(
            ring.len(),
            1,
            "{} ({keys:?} keys) round {round}: {} keys in the ring after {NODES} nodes protected against an empty ring at once, expected exactly 1:{}",
            farm.name,
            ring.len(),
            describe(&ring)
        );
        let slots = farm.slots(&config);
        let expected_slots = usize::from(keys == KeyStorage::Password);
        assert_eq!(
            slots, expected_slots,
            "{} ({keys:?} keys) round {round}: {slots} master-key slots after {NODES} nodes created the ring at once",
            farm.name
        );
        let all = format!("{}\n", payloads.join("\n"));
        let expected = format!("{}\n", plaintexts.join("\n"));
        let what = format!("{} ({keys:?} keys) round {round}, unprotect", farm.name);
        let inputs = vec![all; NODES];
        let args = with_keys(&["unprotect", "--lines"]);
        for (n, out) in race(&what, &config, &args, &inputs).into_iter().enumerate() {
            assert_eq!(
                out, expected,
                "{} ({keys:?} keys) round {round}: node {n} unprotected the payloads differently",
                farm.name
            );
        }
    }
    eprintln!(
        "{}: {rounds} cold-start rounds of {NODES} nodes ({keys:?} keys) in {:.1?}",
        farm.name,
        started.elapsed()
    );
}

/// `ROLL_ROUNDS` rolls: a ring whose only key expires in `expires_in` ticks (within the 72 h
/// in which a successor is generated); `NODES` nodes protect at once → exactly one successor,
/// activated when the old key expires.
fn roll(farm: &Farm, expires_in: i64, label: &str) {
    let label = format!("expires in {label}");
    let started = Instant::now();
    for round in 1..=ROLL_ROUNDS {
        let config = farm.config(
            &format!("roll-{}-{round}", label.replace(' ', "")),
            KeyStorage::Interop,
        );
        let now = Timestamp::now();
        let old_id = fixtures::key_id(round);
        let old_xml = fixtures::key_xml_dated(
            &old_id,
            &now.plus(-days(88)).to_string(),
            &now.plus(-days(88)).to_string(),
            &now.plus(expires_in).to_string(),
        );
        farm.repository(&config)
            .store(&Element::new(format!("key-{old_id}"), old_xml))
            .unwrap();
        let old = farm.keys(&config);
        assert_eq!(old.len(), 1);
        let plaintexts: Vec<String> = (0..NODES)
            .map(|n| format!("roll {round} node {n}"))
            .collect();
        let what = format!("{} roll ({label}) round {round}, protect", farm.name);
        let payloads = race(&what, &config, &args(&["protect"]), &plaintexts);
        let keys = farm.keys(&config);
        let successors: Vec<&Key> = keys.iter().filter(|k| k.id != old[0].id).collect();
        assert_eq!(
            successors.len(),
            1,
            "{} roll ({label}) round {round}: {} new keys after {NODES} nodes refreshed at once a ring whose key expires at {}, expected exactly 1 successor:{}",
            farm.name,
            successors.len(),
            old[0].expiration,
            describe(&keys)
        );
        let next = successors[0];
        assert_eq!(
            next.activation, old[0].expiration,
            "{} roll ({label}) round {round}: the successor must activate when the old key expires",
            farm.name
        );
        assert!(next.expiration > next.activation.plus(days(80)));
        // The payloads were made with the old key, still the default; one node reads them all.
        let input = vec![payloads.concat()];
        let what = format!("{} roll ({label}) round {round}, unprotect", farm.name);
        let out = race(&what, &config, &args(&["unprotect", "--lines"]), &input);
        assert_eq!(out[0], format!("{}\n", plaintexts.join("\n")));
    }
    eprintln!(
        "{}: {ROLL_ROUNDS} roll rounds ({label}) of {NODES} nodes in {:.1?}",
        farm.name,
        started.elapsed()
    );
}

/// Owned command-line arguments.
fn args(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Both roll regimes: the old key expires in 60 h (the successor is created before the
/// propagation window, as in a farm that refreshes daily) and in 1 h (a farm that was down).
fn farm_races(farm: &Farm) {
    cold_start(farm, COLD_ROUNDS, KeyStorage::Interop);
    roll(farm, hours(60), "60h");
    roll(farm, hours(1), "1h");
}

#[test]
fn redis_farm() {
    s3_credentials();
    farm_races(&Farm::redis());
}

#[test]
fn postgres_sql_plugin_farm() {
    s3_credentials();
    farm_races(&Farm::postgres());
}

#[test]
fn azurite_blob_farm() {
    s3_credentials();
    farm_races(&Farm::azurite());
}

#[test]
fn moto_s3_farm() {
    s3_credentials();
    farm_races(&Farm::moto());
}

#[test]
fn filesystem_farm() {
    s3_credentials();
    farm_races(&Farm::filesystem());
}

/// First use of an encrypted ring by a farm: every node would make its own master-key slot
/// (its own wrapping key) and its own key; exactly one ring must win, and every node must open it.
#[test]
fn encrypted_ring_first_use_farm() {
    s3_credentials();
    for farm in [Farm::redis(), Farm::filesystem()] {
        cold_start(&farm, ENCRYPTED_ROUNDS, KeyStorage::Password);
    }
}
