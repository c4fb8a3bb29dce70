// Unix only: the support module's process groups.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `--json` on the commands that report state, parsed and checked against the schemas of
//! docs/cli-json.md (dates are RFC 3339; a slot's source settings are a nested object, not a
//! string of escaped JSON), and dates for people in the human output.

#[path = "support/cli.rs"]
mod cli;

use cli::Home;
use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// Parses `text` as JSON.
fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `value` is an RFC 3339 date string.
fn rfc3339(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// No date in `text` is written as RFC 3339 (`2026-05-01T10:11:12…Z`) or as epoch seconds.
fn only_human_dates(text: &str) {
    for word in text.split_whitespace() {
        let machine = word.len() >= 20 && word.as_bytes().get(10) == Some(&b'T');
        let epoch = word.len() >= 9 && word.chars().all(|c| c.is_ascii_digit());
        assert!(!machine && !epoch, "{word:?} in {text}");
    }
}

/// A home with a ring made of a password and a key file; returns it, the password file and
/// the key file.
fn password_and_keyfile_ring() -> (Home, String, String) {
    let h = Home::new();
    let pw = h.path("pw");
    std::fs::write(&pw, "a password for the json test\n").unwrap();
    let key = h.path("k.keyx");
    h.ok(&["keyfile", "create", key.to_str().unwrap()]);
    let (pw, key) = (
        pw.to_str().unwrap().to_string(),
        key.to_str().unwrap().to_string(),
    );
    let keyfile = format!("keyfile:path={key}");
    h.ok(&[
        "init",
        "--source",
        "password",
        "--source",
        &keyfile,
        "--password-file",
        &pw,
    ]);
    (h, pw, key)
}

#[test]
fn master_key_status_json_has_slots_with_sources_as_nested_objects() {
    let h = Home::new();
    let doc = json(&h.ok(&["master-key", "status", "--json"]));
    assert_eq!(doc["mode"], "none");
    assert_eq!(doc["keys"], 0);
    assert_eq!(doc["slots"], Value::Array(Vec::new()));
    assert_eq!(doc["interop_configured"], false);

    let (h, _, key) = password_and_keyfile_ring();
    let doc = json(&h.ok(&["master-key", "status", "--json"]));
    assert_eq!(doc["mode"], "encrypted");
    assert_eq!(doc["keys"], 1);
    assert_eq!(
        doc["repository"].as_str().unwrap(),
        h.ring().to_str().unwrap()
    );
    let slots = doc["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1);
    let slot = &slots[0];
    assert_eq!(slot["label"], "password + keyfile");
    assert_eq!(slot["generation"], 0);
    assert_eq!(slot["current"], true);
    rfc3339(&slot["created"]);
    assert_eq!(slot["kdf"]["algorithm"], "argon2id");
    assert!(slot["kdf"]["memory_kib"].as_u64().unwrap() > 0);
    assert!(slot["kdf"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("Argon2id"));
    assert!(slot["unlock_time_ms"].is_u64() || slot["unlock_time_ms"].is_null());
    let sources = slot["sources"].as_array().unwrap();
    assert_eq!(sources[0]["provider"], "password");
    assert_eq!(sources[0]["config"], serde_json::json!({}));
    assert_eq!(sources[1]["provider"], "keyfile");
    // The settings are an object, not a string holding escaped JSON.
    assert!(sources[1]["config"].is_object(), "{}", sources[1]);
    assert_eq!(sources[1]["config"]["path"], key.as_str());

    let human = h.ok(&["master-key", "status"]);
    assert!(human.contains(" UTC  generation 0"), "{human}");
    only_human_dates(&human);
}

#[test]
fn keys_list_json_and_human_dates() {
    let (h, pw, _) = password_and_keyfile_ring();
    let key = format!("keyfile:path={}", h.path("k.keyx").display());
    let doc = json(&h.ok(&[
        "keys",
        "list",
        "--json",
        "--password-file",
        &pw,
        "--unlock",
        "password",
        "--unlock",
        &key,
    ]));
    let keys = doc.as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["id"].as_str().unwrap().len(), 36);
    let created = rfc3339(&k["created"]);
    let expiration = rfc3339(&k["expiration"]);
    assert!(expiration > created);
    rfc3339(&k["activation"]);
    for flag in ["default", "revoked", "encrypted", "usable", "untrusted"] {
        assert!(k[flag].is_boolean(), "{flag}: {k}");
    }
    assert_eq!(k["default"], true);
    assert_eq!(k["encrypted"], true);

    let human = h.ok(&[
        "keys",
        "list",
        "--password-file",
        &pw,
        "--unlock",
        "password",
        "--unlock",
        &key,
    ]);
    let row = human.lines().nth(1).unwrap();
    assert!(row.contains(" UTC  "), "{human}");
    only_human_dates(&human);
}

#[test]
fn user_account_status_json() {
    let mut h = Home::new();
    // No Secret Service: the automatic choice is the file.
    h.env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), String::new()));
    let doc = json(&h.ok(&["user-account", "--backend", "file", "status", "--json"]));
    assert_eq!(doc["backend"], "file");
    assert_eq!(doc["reason"], "the backend chosen in the configuration");
    assert_eq!(doc["present"], false);
    assert_eq!(doc["check"], Value::Null);
    assert_eq!(doc["written"], Value::Null);
    assert!(doc["location"]
        .as_str()
        .unwrap()
        .ends_with("user-account.key"));

    // The first use makes the user key.
    let out = h.run(&["protect", "x"], None);
    assert!(out.status.success(), "{out:?}");
    let doc = json(&h.ok(&["user-account", "--backend", "file", "status", "--json"]));
    assert_eq!(doc["present"], true);
    assert_eq!(doc["check"].as_str().unwrap().len(), 16);
    rfc3339(&doc["written"]);
    let human = h.ok(&["user-account", "--backend", "file", "status"]);
    assert!(human.contains("written:  20"), "{human}");
    assert!(human.trim_end().ends_with(" UTC"), "{human}");
    only_human_dates(&human);
}

#[test]
fn plugins_list_and_inspect_json() {
    let h = Home::new();
    let doc = json(&h.ok(&["plugins", "list", "--json"]));
    let providers = doc["providers"].as_array().unwrap();
    let password = providers.iter().find(|p| p["id"] == "password").unwrap();
    assert_eq!(password["kind"], "key-source");
    assert_eq!(password["builtin"], true);
    assert_eq!(password["origin"], "built-in");
    assert!(doc["refused"].as_array().unwrap().is_empty());

    // `inspect ID` has the same document as `inspect FILE`: the plugin and its providers.
    let doc = json(&h.ok(&["plugins", "inspect", "--json", "filesystem"]));
    assert_eq!(doc["path"], Value::Null);
    assert_eq!(doc["sdk_version"], Value::Null);
    assert!(doc["name"].as_str().unwrap().starts_with("trousseau-"));
    assert!(doc["version"].is_string());
    let p = &doc["providers"][0];
    assert_eq!(p["id"], "filesystem");
    assert_eq!(p["kind"], "repository");
    assert_eq!(p["builtin"], true);
    assert!(p["config_help"].as_str().unwrap().contains("directory"));
}

#[test]
fn keyfile_inspect_json() {
    let h = Home::new();
    let key = h.path("k.keyx");
    let created = h.ok(&["keyfile", "create", key.to_str().unwrap()]);
    let doc = json(&h.ok(&["keyfile", "inspect", "--json", key.to_str().unwrap()]));
    assert_eq!(doc["format"], "xml2");
    assert_eq!(doc["key_length"], 32);
    assert_eq!(doc["keepass_and_keepassxc_agree"], true);
    assert_eq!(doc["differences"], serde_json::json!([]));
    assert!(doc["notes"].is_array());
    let check = doc["key_check"].as_str().unwrap();
    assert!(created.contains(check), "{created} / {check}");
}

#[test]
fn keepass_verify_json() {
    let h = Home::new();
    let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keepass-rs-challenge-response.kdbx");
    let secret = h.path("secret");
    std::fs::write(&secret, "0102030405060708090a0b0c0d0e0f1011121314\n").unwrap();
    let args = |json: bool| {
        let mut a = vec![
            "keepass".to_string(),
            "verify".into(),
            db.to_str().unwrap().into(),
            "--password-stdin".into(),
            "--challenge-response-secret-file".into(),
            secret.to_str().unwrap().into(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let run = |a: &[String], pw: &str| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        h.run(&a, Some(pw))
    };
    let out = run(&args(true), "demopass\n");
    assert!(out.status.success(), "{out:?}");
    let doc = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(doc["opens"], true);
    assert_eq!(doc["format"], "KDBX 4.0");
    assert_eq!(doc["kdf"]["algorithm"], "argon2d");
    assert_eq!(doc["database"], db.to_str().unwrap());

    let out = run(&args(true), "wrong\n");
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(doc["opens"], false);
}
