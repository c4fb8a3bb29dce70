//! The ring-writer suite: an attacker who can write the shared key-ring repository (a
//! directory, a Redis list) but holds no master key tries every attack on an encrypted ring,
//! against the real filesystem repository and a private redis-server. Each attack must leave
//! the victim refusing the planted element (loudly) and still working with its own ring, and
//! never make it load code, run a program, hang, or use a key the attacker made.
//!
//! Where the attack has a meaning for a trusting reader, the test first shows it succeeding
//! against the open (interop) trust model — ASP.NET Core's, where the repository is trusted —
//! so that the assertion that follows could fail.
// Unix only: Unix file modes and a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use trousseau::{
    dataprotection::{
        algorithms::Algorithm,
        at_rest::{KeyEncryption, PlainKeys},
        keyring::{Key, RingKey},
        keyxml::{self, ParsedElements, Revocation},
        manager::{KeyManagementOptions, KeyManager},
        rotation,
        slots::{self, Slot},
        timestamp::{days, minutes, Timestamp},
        unlock::{Opened, Unlocker},
        wrapping::RingWrappingKey,
        DataProtector, KeyRingSource,
    },
    masterkey::{
        composite_key, enroll_components, transform_key, EverySource, KdfLimits, KdfParams,
        SourceSpec,
    },
    plugins::Registry,
};
use trousseau_core::{abi::RepositoryBox, Element, NoInteraction, SecretBytes};
use trousseau_tests::Redis;
use uuid::Uuid;

/// Where the attacked ring lives.
enum Store {
    Directory(PathBuf),
    Redis(Redis),
}

impl Store {
    fn config(&self) -> (&'static str, String) {
        match self {
            Store::Directory(d) => (
                "filesystem",
                serde_json::json!({ "directory": d }).to_string(),
            ),
            Store::Redis(r) => ("redis", serde_json::json!({ "url": r.url() }).to_string()),
        }
    }

    fn name(&self) -> &'static str {
        self.config().0
    }
}

/// A node with an encrypted ring whose single slot is made of a key file only it has.
struct Victim {
    dir: tempfile::TempDir,
    store: Store,
    registry: Registry,
    local: Vec<SourceSpec>,
}

fn spec(provider: &str, config: serde_json::Value, public_params: &str) -> SourceSpec {
    SourceSpec {
        provider: provider.into(),
        config: config.to_string(),
        public_params: public_params.into(),
    }
}

fn random_hex_key(path: &Path) {
    let mut bytes = [0u8; 32];
    getrandom(&mut bytes);
    std::fs::write(path, hex::encode(bytes)).unwrap();
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

fn options() -> KeyManagementOptions {
    KeyManagementOptions::default()
}

impl Victim {
    /// A victim over the filesystem repository, or over a private Redis with `redis`.
    fn new(redis: bool) -> Victim {
        let dir = tempfile::tempdir().unwrap();
        let store = if redis {
            Store::Redis(Redis::start())
        } else {
            Store::Directory(dir.path().join("ring"))
        };
        let key = dir.path().join("victim.key");
        random_hex_key(&key);
        let local = vec![spec("keyfile", serde_json::json!({ "path": key }), "")];
        let v = Victim {
            dir,
            store,
            registry: Registry::with_builtins(None).unwrap(),
            local,
        };
        v.create();
        v
    }

    fn repo(&self) -> RepositoryBox {
        let (id, config) = self.store.config();
        self.registry.repository(id, &config).unwrap()
    }

    /// A slot of `sources` (enrolled here) wrapping `w`.
    fn slot(
        &self,
        sources: &[SourceSpec],
        w: &RingWrappingKey,
        label: &str,
    ) -> (Slot, SecretBytes) {
        let kdf = KdfParams::new_default();
        let (components, stored) = enroll_components(
            &self.registry,
            sources,
            kdf.seed(),
            &EverySource(&NoInteraction),
            "test ring",
        )
        .unwrap();
        let kek = transform_key(&composite_key(components).unwrap(), &kdf).unwrap();
        let slot = Slot::wrap(&kek, w, label, stored, kdf, Timestamp::now()).unwrap();
        (slot, kek)
    }

    /// The ring: one slot of the victim's key file and the first key.
    fn create(&self) {
        let w = RingWrappingKey::generate(0).unwrap();
        let (slot, _) = self.slot(&self.local, &w, "victim");
        let repo = self.repo();
        let version = repo.load().unwrap().version().to_string();
        KeyManager::new(self.repo(), options(), Arc::new(w))
            .unwrap()
            .create_ring(&version, &[slot.to_element().unwrap()])
            .unwrap();
    }

    fn parsed(&self) -> ParsedElements {
        ParsedElements::read(self.repo().load().unwrap().elements()).unwrap()
    }

    /// Opens W as a node with `local` as its unlock sources, within `limit` (a hang fails).
    fn open_as(&self, local: Vec<SourceSpec>, limit: Duration) -> Result<Opened, String> {
        let parsed = self.parsed();
        let registry = Registry::with_builtins(None).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let unlocker = Unlocker::new(&registry, &local, KdfLimits::default(), "test ring");
            let _ = tx.send(
                unlocker
                    .open(&parsed, &EverySource(&NoInteraction))
                    .map_err(|e| e.to_string()),
            );
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("opening the ring hung for more than {limit:?}"))
    }

    fn open(&self) -> Opened {
        self.open_as(self.local.clone(), Duration::from_secs(60))
            .unwrap()
    }

    /// The victim's key manager (the ring opened with its own key file).
    fn manager(&self) -> Arc<KeyManager> {
        Arc::new(KeyManager::new(self.repo(), options(), Arc::new(self.open().w)).unwrap())
    }

    /// A manager that trusts the repository, as ASP.NET Core does (the control).
    fn trusting_manager(&self) -> Arc<KeyManager> {
        Arc::new(KeyManager::new(self.repo(), options(), Arc::new(PlainKeys)).unwrap())
    }

    fn plant(&self, name: &str, xml: &str) {
        self.repo().store(&Element::new(name, xml)).unwrap();
    }

    /// Replaces the element named `name` with `xml` (as a writer of the store can).
    fn replace(&self, name: &str, xml: &str) {
        self.repo().delete(&[name.to_string()]).unwrap();
        self.plant(name, xml);
    }

    fn element(&self, prefix: &str) -> Element {
        self.repo()
            .load()
            .unwrap()
            .elements()
            .iter()
            .find(|e| e.name().starts_with(prefix))
            .unwrap_or_else(|| panic!("no element named {prefix}…"))
            .clone()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn protector(source: Arc<KeyManager>) -> DataProtector {
    DataProtector::new(source as Arc<dyn KeyRingSource>, vec!["app".into()])
}

fn default_key(manager: &Arc<KeyManager>) -> Uuid {
    manager.key_ring().unwrap().default_key_id()
}

/// Both repositories.
fn each_store(test: impl Fn(Victim)) {
    for redis in [false, true] {
        test(Victim::new(redis));
    }
}

/// A `<key>` the attacker makes, its secret stored by `protection`: created three days ago
/// (so that ASP.NET's resolver prefers it as propagated) and active now.
fn attacker_key(protection: &dyn KeyEncryption) -> (Uuid, String) {
    let now = Timestamp::now();
    let id = Uuid::new_v4();
    let key = Key {
        id,
        creation: now.plus(-days(3)),
        activation: now.plus(-minutes(1)),
        expiration: now.plus(days(90)),
        descriptor: Err(String::new()),
    };
    let secret = SecretBytes::copy_from(&[0x41; 64]);
    let stored = protection
        .secret_xml(&key, Algorithm::default(), &secret)
        .unwrap();
    (id, keyxml::key_xml(&key, Algorithm::default(), &stored))
}

/// An unencrypted `<key>` from the attacker's own (interop) ring.
fn attacker_plain_key() -> (Uuid, String) {
    attacker_key(&PlainKeys)
}

#[test]
fn a_planted_plaintext_key_never_becomes_the_default() {
    each_store(|v| {
        let own = default_key(&v.manager());
        let (planted, xml) = attacker_plain_key();
        v.plant(&format!("key-{planted}"), &xml);
        // Control: a reader that trusts the repository takes the planted key.
        assert_eq!(
            default_key(&v.trusting_manager()),
            planted,
            "{}",
            v.store.name()
        );
        let manager = v.manager();
        assert_eq!(default_key(&manager), own, "{}", v.store.name());
        let payload = protector(manager.clone()).protect(b"secret").unwrap();
        assert_eq!(payload[4..20], own.to_bytes_le());
        let keys = manager.keys().unwrap();
        let planted_key = keys.iter().find(|k| k.key.id == planted).unwrap();
        let err = planted_key
            .encryptor(manager.protection())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not trusted") && err.contains("unencrypted"),
            "{err}"
        );
    });
}

/// Copies of the `<key>` element `original` (key `id`) with its sealed secret kept and one
/// thing changed, with the id the copy carries.
fn edited_copies(original: &str, id: Uuid) -> Vec<(&'static str, String, Uuid)> {
    let other = Uuid::new_v4();
    let shift = |xml: &str, tag: &str| {
        let open = format!("<{tag}>");
        let start = xml.find(&open).unwrap() + open.len();
        let end = xml[start..].find('<').unwrap() + start;
        let date = Timestamp::parse(&xml[start..end]).unwrap().plus(days(1));
        format!("{}{date}{}", &xml[..start], &xml[end..])
    };
    vec![
        (
            "moved to another id",
            original.replace(&id.to_string(), &other.to_string()),
            other,
        ),
        ("expiration edited", shift(original, "expirationDate"), id),
        ("activation edited", shift(original, "activationDate"), id),
        ("creation edited", shift(original, "creationDate"), id),
        (
            "algorithm edited",
            original.replace("AES_256_CBC", "AES_128_CBC"),
            id,
        ),
    ]
}

#[test]
fn a_key_secret_moved_or_edited_is_refused() {
    each_store(|v| {
        let manager = v.manager();
        let own = default_key(&manager);
        let payload = protector(manager).protect(b"before").unwrap();
        let original = v.element(&format!("key-{own}"));
        for (what, xml, id) in edited_copies(original.xml(), own) {
            v.replace(original.name(), &xml);
            let manager = v.manager();
            let keys = manager.keys().unwrap();
            let edited = keys.iter().find(|k| k.key.id == id).unwrap();
            let err = edited
                .encryptor(manager.protection())
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("not trusted"),
                "{what} on {}: {err}",
                v.store.name()
            );
            if id == own {
                let err = protector(manager)
                    .unprotect(&payload)
                    .unwrap_err()
                    .to_string();
                assert!(err.contains("not trusted"), "{what}: {err}");
            }
            v.replace(original.name(), original.xml());
        }
        assert_eq!(
            protector(v.manager()).unprotect(&payload).unwrap(),
            b"before"
        );
    });
}

#[test]
fn planted_and_replayed_revocations_are_not_honoured() {
    each_store(|v| {
        let manager = v.manager();
        let own = default_key(&manager);
        let payload = protector(manager.clone()).protect(b"data").unwrap();
        let now = Timestamp::now();
        let planted = keyxml::revocation_element(
            &Revocation::Single { id: own, date: now },
            now,
            "planted",
            None,
        );
        v.plant(planted.name(), planted.xml());
        // Control: a trusting reader honours it.
        let trusting = v.trusting_manager();
        assert!(trusting.keys().unwrap().iter().all(|k| k.revoked));
        // The victim does not.
        let manager = v.manager();
        assert!(manager.keys().unwrap().iter().all(|k: &RingKey| !k.revoked));
        assert_eq!(
            protector(manager.clone()).unprotect(&payload).unwrap(),
            b"data"
        );
        // A revocation MACed under another ring's W, and a genuine one retargeted.
        let foreign = RingWrappingKey::generate(0).unwrap();
        let all = Revocation::AllCreatedBefore(now.plus(days(1)));
        let mac = foreign.revocation_mac(&all).unwrap();
        let foreign_el = keyxml::revocation_element(&all, now, "foreign", mac.as_deref());
        v.plant(foreign_el.name(), foreign_el.xml());
        let decoy = manager
            .create_key(now.plus(days(30)), now.plus(days(120)))
            .unwrap();
        manager.revoke_key(decoy, "genuine").unwrap();
        let genuine = v.element(&format!("revocation-{decoy}"));
        v.plant(
            &format!("revocation-x{own}"),
            &genuine.xml().replace(&decoy.to_string(), &own.to_string()),
        );
        let manager = v.manager();
        let keys = manager.keys().unwrap();
        for k in &keys {
            assert_eq!(
                k.revoked,
                k.key.id == decoy,
                "key {} on {}",
                k.key.id,
                v.store.name()
            );
        }
        assert_eq!(protector(manager).unprotect(&payload).unwrap(), b"data");
    });
}

/// A shared library whose constructor creates `marker`: what an attacker would point a
/// token module at.
fn evil_library(dir: &Path, marker: &Path) -> PathBuf {
    let source = dir.join("evil.c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{ FILE *f = fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let lib = dir.join("libevil.so");
    let out = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&source)
        .output()
        .expect("cc (gcc) is needed to build the attacker's library");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

#[test]
fn a_planted_slot_never_loads_code_runs_a_program_or_opens_a_fifo() {
    each_store(|v| {
        let marker = v.path("constructor-ran");
        let lib = evil_library(v.dir.path(), &marker);
        let fifo = v.path("fifo.key");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let attacker_w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[9u8; 32]);
        let pkcs11_params = serde_json::json!({
            "module": lib, "token_label": "t", "token_serial": "1", "key_label": "k",
            "key_id": "", "mechanism": "hmac-sha256",
        })
        .to_string();
        let plant = |sources: Vec<SourceSpec>, label: &str| {
            let slot = Slot::wrap(
                &kek,
                &attacker_w,
                label,
                sources,
                KdfParams::new_default(),
                Timestamp::now(),
            )
            .unwrap();
            let el = slot.to_element().unwrap();
            v.plant(el.name(), el.xml());
        };
        plant(
            vec![spec("pkcs11", serde_json::json!({}), &pkcs11_params)],
            "module hint",
        );
        plant(
            vec![spec(
                "pkcs11",
                serde_json::json!({ "module": lib }),
                &pkcs11_params,
            )],
            "module",
        );
        plant(
            vec![spec("keyfile", serde_json::json!({ "path": fifo }), "")],
            "fifo",
        );
        plant(
            vec![spec(
                "command",
                serde_json::json!({ "argv": ["touch", marker] }),
                "",
            )],
            "command",
        );
        // The victim, and a node without unlock sources (it tries settings-free slots).
        let opened = v.open_as(v.local.clone(), Duration::from_secs(60)).unwrap();
        assert_eq!(opened.slot.label, "victim");
        let err = v.open_as(Vec::new(), Duration::from_secs(60)).unwrap_err();
        assert!(err.contains("no master-key slot opens"), "{err}");
        assert!(err.contains("never from the key ring"), "{err}");
        assert!(
            !marker.exists(),
            "the attacker's code ran on {}",
            v.store.name()
        );
        // Control: the same module configured by the node itself does run its constructor.
        let registry = Registry::with_builtins(None).unwrap();
        let source = registry
            .key_source("pkcs11", &serde_json::json!({ "module": lib }).to_string())
            .unwrap();
        let ctx = trousseau_core::DeriveContext::new(&[0u8; 32], &pkcs11_params, "control");
        let _ = source.derive(&ctx, &NoInteraction);
        assert!(marker.exists(), "the control did not load the library");
    });
}

#[test]
fn a_kdf_that_would_stall_or_exhaust_the_node_is_not_run() {
    each_store(|v| {
        let w = RingWrappingKey::generate(0).unwrap();
        let kek = SecretBytes::copy_from(&[3u8; 32]);
        let seed = [7u8; 32];
        let bombs = [
            serde_json::json!({"kdf": "aes-kdf", "rounds": u64::MAX, "seed": base64(&seed)}),
            serde_json::json!({"kdf": "argon2", "variant": "id", "salt": base64(&seed),
                "memory_kib": u32::MAX, "iterations": 2, "parallelism": 1, "version": 19}),
            serde_json::json!({"kdf": "argon2", "variant": "id", "salt": base64(&seed),
                "memory_kib": 65536, "iterations": u32::MAX, "parallelism": 1, "version": 19}),
            serde_json::json!({"kdf": "argon2", "variant": "id", "salt": base64(&seed),
                "memory_kib": u32::MAX, "iterations": u32::MAX, "parallelism": u32::MAX,
                "version": 19}),
        ];
        for (i, bomb) in bombs.iter().enumerate() {
            let kdf: KdfParams = serde_json::from_value(bomb.clone()).unwrap();
            let slot = Slot::wrap(
                &kek,
                &w,
                &format!("bomb {i}"),
                // The victim's own composition, so the bomb is a candidate.
                vec![spec(
                    "keyfile",
                    serde_json::json!({ "path": "/elsewhere" }),
                    "",
                )],
                kdf,
                Timestamp::now(),
            )
            .unwrap();
            let el = slot.to_element().unwrap();
            v.plant(el.name(), el.xml());
        }
        let start = Instant::now();
        let opened = v.open_as(v.local.clone(), Duration::from_secs(60)).unwrap();
        assert_eq!(opened.slot.label, "victim");
        assert!(start.elapsed() < Duration::from_secs(60));
        // The refusal names the slot and the ceiling (seen when nothing else opens).
        let other = v.path("other.key");
        random_hex_key(&other);
        let err = v
            .open_as(
                vec![spec("keyfile", serde_json::json!({ "path": other }), "")],
                Duration::from_secs(60),
            )
            .unwrap_err();
        assert!(
            err.contains("bomb 0") && err.contains("max_aes_rounds"),
            "{err}"
        );
        assert!(
            err.contains("bomb 1") && err.contains("max_memory_kib"),
            "{err}"
        );
        assert!(
            err.contains("bomb 2") && err.contains("max_iterations"),
            "{err}"
        );
    });
}

fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn every_edit_of_a_slot_makes_it_fail_to_open() {
    let v = Victim::new(false);
    let opened = v.open();
    let (second, _) = v.slot(&v.local, &opened.w, "second");
    slots::add_slot(&v.repo(), &second).unwrap();
    let first = v.element("masterKeySlot-");
    let first = if first.xml().contains("second") {
        v.repo()
            .load()
            .unwrap()
            .elements()
            .iter()
            .find(|e| e.name().starts_with("masterKeySlot-") && e.name() != first.name())
            .unwrap()
            .clone()
    } else {
        first
    };
    let edits: Vec<(&str, String)> = vec![
        (
            "label",
            first.xml().replace("<label>victim", "<label>victim!"),
        ),
        (
            "KDF iterations",
            first
                .xml()
                .replace("&quot;iterations&quot;:2", "&quot;iterations&quot;:3"),
        ),
        (
            "recorded key-file path",
            first.xml().replace("victim.key", "victim.key2"),
        ),
    ];
    for (what, xml) in edits {
        assert_ne!(xml, first.xml(), "the {what} edit changed nothing");
        v.replace(first.name(), &xml);
        let opened = v.open();
        assert_eq!(opened.slot.label, "second", "after editing the {what}");
        v.replace(first.name(), first.xml());
    }
    // A slot claiming a newer generation hides the others: the ring refuses, loudly.
    v.replace(
        first.name(),
        &first.xml().replace("generation=\"0\"", "generation=\"1\""),
    );
    let err = v
        .open_as(v.local.clone(), Duration::from_secs(60))
        .unwrap_err();
    assert!(err.contains("wrong key") && err.contains("victim"), "{err}");
    v.replace(first.name(), first.xml());
    // Swapping the KDFs of the two slots makes both fail, loudly.
    let second_el = v
        .repo()
        .load()
        .unwrap()
        .elements()
        .iter()
        .find(|e| e.name() == second.element_name())
        .unwrap()
        .clone();
    let kdf_of = |xml: &str| {
        let start = xml.find("<kdf>").unwrap();
        let end = xml.find("</kdf>").unwrap();
        xml[start..end].to_string()
    };
    let (ka, kb) = (kdf_of(first.xml()), kdf_of(second_el.xml()));
    v.replace(first.name(), &first.xml().replace(&ka, &kb));
    v.replace(second_el.name(), &second_el.xml().replace(&kb, &ka));
    let err = v
        .open_as(v.local.clone(), Duration::from_secs(60))
        .unwrap_err();
    assert_eq!(err.matches("wrong key").count(), 2, "{err}");
}

#[test]
fn a_rotation_retires_a_leaked_slot() {
    each_store(|v| {
        let manager = v.manager();
        let before = protector(manager.clone()).protect(b"old data").unwrap();
        let opened = v.open();
        // A second way in whose key file leaks.
        let leaked_key = v.path("leaked.key");
        random_hex_key(&leaked_key);
        let leaked_sources = vec![spec(
            "keyfile",
            serde_json::json!({ "path": leaked_key }),
            "",
        )];
        let (leaked, leaked_kek) = v.slot(&leaked_sources, &opened.w, "leaked");
        slots::add_slot(&v.repo(), &leaked).unwrap();
        let leaked_el = leaked.to_element().unwrap();
        let revoked = manager
            .create_key(
                Timestamp::now().plus(days(10)),
                Timestamp::now().plus(days(100)),
            )
            .unwrap();
        manager.revoke_key(revoked, "test").unwrap();
        // The operator removes the leaked slot and rotates.
        slots::remove_slot(&v.repo(), leaked.id).unwrap();
        let done = rotation::rotate(
            &v.repo(),
            &opened.w,
            &[(opened.slot.clone(), opened.kek.clone())],
        )
        .unwrap();
        assert_eq!(done.generation, 1);
        assert_eq!(done.keys, 2);
        assert_eq!(done.revocations, 1);
        assert!(done.leftovers.is_none(), "{:?}", done.leftovers);
        // The attacker puts the old slot back and plants a key sealed under the old W.
        v.plant(leaked_el.name(), leaked_el.xml());
        let old_w = leaked.unwrap_with(&leaked_kek).unwrap();
        let (planted_id, xml) = attacker_key(&old_w);
        v.plant(&format!("key-{planted_id}"), &xml);
        // The victim opens the new generation only; old data still reads; the planted key and
        // the old slot are never used; the revocation still holds.
        let reopened = v.open();
        assert_eq!(reopened.w.generation(), 1);
        assert!(!reopened.w.same_as(&old_w));
        let manager = v.manager();
        assert_ne!(default_key(&manager), planted_id);
        assert_eq!(
            protector(manager.clone()).unprotect(&before).unwrap(),
            b"old data"
        );
        let keys = manager.keys().unwrap();
        assert!(keys.iter().find(|k| k.key.id == revoked).unwrap().revoked);
        let planted_key = keys.iter().find(|k| k.key.id == planted_id).unwrap();
        assert!(planted_key.encryptor(manager.protection()).is_err());
        // A node holding only the leaked key file opens nothing.
        let err = v
            .open_as(leaked_sources.clone(), Duration::from_secs(60))
            .unwrap_err();
        assert!(err.contains("no master-key slot opens"), "{err}");
        // Keys made after the rotation do not open under the old W.
        let fresh = manager
            .create_key(Timestamp::now(), Timestamp::now().plus(days(90)))
            .unwrap();
        let old = KeyManager::new(v.repo(), options(), Arc::new(old_w)).unwrap();
        let keys = old.keys().unwrap();
        let fresh_key = keys.iter().find(|k| k.key.id == fresh).unwrap();
        assert!(fresh_key.encryptor(old.protection()).is_err());
    });
}

/// Runs the `trousseau` binary on the victim's filesystem ring, through a configuration that
/// names the ring and the victim's key file, with the filesystem repository's failpoint armed
/// at `step` when given (debug builds: -1 after the first temp file, 0 after the journal, n
/// after the n-th rename).
fn cli(v: &Victim, args: &[&str], step: Option<i32>) -> std::process::Output {
    let Store::Directory(ring) = &v.store else {
        panic!("the command-line tests run on the filesystem repository");
    };
    let config = v.path("config.toml");
    let key: serde_json::Value = serde_json::from_str(&v.local[0].config).unwrap();
    std::fs::write(
        &config,
        format!(
            "[repository]\nprovider = \"filesystem\"\ndirectory = {:?}\n\
             [[master_key.sources]]\nprovider = \"keyfile\"\npath = {:?}\n",
            ring.to_str().unwrap(),
            key["path"].as_str().unwrap()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(trousseau_tests::workspace::trousseau_bin());
    cmd.args(["--config", config.to_str().unwrap()])
        .args(args)
        .env("HOME", v.dir.path())
        .env_remove("TROUSSEAU_PLUGIN_PATH")
        .env_remove(trousseau_filesystem::FAILPOINT_ENV)
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1");
    if let Some(step) = step {
        cmd.env(trousseau_filesystem::FAILPOINT_ENV, step.to_string());
    }
    cmd.output().unwrap()
}

#[test]
fn deleting_the_slots_does_not_turn_the_ring_into_a_trusting_one() {
    let v = Victim::new(false);
    let slot = v.element("masterKeySlot-");
    v.repo().delete(&[slot.name().to_string()]).unwrap();
    let (planted, xml) = attacker_plain_key();
    v.plant(&format!("key-{planted}"), &xml);
    let out = cli(&v, &["protect", "x"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        out.stdout.is_empty(),
        "protected under the planted key: {err}"
    );
    assert!(
        err.contains("no master-key slot") && err.contains("interop"),
        "{err}"
    );
}

#[test]
fn a_rotation_killed_at_any_step_leaves_the_old_ring_or_the_new_one() {
    use std::os::unix::process::ExitStatusExt;
    // The rotation stores two elements (re-wrapped secrets, one slot): steps -1 to 2.
    for step in -1..=2 {
        let v = Victim::new(false);
        let payload = protector(v.manager()).protect(b"kept").unwrap();
        let out = cli(&v, &["master-key", "rotate"], Some(step));
        assert_eq!(
            out.status.signal(),
            Some(9),
            "step {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The next reader finds one whole generation and every key.
        let opened = v.open();
        let expected = if step < 0 { 0 } else { 1 };
        assert_eq!(opened.w.generation(), expected, "step {step}");
        assert_eq!(
            protector(v.manager()).unprotect(&payload).unwrap(),
            b"kept",
            "step {step}"
        );
        // Rotating again completes and cleans up what the killed run left.
        let out = cli(&v, &["master-key", "rotate"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opened = v.open();
        assert_eq!(opened.w.generation(), expected + 1, "step {step}");
        let all = slots::slots(&v.parsed());
        assert_eq!(all.len(), 1, "step {step}: {all:?}");
        assert_eq!(protector(v.manager()).unprotect(&payload).unwrap(), b"kept");
    }
}

#[test]
fn keys_list_flags_a_planted_key_untrusted_and_warns_once() {
    let v = Victim::new(false);
    let (planted, xml) = attacker_plain_key();
    v.plant(&format!("key-{planted}"), &xml);
    let out = cli(&v, &["keys", "list", "--json"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        let is_planted = row["id"] == planted.to_string();
        assert_eq!(row["untrusted"], is_planted, "{row}");
        assert_eq!(row["default"], !is_planted, "{row}");
    }
    assert_eq!(err.matches(&planted.to_string()).count(), 1, "{err}");
    assert!(err.contains("not trusted"), "{err}");
    let table = cli(&v, &["keys", "list"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(&planted.to_string()))
        .unwrap();
    assert!(line.ends_with("untrusted"), "{line}");
}
