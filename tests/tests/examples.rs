//! The engine's example programs (`host/examples/`), built and run as an embedder would run
//! them: against a private Redis, on a filesystem ring, and read back by an independent
//! implementation of ASP.NET Core's payload format (Python `cryptography`).
// Unix only: a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use trousseau_tests::{workspace, Redis};

fn run(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let out = Command::new(workspace::engine_example(name))
        .args(args)
        .envs(envs.iter().copied())
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run the example");
    out
}

fn ok(name: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = run(name, args, envs);
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_ring_is_created_once_then_opened_and_refuses_a_wrong_password() {
    let redis = Redis::start();
    let url = redis.url();
    let pw = [("RING_PASSWORD", "correct horse battery staple")];
    let first = ok("redis_ring", &[&url], &pw);
    assert!(first.contains("created the key ring"), "{first}");
    let second = ok("redis_ring", &[&url], &pw);
    assert!(!second.contains("created the key ring"), "{second}");
    assert!(second.contains("protected and unprotected"), "{second}");
    let wrong = run("redis_ring", &[&url], &[("RING_PASSWORD", "guess")]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("wrong"), "{err}");
}

#[test]
fn custom_interaction_answers_the_password_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("ring");
    let out = ok("custom_interaction", &[ring.to_str().unwrap()], &[]);
    assert_eq!(out.trim(), "ok");
    // The ring on disk is encrypted: its key secrets are not in the clear.
    let keys: Vec<String> = std::fs::read_dir(&ring)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .filter(|xml| xml.contains("<key "))
        .collect();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|xml| !xml.contains("<masterKey")),
        "{keys:?}"
    );
}

#[test]
fn in_process_repository_holds_the_ring() {
    let out = ok("in_process_repository", &[], &[]);
    assert_eq!(out.trim(), "1 element(s) in the application's table");
}

#[test]
fn aspnet_interop_ring_is_read_by_an_independent_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("DataProtection-Keys");
    let out = ok(
        "aspnet_interop",
        &[ring.to_str().unwrap(), "bonjour d'un exemple"],
        &[],
    );
    let mut lines = out.lines();
    let (payload, key) = (lines.next().unwrap(), lines.next().unwrap().to_string());
    // The key file ASP.NET Core reads: key-<id>.xml with the master key in the clear.
    let xml = std::fs::read_to_string(ring.join(format!("key-{key}.xml"))).unwrap();
    let value = xml
        .split("<value>")
        .nth(1)
        .and_then(|rest| rest.split("</value>").next())
        .expect("an unencrypted <masterKey><value>");
    let peer = Command::new(trousseau_tests::venv_python(
        ".ci/install.d/dataprotection.sh",
    ))
    .args([
        "-c",
        trousseau_tests::ASPNET_PEER,
        value,
        &key,
        "32",
        "HMACSHA256",
    ])
    .args([payload, "shop", "cookies"])
    .output()
    .unwrap();
    assert!(
        peer.status.success(),
        "{}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let stdout = String::from_utf8(peer.stdout).unwrap();
    assert_eq!(
        stdout.lines().next(),
        Some("bonjour d'un exemple"),
        "{stdout}"
    );
}
