//! # The plugin-author kit: contract tests for key sources and repositories
//!
//! Enabled by the `testkit` cargo feature, for dev-dependencies only:
//!
//! ```toml
//! [dev-dependencies]
//! trousseau-core = { version = "0.1", features = ["testkit"] }
//! ```
//!
//! A host relies on more than the trait signatures: a version token that changes on every
//! write, a conditional store that loses cleanly with [`ErrorCode::Conflict`] and stores
//! nothing, a derived key that is the same bytes on every unlock, configuration mistakes
//! reported as [`ErrorCode::InvalidConfig`] instead of a panic. This module checks that
//! contract, the same way for Trousseau's built-in providers and for a third party's plugin:
//!
//! - [`repository::RepositoryContract`] checks a repository (load, store, version tokens,
//!   conditional store, deletion as its [`crate::Capabilities`] declare, bad configurations),
//!   and with [`repository::RepositoryContract::check_two_processes`] a race of conditional
//!   stores between two real processes;
//! - [`key_source::KeySourceContract`] checks a key source (enroll then derive, determinism,
//!   challenge behaviour as its kind declares, prompting only when
//!   [`crate::SourceFlags::MIGHT_PROMPT`] is set, untrusted public parameters, typed errors).
//!
//! Every call goes through the ABI objects ([`crate::abi::RepositoryBox`],
//! [`crate::abi::KeySourceBox`]) made by the plugin's own factory, exactly as a host makes
//! them, whether the plugin is linked in ([`Plugin::builtin`]) or loaded from its shared
//! library ([`Plugin::load`]). A broken promise panics with a message that names the check and
//! what was expected, so the kit is used from ordinary `#[test]` functions.
//!
//! ## Opting out
//! A provider that deliberately does not keep a promise says so with `without(check, reason)`;
//! the kit then prints `contract: not checked: … (reason)` to standard error. Nothing is skipped
//! silently. Optional capabilities are not opt-outs: a repository that does not declare
//! [`crate::Capabilities::DELETE`] is checked to refuse deletion with
//! [`ErrorCode::Unsupported`] instead.
//!
//! ## Example: `tests/contract.rs` of a repository plugin
//! ```no_run
//! use trousseau_core::testkit::{self, repository::RepositoryContract, Plugin};
//! # static PLUGIN: trousseau_core::PluginDef = trousseau_core::PluginDef {
//! #     name: "my-plugin", version: "0.1.0", providers: &[] };
//! // `PLUGIN` is the plugin's `static PluginDef` (from the plugin crate's lib target).
//!
//! fn contract() -> RepositoryContract {
//!     RepositoryContract::new(Plugin::builtin(&PLUGIN), "my-repository")
//!         .bad_config(r#"{"url": 42}"#, trousseau_core::ErrorCode::InvalidConfig)
//! }
//!
//! #[test]
//! fn repository_contract() {
//!     let dir = testkit::TempDir::new("my-repository");
//!     let config = format!(r#"{{"directory": "{}"}}"#, dir.path().join("ring").display());
//!     contract().check(&config);
//! }
//!
//! #[test]
//! fn conditional_stores_race_between_two_processes() {
//!     // In the re-executed child processes this does the child's part and exits.
//!     testkit::child_process_entry();
//!     let dir = testkit::TempDir::new("my-repository-race");
//!     let config = format!(r#"{{"directory": "{}"}}"#, dir.path().join("ring").display());
//!     contract().check_two_processes(&config, "conditional_stores_race_between_two_processes");
//! }
//! ```
//!
//! A plugin built only as a `cdylib` loads its library instead:
//! `Plugin::load(&testkit::cargo_build_plugin(&["-p", "my-plugin", "--lib"], "my_plugin"))`.

// Test code: a broken promise is reported by panicking with a message.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod key_source;
pub mod repository;

use std::{
    cell::RefCell,
    fmt,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{
    abi::{self, DynamicPlugin, KeySourceBox, LoadError, RepositoryBox},
    Error, ErrorCode, Interaction, MessageLevel, PluginDef, SecretBytes,
};

/// Environment variable that turns a re-executed test binary into a child of a contract check
/// (see [`child_process_entry`]).
pub const CHILD_ENV: &str = "TROUSSEAU_TESTKIT_CHILD";

/// The plugin under test, as a host reaches it.
#[derive(Clone)]
pub struct Plugin {
    origin: Origin,
}

#[derive(Clone)]
enum Origin {
    Builtin(&'static PluginDef),
    Library {
        path: PathBuf,
        plugin: DynamicPlugin,
    },
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Builtin(def) => write!(f, "Plugin::builtin({})", def.name),
            Origin::Library { path, .. } => write!(f, "Plugin::load({})", path.display()),
        }
    }
}

impl Plugin {
    /// A plugin linked into the test binary: its `static PluginDef`. Providers are made by
    /// [`abi::create_key_source`] / [`abi::create_repository`], the path a host takes for
    /// built-ins, so every call is guarded exactly as in a host.
    pub fn builtin(def: &'static PluginDef) -> Plugin {
        Plugin {
            origin: Origin::Builtin(def),
        }
    }

    /// A plugin loaded from its shared library with [`abi::load_library`] (ABI checked), the
    /// path a host takes for plugin directories. The library is never unloaded.
    pub fn load(path: &Path) -> Result<Plugin, LoadError> {
        let plugin = abi::load_library(path)?;
        Ok(Plugin {
            origin: Origin::Library {
                path: path.to_path_buf(),
                plugin,
            },
        })
    }

    /// Makes repository `id` from `config`, as a host does.
    pub fn create_repository(&self, id: &str, config: &str) -> Result<RepositoryBox, Error> {
        match &self.origin {
            Origin::Builtin(def) => abi::create_repository(def, id, config)
                .into_result()
                .map(RepositoryBox::new),
            Origin::Library { plugin, .. } => plugin.create_repository(id, config),
        }
    }

    /// Makes key source `id` from `config`, as a host does.
    pub fn create_key_source(&self, id: &str, config: &str) -> Result<KeySourceBox, Error> {
        match &self.origin {
            Origin::Builtin(def) => abi::create_key_source(def, id, config)
                .into_result()
                .map(KeySourceBox::new),
            Origin::Library { plugin, .. } => plugin.create_key_source(id, config),
        }
    }

    /// How a child process finds the same plugin: `builtin:NAME` or `library:PATH`.
    fn spec(&self) -> String {
        match &self.origin {
            Origin::Builtin(def) => format!("builtin:{}", def.name),
            Origin::Library { path, .. } => format!("library:{}", path.display()),
        }
    }

    /// The plugin named by [`Plugin::spec`], in a child process.
    fn from_spec(spec: &str) -> Plugin {
        if let Some(name) = spec.strip_prefix("builtin:") {
            let def = crate::builtin_plugins()
                .find(|d| d.name == name)
                .unwrap_or_else(|| {
                    panic!(
                        "contract child: built-in plugin {name:?} is not linked into this test \
                         binary (is it registered with register_builtin!?)"
                    )
                });
            return Plugin::builtin(def);
        }
        let path = spec.strip_prefix("library:").unwrap_or(spec);
        Plugin::load(Path::new(path))
            .unwrap_or_else(|e| panic!("contract child: cannot load plugin {path}: {e}"))
    }
}

/// Call first in a test that runs a multi-process check (such as
/// [`repository::RepositoryContract::check_two_processes`]): in a child process started by the
/// check (the test binary re-executed with [`CHILD_ENV`] set), this does the child's part and
/// exits the process; otherwise it returns at once. Works in `harness = false` tests too.
pub fn child_process_entry() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let code = match role.as_str() {
        "race" => repository::race_child(),
        other => {
            eprintln!("contract child: unknown role {other:?}");
            2
        }
    };
    std::process::exit(code);
}

/// A fresh private directory under [`std::env::temp_dir`] (mode 0700 on Unix), removed with
/// its contents when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `trousseau-testkit-{label}-{pid}-{n}-{nanos}` in the temp directory.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "trousseau-testkit-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The running test's profile directory (`target/<profile>`), found from the test binary's
/// own path (`target/<profile>/deps/<test binary>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Runs `cargo build ARGS` with the running test's cargo, profile and target directory, and
/// panics with cargo's output if it fails. Cargo releases its build lock before running test
/// binaries, so a plain `cargo test` is enough.
pub fn cargo_build(args: &[&str]) {
    let profile_dir = profile_dir();
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory has a parent");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .arg("build")
        .arg("--quiet")
        .args([
            "--profile",
            if profile == "debug" { "dev" } else { profile },
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .args(args)
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "cargo build {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds a plugin's shared library ([`cargo_build`] with `args`, e.g. `["-p", "my-plugin",
/// "--lib"]` or `["-p", "my-plugin", "--example", "my_plugin"]`) and returns its path, found as
/// `{prefix}{library}{suffix}` (e.g. `libmy_plugin.so`) in the profile directory or its
/// `examples/`.
pub fn cargo_build_plugin(args: &[&str], library: &str) -> PathBuf {
    cargo_build(args);
    let profile_dir = profile_dir();
    let file = format!(
        "{}{library}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    [
        profile_dir.join(&file),
        profile_dir.join("examples").join(&file),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!(
            "cargo build {args:?} succeeded but {file} is in neither {} nor its examples/",
            profile_dir.display()
        )
    })
}

/// An [`Interaction`] for contract tests: answers every secret request with a fixed secret,
/// every value request with a fixed value and every question with `true`, and records every
/// request (not messages) so that the kit can tell whether a source prompted.
#[derive(Debug)]
pub struct ScriptedInteraction {
    secret: Option<Vec<u8>>,
    value: Option<String>,
    requests: RefCell<Vec<String>>,
}

impl Default for ScriptedInteraction {
    fn default() -> Self {
        ScriptedInteraction::new()
    }
}

impl ScriptedInteraction {
    /// Answers nothing: requests fail as in a host without a user ([`ErrorCode::NeedsPin`] for
    /// secrets, [`ErrorCode::Cancelled`] otherwise); confirmations answer `true`.
    pub fn new() -> Self {
        ScriptedInteraction {
            secret: None,
            value: None,
            requests: RefCell::new(Vec::new()),
        }
    }

    /// Answers secret requests with `secret`.
    #[must_use]
    pub fn with_secret(mut self, secret: &[u8]) -> Self {
        self.secret = Some(secret.to_vec());
        self
    }

    /// Answers value requests with `value`.
    #[must_use]
    pub fn with_value(mut self, value: &str) -> Self {
        self.value = Some(value.to_string());
        self
    }

    /// The requests made so far (`secret: PROMPT`, `value: PROMPT`, `confirm: QUESTION`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.borrow().clone()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.requests.borrow_mut().clear();
    }
}

impl Interaction for ScriptedInteraction {
    fn message(&self, _level: MessageLevel, _text: &str) {}

    fn request_secret(&self, prompt: &str, _confirm: bool) -> Result<SecretBytes, Error> {
        self.requests.borrow_mut().push(format!("secret: {prompt}"));
        match &self.secret {
            Some(s) => Ok(SecretBytes::copy_from(s)),
            None => Err(Error::new(
                ErrorCode::NeedsPin,
                format!("contract test: no secret scripted for {prompt:?}"),
            )),
        }
    }

    fn request_value(&self, prompt: &str) -> Result<String, Error> {
        self.requests.borrow_mut().push(format!("value: {prompt}"));
        self.value.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::Cancelled,
                format!("contract test: no value scripted for {prompt:?}"),
            )
        })
    }

    fn confirm(&self, question: &str, _default: bool) -> Result<bool, Error> {
        self.requests
            .borrow_mut()
            .push(format!("confirm: {question}"));
        Ok(true)
    }
}

/// Panics unless `err` is a typed, explained error: not [`ErrorCode::Internal`] (a bug or a
/// caught panic) and with a non-empty message. `what` names the operation.
pub(crate) fn assert_typed(err: &Error, what: &str) {
    assert!(
        err.code() != ErrorCode::Internal,
        "contract: {what} failed with an internal error (a bug or a panic in the provider), \
         expected a typed error: {err:?}"
    );
    assert!(
        !err.message().trim().is_empty(),
        "contract: {what} failed with code {} and an empty message; say what was wrong and \
         what to do",
        err.code()
    );
}

/// Prints that a check was opted out of.
pub(crate) fn report_opt_out(provider: &str, check: &dyn fmt::Debug, reason: &str) {
    eprintln!("contract: {provider}: not checked: {check:?} ({reason})");
}
