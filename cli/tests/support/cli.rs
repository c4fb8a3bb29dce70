//! Runs the real `trousseau` binary with a private HOME/XDG tree, detached from any terminal
//! (so a missing answer fails instead of prompting).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// A private home for the binary: data in `home/data`, configuration in `home/cfg`.
pub struct Home {
    pub dir: tempfile::TempDir,
    /// Extra environment variables for every run.
    pub env: Vec<(String, String)>,
}

impl Home {
    /// An empty home.
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A path inside the home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The filesystem repository's directory.
    pub fn ring(&self) -> PathBuf {
        self.path("data/trousseau/key-ring")
    }

    /// Every file of the ring with its bytes, to prove that a failed command changed nothing.
    pub fn ring_snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.ring())
    }

    /// Runs the binary with `args`, writing `stdin` to its standard input when given.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_wrapped(&[], args, stdin)
    }

    /// Like [`Home::run`], started through `wrapper` (a program and its arguments, given the
    /// binary and `args` last), e.g. `unshare … sh -c SCRIPT sh`.
    pub fn run_wrapped(&self, wrapper: &[&str], args: &[&str], stdin: Option<&str>) -> Output {
        let bin = env!("CARGO_BIN_EXE_trousseau");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("cfg"))
            .env_remove("TROUSSEAU_CONFIG")
            // Short test passwords are used without asking; new slots calibrated to 0.1 s.
            .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
            .env("TROUSSEAU_UNLOCK_TIME", "0.1")
            .env_remove("TROUSSEAU_PLUGIN_PATH")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        // SAFETY: setsid is async-signal-safe; it detaches the child from the terminal.
        #[cfg(unix)]
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::setsid();
                Ok(())
            });
        }
        run_with_stdin(cmd, stdin)
    }

    /// The sources column of each slot in `master-key status`.
    pub fn slot_sources(&self) -> Vec<String> {
        self.ok(&["master-key", "status"])
            .lines()
            .filter_map(|l| l.strip_prefix("slot "))
            .map(|l| l.split_once("sources ").unwrap().1.to_string())
            .collect()
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, None);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs and requires exit code 1; returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let o = self.run(args, None);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        stderr
    }
}

/// Runs `cmd` with `stdin` (or nothing) as its standard input and collects its output.
pub fn run_with_stdin(mut cmd: Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if let Some(text) = stdin {
        // A child that fails before reading its input closes the pipe: not a test error.
        if let Err(e) = child.stdin.take().unwrap().write_all(text.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    child.wait_with_output().unwrap()
}

/// Every file under `dir` (recursively) with its bytes; empty when `dir` does not exist.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            for (k, v) in snapshot(&p) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(&p).unwrap());
        }
    }
    out
}
