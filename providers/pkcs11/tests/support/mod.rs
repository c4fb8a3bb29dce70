//! A private SoftHSM2 for one test: its own configuration and token directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, MutexGuard},
};

/// SoftHSM reads `SOFTHSM2_CONF` at `C_Initialize`, so tests that set it run one at a time.
static ENV_LOCK: Mutex<()> = Mutex::new(());

pub const USER_PIN: &str = "1234";
pub const SO_PIN: &str = "5678";

/// The SoftHSM2 module; the test fails when it is not installed.
pub fn module() -> PathBuf {
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("SoftHSM2 is not installed: run .ci/install.d/hwsources.sh");
}

/// A private SoftHSM2 instance with one initialized token.
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub pin_file: PathBuf,
    _guard: MutexGuard<'static, ()>,
}

impl SoftHsm {
    /// A fresh token directory with a token labelled `label` (user PIN 1234).
    pub fn new(label: &str) -> SoftHsm {
        let guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
        // SAFETY of the env change: every test touching it holds ENV_LOCK.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let hsm = SoftHsm {
            dir,
            conf,
            pin_file,
            _guard: guard,
        };
        hsm.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ]);
        hsm
    }

    /// Runs softhsm2-util with this instance's configuration.
    pub fn util(&self, args: &[&str]) -> String {
        self.run("softhsm2-util", args)
    }

    /// Runs pkcs11-tool (OpenSC) against this instance's module.
    pub fn tool(&self, args: &[&str]) -> String {
        let m = module();
        let mut all = vec!["--module", m.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run("pkcs11-tool", &all)
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} (run .ci/install.d/hwsources.sh): {e}")
            });
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Removes every token ("pulls the token out").
    pub fn remove_tokens(&self) {
        let tokens = self.dir.path().join("tokens");
        std::fs::remove_dir_all(&tokens).unwrap();
        std::fs::create_dir(&tokens).unwrap();
    }

    /// The source configuration for this instance.
    pub fn config(&self, extra: serde_json::Value) -> String {
        let mut v = serde_json::json!({
            "module": module(),
            "token_label": "trousseau-test",
            "pin": {"file": self.pin_file},
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        v.to_string()
    }
}
