//! Key manager over the real filesystem repository: an ASP.NET-format directory, default-key
//! scenarios, crash safety of writers, and concurrent key generation across processes.
// Unix only: Unix file modes (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::Path, process::Command, sync::Arc, time::Duration};

use trousseau::dataprotection::{
    keyxml,
    manager::{KeyManagementOptions, KeyManager, PlainKeys},
    timestamp::Timestamp,
    DataProtectionError, DataProtector, KeyRingSource,
};
use trousseau_core::abi::{create_repository, RepositoryBox};

fn repo(dir: &Path) -> RepositoryBox {
    let cfg = serde_json::json!({ "directory": dir }).to_string();
    RepositoryBox::new(
        create_repository(&trousseau_filesystem::PLUGIN, "filesystem", &cfg)
            .into_result()
            .unwrap(),
    )
}

fn manager_at(dir: &Path, now: &str, auto: bool) -> KeyManager {
    let t = Timestamp::parse(now).unwrap();
    let opts = KeyManagementOptions {
        auto_generate_keys: auto,
        ..Default::default()
    };
    KeyManager::with_clock(repo(dir), opts, Arc::new(PlainKeys), Arc::new(move || t)).unwrap()
}

fn aspnet_key(id: &str, created: &str, activated: &str, expires: &str, secret_byte: u8) -> String {
    let b64 = base64_of(&[secret_byte; 64]);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\"{id}\" version=\"1\">\n  <creationDate>{created}</creationDate>\n  <activationDate>{activated}</activationDate>\n  <expirationDate>{expires}</expirationDate>\n  <descriptor deserializerType=\"Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60\">\n    <descriptor>\n      <encryption algorithm=\"AES_256_CBC\" />\n      <validation algorithm=\"HMACSHA256\" />\n      <masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\">\n        <!-- Warning: the key below is in an unencrypted form. -->\n        <value>{b64}</value>\n      </masterKey>\n    </descriptor>\n  </descriptor>\n</key>"
    )
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

const K1: &str = "11111111-0000-4000-8000-000000000001";
const K2: &str = "22222222-0000-4000-8000-000000000002";
const K3: &str = "33333333-0000-4000-8000-000000000003";

/// Writes `key-{id}.xml` with its creation, activation and expiration dates.
fn write_key(dir: &Path, id: &str, [created, activated, expires]: [&str; 3], secret_byte: u8) {
    std::fs::write(
        dir.join(format!("key-{id}.xml")),
        aspnet_key(id, created, activated, expires, secret_byte),
    )
    .unwrap();
}

/// An ASP.NET-format directory: three keys, one revoked individually, a mass revocation.
fn fixture(dir: &Path) {
    write_key(
        dir,
        K1,
        [
            "2026-01-01T00:00:00.1234567Z",
            "2026-01-01T00:00:00.1234567Z",
            "2026-04-01T00:00:00Z",
        ],
        1,
    );
    write_key(
        dir,
        K2,
        [
            "2026-03-01T00:00:00Z",
            "2026-03-31T00:00:00Z",
            "2026-06-29T00:00:00Z",
        ],
        2,
    );
    write_key(
        dir,
        K3,
        [
            "2026-06-01T00:00:00+02:00",
            "2026-06-28T00:00:00Z",
            "2026-09-01T00:00:00Z",
        ],
        3,
    );
    std::fs::write(dir.join("unrelated.xml"), "<somethingElse a=\"1\"/>").unwrap();
    std::fs::write(dir.join("leftover.tmp"), "<key id=").unwrap();
}

fn default_at(dir: &Path, now: &str) -> Result<String, DataProtectionError> {
    let m = manager_at(dir, now, false);
    Ok(m.key_ring()?.default_key_id().to_string())
}

#[test]
fn aspnet_directory_resolution_scenarios() {
    let d = tempfile::tempdir().unwrap();
    fixture(d.path());
    let m = manager_at(d.path(), "2026-02-01T00:00:00Z", false);
    assert_eq!(m.keys().unwrap().len(), 3);
    let table = [
        ("2026-02-01T00:00:00Z", Some(K1)), // only K1 active
        ("2026-03-30T23:56:00Z", Some(K2)), // K2 activates within the 5-minute skew
        ("2026-03-30T23:50:00Z", Some(K1)), // K2 future-dated: K1 still default
        ("2026-06-28T12:00:00Z", Some(K3)), // K3 propagated and active
        ("2026-06-29T00:00:00Z", Some(K3)), // K2 expired exactly now
        ("2026-12-01T00:00:00Z", Some(K2)), // all expired: preferred K3 expired, fallback = newest other
    ];
    for (now, want) in table {
        assert_eq!(default_at(d.path(), now).ok().as_deref(), want, "at {now}");
    }
    // Revoke K3 individually: at 2026-06-28T12:00 K2 is no longer preferred (K3 is, revoked), fallback K2.
    let el = keyxml::revocation_element(
        &keyxml::Revocation::Single {
            id: K3.parse().unwrap(),
            date: Timestamp::parse("2026-06-02T00:00:00Z").unwrap(),
        },
        Timestamp::now(),
        "test",
        None,
    );
    std::fs::write(d.path().join(format!("{}.xml", el.name())), el.xml()).unwrap();
    assert_eq!(default_at(d.path(), "2026-06-28T12:00:00Z").unwrap(), K2);
    // Mass revocation of everything created before 2026-07-01: no usable key, generation disabled.
    let all = keyxml::revocation_element(
        &keyxml::Revocation::AllCreatedBefore(Timestamp::parse("2026-07-01T00:00:00Z").unwrap()),
        Timestamp::parse("2026-07-01T00:00:00Z").unwrap(),
        "test",
        None,
    );
    std::fs::write(d.path().join(format!("{}.xml", all.name())), all.xml()).unwrap();
    let e = default_at(d.path(), "2026-06-28T12:00:00Z").unwrap_err();
    assert!(
        e.to_string()
            .contains("automatic key generation is disabled"),
        "{e}"
    );
    // With auto-generation a fresh key replaces them and is the default.
    let m = manager_at(d.path(), "2026-07-02T00:00:00Z", true);
    let ring = m.key_ring().unwrap();
    assert!(![K1, K2, K3].contains(&ring.default_key_id().to_string().as_str()));
}

#[test]
fn aspnet_payload_round_trip_and_deletion_order() {
    let d = tempfile::tempdir().unwrap();
    fixture(d.path());
    let m = Arc::new(manager_at(d.path(), "2026-02-01T00:00:00Z", false));
    let p = DataProtector::new(m.clone(), vec!["app".into()]);
    let payload = p.protect(b"hello").unwrap();
    assert_eq!(
        &payload[4..20],
        &uuid::Uuid::parse_str(K1).unwrap().to_bytes_le()
    );
    m.revoke_key(K2.parse().unwrap(), "compromised").unwrap();
    let (ids, names) = m
        .deletion_plan(&|k| {
            k.key.expiration <= Timestamp::parse("2026-04-02T00:00:00Z").unwrap() || k.revoked
        })
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(names.len(), 3);
    assert!(names[0].starts_with("key-") && names[1].starts_with("key-"));
    assert_eq!(names[2], format!("revocation-{K2}"));
    m.delete_keys(&|k| k.key.id.to_string() == K1).unwrap();
    assert!(!d.path().join(format!("key-{K1}.xml")).exists());
    let e = DataProtector::new(
        Arc::new(manager_at(d.path(), "2026-02-01T00:00:00Z", true)),
        vec!["app".into()],
    )
    .unprotect(&payload)
    .unwrap_err();
    assert!(matches!(e, DataProtectionError::UnknownKey(_)), "{e}");
}

#[test]
fn generated_keys_are_written_like_aspnet() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ring");
    let m = manager_at(&dir, "2026-02-01T00:00:00Z", true);
    let id = m.key_ring().unwrap().default_key_id();
    let text = std::fs::read_to_string(dir.join(format!("key-{id}.xml"))).unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\""),
        "{text}"
    );
    assert!(text.contains("<!-- Warning: the key below is in an unencrypted form. -->"));
    assert!(
        text.contains("<expirationDate>2026-05-02T00:00:00Z</expirationDate>"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(dir.join(format!("key-{id}.xml")))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // A default expiring within 72 h triggers a successor activated at its expiration.
    let later = manager_at(&dir, "2026-04-30T12:00:00Z", true);
    let ring = later.key_ring().unwrap();
    assert_eq!(ring.default_key_id(), id);
    let keys = later.keys().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[1].key.activation,
        Timestamp::parse("2026-05-02T00:00:00Z").unwrap()
    );
}

#[test]
fn repository_path_problems_are_clear() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let e = manager_at(&file, "2026-02-01T00:00:00Z", true)
        .key_ring()
        .unwrap_err();
    assert!(e.to_string().contains("is a file"), "{e}");
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let r = manager_at(&ro, "2026-02-01T00:00:00Z", true).key_ring();
    // root bypasses permissions; otherwise the failure names the directory and nothing is left.
    if let Err(e) = r {
        assert!(e.to_string().contains(&ro.display().to_string()), "{e}");
    }
    assert!(std::fs::read_dir(&ro).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
    let e = manager_at(d.path(), "1970-01-02T00:00:00Z", true)
        .key_ring()
        .unwrap_err();
    assert!(e.to_string().contains("system clock"), "{e}");
}

/// Child-process entry point: with TROUSSEAU_TEST_CHILD set, acts as a writer (`write`) or a
/// ring builder (`build`) in the directory named by TROUSSEAU_TEST_DIR.
#[test]
fn child_process_role() {
    let role = std::env::var("TROUSSEAU_TEST_CHILD").unwrap_or_default();
    let dir = std::env::var_os("TROUSSEAU_TEST_DIR").map(std::path::PathBuf::from);
    match (role.as_str(), dir) {
        ("write", Some(dir)) => {
            let m = manager_at(&dir, "2026-02-01T00:00:00Z", true);
            let t = Timestamp::parse("2026-02-01T00:00:00Z").unwrap();
            loop {
                m.create_key(t, t.plus(trousseau::dataprotection::timestamp::days(90)))
                    .unwrap();
            }
        }
        ("build", Some(dir)) => {
            // Wait for the common start signal so both processes race.
            while !dir.join("go").exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let m = manager_at(&dir.join("ring"), &Timestamp::now().to_string(), true);
            println!("DEFAULT={}", m.key_ring().unwrap().default_key_id());
        }
        _ => {
            // Not a child: the role dispatcher itself must refuse unknown roles.
            assert!(role.is_empty());
        }
    }
}

fn child(role: &str, dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "child_process_role",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("TROUSSEAU_TEST_CHILD", role)
    .env("TROUSSEAU_TEST_DIR", dir);
    c
}

#[test]
fn writer_killed_mid_write_leaves_a_loadable_ring() {
    let d = tempfile::tempdir().unwrap();
    for round in 0..15 {
        let mut c = child("write", d.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + (round * 7) % 40));
        // SIGKILL: no destructor, no cleanup.
        c.kill().unwrap();
        c.wait().unwrap();
        let m = manager_at(d.path(), "2026-02-01T00:00:00Z", false);
        let keys = m.keys().unwrap();
        for k in &keys {
            assert!(
                k.key.descriptor.is_ok(),
                "round {round}: key {} is damaged",
                k.key.id
            );
        }
    }
    assert!(!manager_at(d.path(), "2026-02-01T00:00:00Z", false)
        .keys()
        .unwrap()
        .is_empty());
}

#[test]
fn concurrent_processes_generate_exactly_one_key() {
    for _ in 0..3 {
        let d = tempfile::tempdir().unwrap();
        let kids: Vec<_> = (0..2)
            .map(|_| {
                child("build", d.path())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(d.path().join("go"), "").unwrap();
        let outs: Vec<String> = kids
            .into_iter()
            .map(|k| {
                let o = k.wait_with_output().unwrap();
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .collect();
        let defaults: Vec<&str> = outs
            .iter()
            .map(|o| {
                o.lines()
                    .find_map(|l| l.split("DEFAULT=").nth(1))
                    .map(|v| &v[..36])
                    .unwrap_or_else(|| panic!("child printed no default: {o}"))
            })
            .collect();
        assert_eq!(
            defaults[0], defaults[1],
            "both processes must use the same key"
        );
        let files = std::fs::read_dir(d.path().join("ring"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("key-")
            })
            .count();
        assert_eq!(files, 1, "exactly one key must be generated");
    }
}

#[test]
fn a_successor_made_within_the_propagation_window_is_adopted_not_duplicated() {
    // K1 expires 2026-05-02; the farm was down until 1 h before, so its successor is created
    // within the 2-day propagation window, where ASP.NET's resolver does not see it.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("ring");
    std::fs::create_dir_all(&dir).unwrap();
    write_key(
        &dir,
        K1,
        [
            "2026-02-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-05-02T00:00:00Z",
        ],
        1,
    );
    let first = manager_at(&dir, "2026-05-01T23:00:00Z", true);
    assert_eq!(first.key_ring().unwrap().default_key_id().to_string(), K1);
    let keys = first.keys().unwrap();
    assert_eq!(keys.len(), 2);
    let successor = keys[1].key.id;
    assert_eq!(
        keys[1].key.activation,
        Timestamp::parse("2026-05-02T00:00:00Z").unwrap()
    );
    // Other nodes (and later refreshes) before and after the expiration use the ring as it is.
    for (now, default) in [
        ("2026-05-01T23:30:00Z", K1.to_string()),
        ("2026-05-02T01:00:00Z", successor.to_string()),
        ("2026-05-03T22:00:00Z", successor.to_string()),
    ] {
        let node = manager_at(&dir, now, true);
        assert_eq!(
            node.key_ring().unwrap().default_key_id().to_string(),
            default,
            "at {now}"
        );
        assert_eq!(node.keys().unwrap().len(), 2, "at {now}: a key was added");
    }
}
