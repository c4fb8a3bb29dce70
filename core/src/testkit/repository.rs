//! The repository contract: what a host relies on from every [`crate::Repository`].
//!
//! [`RepositoryContract::check`] runs, on one repository that starts empty:
//!
//! 1. **describe**: the provider id the contract names, a non-empty location, the same answer
//!    twice, and no configured secret in it;
//! 2. **empty load**: no elements; a second instance (another node) agrees;
//! 3. **round trip**: elements stored one by one come back with their XML byte for byte and
//!    their friendly names (ASP.NET names: `key-{guid}`, `revocation-{guid}`), and a second
//!    instance sees the same snapshot;
//! 4. **version tokens**: unchanged while nothing is written (else every conditional store
//!    would conflict), changed by every store, conditional store and deletion; never empty
//!    when [`Capabilities::CONDITIONAL_STORE`] is declared;
//! 5. **conditional store** (when declared): succeeds on the current version and returns the
//!    version a load then reports; fails with [`ErrorCode::Conflict`] on a stale version
//!    (made stale by itself or by a plain store from another instance) and then stores
//!    nothing; several elements are stored together. Undeclared: refused with
//!    [`ErrorCode::Unsupported`], storing nothing;
//! 6. **deletion** (when [`Capabilities::DELETE`] is declared): removes exactly the elements
//!    named as a load named them; a missing name is not an internal error. Undeclared: refused
//!    with [`ErrorCode::Unsupported`], deleting nothing;
//! 7. **bad configurations**: `{` (not JSON), `[]` (not an object) and those the test adds are
//!    refused with a typed error (by the factory or the first load), never a panic.
//!
//! [`RepositoryContract::check_unsupported`] checks a provider on a platform it does not
//! support: configuration still checked, every operation refused as unsupported.
//!
//! [`RepositoryContract::check_two_processes`] races conditional stores between two real
//! processes that loaded the same version: exactly one wins, the other gets
//! [`ErrorCode::Conflict`], and the repository holds the winner's element only.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{assert_typed, report_opt_out, Plugin, TempDir, CHILD_ENV};
use crate::{abi::RepositoryBox, Capabilities, Element, Error, ErrorCode, Snapshot};

/// A promise of the repository contract that a provider may opt out of, with a reason
/// (see [`RepositoryContract::without`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RepositoryCheck {
    /// A load gives back each element's friendly name as stored (for ASP.NET names).
    FriendlyNames,
    /// A load gives back each element's XML text byte for byte (for XML without formatting,
    /// as ASP.NET Core writes it).
    ExactXml,
    /// The version returned by a conditional store is the version the next load reports.
    ReturnedVersionIsCurrent,
}

/// The contract of one repository provider. Build it with [`RepositoryContract::new`], adjust
/// it, then run [`RepositoryContract::check`] (and, for a conditional store,
/// [`RepositoryContract::check_two_processes`]).
#[derive(Debug, Clone)]
pub struct RepositoryContract {
    plugin: Plugin,
    provider_id: String,
    bad_configs: Vec<(String, ErrorCode)>,
    secrets: Vec<String>,
    opt_outs: Vec<(RepositoryCheck, String)>,
    keeps_order: bool,
}

impl RepositoryContract {
    /// The contract of repository provider `provider_id` of `plugin`.
    pub fn new(plugin: Plugin, provider_id: &str) -> Self {
        RepositoryContract {
            plugin,
            provider_id: provider_id.to_string(),
            bad_configs: vec![
                ("{".to_string(), ErrorCode::InvalidConfig),
                ("[]".to_string(), ErrorCode::InvalidConfig),
            ],
            secrets: Vec::new(),
            opt_outs: Vec::new(),
            keeps_order: false,
        }
    }

    /// Adds a configuration that must be refused with `code`, by the factory or by the first
    /// load (a provider may connect lazily).
    #[must_use]
    pub fn bad_config(mut self, config: &str, code: ErrorCode) -> Self {
        self.bad_configs.push((config.to_string(), code));
        self
    }

    /// A secret that appears in the configurations passed to the checks (a password in a URL):
    /// it must never appear in a description or an error message.
    #[must_use]
    pub fn secret(mut self, secret: &str) -> Self {
        self.secrets.push(secret.to_string());
        self
    }

    /// The provider also promises to load elements in the order they were stored (ASP.NET
    /// Core does not require it; by default elements are compared by name).
    #[must_use]
    pub fn keeps_order(mut self) -> Self {
        self.keeps_order = true;
        self
    }

    /// Opts out of `check`, saying why; the kit prints the opt-out when it runs.
    #[must_use]
    pub fn without(mut self, check: RepositoryCheck, reason: &str) -> Self {
        self.opt_outs.push((check, reason.to_string()));
        self
    }

    fn checks(&self, check: RepositoryCheck) -> bool {
        match self.opt_outs.iter().find(|(c, _)| *c == check) {
            Some((c, reason)) => {
                report_opt_out(&self.provider_id, c, reason);
                false
            }
            None => true,
        }
    }

    fn open(&self, config: &str) -> RepositoryBox {
        self.plugin
            .create_repository(&self.provider_id, config)
            .unwrap_or_else(|e| {
                panic!(
                    "contract: {}: creating the repository failed: {e:?}",
                    self.provider_id
                )
            })
    }

    fn ok<T>(&self, what: &str, result: Result<T, Error>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("contract: {}: {what} failed: {e:?}", self.provider_id),
        }
    }

    fn assert_no_secret(&self, text: &str, what: &str) {
        for s in &self.secrets {
            assert!(
                !text.contains(s.as_str()),
                "contract: {}: {what} contains a configured secret: {text}",
                self.provider_id
            );
        }
    }

    fn assert_typed(&self, err: &Error, what: &str) {
        assert_typed(err, &format!("{}: {what}", self.provider_id));
        self.assert_no_secret(err.message(), what);
    }

    fn load(&self, repo: &RepositoryBox, what: &str) -> Snapshot {
        self.ok(&format!("load ({what})"), repo.load())
    }

    /// Runs every single-process check on the repository `config` makes, which must be empty
    /// (a fresh directory, database or container) and is written to. Panics on the first
    /// broken promise, naming it.
    pub fn check(&self, config: &str) {
        let id = self.provider_id.as_str();
        let repo = self.open(config);
        let other = self.open(config);

        // 1. describe
        let d = self.ok("describe", repo.describe());
        assert_eq!(
            d.provider_id(),
            id,
            "contract: describe() names another provider"
        );
        assert!(
            !d.location().trim().is_empty(),
            "contract: {id}: describe() gives an empty location; say where the elements live"
        );
        assert_eq!(
            self.ok("describe", repo.describe()),
            d,
            "contract: {id}: describe() changes between calls"
        );
        self.assert_no_secret(d.location(), "the location in describe()");
        let caps = d.capabilities();
        let conditional = caps.contains(Capabilities::CONDITIONAL_STORE);

        // 2. empty load
        let empty = self.load(&repo, "empty repository");
        assert!(
            empty.elements().is_empty(),
            "contract: {id}: check() needs an empty repository, this one holds {:?}",
            names(&empty)
        );
        assert!(
            self.load(&other, "empty, second instance")
                .elements()
                .is_empty(),
            "contract: {id}: a second instance sees elements in an empty repository"
        );
        if conditional {
            assert!(
                !empty.version().is_empty(),
                "contract: {id}: declares CONDITIONAL_STORE but an empty repository has an empty \
                 version token"
            );
        }
        self.assert_stable(&repo, &empty, "empty repository");

        // 3 and 4. round trip, versions change on every store
        let mut expected = Vec::new();
        let mut previous = empty;
        for element in [key(1), key(2), revocation(1)] {
            self.ok("store", repo.store(&element));
            expected.push(element);
            let now = self.load(&repo, "after a store");
            self.assert_holds(&now, &expected, "after a store");
            self.assert_changed(&previous, &now, "a store");
            previous = now;
        }
        let seen = self.load(&other, "second instance");
        self.assert_holds(&seen, &expected, "read by a second instance");
        assert_eq!(
            seen.version(),
            previous.version(),
            "contract: {id}: two instances report different versions of the same repository"
        );
        self.assert_stable(&repo, &previous, "after stores");

        // 5. conditional store
        if conditional {
            self.check_conditional(&repo, &other, &mut expected);
        } else {
            let before = self.load(&repo, "before a refused conditional store");
            let err = repo
                .store_conditional(before.version(), &[key(90)])
                .expect_err(&format!(
                    "contract: {id}: store_conditional succeeded but CONDITIONAL_STORE is not \
                     declared in describe().capabilities()"
                ));
            assert_eq!(
                err.code(),
                ErrorCode::Unsupported,
                "contract: {id}: store_conditional without CONDITIONAL_STORE must be refused \
                 as unsupported: {err:?}"
            );
            self.assert_typed(&err, "an unsupported conditional store");
            let after = self.load(&repo, "after a refused conditional store");
            self.assert_holds(&after, &expected, "after a refused conditional store");
        }

        // 6. deletion
        self.check_delete(&repo, caps, &mut expected);

        // 7. bad configurations
        self.check_bad_configs();
    }

    /// For a provider that is listed everywhere but works only on some platforms (the
    /// registry off Windows): the repository `config` makes still describes itself and its
    /// configuration is still checked ([`RepositoryContract::bad_config`]), but every load,
    /// store, deletion and conditional store is refused with [`ErrorCode::Unsupported`] and a
    /// message, never a panic or another code.
    pub fn check_unsupported(&self, config: &str) {
        let id = self.provider_id.as_str();
        let repo = self.open(config);
        let d = self.ok("describe", repo.describe());
        assert_eq!(
            d.provider_id(),
            id,
            "contract: describe() names another provider"
        );
        self.assert_no_secret(d.location(), "the location in describe()");
        let element = key(1);
        let results = [
            ("load", repo.load().map(|_| ())),
            ("store", repo.store(&element)),
            ("delete", repo.delete(&[element.name().to_string()])),
            (
                "store_conditional",
                repo.store_conditional("", std::slice::from_ref(&element))
                    .map(|_| ()),
            ),
        ];
        for (what, result) in results {
            let err = result.err().unwrap_or_else(|| {
                panic!(
                    "contract: {id}: {what} succeeded on a platform the provider does not support"
                )
            });
            self.assert_typed(&err, &format!("{what} on an unsupported platform"));
            assert_eq!(
                err.code(),
                ErrorCode::Unsupported,
                "contract: {id}: {what} on an unsupported platform must be refused as \
                 unsupported: {err:?}"
            );
        }
        self.check_bad_configs();
    }

    fn check_conditional(
        &self,
        repo: &RepositoryBox,
        other: &RepositoryBox,
        expected: &mut Vec<Element>,
    ) {
        let id = self.provider_id.as_str();
        let current = self.load(repo, "before a conditional store");
        let returned = self.ok(
            "store_conditional on the current version",
            repo.store_conditional(current.version(), &[key(3)]),
        );
        expected.push(key(3));
        let after = self.load(repo, "after a conditional store");
        self.assert_holds(&after, expected, "after a conditional store");
        self.assert_changed(&current, &after, "a conditional store");
        if self.checks(RepositoryCheck::ReturnedVersionIsCurrent) {
            assert_eq!(
                returned,
                after.version(),
                "contract: {id}: store_conditional returned a version that is not the one the \
                 next load reports"
            );
        }

        // A stale version (our own earlier one): conflict, nothing stored.
        let err = repo
            .store_conditional(current.version(), &[key(4)])
            .expect_err(&format!(
                "contract: {id}: store_conditional on a stale version succeeded; it must fail \
                 with ErrorCode::Conflict"
            ));
        assert_eq!(
            err.code(),
            ErrorCode::Conflict,
            "contract: {id}: store_conditional on a stale version must fail with \
             ErrorCode::Conflict: {err:?}"
        );
        self.assert_typed(&err, "a conflicting conditional store");
        let unchanged = self.load(repo, "after a conflict");
        self.assert_holds(
            &unchanged,
            expected,
            "after a conflicting conditional store",
        );
        assert_eq!(
            unchanged.version(),
            after.version(),
            "contract: {id}: a conflicting conditional store changed the version"
        );

        // Made stale by another instance's plain store.
        let seen = self.load(other, "second instance, before its conditional store");
        self.ok("store", repo.store(&key(5)));
        expected.push(key(5));
        let err = other
            .store_conditional(seen.version(), &[key(6)])
            .expect_err(&format!(
                "contract: {id}: a conditional store succeeded although another instance \
                 stored an element since its load"
            ));
        assert_eq!(
            err.code(),
            ErrorCode::Conflict,
            "contract: {id}: a conditional store made stale by another instance's store must \
             fail with ErrorCode::Conflict: {err:?}"
        );
        let now = self.load(repo, "after another instance's conflict");
        self.assert_holds(&now, expected, "after another instance's conflict");

        // Several elements at once.
        let both = [key(7), revocation(7)];
        self.ok(
            "store_conditional of two elements",
            other.store_conditional(now.version(), &both),
        );
        expected.extend(both);
        let after = self.load(repo, "after a conditional store of two elements");
        self.assert_holds(
            &after,
            expected,
            "after a conditional store of two elements",
        );
        self.assert_changed(&now, &after, "a conditional store of two elements");
    }

    fn check_delete(&self, repo: &RepositoryBox, caps: Capabilities, expected: &mut Vec<Element>) {
        let id = self.provider_id.as_str();
        let before = self.load(repo, "before a deletion");
        let Some(victim) = before
            .elements()
            .iter()
            .find(|e| e.xml() == key(2).xml())
            .map(|e| e.name().to_string())
        else {
            panic!("contract: {id}: the element stored as key 2 is gone before any deletion");
        };
        if !caps.contains(Capabilities::DELETE) {
            let err = repo
                .delete(std::slice::from_ref(&victim))
                .expect_err(&format!(
                    "contract: {id}: delete succeeded but DELETE is not declared in \
                 describe().capabilities()"
                ));
            assert_eq!(
                err.code(),
                ErrorCode::Unsupported,
                "contract: {id}: delete without DELETE must be refused as unsupported: {err:?}"
            );
            self.assert_typed(&err, "an unsupported delete");
            let after = self.load(repo, "after a refused delete");
            self.assert_holds(&after, expected, "after a refused delete");
            return;
        }
        self.ok(
            "delete of an element by the name a load gave it",
            repo.delete(std::slice::from_ref(&victim)),
        );
        expected.retain(|e| e.xml() != key(2).xml());
        let after = self.load(repo, "after a deletion");
        self.assert_holds(&after, expected, "after a deletion");
        self.assert_changed(&before, &after, "a deletion");
        if let Err(e) = repo.delete(&["key-00000000-0000-4000-8000-00000000dead".to_string()]) {
            self.assert_typed(&e, "deleting a name that does not exist");
        }
        let after_missing = self.load(repo, "after deleting a missing name");
        self.assert_holds(&after_missing, expected, "after deleting a missing name");
    }

    fn check_bad_configs(&self) {
        let id = self.provider_id.as_str();
        for (config, code) in &self.bad_configs {
            let err = match self.plugin.create_repository(id, config) {
                Err(e) => e,
                Ok(repo) => match repo.load() {
                    Err(e) => e,
                    Ok(_) => panic!(
                        "contract: {id}: the bad configuration {config:?} was accepted (factory \
                         and first load succeeded); expected {code}"
                    ),
                },
            };
            self.assert_typed(&err, &format!("the bad configuration {config:?}"));
            assert_eq!(
                err.code(),
                *code,
                "contract: {id}: the bad configuration {config:?} must be refused with {code}: \
                 {err:?}"
            );
        }
    }

    /// Two loads without a write in between report the same version.
    fn assert_stable(&self, repo: &RepositoryBox, snapshot: &Snapshot, when: &str) {
        let again = self.load(repo, when);
        assert_eq!(
            again.version(),
            snapshot.version(),
            "contract: {}: the version changed between two loads with no write in between \
             ({when}); conditional stores would always conflict",
            self.provider_id
        );
    }

    /// The version changed across a write (when versions are kept at all).
    fn assert_changed(&self, before: &Snapshot, after: &Snapshot, write: &str) {
        if before.version().is_empty() && after.version().is_empty() {
            return; // No versions (allowed without CONDITIONAL_STORE).
        }
        assert_ne!(
            before.version(),
            after.version(),
            "contract: {}: the version token did not change after {write}",
            self.provider_id
        );
    }

    /// The snapshot holds exactly `expected` (names and XML as the opt-outs allow).
    fn assert_holds(&self, snapshot: &Snapshot, expected: &[Element], when: &str) {
        let id = self.provider_id.as_str();
        let got = snapshot.elements();
        assert_eq!(
            got.len(),
            expected.len(),
            "contract: {id}: {when}: expected {} elements {:?}, the load gave {:?}",
            expected.len(),
            expected.iter().map(Element::name).collect::<Vec<_>>(),
            names(snapshot)
        );
        let exact_names = !self.opted_out(RepositoryCheck::FriendlyNames);
        let exact_xml = !self.opted_out(RepositoryCheck::ExactXml);
        let (mut got, mut want): (Vec<&Element>, Vec<&Element>) =
            (got.iter().collect(), expected.iter().collect());
        if !self.keeps_order {
            // Both sorted by key id: every fixture element's XML names its key id.
            got.sort_by_key(|e| sort_key(e));
            want.sort_by_key(|e| sort_key(e));
        }
        for (g, w) in got.iter().zip(want.iter()) {
            if exact_names {
                assert_eq!(
                    g.name(),
                    w.name(),
                    "contract: {id}: {when}: the friendly name did not come back as stored"
                );
            }
            if exact_xml {
                assert_eq!(
                    g.xml(),
                    w.xml(),
                    "contract: {id}: {when}: the XML of {} did not come back byte for byte",
                    w.name()
                );
            } else {
                assert_eq!(
                    normalise(g.xml()),
                    normalise(w.xml()),
                    "contract: {id}: {when}: the XML of {} did not come back",
                    w.name()
                );
            }
        }
    }

    fn opted_out(&self, check: RepositoryCheck) -> bool {
        self.opt_outs.iter().any(|(c, _)| *c == check)
    }

    /// Races conditional stores between two processes that loaded the same version of the
    /// repository `config` makes (the test binary is re-executed: `test_name` is the full name
    /// of the calling test, as `cargo test` lists it, and that test must call
    /// [`super::child_process_entry`] first). Exactly one process must win; the other must get
    /// [`ErrorCode::Conflict`]; the repository then holds the winner's element and not the
    /// loser's. Runs three rounds. A repository without [`Capabilities::CONDITIONAL_STORE`] is
    /// only checked to say so.
    pub fn check_two_processes(&self, config: &str, test_name: &str) {
        let id = self.provider_id.as_str();
        let repo = self.open(config);
        let d = self.ok("describe", repo.describe());
        if !d.capabilities().contains(Capabilities::CONDITIONAL_STORE) {
            eprintln!("contract: {id}: no conditional store: two-process race not run");
            return;
        }
        for round in 0..3usize {
            let before = self.load(&repo, "before a race");
            let dir = TempDir::new("race");
            let children: Vec<Child> = (0..2usize)
                .map(|n| {
                    Command::new(std::env::current_exe().expect("the test binary's path"))
                        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
                        .env(CHILD_ENV, "race")
                        .env(RACE_PLUGIN, self.plugin.spec())
                        .env(RACE_PROVIDER, id)
                        .env(RACE_CONFIG, config)
                        .env(RACE_DIR, dir.path())
                        .env(RACE_ELEMENT, (100 + round * 2 + n).to_string())
                        // The child's test harness chatter; its panics go to stderr.
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("cannot re-execute the test binary")
                })
                .collect();
            let mut children = children;
            let versions = wait_ready(&mut children, dir.path(), test_name);
            assert!(
                versions.iter().all(|v| v == before.version()),
                "contract: {id}: processes loading the same repository saw different versions: \
                 {versions:?} (this process: {:?})",
                before.version()
            );
            std::fs::write(dir.path().join("go"), b"go").expect("cannot write the start signal");
            for (n, child) in children.iter_mut().enumerate() {
                let status = child.wait().expect("cannot wait for a child");
                assert!(
                    status.success(),
                    "contract: {id}: race child {n} failed: {status}"
                );
            }
            let results: Vec<String> = (0..2)
                .map(|n| {
                    std::fs::read_to_string(dir.path().join(format!("result-{n}")))
                        .unwrap_or_else(|e| panic!("race child {n} left no result: {e}"))
                })
                .collect();
            let winners: Vec<usize> = (0..2).filter(|&n| results[n].starts_with("won ")).collect();
            assert_eq!(
                winners.len(),
                1,
                "contract: {id}: a race of two conditional stores on one version must have \
                 exactly one winner; the processes said {results:?}"
            );
            let winner = winners[0];
            let loser = 1 - winner;
            assert!(
                results[loser].starts_with("conflict"),
                "contract: {id}: the losing process must get ErrorCode::Conflict, it said {:?}",
                results[loser]
            );
            let after = self.load(&repo, "after a race");
            let has = |n: usize| {
                let xml = key(100 + round * 2 + n).xml().to_string();
                after.elements().iter().any(|e| e.xml() == xml)
            };
            assert!(
                has(winner) && !has(loser),
                "contract: {id}: after the race the repository must hold the winner's element \
                 and not the loser's: {:?}",
                names(&after)
            );
            assert_eq!(
                after.elements().len(),
                before.elements().len() + 1,
                "contract: {id}: a race stored more or less than one element"
            );
            if !self.opted_out(RepositoryCheck::ReturnedVersionIsCurrent) {
                assert_eq!(
                    results[winner].trim_end(),
                    format!("won {}", after.version()),
                    "contract: {id}: the winner's returned version is not the current one"
                );
            }
        }
    }
}

const RACE_PLUGIN: &str = "TROUSSEAU_TESTKIT_PLUGIN";
const RACE_PROVIDER: &str = "TROUSSEAU_TESTKIT_PROVIDER";
const RACE_CONFIG: &str = "TROUSSEAU_TESTKIT_CONFIG";
const RACE_DIR: &str = "TROUSSEAU_TESTKIT_DIR";
const RACE_ELEMENT: &str = "TROUSSEAU_TESTKIT_ELEMENT";
const RACE_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until both children have loaded (each writes `ready-N` with its version).
fn wait_ready(children: &mut [Child], dir: &Path, test_name: &str) -> Vec<String> {
    let deadline = Instant::now() + RACE_TIMEOUT;
    loop {
        let ready: Vec<Option<String>> = (0..children.len())
            .map(|n| std::fs::read_to_string(dir.join(format!("ready-{n}"))).ok())
            .collect();
        if ready.iter().all(Option::is_some) {
            return ready.into_iter().flatten().collect();
        }
        for (n, child) in children.iter_mut().enumerate() {
            if ready[n].is_none() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "contract: race child {n} exited ({status}) before loading the \
                         repository. Is {test_name:?} the exact name of the test, and does it \
                         call testkit::child_process_entry() first?"
                    );
                }
            }
        }
        if Instant::now() > deadline {
            for child in children.iter_mut() {
                let _ = child.kill();
            }
            panic!("contract: the race children did not load the repository within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The child's part of a race: load, say so, wait for the start signal, store conditionally,
/// report. Returns the exit code.
pub(super) fn race_child() -> i32 {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let plugin = Plugin::from_spec(&var(RACE_PLUGIN));
    let dir = std::path::PathBuf::from(var(RACE_DIR));
    let n: usize = var(RACE_ELEMENT).parse().expect("element number");
    let index = n % 2;
    let repo = plugin
        .create_repository(&var(RACE_PROVIDER), &var(RACE_CONFIG))
        .unwrap_or_else(|e| panic!("race child: creating the repository failed: {e:?}"));
    let version = repo
        .load()
        .unwrap_or_else(|e| panic!("race child: load failed: {e:?}"))
        .version()
        .to_string();
    let write = |name: String, text: &str| {
        // Written then renamed, so that the parent never reads half a file.
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text).expect("cannot write to the race directory");
        std::fs::rename(&tmp, dir.join(name)).expect("cannot rename in the race directory");
    };
    write(format!("ready-{index}"), &version);
    let deadline = Instant::now() + RACE_TIMEOUT;
    while !dir.join("go").exists() {
        if Instant::now() > deadline {
            eprintln!("race child: no start signal within 120 s");
            return 3;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = match repo.store_conditional(&version, &[key(n)]) {
        Ok(v) => format!("won {v}"),
        Err(e) if e.code() == ErrorCode::Conflict => "conflict".to_string(),
        Err(e) => format!("error {e:?}"),
    };
    write(format!("result-{index}"), &result);
    0
}

fn names(snapshot: &Snapshot) -> Vec<&str> {
    snapshot.elements().iter().map(Element::name).collect()
}

/// Sort key of a fixture element: its kind and key id, read from the XML (stable whatever
/// names a provider gives).
fn sort_key(e: &Element) -> (bool, String) {
    let xml = e.xml();
    let id = xml
        .find("id=\"")
        .map(|i| xml[i + 4..].chars().take(36).collect::<String>())
        .unwrap_or_default();
    (xml.trim_start().starts_with("<revocation"), id)
}

/// XML with whitespace between tags removed (for providers opted out of exact XML).
fn normalise(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut between = false;
    let mut pending = String::new();
    for c in xml.trim().chars() {
        match c {
            '>' => {
                out.push(c);
                between = true;
                pending.clear();
            }
            '<' => {
                if between && !pending.trim().is_empty() {
                    out.push_str(&pending);
                }
                pending.clear();
                between = false;
                out.push(c);
            }
            _ if between => pending.push(c),
            _ => out.push(c),
        }
    }
    out.push_str(&pending);
    out
}

/// Key id number `n` in canonical GUID form.
pub fn key_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Key `n` as ASP.NET Core writes it (`<key>` without formatting), named `key-{id}`.
pub fn key(n: usize) -> Element {
    let id = key_id(n);
    let xml = key_xml(
        &id,
        "2026-04-16T16:40:09.6237156Z",
        "2026-04-16T16:40:09.6237156Z",
        "2026-07-15T16:40:09.6237156Z",
        &format!("{n:0>86}=="),
    );
    Element::new(format!("key-{id}"), xml)
}

/// A `<key>` element exactly as ASP.NET Core 10 writes it without formatting, with the given
/// id, dates (`xs:dateTime` text, e.g. `2026-04-16T16:40:09.6237156Z`) and base64 master key
/// (AES-256-CBC + HMAC-SHA256, unencrypted).
pub fn key_xml(
    id: &str,
    creation: &str,
    activation: &str,
    expiration: &str,
    master: &str,
) -> String {
    format!(
        concat!(
            r#"<key id="{id}" version="1">"#,
            "<creationDate>{creation}</creationDate>",
            "<activationDate>{activation}</activationDate>",
            "<expirationDate>{expiration}</expirationDate>",
            r#"<descriptor deserializerType="Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=10.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60">"#,
            "<descriptor>",
            r#"<encryption algorithm="AES_256_CBC" />"#,
            r#"<validation algorithm="HMACSHA256" />"#,
            r#"<masterKey p4:requiresEncryption="true" xmlns:p4="http://schemas.asp.net/2015/03/dataProtection">"#,
            "<!-- Warning: the key below is in an unencrypted form. -->",
            "<value>{master}</value>",
            "</masterKey></descriptor></descriptor></key>"
        ),
        id = id,
        creation = creation,
        activation = activation,
        expiration = expiration,
        master = master
    )
}

/// A revocation of key `n` as ASP.NET Core writes it, named `revocation-{id}`.
pub fn revocation(n: usize) -> Element {
    let id = key_id(n);
    Element::new(
        format!("revocation-{id}"),
        format!(
            r#"<revocation version="1"><revocationDate>2026-05-01T10:00:00.1234567Z</revocationDate><key id="{id}" /><reason>contract test</reason></revocation>"#
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_drops_formatting_only() {
        assert_eq!(
            normalise("<a>\n  <b x=\"1\" />\n  <c>text</c>\n</a>\n"),
            "<a><b x=\"1\" /><c>text</c></a>"
        );
    }

    #[test]
    fn fixtures_sort_by_kind_and_id() {
        assert!(sort_key(&key(2)) < sort_key(&key(10)));
        assert!(sort_key(&key(99)) < sort_key(&revocation(1)));
        assert_eq!(sort_key(&revocation(3)).1, key_id(3));
    }
}
