//! Unit tests: real programs (`/bin/sh`, `printf`), no mocks.

use trousseau_core::{abi, DeriveContext, ErrorCode, NoInteraction};

use super::PLUGIN;

fn source(config: serde_json::Value) -> Result<abi::KeySourceBox, trousseau_core::Error> {
    abi::create_key_source(&PLUGIN, "command", &config.to_string())
        .into_result()
        .map(abi::KeySourceBox::new)
}

fn sh(script: &str) -> serde_json::Value {
    serde_json::json!({"argv": ["/bin/sh", "-c", script], "timeout_ms": 2000})
}

fn derive(config: serde_json::Value) -> Result<Vec<u8>, trousseau_core::Error> {
    let ctx = DeriveContext::new(&[0xAB, 0xCD], "", "test ring");
    source(config)?
        .derive(&ctx, &NoInteraction)
        .map(|k| k.expose().to_vec())
}

#[test]
fn raw_output_minus_one_newline() {
    assert_eq!(derive(sh("printf 'k3y\\n\\n'")).unwrap(), b"k3y\n");
    assert_eq!(derive(sh("printf 'k3y\\r\\n'")).unwrap(), b"k3y");
}

#[test]
fn hex_and_base64_outputs() {
    let mut c = sh("echo '  00ff10  '");
    c["encoding"] = "hex".into();
    assert_eq!(derive(c).unwrap(), [0x00, 0xff, 0x10]);
    let mut c = sh("echo AP8Q");
    c["encoding"] = "base64".into();
    assert_eq!(derive(c).unwrap(), [0x00, 0xff, 0x10]);
    let mut c = sh("echo zz");
    c["encoding"] = "hex".into();
    let e = derive(c).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData);
    assert!(e.message().contains("not hexadecimal"), "{e}");
}

#[test]
fn challenge_and_env_reach_the_program() {
    let mut c = sh("printf '%s-%s' \"$TROUSSEAU_CHALLENGE\" \"$EXTRA\"");
    c["env"] = serde_json::json!({"EXTRA": "x"});
    assert_eq!(derive(c).unwrap(), b"abcd-x");
}

#[test]
fn failures_are_clear_errors() {
    let e = derive(sh("echo 'vault: permission denied' >&2; exit 3")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable);
    assert!(e.message().contains("exit status: 3"), "{e}");
    assert!(e.message().contains("vault: permission denied"), "{e}");

    let e = derive(sh("printf ''")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::CorruptData);
    assert!(e.message().contains("empty output"), "{e}");

    let mut slow = sh("sleep 5");
    slow["timeout_ms"] = 200.into();
    let started = std::time::Instant::now();
    let e = derive(slow).unwrap_err();
    assert!(e.message().contains("did not finish within 200 ms"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the child was not killed"
    );

    let e = derive(serde_json::json!({"argv": ["/nonexistent/vault"]})).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
    assert!(e.message().contains("/nonexistent/vault"), "{e}");
}

#[test]
fn bad_configuration() {
    for (config, needle) in [
        (serde_json::json!({}), "missing field `argv`"),
        (
            serde_json::json!({"argv": []}),
            "`argv` must name the program",
        ),
        (
            serde_json::json!({"argv": ["x"], "timeout_ms": 0}),
            "greater than 0",
        ),
        (
            serde_json::json!({"argv": ["x"], "shell": true}),
            "unknown field `shell`",
        ),
    ] {
        let e = source(config).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidConfig);
        assert!(e.message().contains(needle), "{e}");
    }
}

#[test]
fn a_changed_key_is_detected_after_enrollment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, "first").unwrap();
    let config = serde_json::json!({"argv": ["/bin/cat", file.to_str().unwrap()]});
    let src = source(config).unwrap();
    let enrolled = src
        .enroll(&DeriveContext::new(&[], "", "r"), &NoInteraction)
        .unwrap();
    let ctx = DeriveContext::new(&[], enrolled.public_params(), "r");
    assert_eq!(src.derive(&ctx, &NoInteraction).unwrap().expose(), b"first");
    std::fs::write(&file, "second").unwrap();
    let e = src.derive(&ctx, &NoInteraction).unwrap_err();
    assert_eq!(e.code(), ErrorCode::WrongKey);
}

#[test]
fn direct_key_requires_32_bytes() {
    let mut c = sh("printf 0123456789abcdef0123456789abcdef");
    c["direct_key"] = true.into();
    assert_eq!(derive(c.clone()).unwrap().len(), 32);
    c["argv"][2] = "printf short".into();
    assert!(derive(c)
        .unwrap_err()
        .message()
        .contains("exactly 32 bytes"));
}
