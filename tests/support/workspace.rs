//! Where the workspace's real artifacts are, and how to build them from inside a test.
//!
//! Tests build what they need with the same cargo, profile and target directory as the test
//! itself, so a plain `cargo test` is enough (cargo releases its build lock before it runs
//! test binaries).

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub use trousseau_core::testkit::profile_dir;

/// Runs `cargo build ARGS` for this workspace with the test's profile and target dir, once per
/// test process and argument list (tests run in parallel threads; two builds of one artifact
/// at once would replace a binary while another test executes it), and panics with cargo's
/// output if it fails.
pub fn cargo_build(args: &[&str]) {
    static BUILT: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if built.contains(&key) {
        return;
    }
    trousseau_core::testkit::cargo_build(args);
    built.push(key);
}

/// Builds (if needed) and returns the `trousseau` binary.
pub fn trousseau_bin() -> PathBuf {
    cargo_build(&["-p", "trousseau-cli", "--bin", "trousseau"]);
    profile_dir().join(format!("trousseau{}", std::env::consts::EXE_SUFFIX))
}

/// Builds (if needed) and returns the command-source plugin library.
pub fn command_source_plugin() -> PathBuf {
    cargo_build(&["-p", "trousseau-command-source", "--lib"]);
    profile_dir().join(dylib_name("trousseau_command_source"))
}

/// Builds (if needed) and returns the fixture plugin library (`fixed`, `panicky`).
pub fn fixture_plugin() -> PathBuf {
    cargo_build(&[
        "-p",
        "trousseau-tests",
        "--example",
        "trousseau_fixture_plugin",
    ]);
    profile_dir()
        .join("examples")
        .join(dylib_name("trousseau_fixture_plugin"))
}

/// Builds (if needed) and returns the engine's example program `name` (`host/examples/`), with
/// every feature of the engine, as the workspace's own build has them.
pub fn engine_example(name: &str) -> PathBuf {
    cargo_build(&["-p", "trousseau", "--features", "full", "--example", name]);
    profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// `libNAME.so` / `libNAME.dylib` / `NAME.dll`.
pub fn dylib_name(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Copies `lib` into `dir` as `name`, with mode 0644 (not group/world-writable, whatever the
/// umask), and returns the new path.
pub fn install_plugin(lib: &Path, dir: &Path, name: &str) -> PathBuf {
    let dest = dir.join(name);
    std::fs::copy(lib, &dest).expect("copy plugin");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    dest
}
