#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End to end with a hardware-bound slot: `trousseau init` with password + key file + a
//! PKCS#11 token (a private SoftHSM2), protect, unprotect in a new process; then the token
//! pulled out, a wrong PIN and a wrong key file: exit code 1, a message saying which, and the
//! ring left as it was.

#[path = "support/cli.rs"]
mod cli;
#[path = "../../providers/pkcs11/tests/support/mod.rs"]
mod softhsm;

use cli::Home;
use softhsm::SoftHsm;

const PIN_VAR: &str = "TROUSSEAU_TEST_TOKEN_PIN";
const TEXT: &str = "the launch codes are 0000";

/// A home whose runs see the private SoftHSM2 and the PIN in `PIN_VAR`, with a password file.
fn home(hsm: &SoftHsm) -> Home {
    let mut h = Home::new();
    h.env.push((
        "SOFTHSM2_CONF".into(),
        hsm.conf.to_str().unwrap().to_string(),
    ));
    h.env.push((PIN_VAR.into(), softhsm::USER_PIN.into()));
    std::fs::write(h.path("pw"), "correct horse battery staple\n").unwrap();
    h
}

fn set_pin(h: &mut Home, pin: &str) {
    h.env.retain(|(k, _)| k != PIN_VAR);
    h.env.push((PIN_VAR.into(), pin.into()));
}

/// A `--source` for the private token's key `key_label` on token `token_label`.
fn token_source(token_label: &str, key_label: &str) -> String {
    format!(
        "pkcs11:module={},token_label={token_label},key_label={key_label},pin.env={PIN_VAR}",
        softhsm::module().to_str().unwrap()
    )
}

/// `init --password-file pw --source password --source …`.
fn init_args(h: &Home, sources: &[&str]) -> Vec<String> {
    let mut args = vec![
        "init".to_string(),
        "--password-file".to_string(),
        h.path("pw").to_str().unwrap().to_string(),
        "--source".to_string(),
        "password".to_string(),
    ];
    for s in sources {
        args.push("--source".to_string());
        args.push(s.to_string());
    }
    args
}

/// Writes the node's configuration: `[[master_key.sources]]` made of the `--source` values of
/// `args`, so that later commands unlock with them.
fn unlock_with(h: &Home, args: &[String]) {
    let mut toml = String::new();
    for spec in args
        .windows(2)
        .filter(|w| w[0] == "--source")
        .map(|w| &w[1])
    {
        let (provider, settings) = spec.split_once(':').unwrap_or((spec, ""));
        toml.push_str(&format!(
            "[[master_key.sources]]\nprovider = {provider:?}\n"
        ));
        for pair in settings.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap();
            toml.push_str(&format!("{k} = {v:?}\n"));
        }
    }
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(h.path("cfg/trousseau/config.toml"), toml).unwrap();
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `init` from the command line only: three sources, the PIN named by `pin.env`.
fn init(h: &Home) -> String {
    let keyfile = format!(
        "keyfile:path={},create=xml2",
        h.path("app.keyx").to_str().unwrap()
    );
    let args = init_args(h, &[&keyfile, &token_source("trousseau-test", "ring")]);
    let o = h.run(&strs(&args), None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "init failed: {err}");
    assert!(err.contains("password + keyfile + pkcs11"), "{err}");
    // Where the key file, the token's module and the PIN are is this node's configuration,
    // never the ring's: the node's config names the same sources.
    unlock_with(h, &args);
    // The one slot's id, from `master-key status`.
    let status = h.ok(&["master-key", "status"]);
    let slots: Vec<&str> = status
        .lines()
        .filter_map(|l| l.strip_prefix("slot "))
        .collect();
    assert_eq!(slots.len(), 1, "{status}");
    // The slot keeps where the token key is and where the PIN comes from, never the PIN.
    let line = slots[0];
    assert!(
        line.contains("trousseau-test") && line.contains(PIN_VAR),
        "{line}"
    );
    assert!(!status.contains("correct horse"), "{status}");
    line[..36].to_string()
}

fn unprotect(h: &Home, payload: &str) -> std::process::Output {
    h.run(
        &[
            "unprotect",
            "--password-file",
            h.path("pw").to_str().unwrap(),
            payload,
        ],
        None,
    )
}

fn unprotect_fails(h: &Home, payload: &str) -> String {
    let before = h.ring_snapshot();
    let o = unprotect(h, payload);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(o.stdout.is_empty(), "{err}");
    assert_eq!(h.ring_snapshot(), before, "the ring changed: {err}");
    err
}

#[test]
fn password_keyfile_and_token_slot_end_to_end() {
    let hsm = SoftHsm::new("trousseau-test");
    let mut h = home(&hsm);
    let slot = init(&h);
    assert!(!h.ring_snapshot().is_empty());
    // OpenSC sees the key the slot made on the token.
    let objects = hsm.tool(&[
        "--token-label",
        "trousseau-test",
        "--login",
        "--pin",
        softhsm::USER_PIN,
        "--list-objects",
    ]);
    assert!(objects.contains("ring"), "{objects}");

    let pw = h.path("pw");
    let payload = h.ok(&["protect", "--password-file", pw.to_str().unwrap(), TEXT]);
    let payload = payload.trim().to_string();
    assert!(!payload.contains(TEXT));
    // A new process derives the same component from the token.
    let o = unprotect(&h, &payload);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), TEXT);

    // The token pulled out: "token absent", nothing written.
    let tokens = hsm.dir.path().join("tokens");
    let away = hsm.dir.path().join("tokens-away");
    std::fs::rename(&tokens, &away).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    let err = unprotect_fails(&h, &payload);
    assert!(err.contains("token absent"), "{err}");
    assert!(err.contains(&format!("slot {slot}")), "{err}");
    // Plugged in again: it opens.
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&away, &tokens).unwrap();
    let o = unprotect(&h, &payload);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), TEXT);

    // A wrong PIN in the variable: the token's own refusal, nothing written.
    set_pin(&mut h, "9999");
    let err = unprotect_fails(&h, &payload);
    assert!(err.contains("wrong PIN"), "{err}");
    set_pin(&mut h, softhsm::USER_PIN);

    // Another key file: a wrong-key error naming the slot, nothing written.
    let good = std::fs::read(h.path("app.keyx")).unwrap();
    std::fs::write(h.path("app.keyx"), "0".repeat(64)).unwrap();
    let err = unprotect_fails(&h, &payload);
    assert!(
        err.contains(&format!("slot {slot}")) && err.contains("wrong key"),
        "{err}"
    );
    std::fs::write(h.path("app.keyx"), &good).unwrap();

    // And the right composition still opens it.
    let o = unprotect(&h, &payload);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), TEXT);
}

#[test]
fn token_pin_from_a_file_named_in_the_configuration() {
    let hsm = SoftHsm::new("trousseau-test");
    let h = home(&hsm);
    std::fs::create_dir_all(h.path("cfg/trousseau")).unwrap();
    std::fs::write(
        h.path("cfg/trousseau/config.toml"),
        format!(
            "[[master_key.sources]]\nprovider = \"password\"\n\
             [[master_key.sources]]\nprovider = \"pkcs11\"\nmodule = \"{}\"\n\
             token_label = \"trousseau-test\"\npin = {{ file = \"{}\" }}\n",
            softhsm::module().display(),
            hsm.pin_file.display()
        ),
    )
    .unwrap();
    let pw = h.path("pw");
    let pw = pw.to_str().unwrap();
    h.ok(&["init", "--password-file", pw]);
    let payload = h.ok(&["protect", "--password-file", pw, TEXT]);
    assert_eq!(
        h.ok(&["unprotect", "--password-file", pw, payload.trim()]),
        TEXT
    );
    // The PIN file now holds a wrong PIN.
    std::fs::write(&hsm.pin_file, "0000\n").unwrap();
    let err = unprotect_fails(&h, payload.trim());
    assert!(err.contains("wrong PIN"), "{err}");
}

/// `init` that must fail before writing anything, with exit code 1; returns stderr.
fn init_fails(h: &Home, token_source: &str) -> String {
    init_fails_with(h, token_source, 1)
}

/// `init` that must fail before writing anything, with exit code `code`; returns stderr.
fn init_fails_with(h: &Home, token_source: &str, code: i32) -> String {
    let o = h.run(&strs(&init_args(h, &[token_source])), None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(h.ring_snapshot().is_empty(), "a ring was written: {err}");
    err
}

#[test]
fn bad_module_and_wrong_key_type_leave_no_ring() {
    let hsm = SoftHsm::new("trousseau-test");
    let h = home(&hsm);
    // A file that is not a PKCS#11 module: the --source given is wrong (exit 2).
    std::fs::write(h.path("not-a-module.so"), "hello").unwrap();
    let err = init_fails_with(
        &h,
        &format!(
            "pkcs11:module={},pin.env={PIN_VAR}",
            h.path("not-a-module.so").to_str().unwrap()
        ),
        2,
    );
    assert!(err.contains("is not a PKCS#11 module"), "{err}");
    // An AES key already under the label, where an HMAC (generic secret) key is wanted: the
    // key label or mechanism given must change (exit 2).
    hsm.tool(&[
        "--token-label",
        "trousseau-test",
        "--login",
        "--pin",
        softhsm::USER_PIN,
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "taken",
        "--sensitive",
    ]);
    let err = init_fails_with(&h, &token_source("trousseau-test", "taken"), 2);
    assert!(err.contains("taken") && err.contains("needs a"), "{err}");
    // The token is not there at all.
    let err = init_fails(&h, &token_source("no-such-token", "ring"));
    assert!(err.contains("token absent"), "{err}");
}

#[test]
fn password_file_never_answers_a_token_pin_prompt() {
    let hsm = SoftHsm::new("trousseau-test");
    let h = home(&hsm);
    // No `pin` setting: the token asks for its PIN through the interaction. The password
    // file is for the password source only; with no terminal the PIN request must fail as
    // "needed", not be answered with the password (which would use up a PIN attempt).
    let source = format!(
        "pkcs11:module={},token_label=trousseau-test,key_label=ring",
        softhsm::module().to_str().unwrap()
    );
    let err = init_fails(&h, &source);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert!(!err.contains("wrong PIN"), "{err}");
    // The PIN is still good for the whole count of attempts: a normal init works.
    init(&h);
}

/// Inside a private mount namespace (`unshare`, unprivileged user namespace): a 24 KiB tmpfs
/// over the token directory, a fresh token filled with keys until its store is full, then
/// the command given after the script.
const FULL_TOKEN: &str = r#"set -e
mount -t tmpfs -o size=24k tmpfs "$TOKENS"
softhsm2-util --init-token --free --label trousseau-test --so-pin 5678 --pin 1234 >/dev/null
i=0
while pkcs11-tool --module "$MODULE" --token-label trousseau-test --login --pin 1234 \
    --keygen --key-type GENERIC:32 --label "filler$i" --sensitive >/dev/null 2>&1; do
  i=$((i+1))
  if [ "$i" -ge 200 ]; then echo "the token never filled up" >&2; exit 99; fi
done
[ "$i" -ge 1 ] || { echo "not even one key fitted" >&2; exit 98; }
exec "$@"
"#;

#[test]
fn full_token_is_a_clear_error_and_leaves_no_ring() {
    let hsm = SoftHsm::new("unused");
    let mut h = home(&hsm);
    let tokens = hsm.dir.path().join("tokens");
    h.env
        .push(("TOKENS".into(), tokens.to_str().unwrap().to_string()));
    h.env.push((
        "MODULE".into(),
        softhsm::module().to_str().unwrap().to_string(),
    ));
    let args = init_args(&h, &[&token_source("trousseau-test", "ring")]);
    let o = h.run_wrapped(
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            FULL_TOKEN,
            "sh",
        ],
        &strs(&args),
        None,
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("could not store a new key") && err.contains("full"),
        "{err}"
    );
    assert!(h.ring_snapshot().is_empty(), "a ring was written: {err}");
}
