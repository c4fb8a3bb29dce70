//! Master-key slots made of configured key sources, the policy on new slots and their expiry,
//! and the zero-config first use, driving the real `trousseau` binary with a temporary HOME.
// Unix only: Unix file modes and process groups (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::Write,
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A fresh HOME; `config` (if any) becomes `~/.config/trousseau/config.toml`, with `{dir}`
    /// replaced by the temporary directory.
    fn new(config: Option<&str>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let e = Env { dir };
        if let Some(c) = config {
            e.config(c);
        }
        std::fs::write(e.path("pw-a"), "first password\n").unwrap();
        std::fs::write(e.path("pw-b"), "a second, much longer password\n").unwrap();
        e
    }

    fn config(&self, text: &str) {
        let cfg = self.path(".config/trousseau");
        std::fs::create_dir_all(&cfg).unwrap();
        let text = text.replace("{dir}", self.dir.path().to_str().unwrap());
        std::fs::write(cfg.join("config.toml"), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    fn ring(&self) -> PathBuf {
        self.path(".local/share/trousseau/key-ring")
    }

    /// Runs the binary detached from any terminal (so a missing answer fails instead of
    /// prompting), with only HOME pointing at the temporary directory.
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
        cmd.args(args)
            .env("HOME", self.dir.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("TROUSSEAU_CONFIG")
            // Short test passwords are used without asking; new slots calibrated to 0.1 s.
            .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
            .env("TROUSSEAU_UNLOCK_TIME", "0.1")
            .env_remove("TROUSSEAU_PLUGIN_PATH")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: setsid is async-signal-safe; it detaches the child from the terminal.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            // A child that fails before reading its input closes the pipe: not a test error.
            let written = child.stdin.take().unwrap().write_all(text.as_bytes());
            if let Err(e) = written {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
            }
        }
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    /// Runs and requires success; returns (stdout, stderr).
    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> (String, String) {
        let o = self.run_with(args, stdin);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{args:?} failed: {stderr}");
        (String::from_utf8(o.stdout).unwrap(), stderr)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None).0
    }

    /// Runs and requires exit code 1; returns stderr.
    fn fail_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let o = self.run_with(args, stdin);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        stderr
    }

    fn fail(&self, args: &[&str]) -> String {
        self.fail_with(args, None)
    }

    /// The `<sources>` a slot element records (JSON), read from the ring directory.
    fn recorded_sources(&self, id: &str) -> serde_json::Value {
        let xml =
            std::fs::read_to_string(self.ring().join(format!("masterKeySlot-{id}.xml"))).unwrap();
        let start = xml.find("<sources>").unwrap() + "<sources>".len();
        let end = xml.find("</sources>").unwrap();
        serde_json::from_str(
            &xml[start..end]
                .replace("&quot;", "\"")
                .replace("&amp;", "&"),
        )
        .unwrap()
    }

    /// The slot ids and their sources (as `--unlock` takes them), from `master-key status`.
    fn slots(&self) -> Vec<(String, String)> {
        self.ok(&["master-key", "status"])
            .lines()
            .filter_map(|l| l.strip_prefix("slot "))
            .map(|l| {
                let sources = l.split_once("sources ").unwrap().1.to_string();
                (l[..36].to_string(), sources)
            })
            .collect()
    }

    /// Names of the files in the ring directory (none if it does not exist).
    fn ring_files(&self) -> Vec<String> {
        match std::fs::read_dir(self.ring()) {
            Ok(d) => d
                .map(|f| f.unwrap().file_name().to_string_lossy().to_string())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

const PASSWORD_AND_KEYFILE: &str = "[[master_key.sources]]\nprovider = \"password\"\n\
     [[master_key.sources]]\nprovider = \"keyfile\"\npath = \"{dir}/app.keyx\"\ncreate = \"xml2\"\n";

#[test]
fn password_and_keyfile_slot_then_keyfile_only_slot() {
    let e = Env::new(Some(PASSWORD_AND_KEYFILE));
    let pw = e.p("pw-a");
    let (_, err) = e.ok_with(&["init", "--password-file", &pw], None);
    assert!(err.contains("password + keyfile"), "{err}");
    assert!(e.path("app.keyx").exists());
    // The slot records both sources with the key file's public parameters, never a secret.
    let slots = e.slots();
    assert_eq!(slots.len(), 1);
    let (slot_a, sources) = &slots[0];
    assert!(sources.starts_with("password + keyfile:"), "{sources}");
    let specs = e.recorded_sources(slot_a);
    assert_eq!(specs[0]["provider"], "password");
    assert_eq!(specs[1]["provider"], "keyfile");
    assert!(
        !specs[1]["public_params"].as_str().unwrap().is_empty(),
        "{specs}"
    );
    let ring_text: String = e
        .ring_files()
        .iter()
        .map(|f| std::fs::read_to_string(e.ring().join(f)).unwrap())
        .collect();
    assert!(!ring_text.contains("first password"));

    let payload = e.ok(&["protect", "--password-file", &pw, "hello"]);
    let payload = payload.trim();
    assert_eq!(
        e.ok(&["unprotect", "--password-file", &pw, payload]),
        "hello"
    );

    // A different key file: a clear wrong-key error naming the slot.
    let good = std::fs::read(e.path("app.keyx")).unwrap();
    std::fs::write(e.path("app.keyx"), "0".repeat(64)).unwrap();
    let err = e.fail(&["unprotect", "--password-file", &pw, payload]);
    assert!(
        err.contains(&format!("slot {slot_a}")) && err.contains("wrong key"),
        "{err}"
    );
    std::fs::write(e.path("app.keyx"), &good).unwrap();

    // A key-file-only slot, then the first slot removed: old payloads still open, no prompt,
    // once this node unlocks with that key file (never taken from the ring).
    let k2 = format!("keyfile:path={},create=xml2", e.p("second.keyx"));
    e.ok(&[
        "master-key",
        "add-slot",
        "--password-file",
        &pw,
        "--source",
        &k2,
        "--yes",
    ]);
    assert_eq!(e.slots().len(), 2);
    e.ok(&["master-key", "remove-slot", slot_a, "--password-file", &pw]);
    let slots = e.slots();
    assert_eq!(slots.len(), 1);
    assert!(slots[0].1.contains("second.keyx"), "{slots:?}");
    assert!(!slots[0].1.contains("password"), "{slots:?}");
    // The configuration still names password + key file: that slot is not for this node.
    let err = e.fail(&["unprotect", payload]);
    assert!(
        err.contains("made of keyfile, while this node unlocks with password + keyfile"),
        "{err}"
    );
    assert_eq!(e.ok(&["--unlock", &k2, "unprotect", payload]), "hello");
    let payload2 = e.ok(&["--unlock", &k2, "protect", "again"]);
    assert_eq!(
        e.ok(&["--unlock", &k2, "unprotect", payload2.trim()]),
        "again"
    );
    // Without the key file the slot cannot be derived: the error says why.
    std::fs::remove_file(e.path("second.keyx")).unwrap();
    let err = e.fail(&["--unlock", &k2, "unprotect", payload]);
    assert!(
        err.contains(&slots[0].0) && err.contains("second.keyx"),
        "{err}"
    );
}

#[test]
fn unknown_source_is_a_usage_error_and_missing_provider_says_not_available() {
    let e = Env::new(None);
    let o = e.run(&[
        "init",
        "--source",
        "nonesuch",
        "--password-file",
        &e.p("pw-a"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("\"nonesuch\" is unknown") && err.contains("available key sources"),
        "{err}"
    );
    assert!(e.ring_files().is_empty());
}

#[test]
fn policy_length_and_required_and_forbidden_sources() {
    // The key file comes first, yet nothing is created when the password is refused.
    let e = Env::new(Some(
        "[policy]\nminimum_length = 20\n[[master_key.sources]]\nprovider = \"keyfile\"\n\
         path = \"{dir}/app.keyx\"\ncreate = \"xml2\"\n[[master_key.sources]]\nprovider = \"password\"\n",
    ));
    let err = e.fail(&["init", "--password-file", &e.p("pw-a")]);
    assert!(
        err.contains("the password has 14 characters, the minimum is 20 (6 more needed)"),
        "{err}"
    );
    assert!(e.ring_files().is_empty(), "{:?}", e.ring_files());
    assert!(!e.path("app.keyx").exists());
    e.ok(&["init", "--password-file", &e.p("pw-b")]);

    let e = Env::new(Some("[policy]\nrequire = [\"key-file\"]\n"));
    let err = e.fail(&["init", "--password-file", &e.p("pw-a")]);
    assert!(err.contains("must include a key-file source"), "{err}");
    let kf = format!("keyfile:path={},create=hex", e.p("k.key"));
    e.ok(&[
        "init",
        "--password-file",
        &e.p("pw-a"),
        "--source",
        "password",
        "--source",
        &kf,
    ]);

    let e = Env::new(Some("[policy]\nforbid = [\"password\"]\n"));
    let err = e.fail(&[
        "init",
        "--password-file",
        &e.p("pw-a"),
        "--source",
        "password",
    ]);
    assert!(err.contains("must not include a password source"), "{err}");
    let kf = format!("keyfile:path={},create=hex", e.p("k.key"));
    e.ok(&["init", "--source", &kf]);
    // Adding a slot is checked too.
    let err = e.fail(&[
        "--unlock",
        &kf,
        "master-key",
        "add-slot",
        "--source",
        "password",
        "--new-password-file",
        &e.p("pw-a"),
        "--yes",
    ]);
    assert!(err.contains("must not include a password source"), "{err}");
    assert_eq!(e.slots().len(), 1);
}

#[test]
fn expiry_recommend_warns_and_force_allows_only_change() {
    let e = Env::new(Some("[policy]\nmaster_key_expiry_rec = \"P0D\"\n"));
    let pw = e.p("pw-a");
    e.ok(&["init", "--password-file", &pw]);
    let (_, err) = e.ok_with(&["protect", "--password-file", &pw, "x"], None);
    assert!(
        err.contains("WARN the policy recommends a new master key")
            && err.contains("change the master key"),
        "{err}"
    );

    let e = Env::new(None);
    e.ok(&["init", "--password-file", &pw]);
    let payload_before = e.ok(&["protect", "--password-file", &pw, "y"]);
    // Force a change of every master key made before the next whole second.
    let now = time::OffsetDateTime::now_utc();
    let cutoff = now.replace_nanosecond(0).unwrap() + time::Duration::seconds(1);
    let text = cutoff
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    e.config(&format!("[policy]\nmaster_key_expiry_force = \"{text}\"\n"));
    while time::OffsetDateTime::now_utc() <= cutoff + time::Duration::milliseconds(50) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = e.fail(&["protect", "--password-file", &pw, "z"]);
    assert!(
        err.contains("the policy requires a new master key")
            && err.contains("run `trousseau master-key change`"),
        "{err}"
    );
    let err = e.fail(&["keys", "list", "--password-file", &pw]);
    assert!(err.contains("master-key change"), "{err}");
    e.ok(&["master-key", "status"]);
    e.ok(&[
        "master-key",
        "change",
        "--password-file",
        &pw,
        "--new-password-file",
        &e.p("pw-b"),
        "--yes",
    ]);
    let pw_b = e.p("pw-b");
    let (p2, err) = e.ok_with(&["protect", "--password-file", &pw_b, "z"], None);
    assert!(!err.contains("policy"), "{err}");
    assert_eq!(
        e.ok(&["unprotect", "--password-file", &pw_b, p2.trim()]),
        "z"
    );
    assert_eq!(
        e.ok(&["unprotect", "--password-file", &pw_b, payload_before.trim()]),
        "y"
    );
}

/// Whether the `user-account` key source is in this binary's registry.
fn user_account_registered(e: &Env) -> bool {
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["plugins", "list", "--json"]))
        .expect("plugins list --json is JSON");
    json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "user-account" && p["kind"] == "key-source")
}

#[test]
fn zero_config_first_use_creates_the_ring() {
    let e = Env::new(None);
    let location = e.ring();
    let location = location.to_str().unwrap();
    if user_account_registered(&e) {
        // The zero-config default: user-account source, no prompt. This must work whenever the
        // provider is registered.
        let (payload, err) = e.ok_with(&["protect", "hello"], None);
        assert!(err.contains(location), "{err}");
        assert!(err.contains("trousseau user-account export FILE"), "{err}");
        assert!(e.slots()[0].1.contains("user-account"));
        let (again, err2) = e.ok_with(&["protect", "again"], None);
        assert!(!err2.contains("created a new key ring"), "{err2}");
        assert_eq!(e.ok(&["unprotect", payload.trim()]), "hello");
        assert_eq!(e.ok(&["unprotect", again.trim()]), "again");
    } else {
        // Fallback: a password. Without a terminal or --password-stdin it fails cleanly.
        let err = e.fail(&["protect", "hello"]);
        assert!(err.contains("--password-stdin"), "{err}");
        assert!(e.ring_files().is_empty(), "{:?}", e.ring_files());
        let (payload, err) = e.ok_with(
            &["protect", "--password-stdin", "hello"],
            Some("zero config\n"),
        );
        assert!(
            err.contains("created a new key ring") && err.contains(location),
            "{err}"
        );
        let slots = e.slots();
        assert_eq!(slots.len(), 1);
        assert!(slots[0].1.contains("\"password\""), "{slots:?}");
        let (again, err2) = e.ok_with(
            &["protect", "--password-stdin", "again"],
            Some("zero config\n"),
        );
        assert!(!err2.contains("created a new key ring"), "{err2}");
        let (plain, _) = e.ok_with(
            &["unprotect", "--password-stdin", payload.trim()],
            Some("zero config\n"),
        );
        assert_eq!(plain, "hello");
        let err = e.fail_with(
            &["unprotect", "--password-stdin", again.trim()],
            Some("wrong\n"),
        );
        assert!(
            err.contains("wrong key") && err.contains(&slots[0].0),
            "{err}"
        );
        // Current and new password both from standard input, one line each.
        e.ok_with(
            &[
                "master-key",
                "change",
                "--password-stdin",
                "--new-password-stdin",
                "--yes",
            ],
            Some("zero config\nnew zero config\n"),
        );
        let (plain, _) = e.ok_with(
            &["unprotect", "--password-stdin", again.trim()],
            Some("new zero config\n"),
        );
        assert_eq!(plain, "again");
        e.fail_with(
            &["unprotect", "--password-stdin", again.trim()],
            Some("zero config\n"),
        );
    }
}

#[test]
fn unprotect_does_not_create_a_ring() {
    let e = Env::new(None);
    let err = e.fail(&["unprotect", "CfDJ8AAA"]);
    assert!(err.contains("no key ring yet"), "{err}");
    assert!(e.ring_files().is_empty());
}
