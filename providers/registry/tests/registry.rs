//! The registry repository against a real registry (Windows, or Wine: `.ci/legs.d/windows-registry.sh`).
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trousseau_core::{Element, ErrorCode, PluginDef, Repository};
use windows_registry::{Type, CURRENT_USER, LOCAL_MACHINE};

const KEY_XML: &str = r#"<key id="00000000-0000-4000-8000-000000000001" version="1"><creationDate>2026-04-16T16:40:09.6237156Z</creationDate><descriptor><encryption algorithm="AES_256_CBC" /><masterKey p4:requiresEncryption="true" xmlns:p4="http://schemas.asp.net/2015/03/dataProtection"><value>AAAA</value></masterKey></descriptor></key>"#;

fn plugin() -> &'static PluginDef {
    &trousseau_registry::PLUGIN
}

/// A repository under a fresh HKCU test key, removed afterwards.
struct Fixture {
    path: String,
    repo: Box<dyn Repository>,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let path = format!(r"Software\TrousseauTests\{}-{name}", std::process::id());
        let _ = CURRENT_USER.remove_tree(&path);
        Fixture {
            repo: open(&path),
            path,
        }
    }
}

fn open(path: &str) -> Box<dyn Repository> {
    let config = serde_json::json!({ "key": format!(r"HKEY_CURRENT_USER\{path}") }).to_string();
    create(&config)
}

fn create(config: &str) -> Box<dyn Repository> {
    match plugin().provider("registry").unwrap().factory {
        trousseau_core::Factory::Repository(f) => f(config).unwrap(),
        trousseau_core::Factory::KeySource(_) => panic!("registry is a repository"),
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = CURRENT_USER.remove_tree(&self.path);
    }
}

fn key(n: u32) -> Element {
    let id = format!("00000000-0000-4000-8000-{n:012}");
    Element::new(
        format!("key-{id}"),
        KEY_XML.replace("00000000-0000-4000-8000-000000000001", &id),
    )
}

#[test]
fn round_trip_as_reg_sz_values_named_by_friendly_name() {
    let f = Fixture::new("round-trip");
    assert!(f.repo.load().unwrap().elements().is_empty());
    f.repo.store(&key(1)).unwrap();
    f.repo.store(&key(2)).unwrap();
    let mut loaded = f.repo.load().unwrap().into_elements();
    loaded.sort_by(|a, b| a.name().cmp(b.name()));
    assert_eq!(loaded, vec![key(1), key(2)]);
    // The ASP.NET layout: REG_SZ named by friendly name, data = the element's text.
    let raw = CURRENT_USER.open(&f.path).unwrap();
    assert_eq!(raw.get_type(key(1).name()).unwrap(), Type::String);
    assert_eq!(raw.get_string(key(1).name()).unwrap(), key(1).xml());
}

#[test]
fn reads_values_written_by_asp_net() {
    let f = Fixture::new("asp-net");
    let raw = CURRENT_USER.create(&f.path).unwrap();
    // RegistryXmlRepository writes element.ToString() (indented); empty values are skipped.
    raw.set_string(
        "key-00000000-0000-4000-8000-000000000001",
        KEY_XML.replace("><", ">\r\n  <"),
    )
    .unwrap();
    raw.set_string("empty", "").unwrap();
    let loaded = f.repo.load().unwrap();
    assert_eq!(loaded.elements(), &[key(1)][..]);
}

#[test]
fn deletion_follows_the_given_names() {
    let f = Fixture::new("deletion");
    for e in [key(1), key(2), key(3)] {
        f.repo.store(&e).unwrap();
    }
    let before = f.repo.load().unwrap().version().to_string();
    f.repo
        .delete(&[key(1).name().into(), "absent".into(), key(3).name().into()])
        .unwrap();
    let after = f.repo.load().unwrap();
    assert_eq!(after.elements(), &[key(2)][..]);
    assert_ne!(after.version(), before);
}

#[test]
fn conditional_store_uses_a_registry_transaction() {
    let f = Fixture::new("conditional");
    let v0 = f.repo.load().unwrap().version().to_string();
    if !f
        .repo
        .describe()
        .capabilities()
        .contains(trousseau_core::Capabilities::CONDITIONAL_STORE)
    {
        // Wine has no working KTM: the capability is not offered and the call says why.
        let e = f.repo.store_conditional(&v0, &[key(1)]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported);
        assert!(
            e.message().contains("no registry transactions"),
            "{}",
            e.message()
        );
        println!("NOTE: no registry transactions here (Wine?): conditional store not exercised");
        return;
    }
    let v1 = f.repo.store_conditional(&v0, &[key(1), key(2)]).unwrap();
    assert_eq!(f.repo.load().unwrap().version(), v1);
    let other = open(&f.path);
    assert_eq!(
        other.store_conditional(&v0, &[key(3)]).unwrap_err().code(),
        ErrorCode::Conflict
    );
    other
        .delete(&[key(1).name().to_string(), "absent".into()])
        .unwrap();
    let now = f.repo.load().unwrap();
    assert_eq!(now.elements(), &[key(2)][..]);
    assert_ne!(now.version(), v1);
    assert_eq!(
        f.repo.store_conditional(&v1, &[key(3)]).unwrap_err().code(),
        ErrorCode::Conflict
    );
}

#[test]
fn non_xml_elements_are_refused() {
    let f = Fixture::new("bad");
    let e = f.repo.store(&Element::new("key-bad", "<key>")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    assert!(f.repo.load().unwrap().elements().is_empty());
}

/// With no configuration the repository is ASP.NET Core's IIS default key with `{SID}` the SID
/// of the account the test runs as (checked against the profile list Windows keeps of its
/// accounts), says so in its location, and works there.
#[test]
fn the_default_key_is_asp_net_cores_for_this_account() {
    let repo = create("{}");
    let location = repo.describe().location().to_string();
    let prefix = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\";
    let rest = location.strip_prefix(prefix).expect(&location);
    let (sid, rest) = rest.split_once('\\').expect(&location);
    assert!(sid.starts_with("S-1-5-"), "{location}");
    assert!(
        rest.starts_with("DataProtection (ASP.NET Core's IIS default key for the account ")
            && rest.contains(sid),
        "{location}"
    );
    let profiles = LOCAL_MACHINE
        .open(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList")
        .unwrap();
    let known: Vec<String> = profiles.keys().unwrap().collect();
    assert!(known.iter().any(|k| k == sid), "{sid} not in {known:?}");

    let path = format!(r"SOFTWARE\Microsoft\ASP.NET\4.0.30319.0\AutoGenKeys\{sid}\DataProtection");
    let _ = LOCAL_MACHINE.remove_tree(&path);
    repo.store(&key(7)).unwrap();
    assert_eq!(repo.load().unwrap().elements(), &[key(7)][..]);
    assert_eq!(
        LOCAL_MACHINE
            .open(&path)
            .unwrap()
            .get_string(key(7).name())
            .unwrap(),
        key(7).xml()
    );
    let _ = LOCAL_MACHINE.remove_tree(&path);
}
