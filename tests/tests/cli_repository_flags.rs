//! The `trousseau` binary with the repository chosen on the command line (`--repository`,
//! `--redis-url`, …) against a real private redis-server, and the usage errors of bad flags.

// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use trousseau_tests::{workspace, Redis};

/// A private HOME with a config that only says "password slots"; no [repository] table.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("cfg/trousseau")).unwrap();
    std::fs::write(
        dir.path().join("cfg/trousseau/config.toml"),
        "[[master_key.sources]]\nprovider = \"password\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pw"), "a password for the farm\n").unwrap();
    dir
}

fn trousseau(home: &Path, args: &[&str]) -> Output {
    Command::new(workspace::trousseau_bin())
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("cfg"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("TROUSSEAU_CONFIG")
        .env_remove("TROUSSEAU_PLUGIN_PATH")
        .env_remove("TROUSSEAU_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run trousseau")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn protect_and_unprotect_in_two_processes_through_redis_flags() {
    let redis = Redis::start();
    let home = home();
    let pw = home.path().join("pw");
    let pw = pw.to_str().unwrap();
    let url = redis.url();
    let flags = ["--repository", "redis", "--redis-url", url.as_str()];
    let run = |args: &[&str]| {
        let all: Vec<&str> = flags.iter().chain(args).copied().collect();
        let out = trousseau(home.path(), &all);
        assert!(
            out.status.success(),
            "{all:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    };
    let before = redis.command_calls();
    let payload = run(&[
        "protect",
        "--password-file",
        pw,
        "--purpose",
        "farm",
        "shared secret",
    ]);
    assert!(payload.starts_with("CfDJ8"), "{payload}");
    assert!(
        redis.command_calls() > before,
        "the ring was not written to redis"
    );
    assert!(
        !home.path().join("data/trousseau/key-ring").exists(),
        "the default filesystem ring was used instead of redis"
    );
    let plain = run(&[
        "unprotect",
        "--password-file",
        pw,
        "--purpose",
        "farm",
        &payload,
    ]);
    assert_eq!(plain, "shared secret");
}

#[test]
fn bad_repository_flags_are_usage_errors_saying_what_to_do() {
    let home = home();
    let out = trousseau(home.path(), &["--repository", "mongo", "protect", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("--repository \"mongo\" is unknown; available repositories:"),
        "{err}"
    );
    assert!(err.contains("redis") && err.contains("filesystem"), "{err}");

    let out = trousseau(
        home.path(),
        &[
            "--repository",
            "filesystem",
            "--redis-url",
            "redis://127.0.0.1:1/",
            "protect",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "--redis-url applies to the redis repository, but the repository is filesystem"
        ) && err.contains("pass --repository redis"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn repository_dir_overrides_the_configured_directory() {
    let home = home();
    let configured = home.path().join("configured");
    let flagged = home.path().join("flagged");
    std::fs::write(
        home.path().join("cfg/trousseau/config.toml"),
        format!(
            "[repository]\nprovider = \"filesystem\"\ndirectory = \"{}\"\n\n[[master_key.sources]]\nprovider = \"password\"\n",
            configured.display()
        ),
    )
    .unwrap();
    let pw = home.path().join("pw");
    let out = trousseau(
        home.path(),
        &[
            "--repository-dir",
            flagged.to_str().unwrap(),
            "protect",
            "--password-file",
            pw.to_str().unwrap(),
            "x",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let keys = std::fs::read_dir(&flagged)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("key-")
        })
        .count();
    assert_eq!(keys, 1, "one key in the directory given by the flag");
    assert!(!configured.exists(), "the configured directory was used");
}
