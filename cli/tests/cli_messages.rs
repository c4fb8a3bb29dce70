// Unix only: process groups detach the binary from the terminal (the Windows legs are
// .ci/legs.d/windows-*.sh).
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Errors that say what to do: a forgotten or extra `--time-limited`, a revoked key,
//! an unknown key id to revoke, a missing `--config` file; `init` with a password answer and
//! no sources makes a password slot.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;

/// A home with a password ring; returns it and the password file's path.
fn password_ring() -> (Home, String) {
    let h = Home::new();
    let pw = h.path("pw");
    std::fs::write(&pw, "the first password\n").unwrap();
    let pw = pw.to_str().unwrap().to_string();
    h.ok(&["init", "--source", "password", "--password-file", &pw]);
    (h, pw)
}

#[test]
fn a_forgotten_or_extra_time_limited_flag_is_named() {
    let (h, pw) = password_ring();
    let timed = h.ok(&["protect", "--password-file", &pw, "--ttl", "1h", "timed"]);
    let plain = h.ok(&["protect", "--password-file", &pw, "plain"]);
    let err = h.fail(&["unprotect", "--password-file", &pw, timed.trim()]);
    assert!(
        err.contains("time-limited") && err.contains("pass --time-limited"),
        "{err}"
    );
    assert!(!err.contains("does not verify"), "{err}");
    let err = h.fail(&[
        "unprotect",
        "--time-limited",
        "--password-file",
        &pw,
        plain.trim(),
    ]);
    assert!(
        err.contains("not time-limited") && err.contains("without --time-limited"),
        "{err}"
    );
    // A payload for another purpose still gets the generic message.
    let err = h.fail(&[
        "unprotect",
        "--password-file",
        &pw,
        "--purpose",
        "other",
        plain.trim(),
    ]);
    assert!(err.contains("does not verify"), "{err}");
    assert_eq!(
        h.ok(&[
            "unprotect",
            "--time-limited",
            "--password-file",
            &pw,
            timed.trim()
        ]),
        "timed"
    );
}

#[test]
fn a_revoked_key_names_ignore_revocation_and_an_unknown_id_names_keys_list() {
    let (h, pw) = password_ring();
    let payload = h.ok(&["protect", "--password-file", &pw, "x"]);
    let id = h
        .ok(&["keys", "list", "--json", "--password-file", &pw])
        .split("\"id\":")
        .nth(1)
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    h.ok(&["keys", "revoke", &id, "--password-file", &pw]);
    let err = h.fail(&["unprotect", "--password-file", &pw, payload.trim()]);
    assert!(err.contains("--ignore-revocation"), "{err}");
    let unknown = "00000000-0000-4000-8000-000000000001";
    let err = h.fail(&["keys", "revoke", unknown, "--password-file", &pw]);
    assert!(!err.contains("payload"), "{err}");
    assert!(
        err.contains(unknown) && err.contains("not in the key ring") && err.contains("keys list"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_says_the_os_error_once() {
    let h = Home::new();
    let missing = h.path("nope.toml");
    let o = h.run(
        &["--config", missing.to_str().unwrap(), "keys", "list"],
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn init_with_a_password_answer_and_no_source_makes_a_password_slot() {
    let h = Home::new();
    let pw = h.path("pw");
    std::fs::write(&pw, "the first password\n").unwrap();
    let pw = pw.to_str().unwrap();
    let o = h.run(&["init", "--password-file", pw], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("password slot"), "{err}");
    assert_eq!(h.slot_sources(), ["password"]);
    // The password file is what opens it.
    let payload = h.ok(&["protect", "--password-file", pw, "x"]);
    std::fs::write(h.path("bad"), "another password\n").unwrap();
    h.fail(&[
        "unprotect",
        "--password-file",
        h.path("bad").to_str().unwrap(),
        payload.trim(),
    ]);
    // --password-stdin too.
    let h = Home::new();
    let o = h.run(&["init", "--password-stdin"], Some("the first password\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(h.slot_sources(), ["password"]);
    // The first protect that creates the ring does the same.
    let h = Home::new();
    std::fs::write(h.path("pw"), "the first password\n").unwrap();
    let pw = h.path("pw");
    let payload = h.ok(&["protect", "--password-file", pw.to_str().unwrap(), "y"]);
    assert_eq!(h.slot_sources(), ["password"]);
    assert_eq!(
        h.ok(&[
            "unprotect",
            "--password-file",
            pw.to_str().unwrap(),
            payload.trim()
        ]),
        "y"
    );
}

/// Runs with `input` (bytes) on standard input; returns the output.
fn run_bytes(h: &Home, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trousseau"));
    cmd.args(args)
        .env("HOME", h.dir.path())
        .env("XDG_DATA_HOME", h.path("data"))
        .env("XDG_CONFIG_HOME", h.path("cfg"))
        .env_remove("TROUSSEAU_CONFIG")
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1")
        .envs(h.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn data_streams_through_standard_input_files_and_binary_payloads() {
    use std::os::unix::fs::PermissionsExt as _;
    let (h, pw) = password_ring();
    // Data on standard input, the password from a file.
    let o = run_bytes(&h, &["protect", "--password-file", &pw], b"piped secret");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let payload = String::from_utf8(o.stdout).unwrap();
    let o = run_bytes(
        &h,
        &["unprotect", "--password-file", &pw],
        payload.as_bytes(),
    );
    assert_eq!(o.stdout, b"piped secret");
    // The password from a variable or a descriptor, data on standard input.
    let mut h = h;
    h.env
        .push(("TR_PW".to_string(), "the first password".to_string()));
    let o = run_bytes(
        &h,
        &["unprotect", "--password-env", "TR_PW"],
        payload.as_bytes(),
    );
    assert_eq!(
        o.stdout,
        b"piped secret",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bin = env!("CARGO_BIN_EXE_trousseau");
    let script = format!("exec '{bin}' unprotect --password-fd 3 3<'{pw}'");
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script])
        .env("HOME", h.dir.path())
        .env("XDG_DATA_HOME", h.path("data"))
        .env("XDG_CONFIG_HOME", h.path("cfg"))
        .env_remove("TROUSSEAU_CONFIG")
        // Short test passwords are used without asking; new slots calibrated to 0.1 s.
        .env("TROUSSEAU_ALLOW_WEAK_PASSWORD", "1")
        .env("TROUSSEAU_UNLOCK_TIME", "0.1");
    let o = cli::run_with_stdin(cmd, Some(&payload));
    assert_eq!(
        o.stdout,
        b"piped secret",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // -i and -o: the output file is 0600 and holds the payload; binary data round trips.
    let data: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    std::fs::write(h.path("in.bin"), &data).unwrap();
    let out = h.path("out.payload");
    let (inp, outp) = (h.path("in.bin"), out.clone());
    let (inp, outp) = (inp.to_str().unwrap(), outp.to_str().unwrap());
    assert_eq!(
        h.ok(&["protect", "--password-file", &pw, "-i", inp, "-o", outp]),
        ""
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("CfDJ8") && text.ends_with('\n'), "{text}");
    let back = h.path("back.bin");
    h.ok(&[
        "unprotect",
        "--password-file",
        &pw,
        "-i",
        outp,
        "-o",
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // --binary: raw payload bytes, no base64url.
    let o = run_bytes(&h, &["protect", "--binary", "--password-file", &pw], &data);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raw = o.stdout;
    assert_eq!(&raw[..4], &[0x09, 0xF0, 0xC9, 0xF0]);
    let o = run_bytes(&h, &["unprotect", "--binary", "--password-file", &pw], &raw);
    assert_eq!(o.stdout, data, "{}", String::from_utf8_lossy(&o.stderr));
    // Nothing but the output file is left in its directory (no temporary files).
    let names: Vec<String> = std::fs::read_dir(h.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
