//! The `trousseau` binary end to end: init, protect/unprotect, keys, master-key slots, bad input.
// Unix only: Unix file modes and process groups (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cfg/trousseau")).unwrap();
        // These tests are about password slots: say so, whatever the default sources are
        // (user-account when that provider is linked in).
        let config = format!("{config}\n[[master_key.sources]]\nprovider = \"password\"\n");
        std::fs::write(dir.path().join("cfg/trousseau/config.toml"), config).unwrap();
        std::fs::write(dir.path().join("pw-a"), "first password\n").unwrap();
        std::fs::write(dir.path().join("pw-b"), "second password\n").unwrap();
        std::fs::write(dir.path().join("pw-bad"), "not the password\n").unwrap();
        Env { dir }
    }

    fn pw(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ring(&self) -> PathBuf {
        self.dir.path().join("data/trousseau/key-ring")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None)
    }

    /// Runs with `input` on standard input (`None`: no standard input).
    fn run_with_input(&self, args: &[&str], input: Option<&[u8]>) -> Output {
        use std::io::Write;
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
        // SAFETY: setsid is async-signal-safe; it detaches the child from any terminal, so a
        // missing answer fails instead of prompting.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.args(args)
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("cfg"))
            .env("HOME", self.dir.path())
            .env_remove("TROUSSEAU_CONFIG")
            // Short test passwords are used without asking; new slots calibrated to 0.1 s.
            .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
            .env("TROUSSEAU_UNLOCK_TIME", "0.1")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = input {
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// The contents of every key file, sorted by name.
    fn key_files(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.ring())
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with("key-"))
            .collect();
        files.sort();
        files.iter().map(|f| std::fs::read(f).unwrap()).collect()
    }

    /// `unprotect --password-file PW --purpose cookies PAYLOAD`, which must succeed.
    fn unprotect_cookie(&self, pw: &Path, payload: &str) -> String {
        self.ok(&[
            "unprotect",
            "--password-file",
            p(pw),
            "--purpose",
            "cookies",
            payload,
        ])
    }

    fn fail(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?} should fail: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stderr).unwrap()
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn protect_unprotect_and_slots() {
    let e = Env::new("");
    let a = e.pw("pw-a");
    let b = e.pw("pw-b");
    e.ok(&["init", "--password-file", p(&a)]);
    let err = e.fail(&["init", "--password-file", p(&a)]);
    assert!(err.contains("already exists"), "{err}");
    let payload = e.ok(&[
        "protect",
        "--password-file",
        p(&a),
        "--purpose",
        "cookies",
        "s3cret",
    ]);
    let payload = payload.trim();
    assert!(payload.starts_with("CfDJ8"));
    assert_eq!(e.unprotect_cookie(&a, payload), "s3cret");
    let err = e.fail(&[
        "unprotect",
        "--password-file",
        p(&a),
        "--purpose",
        "other",
        payload,
    ]);
    assert!(err.contains("[\"other\"]"), "{err}");
    let err = e.fail(&[
        "unprotect",
        "--password-file",
        p(&a),
        "--application-name",
        "x",
        "--purpose",
        "cookies",
        payload,
    ]);
    assert!(err.contains("application name \"x\""), "{err}");
    // Wrong password names the slot tried.
    let err = e.fail(&[
        "unprotect",
        "--password-file",
        p(&e.pw("pw-bad")),
        "--purpose",
        "cookies",
        payload,
    ]);
    assert!(err.contains("wrong key") && err.contains("tried"), "{err}");
    // Slot A → add B → remove A (opened with B) → B opens, old payload still unprotects.
    let status = e.ok(&["master-key", "status"]);
    let slot_a = status
        .lines()
        .find_map(|l| l.strip_prefix("slot "))
        .unwrap()[..36]
        .to_string();
    let keys_before = e.key_files();
    e.ok(&[
        "master-key",
        "add-slot",
        "--password-file",
        p(&a),
        "--new-password-file",
        p(&b),
    ]);
    e.ok(&[
        "master-key",
        "remove-slot",
        &slot_a,
        "--password-file",
        p(&b),
    ]);
    assert_eq!(e.unprotect_cookie(&b, payload), "s3cret");
    e.fail(&[
        "unprotect",
        "--password-file",
        p(&a),
        "--purpose",
        "cookies",
        payload,
    ]);
    let keys_after = e.key_files();
    assert_eq!(
        keys_before, keys_after,
        "slot changes must not rewrite keys"
    );
    let status = e.ok(&["master-key", "status"]);
    let slot_b = status
        .lines()
        .find_map(|l| l.strip_prefix("slot "))
        .unwrap()[..36]
        .to_string();
    let err = e.fail(&[
        "master-key",
        "remove-slot",
        &slot_b,
        "--password-file",
        p(&b),
    ]);
    assert!(err.contains("last master-key slot"), "{err}");
    // change: new slot for password A replaces B.
    e.ok(&[
        "master-key",
        "change",
        "--password-file",
        p(&b),
        "--new-password-file",
        p(&a),
        "--yes",
    ]);
    assert_eq!(e.unprotect_cookie(&a, payload), "s3cret");
    e.fail(&[
        "unprotect",
        "--password-file",
        p(&b),
        "--purpose",
        "cookies",
        payload,
    ]);
}

#[test]
fn keys_revocation_ttl_and_bad_input() {
    let e = Env::new("[data_protection]\napplication_name = \"shop\"\nmax_payload_size = 64\n");
    let a = e.pw("pw-a");
    e.ok(&["init", "--password-file", p(&a)]);
    let payload = e
        .ok(&["protect", "--password-file", p(&a), "x"])
        .trim()
        .to_string();
    let list = e.ok(&["keys", "list", "--json", "--password-file", p(&a)]);
    let keys: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["default"], true);
    assert_eq!(keys[0]["encrypted"], true);
    let id = keys[0]["id"].as_str().unwrap().to_string();
    let new_id = e
        .ok(&[
            "keys",
            "new",
            "--password-file",
            p(&a),
            "--activate-at",
            "2099-01-01T00:00:00Z",
        ])
        .trim()
        .to_string();
    assert_eq!(new_id.len(), 36);
    e.ok(&[
        "keys",
        "revoke",
        &id,
        "--reason",
        "test",
        "--password-file",
        p(&a),
    ]);
    let err = e.fail(&["unprotect", "--password-file", p(&a), &payload]);
    assert!(err.contains("revoked"), "{err}");
    let o = e.run(&[
        "unprotect",
        "--ignore-revocation",
        "--password-file",
        p(&a),
        &payload,
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "x");
    assert!(String::from_utf8_lossy(&o.stderr).contains("revoked key"));
    // New protection generates a fresh key (default revoked, the 2099 key is not active).
    let t = e
        .ok(&["protect", "--password-file", p(&a), "--ttl", "1h", "timed"])
        .trim()
        .to_string();
    assert_eq!(
        e.ok(&["unprotect", "--time-limited", "--password-file", p(&a), &t]),
        "timed"
    );
    e.fail(&["unprotect", "--password-file", p(&a), &t]);
    // Bad input.
    let err = e.fail(&["unprotect", "--password-file", p(&a), "CfDJ8@@@"]);
    assert!(err.contains("base64url"), "{err}");
    let err = e.fail(&["unprotect", "--password-file", p(&a), "CfDJ8AAA"]);
    assert!(err.contains("truncated"), "{err}");
    let err = e.fail(&["protect", "--password-file", p(&a), &"y".repeat(65)]);
    assert!(err.contains("over the limit of 64"), "{err}");
    let o = e.run(&[
        "protect",
        "--password-file",
        p(&a),
        "--ttl",
        "5 fortnights",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Deletion asks for confirmation without a terminal → refused; --yes deletes.
    e.ok(&[
        "keys",
        "revoke",
        "--all-created-before",
        "2000-01-01T00:00:00Z",
        "--password-file",
        p(&a),
    ]);
    // Every key (the first, the 2099 key, and those generated while the revoked first key was
    // still the preferred one by ASP.NET Core's default-key resolution) expires before 2100.
    let listed = e.ok(&["keys", "list", "--json", "--password-file", p(&a)]);
    let all_keys = serde_json::from_str::<serde_json::Value>(&listed)
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert!(all_keys >= 3, "{listed}");
    let err = e.fail(&["keys", "delete", "--expired-before", "2100-01-01T00:00:00Z"]);
    assert!(err.contains("--yes"), "{err}");
    let deleted = e.ok(&[
        "keys",
        "delete",
        "--expired-before",
        "2100-01-01T00:00:00Z",
        "--yes",
    ]);
    assert_eq!(deleted.lines().count(), all_keys);
    // The revocation of a deleted key goes too; the latest mass revocation stays.
    assert!(!e.ring().join(format!("revocation-{id}.xml")).exists());
    assert!(std::fs::read_dir(e.ring()).unwrap().any(|f| f
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("revocation-2")));
}

#[test]
fn interop_mode_writes_aspnet_keys() {
    let e = Env::new("[data_protection]\ninterop = true\n");
    e.ok(&["init"]);
    let files: Vec<_> = std::fs::read_dir(e.ring())
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("<!-- Warning: the key below is in an unencrypted form. -->"),
        "{text}"
    );
    let payload = e.ok(&["protect", "x"]).trim().to_string();
    assert_eq!(e.ok(&["unprotect", &payload]), "x");
    let e2 = Env::new("");
    // No ring: protect creates one on first use, which needs the password (no terminal here).
    let err = e2.fail(&["protect", "x"]);
    assert!(err.contains("--password-stdin"), "{err}");
    std::fs::create_dir_all(e2.dir.path().join("data/trousseau")).unwrap();
    std::fs::write(e2.ring(), "a file").unwrap();
    // The repository's directory is a file: the configuration must change (exit 2).
    let o = e2.run(&["protect", "x"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is a file"), "{err}");
}

#[test]
fn unprotect_lines_reads_one_payload_per_line() {
    let e = Env::new("[data_protection]\ninterop = true\n");
    let plain = ["first", "", "third with spaces", "fourth\ttab"];
    let payloads: Vec<String> = plain
        .iter()
        .map(|t| e.ok(&["protect", t]).trim().to_string())
        .collect();
    // CRLF line ends and a missing final line break are accepted; order is kept.
    let input = format!(
        "{}\r\n{}\n{}\n{}",
        payloads[0], payloads[1], payloads[2], payloads[3]
    );
    let o = e.run_with_input(&["unprotect", "--lines"], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("{}\n", plain.join("\n"))
    );
    // A bad line fails the whole command, names the line and writes nothing.
    let input = format!("{}\nCfDJ8@@@\n{}\n", payloads[0], payloads[2]);
    let o = e.run_with_input(&["unprotect", "--lines"], Some(input.as_bytes()));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("line 2"), "{err}");
    let input = format!("{}\n\n{}\n", payloads[0], payloads[2]);
    let o = e.run_with_input(&["unprotect", "--lines"], Some(input.as_bytes()));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("line 2") && err.contains("empty"), "{err}");
    // A plaintext with a line break cannot be written one per line.
    let multi = e.ok(&["protect", "two\nlines"]).trim().to_string();
    let input = format!("{}\n{multi}\n", payloads[0]);
    let o = e.run_with_input(&["unprotect", "--lines"], Some(input.as_bytes()));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("line 2") && err.contains("line break"),
        "{err}"
    );
    assert_eq!(e.ok(&["unprotect", &multi]), "two\nlines");
    // --lines takes its payloads from standard input only.
    let o = e.run(&["unprotect", "--lines", &payloads[0]]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lines"));
}
