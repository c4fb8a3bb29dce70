// Unix only: modes, setsid, unix signals (the Windows legs are .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `trousseau` binary under bad input: exit codes by class of error (2 usage or
//! configuration, 1 failed operation), bounded standard input, dates and durations out of
//! range, log lines (no colour off a terminal, each warning once), plugins that are not
//! plugins (their constructors never run), and deleting elements whose file names are odd.

#[path = "support/cli.rs"]
mod cli;

use std::{
    io::{Read, Write},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::{Command, Stdio},
};

use cli::Home;

const PASSWORD_CONFIG: &str = "[[master_key.sources]]\nprovider = \"password\"\n";

/// A home with a password ring (`pw` opens it; `pw-bad` does not).
fn home_with_ring() -> Home {
    let h = Home::new();
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(h.path("cfg/trousseau/config.toml"), PASSWORD_CONFIG).unwrap();
    std::fs::write(h.path("pw"), "first password\n").unwrap();
    std::fs::write(h.path("pw-bad"), "not the password\n").unwrap();
    let pw = h.path("pw");
    h.ok(&["init", "--password-file", pw.to_str().unwrap()]);
    h
}

/// One row of the exit-code table: a configuration file to pass with `--config` (`None`: the
/// home's own), the arguments (`{home}` is replaced by the home's path), the exit code and a
/// piece of the message.
struct Case {
    config: Option<&'static [u8]>,
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
}

const fn case(
    config: Option<&'static [u8]>,
    args: &'static [&'static str],
    code: i32,
    says: &'static str,
) -> Case {
    Case {
        config,
        args,
        code,
        says,
    }
}

const PW: &str = "--password-file={home}/pw";

#[test]
fn exit_codes_say_whether_usage_configuration_or_the_operation_failed() {
    let h = home_with_ring();
    let fifo = Command::new("mkfifo").arg(h.path("fifo")).status().unwrap();
    assert!(fifo.success());
    std::fs::create_dir(h.path("open-ring")).unwrap();
    std::fs::set_permissions(h.path("open-ring"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let table = [
        // Usage: the command line is wrong.
        case(None, &["protect", "--frobnicate"], 2, "--frobnicate"),
        case(
            None,
            &["protect", "--ttl", "5 fortnights", "x"],
            2,
            "invalid duration",
        ),
        case(
            None,
            &["protect", "--ttl", "200000000000000d", "x"],
            2,
            "\"200000000000000d\" is too long",
        ),
        case(
            None,
            &["protect", "--ttl", "9223372036854775807s", "x"],
            2,
            "\"9223372036854775807s\" is too long",
        ),
        case(
            None,
            &["protect", "--ttl", "3000000d", PW, "x"],
            2,
            "--ttl 3000000d is out of range",
        ),
        case(
            None,
            &["keys", "new", "--activate-at", "2026-07-0é"],
            2,
            "invalid date \"2026-07-0é\"",
        ),
        case(
            None,
            &["keys", "new", "--activate-at", "9999-12-01", PW],
            2,
            "starting at 9999-12-01T00:00:00Z is out of range",
        ),
        case(
            None,
            &["keys", "revoke", "--all-created-before", "yesterday", PW],
            2,
            "invalid date",
        ),
        case(
            None,
            &["--unlock", "nosuch", "keys", "list"],
            2,
            "--unlock: \"nosuch\" is unknown",
        ),
        case(None, &["unprotect", "--lines", "abc"], 2, "--lines"),
        // Configuration: a setting is wrong.
        case(
            Some(b"[data_protection]\nkey_lifetime_days = 10000000\n"),
            &["protect", "x"],
            2,
            "key_lifetime_days = 10000000 is out of range",
        ),
        case(
            Some(b"[data_protection]\nkey_lifetime_days = 9223372036854775807\n"),
            &["keys", "new"],
            2,
            "key_lifetime_days = 9223372036854775807 is out of range",
        ),
        case(
            Some(b"[data_protection]\nkey_lifetime_days = 3\n"),
            &["keys", "list"],
            2,
            "key_lifetime_days = 3 is out of range",
        ),
        case(
            Some(b"\xff\xfe[data_protection]\n"),
            &["protect", "x"],
            2,
            "is not UTF-8 text",
        ),
        case(Some(b"[data_protection\n"), &["protect", "x"], 2, "line 1"),
        case(
            Some(b"[repository]\nprovider = \"redis\"\nurl = \"http://h:6379\"\n"),
            &["protect", "x"],
            2,
            "scheme \"http\"",
        ),
        case(
            Some(b"[repository]\nprovider = \"filesystem\"\ncolour = \"blue\"\n"),
            &["protect", "x"],
            2,
            "unknown field `colour`",
        ),
        case(
            Some(b"[repository]\nprovider = \"filesystem\"\ndirectory = \"{home}/open-ring\"\n"),
            &["protect", "x"],
            2,
            "writable by",
        ),
        case(
            Some(
                b"[repository]\nprovider = \"filesystem\"\ndirectory = \"{home}/new-ring\"\n\
                    [[master_key.sources]]\nprovider = \"keyfile\"\n",
            ),
            &["protect", "x"],
            2,
            "the keyfile source needs a path",
        ),
        case(
            Some(b"[[master_key.sources]]\nprovider = \"nosuch\"\n"),
            &["keys", "list", PW],
            2,
            "[[master_key.sources]]: \"nosuch\" is unknown",
        ),
        case(
            None,
            &["--plugin-dir", "/nonexistent/plugins", "protect", "x"],
            2,
            "does not exist",
        ),
        // The operation failed.
        case(None, &["unprotect", PW, "CfDJ8AAA"], 1, "truncated"),
        case(
            None,
            &["keys", "list", "--password-file=/dev/zero"],
            1,
            "the password file /dev/zero: not a regular file but a character device",
        ),
        case(
            None,
            &["keys", "list", "--password-file={home}/fifo"],
            1,
            "the password file {home}/fifo: not a regular file but a FIFO",
        ),
        case(
            None,
            &[
                "--repository",
                "filesystem:directory={home}/fifo-ring",
                "init",
                "--source",
                "keyfile:path={home}/fifo",
            ],
            1,
            "key file {home}/fifo: not a regular file",
        ),
        case(
            None,
            &["keys", "list", "--password-file={home}/pw-bad"],
            1,
            "password",
        ),
        case(
            Some(b"[repository]\nprovider = \"filesystem\"\ndirectory = \"{home}/no-ring\"\n"),
            &["unprotect", "CfDJ8AAA"],
            1,
            "no key ring yet",
        ),
        case(
            Some(
                b"[repository]\nprovider = \"redis\"\nurl = \"redis://127.0.0.1:1/0\"\n\
                    connect_timeout_ms = 300\n",
            ),
            &["keys", "list"],
            1,
            "cannot be reached",
        ),
    ];
    let home = h.dir.path().to_str().unwrap();
    for (i, c) in table.iter().enumerate() {
        let mut args: Vec<String> = Vec::new();
        if let Some(config) = c.config {
            let bytes = match std::str::from_utf8(config) {
                Ok(text) => text.replace("{home}", home).into_bytes(),
                Err(_) => config.to_vec(),
            };
            let path = h.path(&format!("case-{i}.toml"));
            std::fs::write(&path, bytes).unwrap();
            args.extend(["--config".to_string(), path.to_str().unwrap().to_string()]);
        }
        args.extend(c.args.iter().map(|a| a.replace("{home}", home)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = h.run(&args, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(c.code), "{args:?}: {stderr}");
        let says = c.says.replace("{home}", home);
        assert!(stderr.contains(&says), "{args:?}: {stderr}");
        let repeated = stderr.split(": ").collect::<Vec<_>>();
        assert!(
            repeated.windows(2).all(|w| w[0] != w[1]),
            "{args:?}: a part is repeated: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Runs the binary with `input_len` zero bytes offered on standard input (stopping quietly when
/// the binary stops reading); returns the exit code, stderr and the peak resident size in KiB.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its peak RSS
fn run_measured(h: &Home, args: &[&str], input_len: usize) -> (Option<i32>, String, i64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.args(args)
        .env("HOME", h.dir.path())
        .env("XDG_DATA_HOME", h.path("data"))
        .env("XDG_CONFIG_HOME", h.path("cfg"))
        .env_remove("TROUSSEAU_CONFIG")
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe; it detaches the child from the terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![0u8; 1 << 20];
        let mut left = input_len;
        while left > 0 {
            let n = left.min(chunk.len());
            if stdin.write_all(&chunk[..n]).is_err() {
                return; // The reader gave up: what the test wants to see.
            }
            left -= n;
        }
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 reaps our own child and fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: pid is our child, not yet reaped (std's Child is never waited on here).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    writer.join().unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, stderr, usage.ru_maxrss)
}

#[test]
fn giant_standard_input_is_refused_at_the_payload_limit_without_reading_it_all() {
    let h = home_with_ring();
    let pw = format!("--password-file={}", h.path("pw").display());
    for (args, says) in [
        (
            vec!["protect", pw.as_str()],
            "standard input holds more than 16777216 bytes",
        ),
        (
            vec!["unprotect", pw.as_str()],
            "standard input holds more than 22370988 bytes",
        ),
        (
            vec!["unprotect", "--lines", pw.as_str()],
            "more than --lines reads at once",
        ),
    ] {
        let (code, stderr, rss_kib) = run_measured(&h, &args, 512 << 20);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("max_payload_size"), "{args:?}: {stderr}");
        // 16 MiB read (in a buffer that may have doubled) plus the binary: far below 512 MiB.
        assert!(rss_kib < 96 << 10, "{args:?}: peak RSS {rss_kib} KiB");
    }
    // Within the limit, standard input still works.
    let o = h.run(&["protect", &pw], Some("from stdin"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let payload = String::from_utf8(o.stdout).unwrap();
    let o = h.run(&["unprotect", &pw], Some(&payload));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from stdin");
}

#[test]
fn log_lines_are_plain_off_a_terminal_and_each_warning_is_written_once() {
    let mut h = home_with_ring();
    let junk = h.ring().join("junk.xml");
    std::fs::write(&junk, "junk").unwrap();
    std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pw = format!("--password-file={}", h.path("pw").display());
    for no_color in [None, Some("1")] {
        h.env.retain(|(k, _)| k != "NO_COLOR");
        if let Some(v) = no_color {
            h.env.push(("NO_COLOR".into(), v.into()));
        }
        let o = h.run(&["keys", "list", &pw], None);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !stderr.contains('\x1b'),
            "colour codes off a terminal: {stderr:?}"
        );
        assert_eq!(
            stderr.matches("skipping element junk").count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn a_non_utf8_configuration_file_is_reported_once_in_one_line() {
    let h = Home::new();
    let config = h.path("latin1.toml");
    std::fs::write(&config, b"# r\xe9glages\n").unwrap();
    let o = h.run(
        &["--config", config.to_str().unwrap(), "keys", "list"],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: the configuration file {} is not UTF-8 text; save it as UTF-8 (TOML files \
             are UTF-8), e.g. with `iconv -t UTF-8`",
            config.display()
        )
    );
}

/// A shared library (not a plugin) whose constructor creates `marker`.
fn library_with_a_constructor(dir: &Path, marker: &Path) -> std::path::PathBuf {
    let source = dir.join("ctor.c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void run(void) {{ FILE *f = \
             fopen(\"{}\", \"w\"); if (f) fclose(f); }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let lib = dir.join("libnotaplugin.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&source)
        .output()
        .expect("cc (gcc) is needed to build the test library");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

#[test]
fn a_library_that_is_not_a_plugin_is_refused_before_its_constructors_run() {
    let h = Home::new();
    let plugins = h.path("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let marker = h.path("constructor-ran");
    let lib = library_with_a_constructor(&plugins, &marker);
    std::fs::remove_file(plugins.join("ctor.c")).unwrap();
    let o = h.run(&["plugins", "inspect", lib.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not a Trousseau plugin")
            && stderr.contains("_1as_0lib_1header_0root_bmodule_bloader"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!marker.exists(), "the library's constructor ran on inspect");
    let o = h.run(
        &["plugins", "list", "--plugin-dir", plugins.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("not a Trousseau plugin"), "{stderr}");
    assert!(!marker.exists(), "the library's constructor ran on list");
    // Control: the dynamic loader does run it.
    // SAFETY: loading the test's own library, whose constructor only creates a file.
    let handle = unsafe {
        let path = std::ffi::CString::new(lib.to_str().unwrap()).unwrap();
        libc::dlopen(path.as_ptr(), libc::RTLD_NOW)
    };
    assert!(!handle.is_null());
    assert!(marker.exists());
}

#[test]
fn keys_delete_removes_an_element_whose_file_name_is_not_a_friendly_name() {
    let h = Home::new();
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(
        h.path("cfg/trousseau/config.toml"),
        "[data_protection]\ninterop = true\n",
    )
    .unwrap();
    h.ok(&["protect", "make the ring"]);
    let id = "0f0f0f0f-0000-4000-8000-00000000000f";
    let file = h.ring().join("key-expired copy (2).xml");
    let secret = format!("{}==", "A".repeat(86)); // 64 zero bytes
    std::fs::write(
        &file,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<key id=\"{id}\" version=\"1\">\
             <creationDate>2001-01-01T00:00:00Z</creationDate>\
             <activationDate>2001-01-01T00:00:00Z</activationDate>\
             <expirationDate>2001-04-01T00:00:00Z</expirationDate>\
             <descriptor deserializerType=\"Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.AuthenticatedEncryptorDescriptorDeserializer, Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60\">\
             <descriptor><encryption algorithm=\"AES_256_CBC\" /><validation algorithm=\"HMACSHA256\" />\
             <masterKey p4:requiresEncryption=\"true\" xmlns:p4=\"http://schemas.asp.net/2015/03/dataProtection\">\
             <value>{secret}</value></masterKey></descriptor></descriptor></key>"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let deleted = h.ok(&["keys", "delete", "--expired-before", "2010-01-01", "--yes"]);
    assert_eq!(deleted.trim(), id);
    assert!(!file.exists());
    // The ring's own key is still there and works.
    let payload = h.ok(&["protect", "still works"]);
    assert_eq!(h.ok(&["unprotect", payload.trim()]), "still works");
}
