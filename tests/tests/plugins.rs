//! The plugin system end to end: the real `trousseau` binary, real plugin libraries in a
//! temporary plugin directory.
// Unix only: .so plugins, dlopen and Unix modes (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::Path, process::Command};

use serde_json::Value;
use trousseau::plugins::{DirSource, Registry};
use trousseau_core::{DeriveContext, ErrorCode, NoInteraction};
use trousseau_tests::{fixture_providers as fixtures, incompatible, workspace};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn trousseau(args: &[&str], home: &Path) -> Run {
    let out = Command::new(workspace::trousseau_bin())
        .args(args)
        // A private HOME: no user config or default plugin dir leaks into the test.
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("TROUSSEAU_CONFIG")
        .env_remove("TROUSSEAU_PLUGIN_PATH")
        .env_remove("TROUSSEAU_LOG")
        .output()
        .expect("run trousseau");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_clean_failure(run: &Run, code: i32) {
    assert_eq!(
        run.code, code,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
}

fn list_json(dir: &Path, home: &Path) -> (Run, Value) {
    let run = trousseau(
        &[
            "plugins",
            "list",
            "--json",
            "--plugin-dir",
            dir.to_str().unwrap(),
        ],
        home,
    );
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run, doc)
}

fn provider<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    doc["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
}

#[test]
fn command_plugin_is_listed_by_the_binary_and_used_through_the_registry() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lib = workspace::install_plugin(
        &workspace::command_source_plugin(),
        dir.path(),
        "libcommand.so",
    );

    let (run, doc) = list_json(dir.path(), home.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = provider(&doc, "command").expect("command provider listed");
    assert_eq!(p["kind"], "key-source");
    assert_eq!(p["builtin"], false);
    assert_eq!(p["origin"], lib.display().to_string());
    assert_eq!(p["version"], env!("CARGO_PKG_VERSION"));
    // Built-ins are listed alongside it, with the built-in origin.
    let builtins: Vec<&Value> = doc["providers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["builtin"] == true)
        .collect();
    assert!(builtins.iter().all(|p| p["origin"] == "built-in"));

    // The table form names the same provider and origin.
    let table = trousseau(
        &[
            "plugins",
            "list",
            "--plugin-dir",
            dir.path().to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(table.code, 0);
    let line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("command "))
        .expect("row");
    assert!(
        line.contains("key-source") && line.contains(lib.to_str().unwrap()),
        "{line}"
    );

    // Used through the registry: the key is what the program printed.
    let mut reg = Registry::with_builtins(None).unwrap();
    reg.load_dir(dir.path(), DirSource::CommandLine).unwrap();
    assert!(reg.refusals().is_empty(), "{:?}", reg.refusals());
    let config = serde_json::json!({"argv": ["/bin/sh", "-c", "printf 'c2VjcmV0LWtleQ=='"], "encoding": "base64"});
    let source = reg.key_source("command", &config.to_string()).unwrap();
    assert_eq!(source.describe().unwrap().provider_id(), "command");
    let key = source
        .derive(&DeriveContext::new(b"seed", "", "test"), &NoInteraction)
        .unwrap();
    assert_eq!(key.expose(), b"secret-key");

    // Inspect shows what the file offers.
    let inspect = trousseau(
        &["plugins", "inspect", "--json", lib.to_str().unwrap()],
        home.path(),
    );
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let doc: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(doc["name"], "trousseau-command-source");
    assert_eq!(doc["providers"][0]["id"], "command");
    assert!(doc["providers"][0]["config_help"]
        .as_str()
        .unwrap()
        .contains("argv"));
}

#[test]
fn incompatible_plugin_is_refused_in_one_line_and_the_good_one_still_loads() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Sorted load order puts the bad one first: loading must carry on past it.
    let bad = workspace::install_plugin(&incompatible::build(), dir.path(), "liba-incompatible.so");
    workspace::install_plugin(
        &workspace::command_source_plugin(),
        dir.path(),
        "libz-good.so",
    );

    let (run, doc) = list_json(dir.path(), home.path());
    assert_clean_failure(&run, 1);
    assert!(
        provider(&doc, "command").is_some(),
        "good plugin not loaded: {doc}"
    );
    let refused = doc["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{doc}");
    assert_eq!(refused[0]["path"], bad.display().to_string());
    let reason = refused[0]["reason"].as_str().unwrap();
    assert!(!reason.contains('\n'), "{reason}");
    assert!(reason.len() < 500, "not summarised: {reason}");
    assert!(reason.starts_with("incompatible plugin ABI"), "{reason}");
    assert!(reason.contains("rebuild the plugin"), "{reason}");

    // inspect says why, and the full layout report is available at debug level.
    let inspect = trousseau(&["plugins", "inspect", bad.to_str().unwrap()], home.path());
    assert_clean_failure(&inspect, 1);
    assert!(
        inspect.stderr.contains("incompatible plugin ABI"),
        "{}",
        inspect.stderr
    );
    assert_eq!(
        inspect.stderr.trim().lines().count(),
        1,
        "{}",
        inspect.stderr
    );
    let verbose = trousseau(
        &["-vv", "plugins", "inspect", bad.to_str().unwrap()],
        home.path(),
    );
    assert!(
        verbose.stderr.len() > inspect.stderr.len() * 3,
        "no detail at debug level"
    );
}

#[test]
fn a_panicking_plugin_gives_internal_errors_and_the_host_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    workspace::install_plugin(&workspace::fixture_plugin(), dir.path(), "libfixtures.so");
    let mut reg = Registry::with_builtins(None).unwrap();
    reg.load_dir(dir.path(), DirSource::CommandLine).unwrap();
    let ctx = DeriveContext::default();

    for _ in 0..3 {
        let source = reg
            .key_source("panicky", r#"{"panic_in": "derive"}"#)
            .unwrap();
        let err = source.derive(&ctx, &NoInteraction).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(err.message().contains("fixture panic in derive"), "{err}");
        assert!(err.message().contains("panicky: derive panicked"), "{err}");
    }
    let err = reg
        .key_source("panicky", r#"{"panic_in": "factory"}"#)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal);
    assert!(err.message().contains("fixture panic in factory"), "{err}");
    let source = reg
        .key_source("panicky", r#"{"panic_in": "describe"}"#)
        .unwrap();
    assert_eq!(source.describe().unwrap_err().code(), ErrorCode::Internal);
    // Still alive, and the same plugin keeps working.
    let fine = reg.key_source("fixed", "{}").unwrap();
    assert_eq!(
        fine.derive(&ctx, &NoInteraction).unwrap().expose(),
        &fixtures::FIXED_KEY
    );
}

#[test]
fn group_writable_and_unpinned_plugins_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lib =
        workspace::install_plugin(&workspace::command_source_plugin(), dir.path(), "libcmd.so");

    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o664)).unwrap();
    let (run, doc) = list_json(dir.path(), home.path());
    assert_clean_failure(&run, 1);
    assert!(provider(&doc, "command").is_none());
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("writable by its group") && reason.contains("chmod go-w"),
        "{reason}"
    );
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();

    // A pin list without this file's digest refuses it; with it, the plugin loads.
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(std::fs::read(&lib).unwrap()))
    };
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[plugins]\npins = [\"sha256:{}\"]\n", "0".repeat(64)),
    )
    .unwrap();
    let args = |c: &Path| {
        vec![
            "--config".to_string(),
            c.display().to_string(),
            "plugins".into(),
            "list".into(),
            "--json".into(),
            "--plugin-dir".into(),
            dir.path().display().to_string(),
        ]
    };
    let a = args(&config);
    let run = trousseau(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        home.path(),
    );
    assert_clean_failure(&run, 1);
    assert!(
        run.stdout.contains("not on the plugin pin list"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&digest),
        "the refusal names the digest to pin"
    );

    std::fs::write(
        &config,
        format!("[plugins]\npins = [\"sha256:{digest}\"]\n"),
    )
    .unwrap();
    let run = trousseau(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        home.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"command\""));
}

/// Loads `dir` into a fresh registry on another thread and returns its refusals and whether
/// the `command` provider was loaded; fails (instead of hanging) if loading blocks.
fn load_dir_within_seconds(dir: &Path) -> (Vec<trousseau::plugins::Refusal>, bool) {
    let dir = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reg = Registry::with_builtins(None).unwrap();
        reg.load_dir(&dir, DirSource::Environment).unwrap();
        let _ = tx.send((reg.refusals().to_vec(), reg.provider("command").is_some()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("loading the plugin directory blocked")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn writable_plugin_directories_and_links_into_them_are_refused() {
    let home = tempfile::tempdir().unwrap();
    // A good plugin in a private directory.
    let real = tempfile::tempdir().unwrap();
    let lib = workspace::install_plugin(
        &workspace::command_source_plugin(),
        real.path(),
        "libcmd.so",
    );

    // A world-writable directory on the search path holding a link to it: anyone could have
    // put the link there, so the directory is refused as a whole.
    let open = tempfile::tempdir().unwrap();
    set_mode(open.path(), 0o777);
    let link = open.path().join("libcmd.so");
    std::os::unix::fs::symlink(&lib, &link).unwrap();
    let (refusals, loaded) = load_dir_within_seconds(open.path());
    assert!(
        !loaded,
        "a plugin was loaded from a world-writable directory"
    );
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].path, link);
    let reason = &refusals[0].reason;
    let dir = open.path().display().to_string();
    assert!(
        reason.contains(&format!(
            "the plugin directory {dir} is writable by group and others"
        )) && reason.contains(&format!("chmod go-w {dir}")),
        "{reason}"
    );
    // The binary reports it like any other refusal, and exits 1.
    let (run, doc) = list_json(open.path(), home.path());
    assert_clean_failure(&run, 1);
    assert!(provider(&doc, "command").is_none(), "{doc}");
    assert_eq!(doc["refused"][0]["reason"].as_str().unwrap(), reason);

    // Once the directory is fixed, the link is followed: its target passes the checks.
    set_mode(open.path(), 0o755);
    let (refusals, loaded) = load_dir_within_seconds(open.path());
    assert!(refusals.is_empty(), "{refusals:?}");
    assert!(loaded);

    // A link from a safe directory into a writable one is refused: someone else could swap
    // the target.
    let shared = tempfile::tempdir().unwrap();
    let planted = workspace::install_plugin(
        &workspace::command_source_plugin(),
        shared.path(),
        "libcmd.so",
    );
    set_mode(shared.path(), 0o1777);
    let safe = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&planted, safe.path().join("libcmd.so")).unwrap();
    let (refusals, loaded) = load_dir_within_seconds(safe.path());
    assert!(!loaded);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    let reason = &refusals[0].reason;
    let shared_dir = std::fs::canonicalize(shared.path()).unwrap();
    assert!(
        reason.contains(&format!("its directory {}", shared_dir.display()))
            && reason.contains("is writable by group and others (mode 1777)")
            && reason.contains(&format!("chmod go-w {}", shared_dir.display())),
        "{reason}"
    );
}

#[test]
fn a_fifo_named_like_a_plugin_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("liba-fifo.so");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Loading carries on past it.
    workspace::install_plugin(
        &workspace::command_source_plugin(),
        dir.path(),
        "libz-good.so",
    );
    let (refusals, loaded) = load_dir_within_seconds(dir.path());
    assert!(loaded, "{refusals:?}");
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0].path, fifo);
    assert!(
        refusals[0]
            .reason
            .contains("not a regular file but a FIFO (named pipe)"),
        "{:?}",
        refusals[0]
    );
    // The same through a link.
    let linked = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&fifo, linked.path().join("libfifo.so")).unwrap();
    let (refusals, _) = load_dir_within_seconds(linked.path());
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        refusals[0].reason.contains("symbolic link to")
            && refusals[0].reason.contains("a FIFO (named pipe)"),
        "{:?}",
        refusals[0]
    );
}

#[test]
fn bad_input_gives_clear_errors_and_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = workspace::command_source_plugin();

    // Nonexistent plugin directory named on the command line: a usage error.
    let run = trousseau(
        &["plugins", "list", "--plugin-dir", "/nonexistent/plugins"],
        home.path(),
    );
    assert_clean_failure(&run, 2);
    assert!(
        run.stderr.contains("/nonexistent/plugins") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );

    // A shared library that is not a plugin.
    let not_plugin = Path::new("/lib/x86_64-linux-gnu/libm.so.6");
    let run = trousseau(
        &["plugins", "inspect", not_plugin.to_str().unwrap()],
        home.path(),
    );
    assert_clean_failure(&run, 1);
    assert!(
        run.stderr.contains("not a Trousseau plugin"),
        "{}",
        run.stderr
    );

    // A truncated plugin file.
    let truncated = dir.path().join("libtruncated.so");
    std::fs::write(&truncated, &std::fs::read(&good).unwrap()[..4096]).unwrap();
    let run = trousseau(
        &["plugins", "inspect", truncated.to_str().unwrap()],
        home.path(),
    );
    assert_clean_failure(&run, 1);
    assert!(
        run.stderr.contains(truncated.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("truncated or damaged shared library"),
        "{}",
        run.stderr
    );

    // A directory where a file is expected.
    let run = trousseau(
        &["plugins", "inspect", dir.path().to_str().unwrap()],
        home.path(),
    );
    assert_clean_failure(&run, 1);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);

    // Two plugins offering the same provider id: the second is refused, naming both.
    let dup = tempfile::tempdir().unwrap();
    let first = workspace::install_plugin(&good, dup.path(), "liba.so");
    let second = workspace::install_plugin(&good, dup.path(), "libb.so");
    // Distinct inodes with the same contents are still two libraries to the loader.
    let (run, doc) = list_json(dup.path(), home.path());
    assert_clean_failure(&run, 1);
    assert_eq!(
        provider(&doc, "command").unwrap()["origin"],
        first.display().to_string()
    );
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert_eq!(doc["refused"][0]["path"], second.display().to_string());
    assert!(
        reason.contains("clashes") && reason.contains(first.to_str().unwrap()),
        "{reason}"
    );

    // Malformed configuration: line and column, exit 2.
    let config = home.path().join("bad.toml");
    std::fs::write(&config, "[plugins]\ndirs = [\"/x\"\n").unwrap();
    let run = trousseau(
        &["--config", config.to_str().unwrap(), "plugins", "list"],
        home.path(),
    );
    assert_clean_failure(&run, 2);
    assert!(
        run.stderr.contains("bad.toml, line 2, column 13"),
        "{}",
        run.stderr
    );

    // A configuration file that does not exist, named explicitly.
    let run = trousseau(
        &["--config", "/nonexistent/c.toml", "plugins", "list"],
        home.path(),
    );
    assert_clean_failure(&run, 2);
    assert!(run.stderr.contains("/nonexistent/c.toml"), "{}", run.stderr);

    // Usage errors exit 2.
    let run = trousseau(&["plugins", "frobnicate"], home.path());
    assert_clean_failure(&run, 2);
}

#[test]
fn an_engine_built_from_a_configuration_file_loads_only_pinned_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let lib = workspace::install_plugin(&workspace::fixture_plugin(), &plugins, "libfixtures.so");
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&lib).unwrap()))
    };
    let config = dir.path().join("config.toml");
    let write = |pin: &str| {
        let text = format!(
            "[plugins]\ndirs = [{plugins:?}]\npins = [\"sha256:{pin}\"]\n\
             [repository]\nprovider = \"filesystem\"\ndirectory = {ring:?}\n\
             [[master_key.sources]]\nprovider = \"fixed\"\n",
            ring = dir.path().join("ring"),
        );
        std::fs::write(&config, text).unwrap();
    };
    // Pinned to another file: the plugin is refused, so its key source is unknown.
    write(&"0".repeat(64));
    let err = trousseau::Trousseau::from_config_file(&config).unwrap_err();
    assert!(
        matches!(err, trousseau::RingError::Provider { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("\"fixed\" is unknown"), "{err}");
    // Pinned to this file: the ring is created and opened with the plugin's key source.
    write(&digest);
    let tr = trousseau::Trousseau::from_config_file(&config).unwrap();
    let p = tr.protector("pins");
    assert_eq!(p.unprotect(&p.protect(b"x").unwrap()).unwrap(), b"x");
}
