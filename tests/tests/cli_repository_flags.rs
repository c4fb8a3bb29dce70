//! The `trousseau` binary with the repository chosen on the command line (`--repository
//! PROVIDER[:KEY=VALUE,…]`) against a real private redis-server, how the spec combines with the
//! configuration file's `[repository]` table, and the usage errors of bad specs.
// Unix only: a private redis-server on a unix socket (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
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
    write_config(dir.path(), "");
    std::fs::write(dir.path().join("pw"), "a password for the farm\n").unwrap();
    dir
}

/// The configuration file: `repository` (TOML) followed by the password source.
fn write_config(home: &Path, repository: &str) {
    std::fs::write(
        home.join("cfg/trousseau/config.toml"),
        format!("{repository}\n[[master_key.sources]]\nprovider = \"password\"\n"),
    )
    .unwrap();
}

fn trousseau(home: &Path, args: &[&str]) -> Output {
    trousseau_env(home, args, &[])
}

fn trousseau_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(workspace::trousseau_bin())
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("cfg"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("TROUSSEAU_CONFIG")
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1")
        .env_remove("TROUSSEAU_PLUGIN_PATH")
        .env_remove("TROUSSEAU_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run trousseau")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `protect --password-file pw TEXT` then `unprotect` in a second process, each with `before`
/// (the global options) first; returns the payload.
fn round_trip(home: &Path, before: &[&str], env: &[(&str, &str)]) -> String {
    let pw = home.join("pw");
    let pw = pw.to_str().unwrap();
    let run = |args: &[&str]| {
        let all: Vec<&str> = before.iter().chain(args).copied().collect();
        let out = trousseau_env(home, &all, env);
        assert!(
            out.status.success(),
            "{all:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    };
    let payload = run(&[
        "protect",
        "--password-file",
        pw,
        "--purpose",
        "farm",
        "shared secret",
    ]);
    assert!(payload.starts_with("CfDJ8"), "{payload}");
    let plain = run(&[
        "unprotect",
        "--password-file",
        pw,
        "--purpose",
        "farm",
        &payload,
    ]);
    assert_eq!(plain, "shared secret");
    payload
}

/// The number of `key-*` files in `dir`.
fn keys_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("key-")
        })
        .count()
}

#[test]
fn protect_and_unprotect_in_two_processes_through_a_redis_spec() {
    let redis = Redis::start();
    let home = home();
    // A string, a number and the list key: the spec is the [repository] table's settings.
    let spec = format!(
        "redis:url={},key=Farm-Keys,connect_timeout_ms=2000",
        redis.url()
    );
    let before = redis.command_calls();
    round_trip(home.path(), &["--repository", &spec], &[]);
    assert!(
        redis.command_calls() > before,
        "the ring was not written to redis"
    );
    assert_eq!(
        redis.key_type("Farm-Keys"),
        "list",
        "the spec's key was not used"
    );
    assert_eq!(redis.key_type("DataProtection-Keys"), "none");
    assert!(
        !home.path().join("data/trousseau/key-ring").exists(),
        "the default filesystem ring was used instead of redis"
    );
}

#[test]
fn the_redis_password_comes_from_the_environment_variable_the_spec_names() {
    let redis = Redis::start_with_password("s3cret farm password");
    let home = home();
    let spec = format!("redis:url={},password_env=FARM_REDIS_PASSWORD", redis.url());
    round_trip(
        home.path(),
        &["--repository", &spec],
        &[("FARM_REDIS_PASSWORD", "s3cret farm password")],
    );
    assert_eq!(redis.key_type("DataProtection-Keys"), "list");
    // Without the variable the server refuses, and the error names the variable.
    let out = trousseau(home.path(), &["--repository", &spec, "keys", "list"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("FARM_REDIS_PASSWORD"), "{err}");
}

#[test]
fn a_spec_of_the_files_provider_merges_its_keys_over_the_files_settings() {
    let redis = Redis::start();
    let home = home();
    write_config(
        home.path(),
        &format!(
            "[repository]\nprovider = \"redis\"\nurl = \"{}\"\nkey = \"From-File\"\n",
            redis.url()
        ),
    );
    // Same provider: the file's url is kept, the spec's key wins.
    round_trip(home.path(), &["--repository", "redis:key=From-Spec"], &[]);
    assert_eq!(redis.key_type("From-Spec"), "list");
    assert_eq!(redis.key_type("From-File"), "none");
    // The provider alone keeps every setting of the file.
    round_trip(home.path(), &["--repository", "redis"], &[]);
    assert_eq!(redis.key_type("From-File"), "list");
}

#[test]
fn a_spec_of_another_provider_replaces_the_files_table() {
    let home = home();
    let dir = home.path().join("spec-ring");
    // The file's redis server does not exist: nothing of its table may be used.
    write_config(
        home.path(),
        "[repository]\nprovider = \"redis\"\nurl = \"redis://127.0.0.1:1/\"\n",
    );
    let spec = format!("filesystem:directory={}", dir.display());
    round_trip(home.path(), &["--repository", &spec], &[]);
    assert_eq!(
        keys_in(&dir),
        1,
        "one key in the directory given by the spec"
    );
}

#[test]
fn a_filesystem_spec_overrides_the_configured_directory() {
    let home = home();
    let configured = home.path().join("configured");
    let flagged = home.path().join("flagged");
    write_config(
        home.path(),
        &format!(
            "[repository]\nprovider = \"filesystem\"\ndirectory = \"{}\"\n",
            configured.display()
        ),
    );
    let spec = format!("filesystem:directory={}", flagged.display());
    round_trip(home.path(), &["--repository", &spec], &[]);
    assert_eq!(
        keys_in(&flagged),
        1,
        "one key in the directory given by the spec"
    );
    assert!(!configured.exists(), "the configured directory was used");
}

#[test]
fn bad_repository_specs_are_usage_errors_saying_what_to_do() {
    let home = home();
    let usage_error = |args: &[&str]| {
        let out = trousseau(home.path(), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let err = usage_error(&["--repository", "mongo:url=mongodb://h/", "protect", "x"]);
    assert!(
        err.contains("--repository \"mongo\" is unknown; available repositories:"),
        "{err}"
    );
    assert!(err.contains("redis") && err.contains("filesystem"), "{err}");

    let err = usage_error(&["--repository", "password", "protect", "x"]);
    assert!(
        err.contains("\"password\" is a key-source, not a repository"),
        "{err}"
    );

    let err = usage_error(&["--repository", "redis:url", "protect", "x"]);
    assert!(
        err.contains(
            "--repository \"redis:url\": \"url\" is not KEY=VALUE; use PROVIDER:KEY=VALUE,…"
        ),
        "{err}"
    );
    let err = usage_error(&["--repository", ":directory=/k", "protect", "x"]);
    assert!(
        err.contains("names no provider; use PROVIDER or PROVIDER:KEY=VALUE,…"),
        "{err}"
    );

    // A setting the provider does not know is refused by the provider, as in the file.
    let out = trousseau(
        home.path(),
        &["--repository", "filesystem:directroy=/k", "keys", "list"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("directroy"),
        "{}",
        text(&out.stderr)
    );

    // The per-provider flags are gone.
    let err = usage_error(&["--redis-url", "redis://127.0.0.1:1/", "protect", "x"]);
    assert!(err.contains("--redis-url"), "{err}");
}

#[test]
fn the_help_shows_the_spec_syntax_and_where_secrets_go() {
    let home = home();
    let out = trousseau(home.path(), &["help", "protect"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("--repository <SPEC>"), "{help}");
    assert!(help.contains("`PROVIDER[:KEY=VALUE,…]`"), "{help}");
    assert!(help.contains("password_env=REDIS_PASSWORD"), "{help}");
    assert!(!help.contains("--redis-url"), "{help}");
}
